"""The scripted test double (simulacra/llm/fake.py) is for tests: no library module imports it or uses
FakeBackend (token estimation lives in simulacra/llm/tokens.py); `simulacra.llm` only re-exports it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = {"simulacra/llm/fake.py", "simulacra/llm/__init__.py"}


def test_no_library_module_uses_the_fake_backend():
    offenders = []
    for package in ("surveys", "simulacra", "interviewer", "experiments"):
        for path in sorted((ROOT / package).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            if name in ALLOWED:
                continue
            text = path.read_text(encoding="utf-8")
            if re.search(r"\bllm\.fake\b|\bFakeBackend\b", text):
                offenders.append(name)
    assert offenders == []
