"""Scoring: metrics, the scorer of run folders, statistical reference predictors, statistics."""
