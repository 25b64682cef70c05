"""Faithfulness benchmarks: the GSS-panel benchmark, its designs, leakage rules and reference tables."""
