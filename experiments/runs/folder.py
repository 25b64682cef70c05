"""A run folder (`runs/<run-id>/`): the single source every report and comparison reads, batches and
behavioral experiments alike.

    manifest.json       RunManifest (schema_version 2): kind, agents, instruments with question-wording hashes,
                        model, settings, prompt-template hashes, (experiments) seed, studies and assignment, status
    instruments/*.json  the exact questions asked (so reports never depend on how instruments load later)
    responses.sqlite    answers, earlier attempts and sessions with their code version (see experiments.runs.store)
    responses.parquet   export at the end of a run (deterministic: content only, sorted by key)
    responses.csv
    metrics.json, report.html   written by `simulacra report`

A run's id is derived from what it asks of whom with which model, so running the same command again finds the
same folder and resumes it; when what made the run changed (an agent, a question's wording, a prompt template,
a setting, a study), resuming is refused with the list of changes (`--new-run` starts a new folder).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, Field

import simulacra
from simulacra.errors import DataFileError, SimulacraError
from simulacra.workspace import Workspace, atomic_write_json, atomic_write_text, private_dir
from surveys.exports import csv_safe_frame
from surveys.model import Instrument
from surveys.responses import ResponseSet

from experiments.runs.identity import (
    check_run_id,
    describe_changes,
    identity_settings,
    safe_name,
    short_hash,
)
from experiments.runs.store import ResponseStore, export_frame

MANIFEST_VERSION = 2
# what of the model description makes a different run (not the endpoint's address: the same model elsewhere)
MODEL_IDENTITY = ("kind", "model", "temperature", "max_tokens", "structured_output")
RunKind = Literal["batch", "experiment"]


class RunMismatchError(SimulacraError):
    """A run folder already holds a different run (other agents, questions, model, prompts or studies)."""


class OldRunFormatError(SimulacraError):
    """A run folder written by an older simulacra in a format this version cannot open."""


class AgentEntry(BaseModel):
    id: str
    source: str  # the condition name in reports
    respondent: str | None = None  # whose human answers this agent is scored against
    name: str | None = None
    fingerprint: str = ""  # the agent's stable content: a changed agent is a different run
    # what the agent sees of the person, as data (Agent.inputs(): demographic fields, known items): what a matched
    # reference condition must see too
    inputs: dict[str, Any] = Field(default_factory=dict)


class InstrumentEntry(BaseModel):
    id: str
    title: str = ""
    questions: list[str]
    wording: dict[str, str] = Field(default_factory=dict)  # question id -> hash of its wording


class StudyEntry(BaseModel):
    digest: str
    definition: dict[str, Any]
    assignment: dict[str, str] = Field(default_factory=dict)  # agent id -> condition id


class RunManifest(BaseModel):
    schema_version: int = MANIFEST_VERSION
    kind: RunKind = "batch"
    id: str
    created_at: float = Field(default_factory=time.time)
    updated_at: float = Field(default_factory=time.time)
    status: str = "created"  # created | running | interrupted | stopped | incomplete | complete
    agents: list[AgentEntry]
    instruments: list[InstrumentEntry]
    model: dict[str, Any] = Field(default_factory=dict)  # kind, model, base_url
    settings: dict[str, Any] = Field(default_factory=dict)  # temperature, samples, batch_size, scoring, ...
    prompt_hashes: dict[str, str] = Field(default_factory=dict)  # template path -> sha16
    truth: str | None = None  # a response set name or path for `simulacra report` to default to
    label: str = ""
    code_version: dict[str, Any] = Field(default_factory=dict)  # of the first session (each session has its own)
    counts: dict[str, int] = Field(default_factory=dict)
    usage: dict[str, float] = Field(default_factory=dict)
    seed: int | None = None  # experiments: the assignment seed
    studies: dict[str, StudyEntry] = Field(default_factory=dict)  # experiments: study id -> definition, assignment
    exclusions: dict[str, Any] = Field(default_factory=dict)  # RunSpec.exclusions: what no predictor of a target sees
    # what the latest session computed with (simulacra.environment.run_environment): library versions, the model
    # file's SHA-256 or the endpoint's model and system_fingerprint, the embedder's files
    environment: dict[str, Any] = Field(default_factory=dict)
    spec_version: int | None = None  # the RunSpec version that wrote this manifest (None: before RunSpec)
    extra: dict[str, Any] = Field(default_factory=dict)

    def identity(self) -> dict[str, Any]:
        """What makes two runs the same run (resuming is only allowed within one identity)."""
        return {
            "kind": self.kind,
            "agents": {a.id: {"source": a.source, "fingerprint": a.fingerprint} for a in sorted(self.agents, key=lambda a: a.id)},
            "instruments": {i.id: {q: i.wording.get(q, "") for q in i.questions} for i in self.instruments},
            "model": {k: self.model[k] for k in MODEL_IDENTITY if k in self.model},
            "settings": identity_settings({"samples": 1, **self.settings}),
            "prompts": dict(self.prompt_hashes),
            "studies": {sid: entry.digest for sid, entry in sorted(self.studies.items())},
            "seed": self.seed,
            "exclusions": self.exclusions or {},
        }

    def identity_hash(self) -> str:
        return short_hash(self.identity(), 10)

    def base_identity(self) -> dict[str, Any]:
        """What the default run id is derived from: who answers what with which model and settings. The rest of
        the identity (agents' content, wording, prompts, study definitions) is checked when the run resumes."""
        return {
            "kind": self.kind,
            "agents": sorted((a.id, a.source) for a in self.agents),
            "instruments": [(i.id, list(i.questions)) for i in self.instruments],
            "model": self.model.get("model"),
            "settings": identity_settings({"samples": 1, **self.settings}),
            "studies": sorted(self.studies),
            "seed": self.seed,
        }

    def changes_from(self, other: "RunManifest") -> list[str]:
        """What differs in `self` (the run asked for now) from `other` (the run in the folder)."""
        return describe_changes(other.identity(), self.identity())

    @property
    def agents_by_id(self) -> dict[str, AgentEntry]:
        return {a.id: a for a in self.agents}

    @property
    def total_answers(self) -> int:
        return len(self.agents) * sum(len(i.questions) for i in self.instruments) * int(self.settings.get("samples", 1))


def default_run_id(manifest: RunManifest) -> str:
    if manifest.kind == "experiment":
        names = list(manifest.studies)
        stem = "exp-" + ("-".join(names) if len(names) <= 2 else f"{len(names)}-studies")
    else:
        stem = "-".join(i.id for i in manifest.instruments) or "run"
    if manifest.label:
        stem = f"{manifest.label}-{stem}"
    return safe_name(f"{stem[:80]}-{short_hash(manifest.base_identity(), 10)}")


def parse_manifest(path: Path, text: str) -> RunManifest:
    """A manifest of this version, an old batch manifest migrated in memory, or one clear line saying why not."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataFileError(path, f"not valid JSON: {exc.msg}", line=exc.lineno) from None
    if not isinstance(data, dict):
        raise DataFileError(path, "not a run manifest (expected a JSON object)")
    version = data.get("schema_version")
    if version is None and data.get("kind") == "experiment":
        raise OldRunFormatError(
            f"{path.parent}: a behavioral experiment run of format 1 (answers.sqlite and an untyped manifest, "
            f"simulacra before run format {MANIFEST_VERSION}); this simulacra ({simulacra.__version__}) reads run format "
            f"{MANIFEST_VERSION} only: run the experiment again to get a new run folder (its results.json and report.html "
            "stay readable as they are)"
        )
    if version is None:  # format 1: a batch run before schema versions
        data = dict(data)
        data["schema_version"] = MANIFEST_VERSION
        data["kind"] = "batch"
        data["extra"] = {**data.get("extra", {}), "migrated_from_format": 1}
        for agent in data.get("agents", []):
            agent["fingerprint"] = ""  # format 1 hashed volatile state; not comparable with stable fingerprints
    elif not isinstance(version, int) or version > MANIFEST_VERSION:
        raise OldRunFormatError(
            f"{path}: run format {version!r} was written by a newer simulacra; this one ({simulacra.__version__}) "
            f"reads run format {MANIFEST_VERSION}: upgrade simulacra to open it"
        )
    try:
        return RunManifest.model_validate(data)
    except ValueError as exc:
        raise DataFileError(path, f"not a valid run manifest: {exc}") from None


class RunFolder:
    """Open an existing run folder, or create one with `RunFolder.create`."""
    def __init__(self, path: Path):
        self.path = Path(path)
        if not self.manifest_path.is_file():
            raise DataFileError(self.manifest_path, "not a run folder (manifest.json is missing)")
        self._store: ResponseStore | None = None
        self.manifest  # noqa: B018  (fails early, with one line, on a folder of an unreadable format)

    # -- locating -------------------------------------------------------------------------------------
    @classmethod
    def resolve(cls, run: str | Path, workspace: Workspace | None = None) -> "RunFolder":
        """A run by folder path or by id inside the workspace's `runs/`."""
        candidate = Path(run).expanduser()
        if (candidate / "manifest.json").is_file():
            return cls(candidate)
        workspace = workspace or Workspace.default()
        runs = workspace.root / "runs"
        name = str(run)
        if "/" not in name and name not in (".", "..") and (runs / name / "manifest.json").is_file():
            return cls(runs / name)
        raise SimulacraError(f"no run {run!r}: not a run folder and not in {runs}")

    @classmethod
    def open(cls, spec: Any, runs_dir: Path, *, new_run: bool = False) -> "RunFolder":
        """The run folder of `spec` (an `experiments.runs.spec.RunSpec`): created, or reopened when it holds the same
        run (that is how a rerun resumes). The spec's human answers, when it carries them, are kept inside it."""
        folder = cls.create(runs_dir, spec.manifest(), list(spec.live_instruments), explicit_id=bool(spec.run_id),
                            new_run=new_run)
        if spec.truth_set is not None:
            save_truth(folder, spec.truth_set)
        weights = spec.truth.weights if getattr(spec, "truth", None) is not None else None
        existing = folder.manifest
        if (existing.extra or {}).get("weights") != weights:  # a scoring setting, not identity: the latest spec's
            existing.extra = {**{k: v for k, v in existing.extra.items() if k != "weights"}, **({"weights": weights} if weights else {})}
            folder.save_manifest(existing)
        return folder

    @classmethod
    def create(
        cls,
        runs_dir: Path,
        manifest: RunManifest,
        instruments: list[Instrument],
        *,
        explicit_id: bool = False,
        new_run: bool = False,
    ) -> "RunFolder":
        """Create the folder, or reopen it when it holds the same run (that is how a rerun resumes).

        When the folder holds a run whose identity differs, resuming is refused with what changed; with
        `new_run` a new folder (the id plus a hash of the full identity) is used instead."""
        check_run_id(manifest.id)
        runs_dir = Path(runs_dir)
        path = runs_dir / manifest.id
        if (path / "manifest.json").is_file():
            folder = cls(path)
            existing = folder.manifest
            changes = manifest.changes_from(existing)
            if not changes:
                if existing.prompt_hashes != manifest.prompt_hashes and not existing.prompt_hashes:
                    existing.prompt_hashes = dict(manifest.prompt_hashes)  # a format-1 run learns its prompts
                    folder.save_manifest(existing)
                return folder
            if new_run:
                manifest = manifest.model_copy(update={"id": safe_name(f"{manifest.id}-{manifest.identity_hash()}")})
                return cls.create(runs_dir, manifest, instruments, explicit_id=True, new_run=False)
            raise RunMismatchError(
                f"{folder.path} holds a run made with something else: {'; '.join(changes)}. "
                "Pass --new-run to start a new run folder"
                + (" (or choose another --run-id)" if explicit_id else "")
                + "; answers from the two would otherwise mix"
            )
        if path.exists() and any(path.iterdir()):
            raise SimulacraError(f"{path} exists and is not a run folder (no manifest.json); choose another --run-id")
        private_dir(path, within=runs_dir)
        private_dir(path / "instruments")
        for instrument in instruments:
            atomic_write_text(path / "instruments" / f"{safe_name(instrument.id)}.json", instrument.model_dump_json(indent=2))
        atomic_write_json(path / "manifest.json", manifest.model_dump(mode="json"))
        return cls(path)

    # -- contents -------------------------------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.path / "manifest.json"

    @property
    def manifest(self) -> RunManifest:
        try:
            text = self.manifest_path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise DataFileError(self.manifest_path, "not a UTF-8 text file") from None
        return parse_manifest(self.manifest_path, text)

    @property
    def kind(self) -> str:
        return self.manifest.kind

    def save_manifest(self, manifest: RunManifest) -> None:
        manifest.updated_at = time.time()
        atomic_write_json(self.manifest_path, manifest.model_dump(mode="json"))

    @property
    def id(self) -> str:
        return self.manifest.id

    def instruments(self) -> list[Instrument]:
        out = []
        for entry in self.manifest.instruments:
            file = self.path / "instruments" / f"{safe_name(entry.id)}.json"
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
        """All stored answers (pandas DataFrame: run, agent, instrument, question, sample, value (decoded),
        status, error, reasoning, raw, probabilities (dict or None), prompt_hash, attempts, answered_at)."""
        return self.store.frame()

    def sessions(self) -> list[dict[str, Any]]:
        """Every invocation of the run: start, end, outcome, usage and the code version it ran."""
        return self.store.sessions()

    def export(self) -> dict[str, Path]:
        """Write responses.parquet and responses.csv atomically from the database."""
        frame = export_frame(self.answers())
        paths = {"csv": self.path / "responses.csv", "parquet": self.path / "responses.parquet"}
        atomic_write_text(paths["csv"], csv_safe_frame(frame).to_csv(index=False))  # opened in spreadsheets: no formulas
        tmp = self.path / ".responses.parquet.tmp"
        frame.to_parquet(tmp, index=False)
        tmp.chmod(0o600)
        tmp.replace(paths["parquet"])
        return paths

    def refresh_manifest(self, status: str | None = None) -> RunManifest:
        """Update counts, usage and (optionally) status from the database; marks stale sessions interrupted."""
        manifest = self.manifest
        self.store.close_stale_sessions()
        if status is None and manifest.status == "running" and not any(
                s["outcome"] == "running" for s in self.store.sessions()):
            status = "interrupted"  # its process ended without closing it: say so, not "running"
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
