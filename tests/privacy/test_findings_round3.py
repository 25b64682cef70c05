"""Lower findings of the third hardening round (#24), each through the product's own entry point: withdrawal
on a missing workspace, the salted audit hash, the unauthenticated health route, strict waves, NaN bounds,
huge integers in YAML files, and a damaged gzip panel file."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import stat

import pytest

from privacy_helpers import run_cli

HUGE = "7" * 5001


def one_error(code: int, out: str, *fragments: str) -> str:
    assert code == 1, out
    assert "Traceback" not in out
    assert out.count("error:") == 1 and (out.startswith("error:") or "\nerror:" in out), out
    line = re.sub(r"\s+", " ", out[out.index("error:"):]).strip()  # the last thing printed; the terminal may fold it
    for fragment in fragments:
        assert fragment in line, out
    return line


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- withdraw on a missing workspace ----------------------------------------------------------------------
@pytest.fixture
def open_umask():
    """A fresh process's umask (022): an earlier test's restricted umask must not hide a 0755 folder."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_withdraw_on_a_missing_workspace_makes_it_private(isolated_workspace, monkeypatch, capsys, open_umask):
    assert not isolated_workspace.exists()
    code, out = run_cli(monkeypatch, capsys, "withdraw", "nobody-here", "--yes")
    assert code == 0, out
    assert "withdrawals.jsonl" in out  # the audit line is kept, in a workspace made private
    made = [isolated_workspace, *isolated_workspace.rglob("*")]
    assert _mode(isolated_workspace) == 0o700
    assert all(_mode(p) == (0o700 if p.is_dir() else 0o600) for p in made), {str(p): oct(_mode(p)) for p in made}


# -- the audit line's hash is salted per workspace ----------------------------------------------------------
def test_the_audit_hash_is_salted_per_workspace(tmp_path, monkeypatch, capsys):
    from simulacra.withdraw import AUDIT_FILE, AUDIT_SALT_FILE, respondent_digest
    from simulacra.workspace import Workspace

    digests = []
    for name in ("one", "two"):
        monkeypatch.setenv("SIMULACRA_HOME", str(tmp_path / name))
        assert run_cli(monkeypatch, capsys, "withdraw", "ann.smith@example.org", "--yes")[0] == 0
        workspace = Workspace(tmp_path / name)
        (line,) = (workspace.root / AUDIT_FILE).read_text().splitlines()
        record = json.loads(line)
        assert "ann.smith" not in line and "respondent_sha256" not in record
        assert record["respondent_hmac"] == respondent_digest("ann.smith@example.org", workspace)
        assert _mode(workspace.root / AUDIT_SALT_FILE) == 0o600
        digests.append(record["respondent_hmac"])
    plain = hashlib.sha256(b"ann.smith@example.org").hexdigest()
    assert plain not in digests and digests[0] != digests[1]  # no dictionary of ids reverses it


# -- /api/health does not name the speech engines -----------------------------------------------------------
def test_health_does_not_name_the_speech_engines(isolated_workspace):
    from fastapi.testclient import TestClient

    from interviewer.script import load_script
    from interviewer.web.app import create_app
    from simulacra.llm import LLM, FakeBackend
    from simulacra.workspace import Workspace

    class Engine:
        name = "whisper-tiny.en-secret-build"

    app = create_app(Workspace(isolated_workspace), llm=LLM(FakeBackend(default=lambda request: "ok")),
                     script=load_script("default"), stt=Engine(), tts=None, operator_token="op-" + "x" * 30)
    with TestClient(app) as client:
        reply = client.get("/api/health")
    assert reply.status_code == 200 and reply.json() == {"ok": True}
    assert "whisper" not in reply.text


# -- the wave of a long response CSV is a whole number written in digits ------------------------------------
@pytest.mark.parametrize("wave", ["1.0", "true", "1e0", "0", "-1"])
def test_the_wave_of_a_long_csv_is_digits_only(tmp_path, monkeypatch, capsys, wave):
    path = tmp_path / "answers.csv"
    path.write_text(f"respondent,question,wave,value\nr1,happy,1,1\nr1,happy,{wave},2\n")
    code, out = run_cli(monkeypatch, capsys, "responses", "load", str(path), "--instrument", "gss")
    one_error(code, out, "answers.csv:3 [wave]", f"got '{wave}'")


def test_a_wave_in_digits_still_loads(tmp_path, monkeypatch, capsys):
    path = tmp_path / "answers.csv"
    path.write_text("respondent,question,wave,value\nr1,happy,1,1\nr1,happy, 2,2\n")
    code, out = run_cli(monkeypatch, capsys, "responses", "load", str(path), "--instrument", "gss")
    assert code == 0, out


# -- numeric bounds are finite numbers ----------------------------------------------------------------------
@pytest.mark.parametrize("bounds", ["min: .nan\n    max: 10", "min: 0\n    max: .nan", "min: -.inf\n    max: 10"])
def test_a_numeric_question_with_a_nan_bound_fails_validation(tmp_path, monkeypatch, capsys, bounds):
    path = tmp_path / "mine.yaml"
    path.write_text(f"id: mine\ntitle: Mine\nquestions:\n  - id: age\n    text: Your age?\n    kind: numeric\n    {bounds}\n")
    code, out = run_cli(monkeypatch, capsys, "surveys", "validate", str(path))
    assert code != 0 and "Traceback" not in out
    assert re.search(r"mine\.yaml:\d+ \[questions\[0\]\]: question age: (min|max) must be a finite number", out), out


# -- huge integers in YAML files: one line, not a traceback -------------------------------------------------
def test_a_huge_integer_in_an_instrument(tmp_path, monkeypatch, capsys):
    path = tmp_path / "mine.yaml"
    path.write_text(f"id: mine\ntitle: Mine\nquestions:\n  - id: age\n    text: Your age?\n    kind: numeric\n"
                    f"    min: 0\n    max: {HUGE}\n")
    code, out = run_cli(monkeypatch, capsys, "surveys", "validate", str(path))
    assert code != 0 and "Traceback" not in out
    assert "mine.yaml:8: a number of 5,001 digits is too long" in re.sub(r"\s+", " ", out), out


def test_a_huge_integer_in_an_interview_script(tmp_path, monkeypatch, capsys):
    path = tmp_path / "s.yaml"
    path.write_text(f"id: s\nblocks:\n  - id: b\n    questions:\n      - id: q1\n        text: How are you?\n"
                    f"        budget_s: {HUGE}\n")
    code, out = run_cli(monkeypatch, capsys, "interview", "--respondent", "ann", "--script", str(path))
    one_error(code, out, "s.yaml:7: a number of 5,001 digits is too long")


def test_a_huge_integer_in_a_study_retest_days(tmp_path, monkeypatch, capsys, isolated_workspace):
    path = tmp_path / "study.yaml"
    path.write_text(f"id: pilot\ninterview: {{required: false}}\ninstruments: [bfi44]\nretest_days: {HUGE}\n")
    code, out = run_cli(monkeypatch, capsys, "study", "create", str(path))
    one_error(code, out, "study.yaml:4: a number of 5,001 digits is too long")
    assert not (isolated_workspace / "studies" / "pilot").exists()


# -- a damaged gzip panel file ------------------------------------------------------------------------------
def _panel_bytes() -> bytes:
    return gzip.compress(b"firstid,wave,happy\n" + b"".join(b"%d,1,1\n%d,2,2\n" % (i, i) for i in range(3000)))


@pytest.mark.parametrize("command", ["benchmark", "responses"])
@pytest.mark.parametrize("damage", ["corrupt", "truncated", "not-gzip"])
def test_a_damaged_gzip_panel_file_is_one_line(tmp_path, monkeypatch, capsys, damage, command):
    data = _panel_bytes()
    damaged = {"corrupt": data[:10] + b"\x00garbage" * 20 + data[200:], "truncated": data[: len(data) // 2],
               "not-gzip": b"firstid,wave\n" * 50}[damage]
    path = tmp_path / "panel.csv.gz"
    path.write_bytes(damaged)
    args = {"benchmark": ["benchmark", "gss-panel", "--panel-file", str(path), "--people", "2", "--items", "2"],
            "responses": ["responses", "load", str(path)]}[command]
    code, out = run_cli(monkeypatch, capsys, *args)
    one_error(code, out, f"{path}: cannot read")


def test_a_damaged_gzip_panel_file_through_the_loader(tmp_path):
    from surveys.errors import DataFileError
    from surveys.loaders import load_panel_file

    path = tmp_path / "panel.csv.gz"
    path.write_bytes(_panel_bytes()[:400])
    with pytest.raises(DataFileError, match=r"panel\.csv\.gz: cannot read the compressed file: damaged or incomplete"):
        load_panel_file(path)
