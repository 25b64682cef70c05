"""Experiment-side commands: batches (`run`, `report`, `compare`, `benchmark`, `demo`) and `experiment ...`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from experiments import batch_cli
    from experiments.behavioral import cli as behavioral_cli

    batch_cli.register(app)
    behavioral_cli.register(app)
    from experiments import withdraw as withdraw_cli; withdraw_cli.register(app)  # noqa: E702 - `simulacra withdraw`
    from experiments import study_cli; study_cli.register(app)  # noqa: E702 - `simulacra study ...`
