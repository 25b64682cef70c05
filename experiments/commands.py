"""Experiment-side commands: batches (`run`, `report`, `compare`, `benchmark`, `demo`), `experiment ...`,
`withdraw`, `study ...` and `interview-yield`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from experiments import batch_cli, study_cli, yield_cli
    from experiments import withdraw as withdraw_cli
    from experiments import experiment_cli as behavioral_cli

    batch_cli.register(app)
    behavioral_cli.register(app)
    withdraw_cli.register(app)  # `simulacra withdraw`
    study_cli.register(app)  # `simulacra study ...`
    yield_cli.register(app)  # `simulacra interview-yield`
