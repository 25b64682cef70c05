"""Interviewer commands: `simulacra interview` (text, or an agent as respondent) and `simulacra serve` (voice web app)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from interviewer import session_cli
    from interviewer.web import cli as web_cli

    session_cli.register(app)
    web_cli.register(app)
