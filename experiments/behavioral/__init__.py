"""The five behavioral experiments (and users' own): definitions, assignment, tests, verdicts."""
