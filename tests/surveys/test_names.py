"""The one name rule (surveys/names.py) for every id that becomes a path: each kind of id is refused where it
enters the product (a file, an API call or a flag) with one line naming the kind, the value and where."""

from __future__ import annotations

import json
import re

import pytest

from surveys.errors import InvalidNameError, SimulacraError
from surveys.names import check_name, is_valid_name

BAD = ["../x", "a/b", "..", ".", ".hidden", "-flag", "a..b", "", "a b", "é", "x" * 129, "a\n", 7, None]
GOOD = ["p001", "Ada_Lovelace", "agent-42", "X", "ana.b", "a@b.org", "01fd7d2a-0c3e-4a8b", "x" * 128]


def run_simulacra(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    """The `simulacra` command in-process, as a user runs it: (exit code, stdout + stderr with lines joined)."""
    from experiments.cli import main

    monkeypatch.setattr("sys.argv", ["simulacra", *map(str, args)])
    monkeypatch.setenv("COLUMNS", "250")
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def assert_one_error_line(code: int, out: str, *fragments: str) -> None:
    assert code != 0, out
    assert "Traceback" not in out
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, out
    for fragment in fragments:
        assert fragment in errors[0], out


@pytest.mark.parametrize("value", BAD)
def test_the_rule_refuses_paths_and_oddities(value):
    assert not is_valid_name(value)
    with pytest.raises(InvalidNameError) as caught:
        check_name(value, kind="agent", where="--id")
    message = str(caught.value)
    assert message.startswith("--id: agent id ") and "not a valid agent name" in message and "\n" not in message
    assert isinstance(caught.value, SimulacraError) and isinstance(caught.value, ValueError)


@pytest.mark.parametrize("value", GOOD)
def test_the_rule_accepts_plain_names(value):
    assert check_name(value, kind="run") == value


def test_respondent_id_from_the_interview_flag(monkeypatch, capsys):
    code, out = run_simulacra(monkeypatch, capsys, "interview", "--respondent", "a/b")
    assert_one_error_line(code, out, "respondent id 'a/b'", "not a valid respondent name")


def test_respondent_id_given_to_withdraw(monkeypatch, capsys, isolated_workspace):
    code, out = run_simulacra(monkeypatch, capsys, "withdraw", "../x", "--yes")
    assert_one_error_line(code, out, "respondent id '../x'")
    assert not isolated_workspace.exists()  # refused before anything was made


def test_respondent_id_in_a_transcript_header(tmp_path, monkeypatch, capsys):
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"type": "header", "respondent": "../../x"}) + '\n{"speaker": "respondent", "text": "hi"}\n')
    code, out = run_simulacra(monkeypatch, capsys, "agents", "build", path, "--no-reflections")
    assert_one_error_line(code, out, "t.jsonl:1 [respondent]", "respondent id '../../x'")


def test_agent_id_from_the_build_flag(tmp_path, monkeypatch, capsys, isolated_workspace):
    path = tmp_path / "T.jsonl"
    path.write_text('{"speaker": "interviewer", "text": "Hello?"}\n{"speaker": "respondent", "text": "Hi there."}\n')
    code, out = run_simulacra(monkeypatch, capsys, "agents", "build", path, "--id", "../x")
    assert_one_error_line(code, out, "--id: agent id '../x'", "not a valid agent name")
    assert not (isolated_workspace.parent / "x").exists() and not (isolated_workspace / "x").exists()


def test_run_id_from_the_run_flag(tmp_path, monkeypatch, capsys, isolated_workspace):
    persona = tmp_path / "p.txt"
    persona.write_text("I teach chemistry in Ohio.")
    assert run_simulacra(monkeypatch, capsys, "agents", "build-persona", persona, "--id", "p1")[0] == 0
    code, out = run_simulacra(monkeypatch, capsys, "run", "--run-id", "../x", "--dry-run")
    assert_one_error_line(code, out, "--run-id: run id '../x'", "not a valid run name")
    assert not (isolated_workspace / "x").exists()


def _instrument_file(folder, instrument_id: str):
    path = folder / "mine.yaml"
    path.write_text(f"id: {instrument_id}\ntitle: Mine\nquestions:\n  - id: q1\n    text: How are you?\n"
                    "    kind: ordinal\n    options: [{code: '1', label: Good}, {code: '2', label: Bad}]\n")
    return path


def _study_file(folder, study_id: str = "pilot"):
    path = folder / "study.yaml"
    path.write_text(f"id: {study_id}\ninterview: {{required: false}}\ninstruments: [mine.yaml]\n")
    return path


def test_instrument_id_in_a_study_instrument_file(tmp_path, monkeypatch, capsys, isolated_workspace):
    _instrument_file(tmp_path, "../../../../outside/x")
    code, out = run_simulacra(monkeypatch, capsys, "study", "create", _study_file(tmp_path))
    assert_one_error_line(code, out, "mine.yaml:1 [id]", "instrument id '../../../../outside/x'")
    assert not (isolated_workspace / "studies" / "pilot").exists()
    assert not (tmp_path / "outside").exists()


def test_instrument_id_in_an_instrument_file(tmp_path, monkeypatch, capsys):
    path = _instrument_file(tmp_path, "../../x")
    code, out = run_simulacra(monkeypatch, capsys, "surveys", "validate", path)
    assert code != 0 and "Traceback" not in out
    assert re.search(r"mine\.yaml:1 \[id\]: instrument id '\.\./\.\./x' is not a valid instrument name", out), out


def test_study_id_in_a_study_file(tmp_path, monkeypatch, capsys, isolated_workspace):
    _instrument_file(tmp_path, "mine")
    code, out = run_simulacra(monkeypatch, capsys, "study", "create", _study_file(tmp_path, "../pilot"))
    assert_one_error_line(code, out, "study.yaml [id]", "study id '../pilot'")
    assert not (isolated_workspace / "pilot").exists()


def test_participant_id_joining_a_study(tmp_path, monkeypatch, capsys):
    from interviewer.errors import RespondentIdError
    from interviewer.study.store import StudyStore

    _instrument_file(tmp_path, "mine")
    assert run_simulacra(monkeypatch, capsys, "study", "create", _study_file(tmp_path))[0] == 0
    store = StudyStore()
    with pytest.raises(RespondentIdError, match=r"respondent id '\.\./x' is not a valid respondent name"):
        store.join("pilot", "../x")
    assert store.participants("pilot") == []


def test_experiment_id_in_an_experiment_file(tmp_path, monkeypatch, capsys):
    from experiments.behavioral.definition import BUILTIN_DIR

    source = sorted(BUILTIN_DIR.glob("*.yaml"))[0].read_text()
    path = tmp_path / "exp.yaml"
    path.write_text(re.sub(r"(?m)^id: .*$", "id: ../exp", source, count=1))
    code, out = run_simulacra(monkeypatch, capsys, "experiment", "run", path, "--run-id", "e1")
    line = 1 + source.splitlines().index(next(x for x in source.splitlines() if x.startswith("id: ")))
    assert_one_error_line(code, out, f"exp.yaml:{line} [id]", "experiment id '../exp'")


def test_question_id_in_an_interview_script(tmp_path, monkeypatch, capsys):
    path = tmp_path / "s.yaml"
    path.write_text("id: s\nblocks:\n  - id: b\n    questions:\n      - {id: ../q, text: 'How are you?', budget_s: 30}\n")
    code, out = run_simulacra(monkeypatch, capsys, "interview", "--respondent", "ann", "--script", path)
    assert_one_error_line(code, out, "s.yaml:5", "question id '../q'")
