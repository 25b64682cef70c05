"""Ray stays an optional extra: only the Ray executor imports it, and nothing imports that module eagerly."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = {ROOT / "experiments" / "runs" / "executors" / "ray_executor.py"}
IMPORTS_RAY = re.compile(r"^\s*(import ray\b|from ray(\.| )import\b|from ray\.)", re.M)


def test_only_the_ray_executor_imports_ray():
    offenders = [
        str(path.relative_to(ROOT))
        for package in ("simulacra", "surveys", "interviewer", "experiments")
        for path in (ROOT / package).rglob("*.py")
        if path not in ALLOWED and IMPORTS_RAY.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_the_runner_and_the_cli_load_without_ray():
    code = ("import sys; import experiments.cli, experiments.runs, experiments.runs.executors, simulacra.llm.fleet; "
            "print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"
