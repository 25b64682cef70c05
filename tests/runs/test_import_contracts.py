"""The layers of DESIGN.md (surveys < simulacra < interviewer < experiments, thin CLIs, no cycles), checked by
import-linter's `lint-imports` against `.importlinter`, so a later change cannot undo them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _lint_imports() -> str:
    beside = Path(sys.executable).with_name("lint-imports")
    found = str(beside) if beside.exists() else shutil.which("lint-imports")
    if not found:
        pytest.fail("lint-imports is not installed: it is part of the dev extra (pip install -e '.[dev]')")
    return found


def test_import_contracts_are_kept():
    result = subprocess.run([_lint_imports(), "--config", str(ROOT / ".importlinter")], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_the_contract_sees_a_cycle(tmp_path):
    """The checker is live: a throwaway package with an upward import breaks a layers contract."""
    pkg = tmp_path / "pkgs"
    for name, body in {"low": "import high\n", "high": ""}.items():
        (pkg / name).mkdir(parents=True)
        (pkg / name / "__init__.py").write_text(body)
    config = tmp_path / ".importlinter"
    config.write_text("[importlinter]\nroot_packages =\n    low\n    high\n\n[importlinter:contract:x]\nname = x\n"
                      "type = layers\nlayers =\n    high\n    low\n")
    result = subprocess.run([_lint_imports(), "--config", str(config)], cwd=pkg, capture_output=True, text=True,
                            timeout=120, env={"PYTHONPATH": str(pkg), "PATH": "/usr/bin:/bin"})
    assert result.returncode != 0 and "BROKEN" in result.stdout
