"""The run folders' part of a withdrawal (`RUNS_STEP`, a `simulacra.withdraw.Step`; `experiments.wiring` hands it
to every withdrawal, the command's and the web app's).

For every run folder (`runs/**/responses.sqlite`): the answers and earlier attempts of the respondent's agents
are deleted from the run's store (then checkpointed and VACUUMed with the other SQLite files), their entries
leave the manifest (`RunFolder.manifest` / `save_manifest`), their rows leave the human answers kept beside
the run (`truth/responses.csv`, `demographics.csv`), the exports are written again without them
(`RunFolder.export`) and the run's `metrics.json`/`report.html` (scored with them, per person) are removed:
`simulacra report RUN` makes them anew.

Their agents in a run: those found in the agent bank, the respondent id itself, and every agent the run's
manifest says is scored against them (a study's persona, composite and combined agents are never in the bank;
an agent deleted from the bank earlier still has answers here). Before anything is removed, their human
answers kept beside runs (free text included) are collected as texts to search the other stores for.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

from simulacra.errors import SimulacraError
from simulacra.withdraw import Step, Withdrawal
from simulacra.workspace import atomic_write_text

from experiments.runs.folder import RunFolder

log = logging.getLogger(__name__)

RUN_STORE = "responses.sqlite"
STALE_REPORTS = ("metrics.json", "report.html")
EXPORTS = ("responses.csv", "responses.parquet")
TRUTH_FILES = ("responses.csv", "demographics.csv")


def _run_folders(found: Withdrawal) -> list[Path]:
    runs = found.workspace.root / "runs"
    return sorted(store.parent for store in runs.glob(f"**/{RUN_STORE}")) if runs.is_dir() else []


def _open(path: Path) -> RunFolder | None:
    """The run folder through its class, or None when its manifest cannot be read (its answers still go)."""
    try:
        return RunFolder(path)
    except SimulacraError as exc:
        log.warning("run folder %s: manifest unreadable (%s); its answers are deleted, its exports removed",
                    path.name, type(exc).__name__)
        return None


def _theirs(found: Withdrawal, folder: RunFolder | None) -> set[str]:
    """Ids that stand for the respondent in this run: agent ids and the respondent id (truth rows use it)."""
    theirs = set(found.agent_ids) | {found.respondent}
    if folder is not None:
        theirs |= {a.id for a in folder.manifest.agents if a.respondent == found.respondent}
    return theirs


def _truth_rows(path: Path, theirs: set[str]) -> tuple[Any, Any] | None:
    """(the CSV as a frame, which rows are theirs), or None when it has no respondent column."""
    import pandas as pd  # here, not at the top: the root command imports this module (pandas costs ~0.35 s)

    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError, pd.errors.EmptyDataError, pd.errors.ParserError):
        return None
    if "respondent" not in frame.columns:
        return None
    return frame, frame["respondent"].isin(theirs)


def _collect(found: Withdrawal) -> None:
    """Their human answers kept beside runs (a response set's rows: free text included), as texts to find."""
    runs = 0
    for path in _run_folders(found):
        folder = _open(path)
        try:
            theirs = _theirs(found, folder)
            held = False
            for name in TRUTH_FILES:
                read = _truth_rows(path / "truth" / name, theirs) if (path / "truth" / name).is_file() else None
                if read is None:
                    continue
                frame, mine = read
                if mine.any():
                    held = True
                    columns = [c for c in frame.columns if c not in ("respondent", "question", "wave")]
                    found.add_texts(frame.loc[mine, columns].to_numpy().ravel().tolist())
            held = held or (folder is not None and any(a.id in theirs for a in folder.manifest.agents))
            runs += held
        finally:
            if folder is not None:
                folder.close()
    if runs:
        found.held["runs"] = found.held.get("runs", 0) + runs


def _agent_column(db: sqlite3.Connection, table: str) -> str | None:
    columns = [r[1] for r in db.execute(f'PRAGMA table_info("{table}")')]
    return next((name for name in ("agent", "agent_id") if name in columns), None)


def _delete_answers(store: Path, theirs: set[str]) -> int:
    """Every row of every table of the run's store that belongs to one of `theirs` (answers, attempts)."""
    ids = sorted(theirs)
    db = sqlite3.connect(store, timeout=30)
    removed = 0
    try:
        db.execute("PRAGMA secure_delete=ON")
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        marks = ",".join("?" * len(ids))
        for table in tables:
            column = _agent_column(db, table)
            if column:
                removed += db.execute(f'DELETE FROM "{table}" WHERE "{column}" IN ({marks})', ids).rowcount
        db.commit()
    finally:
        db.close()
    return removed


def _drop_from_manifest(folder: RunFolder, theirs: set[str], found: Withdrawal) -> int:
    manifest = folder.manifest
    kept = [a for a in manifest.agents if not (a.id in theirs or a.respondent in theirs)]
    dropped = len(manifest.agents) - len(kept)
    if dropped:
        manifest.agents = kept
        manifest.counts = {**folder.store.counts(), "expected": manifest.total_answers}
        folder.save_manifest(manifest)
        found.count("run_manifest_entries", dropped)
    return dropped


def _drop_from_truth(path: Path, theirs: set[str], found: Withdrawal) -> None:
    """Human answers kept beside a run (truth/responses.csv, demographics.csv): their rows go."""
    for name in TRUTH_FILES:
        file = path / "truth" / name
        read = _truth_rows(file, theirs) if file.is_file() else None
        if read is None:
            continue
        frame, mine = read
        if mine.any():
            atomic_write_text(file, frame[~mine].to_csv(index=False))
            found.count("study_answers" if name == "responses.csv" else "demographic_rows", int(mine.sum()))


def _reexport(folder: RunFolder | None, path: Path, found: Withdrawal) -> None:
    """Write the run's exports again (without the deleted rows); they are removed if that cannot be done."""
    if folder is not None:
        try:
            folder.export()
            found.count("run_exports_rewritten")
            return
        except Exception as exc:  # noqa: BLE001 - never leave their answers in an export: remove it instead
            log.warning("could not export %s again (%s); its exports are removed", path.name, type(exc).__name__)
    for name in EXPORTS:
        if (path / name).is_file():
            (path / name).unlink()
            found.count("run_exports_removed")


def _remove(found: Withdrawal) -> None:
    """Delete the answers of the respondent's agents from every run, and export each run again."""
    for path in _run_folders(found):
        folder = _open(path)
        try:
            theirs = _theirs(found, folder)
            if folder is not None:
                folder.close()  # the store's own connection is closed while rows are deleted
            removed = _delete_answers(path / RUN_STORE, theirs)
            found.sqlite_files.add(path / RUN_STORE)
            in_manifest = _drop_from_manifest(folder, theirs, found) if folder is not None else 0
            _drop_from_truth(path, theirs, found)
            if removed or in_manifest:
                found.count("run_rows", removed)
                found.count("runs")
                _reexport(folder, path, found)
                for name in STALE_REPORTS:  # scored with them (per-person rows): `simulacra report` makes them anew
                    if (path / name).is_file():
                        (path / name).unlink()
                        found.count("run_reports_removed")
        finally:
            if folder is not None:
                folder.close()


RUNS_STEP = Step("runs", remove=_remove, collect=_collect)
