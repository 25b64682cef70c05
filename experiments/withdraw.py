"""`simulacra withdraw RESPONDENT`: remove a respondent from every store of the workspace.

The library part is `simulacra.withdraw` (transcripts, agents, memories, cache); this module adds the
runs: every run's answers by the respondent's agents are deleted from its `responses.sqlite` (then
checkpointed and VACUUMed), their manifest entries and saved human answers (truth/) go, the exports are
written again without them, and the run's metrics.json/report.html (scored with them, per person) are
removed: `simulacra report RUN` makes them anew. Importing this module
registers that step, and imports the interviewer's modules that register theirs (web invitations, study
answers), so the command and `simulacra serve` (whose root command imports this) withdraw from the same
stores.
"""

from __future__ import annotations

import importlib
import json
import logging
import sqlite3
from pathlib import Path
from typing import Optional

import typer

from simulacra.withdraw import Withdrawal, register_step
from simulacra.workspace import atomic_write_json, atomic_write_text

# Lower layers register their own withdrawal steps when imported (web invitations, study answers).
STEP_MODULES = ("interviewer.web.tokens", "interviewer.study.store")
for _module in STEP_MODULES:
    try:
        importlib.import_module(_module)
    except ModuleNotFoundError as _exc:  # a package not present in this version: nothing of it to withdraw
        if not (_exc.name and (_module == _exc.name or _module.startswith(_exc.name + "."))):
            raise

log = logging.getLogger(__name__)

RUN_STORE = "responses.sqlite"
STALE_REPORTS = ("metrics.json", "report.html")


def _agent_column(db: sqlite3.Connection, table: str) -> str | None:
    columns = [r[1] for r in db.execute(f'PRAGMA table_info("{table}")')]
    for name in ("agent", "agent_id"):
        if name in columns:
            return name
    return None


def _withdraw_runs(found: Withdrawal) -> None:
    """Delete the answers of the respondent's agents from every run, and export each run again."""
    runs = found.workspace.root / "runs"
    if not runs.is_dir():
        return
    for store in sorted(runs.glob(f"**/{RUN_STORE}")):
        # their agents: those found in the bank, the respondent id itself, and any agent the run's manifest
        # says is scored against them (an agent deleted from the bank earlier still has answers here)
        theirs = sorted(set(found.agent_ids) | {found.respondent} | _manifest_agents_of(store.parent, found.respondent))
        db = sqlite3.connect(store, timeout=30)
        removed = 0
        try:
            db.execute("PRAGMA secure_delete=ON")
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            marks = ",".join("?" * len(theirs))
            for table in tables:
                column = _agent_column(db, table)
                if column:
                    removed += db.execute(f'DELETE FROM "{table}" WHERE "{column}" IN ({marks})', theirs).rowcount
            db.commit()
        finally:
            db.close()
        found.sqlite_files.add(store)
        in_manifest = _drop_from_manifest(store.parent, found)
        _drop_from_truth(store.parent, found)
        if removed or in_manifest:
            found.count("run_rows", removed)
            found.count("runs")
            _reexport(store.parent, found)
            for name in STALE_REPORTS:  # scored with them (per-person rows): `simulacra report` makes them anew
                path = store.parent / name
                if path.is_file():
                    path.unlink()
                    found.count("run_reports_removed")


def _manifest_agents_of(folder: Path, respondent: str) -> set[str]:
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    agents = manifest.get("agents") if isinstance(manifest, dict) else None
    return {str(a["id"]) for a in agents or [] if isinstance(a, dict) and a.get("id") and a.get("respondent") == respondent}


def _drop_from_manifest(folder: Path, found: Withdrawal) -> int:
    """The run's manifest lists each agent with its name and respondent: their entries go."""
    path = folder / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 0
    agents = manifest.get("agents") if isinstance(manifest, dict) else None
    if not isinstance(agents, list):
        return 0
    theirs = set(found.agent_ids) | {found.respondent} | _manifest_agents_of(folder, found.respondent)
    kept = [a for a in agents if not (isinstance(a, dict) and (a.get("id") in theirs or a.get("respondent") in theirs))]
    if len(kept) == len(agents):
        return 0
    manifest["agents"] = kept
    atomic_write_json(path, manifest)
    found.count("run_manifest_entries", len(agents) - len(kept))
    return len(agents) - len(kept)


def _drop_from_truth(folder: Path, found: Withdrawal) -> None:
    """Human answers kept beside a run (truth/responses.csv, demographics.csv): their rows go."""
    import pandas as pd

    theirs = set(found.agent_ids) | {found.respondent}
    for name in ("responses.csv", "demographics.csv"):
        path = folder / "truth" / name
        if not path.is_file():
            continue
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        if "respondent" not in frame.columns:
            continue
        kept = frame[~frame["respondent"].isin(theirs)]
        if len(kept) != len(frame):
            atomic_write_text(path, kept.to_csv(index=False))
            found.count("study_answers" if name == "responses.csv" else "demographic_rows", len(frame) - len(kept))


def _reexport(folder: Path, found: Withdrawal) -> None:
    """Write the run's exports again (without the deleted rows); stale exports are removed if that fails."""
    try:
        from experiments.runs import RunFolder

        run = RunFolder(folder)
        try:
            run.export()
        finally:
            close = getattr(run, "close", None)
            if close:
                close()
        found.count("run_exports_rewritten")
    except Exception as exc:  # noqa: BLE001 - never leave their answers in an export: remove it instead
        log.warning("could not export %s again (%s); its exports are removed", folder.name, type(exc).__name__)
        for name in ("responses.csv", "responses.parquet"):
            (folder / name).unlink(missing_ok=True)
            found.count("run_exports_removed")


register_step("runs", _withdraw_runs)


def register(app: typer.Typer) -> None:
    app.command("withdraw")(withdraw_command)


def withdraw_command(
    respondent: str = typer.Argument(..., help="The respondent id (the transcript's name; a genagents agent's id)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    bank: Optional[Path] = typer.Option(None, "--agents", "--bank", help="Agent bank folder (default: the workspace's agents/)."),
) -> None:
    """Remove a respondent from every store: transcript and notes, session, agents with their memories and
    reflections, chromadb records, cache entries holding their words, runs' answers and exports. Leaves one
    audit line (a hash of the id, what was removed, when) in withdrawals.jsonl."""
    from rich.console import Console

    from simulacra.withdraw import plan, withdraw

    console = Console()
    found = plan(respondent, bank_root=bank)
    console.print(
        f"withdrawing {respondent}: {len(found.transcript_files)} transcript file(s), "
        f"{len(found.agent_ids)} agent(s) ({', '.join(found.agent_ids) or 'none'}) with their memories, "
        "and every cache entry and run answer made from their words.",
        highlight=False,
    )
    if not found.transcript_files and not found.agent_ids:
        console.print(f"[yellow]note:[/yellow] no transcript or agent of {respondent} in this workspace (check the id); "
                      "only a web invitation, if any, can be removed", highlight=False)
    if not yes and not typer.confirm("This cannot be undone. Continue?", default=False):
        console.print("nothing was changed")
        raise typer.Abort()  # exit status 1
    done = withdraw(respondent, bank_root=bank)
    console.print(f"[green]withdrawn[/green]: removed {done.summary()}; audit line in {done.workspace.root / 'withdrawals.jsonl'}",
                  highlight=False)
