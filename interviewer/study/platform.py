"""A study's participant-platform ids and its operator log, each in its own private file.

- `studies/<id>/external_ids.json`  {external participant id: respondent} (0600): the only place a platform's
                                    participant id (e.g. Prolific's PROLIFIC_PID) is kept. It is exported only
                                    on request (`simulacra study export --with-external-ids`) and a person's
                                    entry is removed by withdrawal.
- `studies/<id>/log.jsonl`          what operators did (e.g. `retest_opened`: respondent, when, by whom);
                                    respondent ids only, never answers; a withdrawn person's lines are removed.

Withdrawal (`forget_in_study_files`, called by the study store's withdrawal step) also deletes the study's
own SPSS/Stata exports that hold the person.

External ids reach a file, so they pass the one name rule (`surveys.names`) where they enter (the join API).
"""

from __future__ import annotations

import json
import os
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from interviewer.study.model import StudyError
from simulacra.workspace import PRIVATE_FILE, append_line, atomic_write_json, atomic_write_text, file_lock, private_dir
from surveys.errors import InvalidNameError
from surveys.names import check_name

EXTERNAL_IDS = "external_ids.json"
STUDY_LOG = "log.jsonl"
_LOCK = threading.Lock()


class ExternalIdError(StudyError):
    """A platform participant id that does not pass the name rule."""


def check_external_id(value: Any, where: str = "external participant id") -> str:
    try:
        return check_name(value, kind="external participant", where=where)
    except InvalidNameError as exc:
        raise ExternalIdError(str(exc)) from None


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One writer at a time for a study's platform files (the server's threads and a CLI process)."""
    private_dir(folder)
    with _LOCK, file_lock(folder / ".platform.lock"):
        yield


class ExternalIds:
    """The external-id mapping of one study (`folder` is `studies/<id>/`)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.path = self.folder / EXTERNAL_IDS

    def mapping(self) -> dict[str, str]:
        if not self.path.is_file():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except ValueError:
            raise StudyError(f"{self.path}: not readable JSON (the external-id mapping)") from None
        ids = data.get("ids", {}) if isinstance(data, dict) else {}
        return {str(k): str(v) for k, v in ids.items()}

    def respondent(self, external_id: str) -> str | None:
        return self.mapping().get(check_external_id(external_id))

    def has_respondent(self, respondent: str) -> bool:
        return respondent in self.mapping().values()

    def assign(self, external_id: str, make_respondent) -> tuple[str, bool]:
        """The respondent of `external_id`: the one already mapped, else `make_respondent()` recorded now.
        Returns (respondent, created)."""
        external_id = check_external_id(external_id)
        with _locked(self.folder):
            mapping = self.mapping()
            if external_id in mapping:
                return mapping[external_id], False
            respondent = make_respondent()
            mapping[external_id] = respondent
            self._write(mapping)
            return respondent, True

    def forget(self, respondent: str) -> int:
        with _locked(self.folder):
            mapping = self.mapping()
            kept = {k: v for k, v in mapping.items() if v != respondent}
            if len(kept) == len(mapping):
                return 0
            self._write(kept)
            return 1

    def _write(self, mapping: dict[str, str]) -> None:
        atomic_write_json(self.path, {"schema_version": 1, "ids": mapping})
        os.chmod(self.path, PRIVATE_FILE)


def log_event(folder: Path, event: str, **fields: Any) -> dict[str, Any]:
    """Append one operator event to the study's log (`studies/<id>/log.jsonl`, 0600)."""
    row = {"at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "event": event, **fields}
    with _locked(folder):
        append_line(folder / STUDY_LOG, json.dumps(row, ensure_ascii=False), PRIVATE_FILE)
    return row


def read_log(folder: Path) -> list[dict[str, Any]]:
    path = Path(folder) / STUDY_LOG
    rows = []
    for line in (path.read_text(encoding="utf-8").splitlines() if path.is_file() else []):
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    return rows


def forget_in_study_files(studies_root: Path, respondent: str) -> int:
    """Withdrawal, in every study: the respondent's external-id entry, their operator-log lines, and the
    study's own SPSS/Stata exports that hold them (`export/*.sav|*.dta`: deleted, `study export` writes them
    anew; the CSV exports lose the person's rows in the store's own step). Files changed or removed."""
    changed = 0
    if not Path(studies_root).is_dir():
        return 0
    for folder in sorted(p for p in Path(studies_root).iterdir() if p.is_dir()):
        if (folder / EXTERNAL_IDS).is_file():
            changed += ExternalIds(folder).forget(respondent)
        log = folder / STUDY_LOG
        if log.is_file():
            with _locked(folder):
                lines = log.read_text(encoding="utf-8").splitlines()
                kept = [line for line in lines if _respondent_of(line) != respondent]
                if len(kept) != len(lines):
                    atomic_write_text(log, "".join(f"{line}\n" for line in kept))
                    changed += 1
        for path in sorted((folder / "export").glob("*.sav")) + sorted((folder / "export").glob("*.dta")):
            if _holds(path, respondent):
                path.unlink()
                changed += 1
    return changed


def _holds(path: Path, respondent: str) -> bool:
    """Whether a .sav/.dta file has a row of `respondent` (unreadable: assume it does, so it is removed)."""
    try:
        import pyreadstat  # heavy: only when a study export holds such files

        read = pyreadstat.read_sav if path.suffix == ".sav" else pyreadstat.read_dta
        frame, _meta = read(str(path), usecols=["respondent"])
    except Exception:  # noqa: BLE001 - any failure to read: err on the side of removing the person's data
        return True
    return bool((frame["respondent"].astype(str) == respondent).any())


def _respondent_of(line: str) -> str | None:
    try:
        row = json.loads(line)
    except ValueError:
        return None
    return row.get("respondent") if isinstance(row, dict) else None
