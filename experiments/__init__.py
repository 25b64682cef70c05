"""Batches, behavioral experiments, normalized-accuracy evaluation, reports, and the root CLI."""
