"""Configuration and environment a user can get wrong: each one exits non-zero with one line naming the file or
the variable (no traceback), through the real `simulacra` command (`doctor --no-ping`: settings, workspace and
the embedded model's file, no model call)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from privacy_helpers import run_cli

HUGE = "9" * 5001


def refused(monkeypatch, capsys, *fragments: str) -> str:
    code, out = run_cli(monkeypatch, capsys, "doctor", "--no-ping")
    assert code == 1, out
    assert "Traceback" not in out
    assert out.startswith("error:") and out.count("error:") == 1, out
    error = re.sub(r"\s+", " ", out).strip()  # the one line (the terminal may fold a long one), nothing else
    for fragment in fragments:
        assert fragment in error, out
    return error


def config(tmp_path, monkeypatch, text: str | bytes) -> Path:
    path = tmp_path / "cfg.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    monkeypatch.setenv("SIMULACRA_CONFIG", str(path))
    return path


def test_the_defaults_pass(monkeypatch, capsys):
    code, out = run_cli(monkeypatch, capsys, "doctor", "--no-ping")
    assert code == 0, out


def test_a_config_that_is_not_utf8_through_simulacra_config(tmp_path, monkeypatch, capsys):
    path = config(tmp_path, monkeypatch, b'[llm]\nmodel = "caf\xe9"\n')
    refused(monkeypatch, capsys, f"{path}: not UTF-8")


def test_a_config_that_is_not_utf8_in_the_current_folder(tmp_path, monkeypatch, capsys):
    (tmp_path / "simulacra.toml").write_bytes(b'[llm]\nmodel = "\xff\xfe"\n')
    monkeypatch.chdir(tmp_path)
    refused(monkeypatch, capsys, "simulacra.toml: not UTF-8")


@pytest.mark.parametrize("table, key, near", [("llm", "modell", "model"), ("memory", "token_budgt", "token_budget"),
                                              ("roles.interviewer", "temprature", "temperature")])
def test_an_unknown_key_names_the_nearest_known_one(tmp_path, monkeypatch, capsys, table, key, near):
    config(tmp_path, monkeypatch, f'[{table}]\n{key} = "x"\n')
    refused(monkeypatch, capsys, f"unknown key '{key}' in [{table}]", f"did you mean '{near}'?")


@pytest.mark.parametrize("line, field", [
    ("temperature = 1e309", "llm.temperature"), ("temperature = nan", "llm.temperature"),
    ("temperature = 2.5", "llm.temperature"), ("temperature = -0.1", "llm.temperature"),
    ("max_tokens = 0", "llm.max_tokens"), ("max_concurrency = 0", "llm.max_concurrency"),
    ("price_input_per_1k = -1.0", "llm.price_input_per_1k"), ("price_output_per_1k = inf", "llm.price_output_per_1k"),
    ("request_timeout = 0", "llm.request_timeout"), ("local_threads = 0", "llm.local_threads"),
    ("context_size = 0", "llm.context_size"), ("max_retries = -1", "llm.max_retries"),
])
def test_numbers_in_the_file_are_finite_and_in_range(tmp_path, monkeypatch, capsys, line, field):
    path = config(tmp_path, monkeypatch, f"[llm]\n{line}\n")
    refused(monkeypatch, capsys, f"{path}: setting '{field}'", "is invalid")


@pytest.mark.parametrize("name, value", [("SIMULACRA_TEMPERATURE", "nan"), ("SIMULACRA_TEMPERATURE", "1e309"),
                                         ("SIMULACRA_MAX_TOKENS", "0"), ("SIMULACRA_TOKEN_BUDGET", "-5")])
def test_numbers_in_the_environment_name_the_variable(monkeypatch, capsys, name, value):
    monkeypatch.setenv(name, value)
    refused(monkeypatch, capsys, f"{name}: setting", "is invalid")


def test_a_huge_integer_in_the_config(tmp_path, monkeypatch, capsys):
    path = config(tmp_path, monkeypatch, f"[llm]\nmodel = 'm'\nmax_tokens = {HUGE}\n")
    refused(monkeypatch, capsys, f"{path}:3: a number of 5,001 digits is too long")


def test_simulacra_home_naming_a_file(tmp_path, monkeypatch, capsys):
    (tmp_path / "a-file").write_text("x")
    monkeypatch.setenv("SIMULACRA_HOME", str(tmp_path / "a-file"))
    refused(monkeypatch, capsys, f"SIMULACRA_HOME={tmp_path / 'a-file'} cannot be the workspace folder",
            f"{tmp_path / 'a-file'} is a file")


def test_simulacra_home_under_a_file(tmp_path, monkeypatch, capsys):
    (tmp_path / "a-file").write_text("x")
    monkeypatch.setenv("SIMULACRA_HOME", str(tmp_path / "a-file" / "home"))
    refused(monkeypatch, capsys, f"SIMULACRA_HOME={tmp_path / 'a-file' / 'home'} cannot be the workspace folder",
            f"{tmp_path / 'a-file'} is a file")


def test_an_empty_simulacra_home_is_an_error_not_the_current_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SIMULACRA_HOME", "")
    monkeypatch.chdir(tmp_path)
    refused(monkeypatch, capsys, "SIMULACRA_HOME is set but empty")
    assert list(tmp_path.iterdir()) == []  # nothing was made in the current folder


def test_a_local_model_that_is_not_gguf(tmp_path, monkeypatch, capsys):
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"PK\x03\x04 not a model at all" * 10)
    monkeypatch.setenv("SIMULACRA_LOCAL_MODEL", str(fake))
    refused(monkeypatch, capsys, f"SIMULACRA_LOCAL_MODEL={fake}: not a GGUF model file")


def test_the_installed_command_prints_one_line(tmp_path):
    """The real console script in a subprocess (its own interpreter, no test fixtures in between)."""
    path = tmp_path / "cfg.toml"
    path.write_text("[llm]\ntemperature = nan\n")
    env = {**os.environ, "SIMULACRA_CONFIG": str(path), "COLUMNS": "250"}
    command = Path(sys.executable).with_name("simulacra")
    done = subprocess.run([str(command), "doctor", "--no-ping"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr + done.stdout
    assert done.stderr.strip().startswith(f"error: {path}: setting 'llm.temperature'")
    assert len(done.stderr.strip().splitlines()) == 1
