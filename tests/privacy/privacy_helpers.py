"""Helpers and fixtures for the privacy tests (imported by the test modules; a conftest.py here would shadow
tests/voice's `from conftest import ...` when both folders run together)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from surveys.paths import shared_data_dir


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return shared_data_dir() / "genagents_sample"


@pytest.fixture
def genagents_folder(tmp_path, sample_dir) -> Path:
    """The sample agent in genagents' layout: <id>/meta.json, scratch.json, memory_stream/nodes.json."""
    meta = json.loads((sample_dir / "single_agent_meta.json").read_text())
    folder = tmp_path / "population" / meta["id"]
    (folder / "memory_stream").mkdir(parents=True)
    shutil.copy(sample_dir / "single_agent_meta.json", folder / "meta.json")
    shutil.copy(sample_dir / "single_agent_scratch.json", folder / "scratch.json")
    shutil.copy(sample_dir / "single_agent_memory_nodes.json", folder / "memory_stream" / "nodes.json")
    return folder


def run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    """Run the `simulacra` command in-process as a user would; (exit code, stdout + stderr)."""
    from experiments.cli import main

    monkeypatch.setattr("sys.argv", ["simulacra", *args])
    monkeypatch.setenv("COLUMNS", "250")
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def files_holding(root: Path, phrase: str) -> list[str]:
    """Every file under `root` whose bytes hold `phrase` (UTF-8 or UTF-16, also inside Parquet, which is
    compressed): SQLite files, chromadb's store and index files included."""
    needle = phrase.encode()
    hits = []
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        found = needle in data or phrase.encode("utf-16-le") in data
        if not found and path.suffix == ".parquet":
            found = phrase in pd.read_parquet(path).astype(str).to_csv()
        if found:
            hits.append(str(path.relative_to(root)))
    return hits
