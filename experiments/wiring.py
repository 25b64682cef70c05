"""The composition root: which stores a withdrawal reaches, handed explicitly to the code that needs them.

Lower layers never look these up (no import-time registry): `simulacra.withdraw` takes its `steps` as an
argument, the web app (`interviewer.web.app.create_app(withdraw=...)`) takes its withdrawal function, and
this module, the top layer beside the root CLI, is the one place that lists every store:

- `withdrawal_steps()`: the run folders (experiments), the web app's invitations and the study answers
  (interviewer); the core stores (transcripts, agents and their memories, response caches) are always
  cleaned by `simulacra.withdraw` itself;
- `withdraw_everywhere(respondent, workspace)` / `plan_everywhere(...)`: a withdrawal through all of them
  (`simulacra withdraw` calls it; `simulacra serve` hands it to the web app);
- `cli_objects()`: what the root command (`experiments.cli`) hands its subcommands through typer's context
  (`ctx.obj`): `serve` reads `withdraw` from it, `agents build --executor ray` reads `build_agents`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from experiments.runs.withdraw import RUNS_STEP
from experiments.runs.executors import build_agents
from interviewer.study.store import STUDY_ANSWERS_STEP
from interviewer.web.tokens import WEB_SESSIONS_STEP
from simulacra.withdraw import Step, Withdrawal, plan, withdraw
from simulacra.workspace import Workspace


def withdrawal_steps() -> list[Step]:
    """Every store of a workspace beyond the core ones, in the order they are cleaned."""
    return [RUNS_STEP, WEB_SESSIONS_STEP, STUDY_ANSWERS_STEP]


def plan_everywhere(respondent: str, workspace: Workspace | None = None, bank_root: Path | None = None) -> Withdrawal:
    """What a withdrawal of `respondent` would find in every store (nothing is changed)."""
    return plan(respondent, workspace, bank_root, steps=withdrawal_steps())


def withdraw_everywhere(respondent: str, workspace: Workspace | None = None, bank_root: Path | None = None) -> Withdrawal:
    """Remove `respondent` from every store of the workspace (see `simulacra.withdraw`)."""
    return withdraw(respondent, workspace, bank_root, steps=withdrawal_steps())


def cli_objects() -> dict[str, Any]:
    """The dependencies the root command hands to its subcommands (`ctx.obj`): lower layers' commands cannot
    import this module, so they read what they need from the context (`serve`: `withdraw`; `agents build
    --executor ray`: `build_agents`, which imports Ray only when called)."""
    return {"withdraw": withdraw_everywhere, "build_agents": build_agents}
