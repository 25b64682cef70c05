"""The population an adaptive study instrument learns from, frozen into the study folder.

`simulacra study create` copies the wave-1 answers of the population (the shipped GSS panel for GSS items, or
the study file's `population:`) to the instrument's questions into `studies/<id>/population-<instrument>.csv.gz`
(long CSV: respondent, question, value; 0600), with the SHA-256 of its text in study.json: the items a running
study chooses never depend on a file that can change later.
"""

from __future__ import annotations

import gzip
import hashlib
import io
from pathlib import Path
from typing import Any

import pandas as pd

from interviewer.study.model import AdaptiveInfo, Study, StudyError
from simulacra.workspace import atomic_write_bytes
from surveys.responses import ResponseSet


def write_population(folder: Path, info: AdaptiveInfo, frame: pd.DataFrame) -> Path:
    """Write the frozen copy (gzip without a timestamp, so the same population gives the same bytes)."""
    path = Path(folder) / info.population_file
    data = gzip.compress(frame.to_csv(index=False).encode("utf-8"), mtime=0)
    atomic_write_bytes(path, data)
    return path


def population_digest(frame: pd.DataFrame) -> dict[str, Any]:
    """The fields of AdaptiveInfo that describe a population frame: people, items, sha256 of its CSV text."""
    text = frame.to_csv(index=False)
    return {"people": int(frame["respondent"].nunique()), "items": int(frame["question"].nunique()),
            "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}


def read_population_frame(folder: Path, info: AdaptiveInfo) -> pd.DataFrame | None:
    """The frozen copy as text columns (respondent, question, value), or None when it is missing or unreadable."""
    try:
        text = gzip.decompress((Path(folder) / info.population_file).read_bytes()).decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError):
        return None
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


def read_population(folder: Path, study: Study, instrument_id: str) -> ResponseSet:
    """The frozen population of an adaptive instrument as a ResponseSet (wave 1; choice answers as option codes,
    numeric answers as numbers); a copy that is missing or was changed is refused."""
    info = study.adaptive[instrument_id]
    path = Path(folder) / info.population_file
    try:
        text = gzip.decompress(path.read_bytes()).decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise StudyError(f"study {study.id}: the population of {instrument_id} ({path}) cannot be read ({exc})") from None
    if hashlib.sha256(text.encode("utf-8")).hexdigest() != info.sha256:
        raise StudyError(f"study {study.id}: {path} was changed after the study was created (the adaptive choices "
                         "would differ); restore it or create the study again under another id")
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    questions = {q.id: q for q in study.instrument(instrument_id).questions}
    values: list[Any] = []
    for question_id, value in zip(frame["question"], frame["value"]):
        question = questions.get(question_id)
        values.append(float(value) if question is not None and question.kind.value == "numeric" else value)
    frame["value"] = values
    frame["wave"] = 1
    return ResponseSet(name=info.population, data=frame[["respondent", "question", "wave", "value"]],
                       instrument=instrument_id, source=str(path))
