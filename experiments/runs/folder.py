"""A run folder (`runs/<run-id>/`): the single source every report and comparison reads.

    manifest.json       who answered what, with which model and settings, which code version, status
    instruments/*.json  the exact questions asked (so reports never depend on how instruments load later)
    responses.sqlite    answers as they arrived (see experiments.runs.store)
    responses.parquet   export at the end of a run (deterministic: content only, sorted by key)
    responses.csv
    metrics.json, report.html   written by `simulacra report`

A run's id is derived from what it asks of whom with which model, so running the same command again
finds the same folder and resumes it; an explicit `--run-id` whose folder holds a different run is refused.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from simulacra.errors import DataFileError, SimulacraError
from simulacra.workspace import Workspace, atomic_write_json, atomic_write_text, private_dir
from surveys.model import Instrument

from experiments.runs.store import ResponseStore, export_frame

_ID_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


class RunMismatchError(SimulacraError):
    """A run folder already holds a different run (other agents, questions or model)."""


class AgentEntry(BaseModel):
    id: str
    source: str
    respondent: str | None = None  # whose human answers this agent is scored against
    name: str | None = None
    fingerprint: str = ""  # hash of the agent's definition: a changed agent is a different run


class InstrumentEntry(BaseModel):
    id: str
    title: str = ""
    questions: list[str]


class RunManifest(BaseModel):
    id: str
    created_at: float = Field(default_factory=time.time)
    updated_at: float = Field(default_factory=time.time)
    status: str = "created"  # created | running | interrupted | complete
    agents: list[AgentEntry]
    instruments: list[InstrumentEntry]
    model: dict[str, Any] = Field(default_factory=dict)  # kind, model, base_url
    settings: dict[str, Any] = Field(default_factory=dict)  # temperature, samples, batch_size, ...
    truth: str | None = None  # a response set name or path for `simulacra report` to default to
    label: str = ""
    code_version: dict[str, Any] = Field(default_factory=dict)
    counts: dict[str, int] = Field(default_factory=dict)
    usage: dict[str, float] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict)

    def identity(self) -> dict[str, Any]:
        """What makes two runs the same run (resuming is only allowed within one identity)."""
        return {
            "agents": sorted((a.id, a.source, a.fingerprint) for a in self.agents),
            "instruments": [(i.id, list(i.questions)) for i in self.instruments],
            "model": self.model.get("model"),
            "temperature": self.settings.get("temperature"),
            "samples": self.settings.get("samples", 1),
        }

    def identity_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.identity(), sort_keys=True, default=str).encode()).hexdigest()[:10]

    @property
    def agents_by_id(self) -> dict[str, AgentEntry]:
        return {a.id: a for a in self.agents}

    @property
    def total_answers(self) -> int:
        return len(self.agents) * sum(len(i.questions) for i in self.instruments) * int(self.settings.get("samples", 1))


def code_version() -> dict[str, Any]:
    """The package version and, when run from a git checkout, its commit (read-only `git rev-parse`)."""
    import simulacra

    info: dict[str, Any] = {"simulacra": simulacra.__version__}
    repo = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        ).stdout.strip()
        if commit:
            info["git_commit"] = commit
            dirty = subprocess.run(
                ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
                capture_output=True, text=True, timeout=10, check=False,
            ).stdout.strip()
            info["git_dirty"] = bool(dirty)
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def agent_fingerprint(agent: Any) -> str:
    try:
        text = agent.model_dump_json()
    except Exception:  # an agent that cannot be serialised is identified by its id and class
        text = f"{type(agent).__name__}:{getattr(agent, 'id', '')}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def default_run_id(manifest: RunManifest) -> str:
    stem = "-".join(i.id for i in manifest.instruments) or "run"
    if manifest.label:
        stem = f"{manifest.label}-{stem}"
    return _ID_SAFE.sub("-", f"{stem}-{manifest.identity_hash()}").strip("-")


class RunFolder:
    """Open an existing run folder, or create one with `RunFolder.create`."""

    def __init__(self, path: Path):
        self.path = Path(path)
        if not self.manifest_path.is_file():
            raise DataFileError(self.manifest_path, "not a run folder (manifest.json is missing)")
        self._store: ResponseStore | None = None

    # -- locating -------------------------------------------------------------------------------------
    @classmethod
    def resolve(cls, run: str | Path, workspace: Workspace | None = None) -> "RunFolder":
        """A run by folder path or by id inside the workspace's `runs/`."""
        candidate = Path(run).expanduser()
        if (candidate / "manifest.json").is_file():
            return cls(candidate)
        workspace = workspace or Workspace.default()
        by_id = workspace.root / "runs" / str(run)
        if (by_id / "manifest.json").is_file():
            return cls(by_id)
        raise SimulacraError(f"no run {run!r}: not a run folder and not in {workspace.root / 'runs'}")

    @classmethod
    def create(
        cls,
        runs_dir: Path,
        manifest: RunManifest,
        instruments: list[Instrument],
        *,
        explicit_id: bool = False,
    ) -> "RunFolder":
        """Create the folder, or reopen it when it holds the same run (that is how a rerun resumes)."""
        path = Path(runs_dir) / manifest.id
        if (path / "manifest.json").is_file():
            folder = cls(path)
            existing = folder.manifest
            if existing.identity_hash() != manifest.identity_hash():
                differences = [k for k, v in manifest.identity().items() if existing.identity().get(k) != v]
                hint = " (choose another --run-id)" if explicit_id else ""
                raise RunMismatchError(
                    f"{folder.manifest_path}: this run folder holds a different run (differs in: "
                    f"{', '.join(differences)}){hint}"
                )
            return folder
        private_dir(path)
        private_dir(path / "instruments")
        for instrument in instruments:
            atomic_write_text(path / "instruments" / f"{instrument.id}.json", instrument.model_dump_json(indent=2))
        atomic_write_json(path / "manifest.json", manifest.model_dump(mode="json"))
        return cls(path)

    # -- contents -------------------------------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.path / "manifest.json"

    @property
    def manifest(self) -> RunManifest:
        try:
            return RunManifest.model_validate_json(self.manifest_path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise DataFileError(self.manifest_path, f"not a valid run manifest: {exc}") from exc

    def save_manifest(self, manifest: RunManifest) -> None:
        manifest.updated_at = time.time()
        atomic_write_json(self.manifest_path, manifest.model_dump(mode="json"))

    @property
    def id(self) -> str:
        return self.manifest.id

    def instruments(self) -> list[Instrument]:
        out = []
        for entry in self.manifest.instruments:
            file = self.path / "instruments" / f"{entry.id}.json"
            try:
                out.append(Instrument.model_validate_json(file.read_text(encoding="utf-8")))
            except FileNotFoundError:
                raise DataFileError(file, "instrument file of this run is missing") from None
            except ValueError as exc:
                raise DataFileError(file, f"not a valid instrument: {exc}") from exc
        return out

    @property
    def store(self) -> ResponseStore:
        if self._store is None:
            self._store = ResponseStore(self.path / "responses.sqlite", self.manifest.id)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def answers(self):
        """All stored answers (pandas DataFrame), read from responses.sqlite."""
        return self.store.frame()

    def export(self) -> dict[str, Path]:
        """Write responses.parquet and responses.csv atomically from the database."""
        frame = export_frame(self.answers())
        paths = {"csv": self.path / "responses.csv", "parquet": self.path / "responses.parquet"}
        atomic_write_text(paths["csv"], frame.to_csv(index=False))
        tmp = self.path / ".responses.parquet.tmp"
        frame.to_parquet(tmp, index=False)
        tmp.chmod(0o600)
        tmp.replace(paths["parquet"])
        return paths

    def refresh_manifest(self, status: str | None = None) -> RunManifest:
        """Update counts, usage and (optionally) status from the database."""
        manifest = self.manifest
        manifest.counts = self.store.counts()
        manifest.counts["expected"] = manifest.total_answers
        manifest.usage = self.store.total_usage()
        if status:
            manifest.status = status
        self.save_manifest(manifest)
        return manifest


# -- the human answers a run is scored against, kept beside it ------------------------------------------
TRUTH_IN_RUN = "run:truth"


def save_truth(folder: RunFolder, responses: Any) -> None:
    """Keep the (subset of) human answers a run is scored against inside the run folder (0600 files)."""
    target = private_dir(folder.path / "truth")
    atomic_write_text(target / "responses.csv", responses.data.to_csv(index=False))
    demographics = responses.demographics
    if demographics is not None and not demographics.empty:
        frame = demographics.copy()
        frame.index = frame.index.astype(str)
        frame.index.name = "respondent"
        atomic_write_text(target / "demographics.csv", frame.to_csv())
    atomic_write_json(target / "meta.json", {"name": responses.name, "source": responses.source, "instrument": responses.instrument})


def load_saved_truth(folder: RunFolder):
    """The ResponseSet saved by `save_truth`."""
    import pandas as pd

    from surveys.responses import ResponseSet

    target = folder.path / "truth"
    responses_csv = target / "responses.csv"
    if not responses_csv.is_file():
        raise DataFileError(responses_csv, "this run has no saved human answers; pass --truth")
    data = pd.read_csv(responses_csv, dtype={"respondent": str, "question": str, "value": object})
    demographics = pd.DataFrame()
    if (target / "demographics.csv").is_file():
        demographics = pd.read_csv(target / "demographics.csv", dtype=str, index_col="respondent")
    meta = json.loads((target / "meta.json").read_text(encoding="utf-8")) if (target / "meta.json").is_file() else {}
    return ResponseSet(
        name=meta.get("name", folder.path.name), data=data, demographics=demographics,
        instrument=meta.get("instrument"), source=meta.get("source", str(target)),
    )
