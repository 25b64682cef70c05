"""Shared test setup: every test gets its own workspace, and no endpoint configured from the environment."""

from __future__ import annotations

import importlib.util
import os
import shutil

import pytest

CHROMIUM = "/usr/bin/chromium"


def _browser_missing() -> str | None:
    """Why the headless-browser tests cannot run here (None: they can)."""
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium; scripts/setup.sh does it as root)"
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install 'simulacra[dev]')"
    return None


_ENDPOINT_VARS = [
    "SIMULACRA_BASE_URL", "SIMULACRA_API_KEY", "SIMULACRA_MODEL", "SIMULACRA_CONFIG",
    "SIMULACRA_EMBEDDINGS_BASE_URL", "SIMULACRA_CHROMA_URL", "SIMULACRA_LOCAL_MODEL",
    "SIMULACRA_AUDIO_BASE_URL", "SIMULACRA_AUDIO_API_KEY", "SIMULACRA_STT", "SIMULACRA_TTS",
    "SIMULACRA_STRUCTURED_OUTPUT", "SIMULACRA_BASE_URLS", "SIMULACRA_CONTEXT_MODE",
]


def pytest_collection_modifyitems(config, items):
    """Tests marked `qwen` need the optional Qwen tier (scripts/setup.sh --qwen): they run only when the -m
    expression names the marker (`pytest -m qwen`); otherwise they are deselected (reported as deselected)."""
    # Browser tests skip with the reason where there is no browser, except in CI (CI set), where they must run.
    missing = None if os.environ.get("CI") else _browser_missing()
    if missing:
        for item in items:
            if item.get_closest_marker("browser") is not None:
                item.add_marker(pytest.mark.skip(reason=f"browser test: {missing}"))
    if "qwen" in (config.getoption("markexpr", "") or ""):
        return
    keep = [item for item in items if item.get_closest_marker("qwen") is None]
    if len(keep) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item.get_closest_marker("qwen") is not None])
        items[:] = keep


@pytest.fixture(autouse=True)
def isolated_workspace(tmp_path, monkeypatch):
    home = tmp_path / "simulacra-data"
    monkeypatch.setenv("SIMULACRA_HOME", str(home))
    for name in _ENDPOINT_VARS:
        monkeypatch.delenv(name, raising=False)
    for name in [n for n in os.environ if n.startswith("SIMULACRA_INTERVIEWER_")]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    return home
