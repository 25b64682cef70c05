"""Findings 3, 4 and 9 of the live attack test (#15), each reproduced first, then fixed:

3. `agents import-genagents` replaced an existing agent silently (exit 0, memories gone);
4. tracebacks instead of one clear line (non-UTF-8 transcript, a header respondent with '/', a non-UTF-8
   nodes.json, a non-integer pointer_id);
9. YAML aliases in an instrument's free-form `scoring` passed `surveys validate` (a billion-laughs file
   then grew past 2 GB when loaded)."""

from __future__ import annotations

import json
import shutil

import pytest
from privacy_helpers import genagents_folder, run_cli, sample_dir  # noqa: F401 - fixtures

from simulacra.agents.bank import AgentBank
from simulacra.agents.build import import_genagents
from simulacra.agents.interview import InterviewAgent
from simulacra.errors import DataFileError, SimulacraError
from simulacra.transcript import read_transcript

AGENT_ID = "01fd7d2a-0357-4c1b-9f3e-8eade2d537ae"


# -- 3 -----------------------------------------------------------------------------------------------------
async def test_import_genagents_refuses_to_replace_an_existing_agent(genagents_folder, tmp_path):
    bank = AgentBank(tmp_path / "bank")
    await import_genagents(genagents_folder, None, bank, reflections=False)
    shutil.rmtree(genagents_folder / "memory_stream")  # same id, a folder without nodes.json
    with pytest.raises(SimulacraError, match=r"already exists.*--replace"):
        await import_genagents(genagents_folder, None, bank, reflections=False)
    kept = bank.load(AGENT_ID)
    assert isinstance(kept, InterviewAgent) and len(kept.observations()) == 115
    assert bank.store.count(AGENT_ID) == 115
    replaced = await import_genagents(genagents_folder, None, bank, reflections=False, replace=True)
    assert replaced[0].source == "demographic" and bank.load(AGENT_ID).source == "demographic"
    assert bank.store.count(AGENT_ID) == 0  # the old memories' vectors went with it


def test_cli_import_genagents_exits_non_zero_without_replace(genagents_folder, tmp_path, monkeypatch, capsys):
    bank = tmp_path / "bank"
    args = ["agents", "import-genagents", str(genagents_folder), "--no-reflections", "--agents", str(bank)]
    code, out = run_cli(monkeypatch, capsys, *args)
    assert code == 0, out
    code, out = run_cli(monkeypatch, capsys, *args)
    assert code == 1 and "already exists" in out and "--replace" in out and "Traceback" not in out
    assert len(AgentBank(bank).load(AGENT_ID).observations()) == 115
    code, out = run_cli(monkeypatch, capsys, *args, "--replace")
    assert code == 0, out


# -- 4 -----------------------------------------------------------------------------------------------------
def test_a_non_utf8_transcript_is_one_clear_error(tmp_path):
    path = tmp_path / "p1.jsonl"
    path.write_bytes(b'{"type": "header", "respondent": "p1"}\n{"speaker": "respondent", "text": "caf\xe9"}\n')
    with pytest.raises(DataFileError, match=r"p1.jsonl:2: not UTF-8"):
        read_transcript(path)


@pytest.mark.parametrize("respondent", ["../../etc/x", "a/b", "..", "", 7])
def test_a_header_respondent_that_is_a_path_is_refused(tmp_path, respondent):
    path = tmp_path / "p1.jsonl"
    header = {"type": "header", "respondent": respondent}
    path.write_text(json.dumps(header) + '\n{"speaker": "respondent", "text": "hi"}\n')
    (tmp_path / "x.notes.json").write_text('{"bullets": ["not theirs"]}')
    with pytest.raises(DataFileError, match=r"p1.jsonl:1 \[respondent\]: respondent id"):
        read_transcript(path)


def test_cli_build_with_a_bad_transcript_prints_one_line(tmp_path, monkeypatch, capsys):
    path = tmp_path / "p1.jsonl"
    path.write_bytes(b'{"speaker": "respondent", "text": "\xff\xfe"}\n')
    code, out = run_cli(monkeypatch, capsys, "agents", "build", str(path), "--no-reflections")
    assert code == 1 and "p1.jsonl:1: not UTF-8" in out and "Traceback" not in out
    assert len(out.strip().splitlines()) <= 3  # the error, possibly wrapped by the terminal width


async def test_a_non_utf8_nodes_json_is_one_clear_error(genagents_folder, tmp_path):
    nodes = genagents_folder / "memory_stream" / "nodes.json"
    nodes.write_bytes(nodes.read_bytes().replace(b"Korea", b"Kor\xe9a", 1))
    with pytest.raises(DataFileError, match=r"nodes.json:\d+: not UTF-8"):
        await import_genagents(genagents_folder, None, AgentBank(tmp_path / "bank"), reflections=False)


@pytest.mark.parametrize("pointer", ["abc", [1, "x"], {"a": 1}])
async def test_a_non_integer_pointer_id_is_one_clear_error(genagents_folder, tmp_path, pointer):
    path = genagents_folder / "memory_stream" / "nodes.json"
    nodes = json.loads(path.read_text())
    nodes[3]["pointer_id"] = pointer
    path.write_text(json.dumps(nodes))
    with pytest.raises(DataFileError, match=r"nodes.json \[\[3\].pointer_id\]: pointer_id must be"):
        await import_genagents(genagents_folder, None, AgentBank(tmp_path / "bank"), reflections=False)


# -- 9 -----------------------------------------------------------------------------------------------------
LAUGHS = """\
id: laughs
title: A harmless-looking instrument
scoring:
  a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
  c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
  d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
  e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
  f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
questions:
  - id: happy
    text: Taken all together, how would you say things are these days?
    kind: ordinal
    options:
      - {code: "1", label: very happy}
      - {code: "2", label: not too happy}
"""


def test_yaml_aliases_are_refused_by_loading_and_by_surveys_validate(tmp_path, monkeypatch, capsys):
    from surveys.instruments import load_instrument

    path = tmp_path / "laughs.yaml"
    path.write_text(LAUGHS)
    with pytest.raises(DataFileError, match=r"laughs.yaml:9: YAML anchors and aliases .* expand this file"):
        load_instrument(str(path))
    code, out = run_cli(monkeypatch, capsys, "surveys", "validate", str(path))
    assert code == 1 and "laughs.yaml:9" in out and "anchors and aliases" in out
    path.write_text(LAUGHS.split("scoring:")[0] + "scoring: {}\nquestions:" + LAUGHS.split("questions:")[1])
    assert load_instrument(str(path)).id == "laughs"  # without aliases the same file is fine
    path.write_text(LAUGHS.replace("  e: &e", "  # e").replace("  f: &f", "  # f"))
    assert load_instrument(str(path)).id == "laughs"  # a little reuse (about 7,000 values) is fine too


def test_shipped_instruments_still_load():
    from surveys.instruments import _builtin

    _builtin.cache_clear()
    from surveys.instruments import list_instruments, load_instrument

    assert all(load_instrument(i).questions for i in list_instruments())
