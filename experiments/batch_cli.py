"""Commands, mounted by experiments/commands.py."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    return None
