"""Generative agents: import, memory stream, expert reflections, router, answering, baselines, bank."""
