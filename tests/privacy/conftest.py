"""Fixtures for the privacy tests: the real genagents sample as an agent folder, a bank in the workspace."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

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
