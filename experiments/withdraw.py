"""`simulacra withdraw RESPONDENT`: remove a respondent from every store of the workspace.

A thin command over `experiments.wiring.withdraw_everywhere` (the core stores of `simulacra.withdraw`:
transcripts, agents, memories, response caches by provenance tag and by text; plus the steps the wiring
lists: run folders (`experiments.runs.withdraw`), web invitations and study answers (interviewer)).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from experiments.wiring import plan_everywhere, withdraw_everywhere


def register(app: typer.Typer) -> None:
    app.command("withdraw")(withdraw_command)


def withdraw_command(
    respondent: str = typer.Argument(..., help="The respondent id (the transcript's name; a genagents agent's id)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    bank: Optional[Path] = typer.Option(None, "--agents", "--bank", help="Agent bank folder (default: the workspace's agents/)."),
) -> None:
    """Remove a respondent from every store: transcript and notes, session, study answers, agents with their
    memories and reflections, chromadb records, cache entries made from them or holding their words, runs'
    answers and exports. Leaves one audit line (a hash of the id, what was removed, when) in
    withdrawals.jsonl."""
    console = Console()
    found = plan_everywhere(respondent, bank_root=bank)
    held = "".join(f", {n} {what.replace('_', ' ')}" for what, n in sorted(found.held.items()) if n)
    console.print(
        f"withdrawing {respondent}: {len(found.transcript_files)} transcript file(s), "
        f"{len(found.agent_ids)} agent(s) ({', '.join(found.agent_ids) or 'none'}) with their memories{held}, "
        "and every cache entry and run answer made from their words.",
        highlight=False,
    )
    if not found.transcript_files and not found.agent_ids and not found.held:
        console.print(f"[yellow]note:[/yellow] no transcript, agent, study answer or run of {respondent} in this "
                      "workspace (check the id); only a web invitation, if any, can be removed", highlight=False)
    if not yes and not typer.confirm("This cannot be undone. Continue?", default=False):
        console.print("nothing was changed")
        raise typer.Abort()  # exit status 1
    done = withdraw_everywhere(respondent, bank_root=bank)
    console.print(f"[green]withdrawn[/green]: removed {done.summary()}; audit line in {done.workspace.root / 'withdrawals.jsonl'}",
                  highlight=False)
