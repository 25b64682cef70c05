"""The run model: one folder format, honest failure accounting, sessions that survive kill -9, run ids as names."""

from __future__ import annotations

import json
import sqlite3
import stat

import pytest

from runs_helpers import MODEL, EchoAgent, fake_llm, instrument
from experiments.runs.spec import RunSpec
from experiments.runs import RunFolder, run_batch
from experiments.runs.folder import OldRunFormatError, RunMismatchError
from experiments.runs.runner import RunInterrupted, RunStopped
from experiments.runs.store import AnswerKey, StoredAnswer
from simulacra.errors import SimulacraError
from simulacra.workspace import private_dir
from surveys.model import Answer, AnswerAttempt, AnswerStatus

CONTRACT_COLUMNS = ["run", "agent", "instrument", "question", "sample", "value", "status", "error", "reasoning", "raw",
                    "probabilities", "prompt_hash"]


def new_run(tmp_path, agents, inst, *, new_run=False, **kwargs):
    return RunFolder.open(RunSpec.build(agents, [inst], model=MODEL, temperature=0.0, **kwargs), tmp_path / "runs",
                          new_run=new_run)


def test_manifest_is_typed_with_schema_version_wording_and_prompt_hashes(tmp_path):
    folder = new_run(tmp_path, [EchoAgent(id="a")], instrument(3))
    manifest = json.loads((folder.path / "manifest.json").read_text())
    assert manifest["schema_version"] == 2 and manifest["kind"] == "batch"
    assert set(manifest["instruments"][0]["wording"]) == {"q0", "q1", "q2"}
    assert any(name.endswith("answer.txt") or name.endswith(".txt") for name in manifest["prompt_hashes"])
    assert manifest["agents"][0]["fingerprint"]


async def test_answers_frame_has_the_contract_columns_and_prompt_hash(tmp_path):
    agents = [EchoAgent(id="a"), EchoAgent(id="b")]
    folder = new_run(tmp_path, agents, instrument(3))
    outcome = await run_batch(folder, agents, [instrument(3)], fake_llm(), batch_size=2)
    assert outcome.status == "complete" and outcome.written == 6
    frame = folder.answers()
    assert list(frame.columns[: len(CONTRACT_COLUMNS)]) == CONTRACT_COLUMNS
    assert set(frame["prompt_hash"]) == {"ph-q0", "ph-q1", "ph-q2"}
    assert frame["value"].tolist()[0] == "2"
    sessions = folder.sessions()
    assert sessions[-1]["outcome"] == "complete"
    assert "simulacra" in sessions[-1]["code_version"]


async def test_a_fault_that_is_not_the_models_answer_stops_the_run_and_records_nothing_as_failed(tmp_path):
    inst = instrument(6)
    agents = [EchoAgent(id="a", explode_on_call=3)]
    folder = new_run(tmp_path, agents, inst)
    with pytest.raises(RuntimeError, match="memory store"):
        await run_batch(folder, agents, [inst], fake_llm(), batch_size=2, questions_per_call=2)
    frame = folder.answers()
    assert len(frame) == 4  # the two batches before the fault are kept
    assert (frame["status"] == "ok").all()  # and nothing is recorded as failed because of it
    assert folder.manifest.status == "stopped"
    assert folder.sessions()[-1]["outcome"] == "stopped"
    # the same command resumes once the cause is fixed
    fixed = [EchoAgent(id="a")]
    outcome = await run_batch(folder, fixed, [inst], fake_llm(), batch_size=2)
    assert outcome.written == 2 and folder.manifest.status == "complete"


async def test_a_rejected_request_stops_with_a_clear_message_not_failed_answers(tmp_path):
    inst = instrument(4)
    agents = [EchoAgent(id="a", explode_on_call=2, explode_with="rejected")]
    folder = new_run(tmp_path, agents, inst)
    with pytest.raises(RunStopped, match="rejected the request.*saved"):
        await run_batch(folder, agents, [inst], fake_llm(), batch_size=2)
    frame = folder.answers()
    assert len(frame) == 2 and (frame["status"] == "ok").all()


async def test_endpoint_gone_interrupts_and_the_same_call_resumes(tmp_path):
    inst = instrument(6)
    agents = [EchoAgent(id="a"), EchoAgent(id="b")]
    folder = new_run(tmp_path, agents, inst)
    with pytest.raises(RunInterrupted, match="Run the same command again"):
        await run_batch(folder, agents, [inst], fake_llm(fail_after=2), batch_size=3)
    assert len(folder.answers()) == 6 and folder.manifest.status == "interrupted"
    await run_batch(folder, agents, [inst], fake_llm(), batch_size=3)
    assert len(folder.answers()) == 12 and (folder.answers()["status"] == "ok").all()


async def test_usage_is_written_per_batch_and_a_killed_session_is_marked_interrupted(tmp_path):
    """kill -9 between batches: the session row already holds the usage so far; the next invocation marks it."""
    inst = instrument(4)
    folder = new_run(tmp_path, [EchoAgent(id="a")], inst)
    store = folder.store
    session = store.start_session({"simulacra": "test"})
    store._db.execute("UPDATE sessions SET pid = ? WHERE id = ?", (2**22 + 12345, session))  # a process that is gone
    answers = [StoredAnswer(AnswerKey("a", "mini", f"q{i}"), Answer(question_id=f"q{i}", value="1")) for i in range(2)]
    store.write_batch(answers, session=session, usage={"calls": 7, "prompt_tokens": 700, "cost_usd": 0.5}, written=2)
    folder.close()  # ... and the process dies here: no finish_session

    reopened = RunFolder(folder.path)
    manifest = reopened.refresh_manifest()
    assert manifest.usage["calls"] == 7 and manifest.usage["prompt_tokens"] == 700
    sessions = reopened.sessions()
    assert sessions[0]["outcome"] == "interrupted" and sessions[0]["answers_written"] == 2


async def test_answer_attempts_are_kept_in_the_attempts_table(tmp_path):
    inst = instrument(2)
    folder = new_run(tmp_path, [EchoAgent(id="a")], inst)
    key = AnswerKey("a", "mini", "q0")
    failed = Answer(question_id="q0", status=AnswerStatus.failed, raw="{bad", error="invalid",
                    attempts=[AnswerAttempt(raw="{worse", error="not JSON", round=0, at=1.0)])
    folder.store.write_batch([StoredAnswer(key, failed)])
    folder.store.write_batch([StoredAnswer(key, Answer(question_id="q0", value="3"), round=1)])
    history = folder.store.history(key)
    assert [h["kind"] for h in history] == ["model", "stored", "current"]
    assert history[1]["raw"] == "{bad" and history[2]["value"] == "3" and history[2]["round"] == 1
    # an ok answer is never overwritten
    folder.store.write_batch([StoredAnswer(key, Answer(question_id="q0", value="1"))])
    assert folder.store.get(key).value == "3"


@pytest.mark.parametrize("bad", ["../../x", "/tmp/elsewhere", "a/b", "..", ".hidden", "x" * 200])
def test_run_ids_are_names_not_paths(tmp_path, bad):
    with pytest.raises(SimulacraError, match="not a valid run name"):
        new_run(tmp_path, [EchoAgent(id="a")], instrument(2), run_id=bad)
    assert not (tmp_path / "x").exists() and not (tmp_path.parent / "x").exists()


def test_private_dir_never_chmods_a_folder_it_did_not_create(tmp_path):
    existing = tmp_path / "shared"
    existing.mkdir()
    existing.chmod(0o755)
    private_dir(existing / "sub")
    assert stat.S_IMODE(existing.stat().st_mode) == 0o755
    assert stat.S_IMODE((existing / "sub").stat().st_mode) == 0o700
    with pytest.raises(SimulacraError, match="outside"):
        private_dir(tmp_path / "ws" / ".." / "shared", within=tmp_path / "ws")


def test_an_old_batch_manifest_opens_and_an_old_experiment_folder_says_what_to_do(tmp_path):
    old = tmp_path / "old-batch"
    (old / "instruments").mkdir(parents=True)
    (old / "manifest.json").write_text(json.dumps({
        "id": "old-batch", "status": "complete", "agents": [{"id": "a", "source": "demographic", "fingerprint": "x"}],
        "instruments": [{"id": "mini", "title": "", "questions": ["q0"]}], "model": MODEL, "settings": {"samples": 1},
    }))
    db = sqlite3.connect(old / "responses.sqlite")  # the format-1 answers table (no prompt_hash column)
    db.executescript("""CREATE TABLE answers (run TEXT NOT NULL, agent TEXT NOT NULL, instrument TEXT NOT NULL,
        question TEXT NOT NULL, sample INTEGER NOT NULL DEFAULT 0, value TEXT, reasoning TEXT NOT NULL DEFAULT '',
        raw TEXT NOT NULL DEFAULT '', status TEXT NOT NULL, error TEXT, probabilities TEXT,
        attempts INTEGER NOT NULL DEFAULT 1, answered_at REAL NOT NULL, PRIMARY KEY (run, agent, instrument, question, sample));
        INSERT INTO answers (run, agent, instrument, question, value, status, answered_at) VALUES ('old-batch', 'a', 'mini', 'q0', '"2"', 'ok', 1.0);""")
    db.commit()
    db.close()
    folder = RunFolder(old)
    assert folder.manifest.kind == "batch" and folder.manifest.schema_version == 2
    frame = folder.answers()
    assert frame["value"].tolist() == ["2"] and frame["prompt_hash"].tolist() == [None]

    exp = tmp_path / "old-exp"
    exp.mkdir()
    (exp / "manifest.json").write_text(json.dumps({"kind": "experiment", "run_id": "old-exp", "seed": 0, "studies": {}}))
    (exp / "answers.sqlite").write_bytes(b"")
    with pytest.raises(OldRunFormatError) as info:
        RunFolder(exp)
    message = str(info.value)
    assert "format 1" in message and "run the experiment again" in message and "\n" not in message


async def test_resuming_with_a_changed_prompt_template_is_refused_with_what_changed(tmp_path, monkeypatch):
    """Two invocations of the same command with one template file edited between them."""
    import simulacra.prompts as prompts

    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "answer.txt").write_text("### system\nYou are {name}.\n")
    (templates / "router.txt").write_text("### system\nRoute.\n")
    monkeypatch.setattr(prompts, "ANSWER_TEMPLATE_DIRS", [templates])
    inst = instrument(2)
    agents = [EchoAgent(id="a")]
    first = new_run(tmp_path, agents, inst)
    await run_batch(first, agents, [inst], fake_llm())

    (templates / "answer.txt").write_text("### system\nYou are {name}. Answer briefly.\n")
    with pytest.raises(RunMismatchError, match=r"prompt template .*answer\.txt changed") as info:
        new_run(tmp_path, agents, inst)
    assert "router.txt" not in str(info.value) and "--new-run" in str(info.value)
    second = new_run(tmp_path, agents, inst, new_run=True)
    assert second.path != first.path and second.manifest.prompt_hashes != first.manifest.prompt_hashes
    # and the changed-back template resumes the first run
    (templates / "answer.txt").write_text("### system\nYou are {name}.\n")
    assert new_run(tmp_path, agents, inst).path == first.path


def test_changed_question_wording_and_agent_are_named(tmp_path):
    inst = instrument(2)
    new_run(tmp_path, [EchoAgent(id="a")], inst)
    reworded = inst.model_copy(update={"questions": [inst.questions[0].model_copy(update={"text": "Reworded?"}), inst.questions[1]]})
    with pytest.raises(RunMismatchError, match="question q0 of mini: wording changed"):
        new_run(tmp_path, [EchoAgent(id="a")], reworded)
    with pytest.raises(RunMismatchError, match="agent a changed"):
        new_run(tmp_path, [EchoAgent(id="a", name="Someone else")], inst)


def test_volatile_agent_state_does_not_change_the_run(tmp_path):
    """An agent whose answering bumps counters (calls) is the same agent: its fingerprint is stable content."""
    agent = EchoAgent(id="a")
    first = new_run(tmp_path, [agent], instrument(2))
    agent.calls = 5
    assert new_run(tmp_path, [agent], instrument(2)).path == first.path


async def test_runs_list_and_show_print_whole_ids_and_json(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from experiments.cli import app

    home = tmp_path / "home"
    monkeypatch.setenv("SIMULACRA_HOME", str(home))
    agents = [EchoAgent(id="a-very-long-agent-identifier-0123456789")]
    inst = instrument(2, "an-instrument-with-a-long-name")
    folder = RunFolder.open(RunSpec.build(agents, [inst], model=MODEL, temperature=0.0), home / "runs")
    await run_batch(folder, agents, [inst], fake_llm())
    listed = CliRunner().invoke(app, ["runs", "list"])
    assert listed.exit_code == 0, listed.output
    assert listed.output.splitlines()[0].startswith(folder.path.name + "\t")  # whole, in an 80-column pipe
    rows = json.loads(CliRunner().invoke(app, ["runs", "list", "--json"]).output)
    assert rows[0]["id"] == folder.path.name and rows[0]["counts"]["ok"] == 2
    shown = CliRunner().invoke(app, ["runs", "show", folder.path.name, "--json"])
    data = json.loads(shown.output)
    assert data["manifest"]["prompt_hashes"] and data["sessions"][0]["code_version"]["simulacra"]
    text = CliRunner().invoke(app, ["runs", "show", folder.path.name]).output
    assert "session 1: complete, 2 answers" in text


async def test_answer_options_are_recorded_passed_to_agents_and_part_of_the_identity(tmp_path):
    from simulacra.agent import AnswerOptions

    inst = instrument(2)
    agent = EchoAgent(id="a")
    folder = new_run(tmp_path, [agent], inst, options=AnswerOptions(scoring="logprobs", reasoning=False), run_id="fixed")
    assert folder.manifest.settings["answer_options"]["scoring"] == "logprobs"
    await run_batch(folder, [agent], [inst], fake_llm())  # no options here: the run's own are used
    assert agent.seen_options and all(o["scoring"] == "logprobs" and o["reasoning"] is False for o in agent.seen_options)
    with pytest.raises(RunMismatchError, match="answer option scoring 'logprobs' -> 'generate'"):
        new_run(tmp_path, [agent], inst, options=AnswerOptions(scoring="generate", reasoning=False), run_id="fixed")
    # without a --run-id, other options derive another folder; how many questions share a call changes nothing
    assert new_run(tmp_path, [agent], inst, options=AnswerOptions(scoring="generate", reasoning=False)).path != folder.path
    same = new_run(tmp_path, [agent], inst, options=AnswerOptions(scoring="logprobs", reasoning=False, batch_size=1), run_id="fixed")
    assert same.path == folder.path


def test_a_run_id_naming_a_folder_that_is_not_a_run_is_refused(tmp_path):
    other = tmp_path / "runs" / "compare-1234"
    other.mkdir(parents=True)
    (other / "compare.json").write_text("{}")
    with pytest.raises(SimulacraError, match="not a run folder"):
        new_run(tmp_path, [EchoAgent(id="a")], instrument(2), run_id="compare-1234")
    assert not (other / "manifest.json").exists()


def test_a_symlinked_run_folder_pointing_outside_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "sneaky").symlink_to(outside)
    with pytest.raises(SimulacraError):
        new_run(tmp_path, [EchoAgent(id="a")], instrument(2), run_id="sneaky")
    assert list(outside.iterdir()) == []


async def test_a_run_records_what_it_computed_with_and_runs_show_prints_it(tmp_path, monkeypatch, capsys):
    """Reproducible from its folder: library versions and the model (file hash, or endpoint and fingerprint)."""
    from experiments.batch_cli import environment_lines

    agents = [EchoAgent(id="a")]
    inst = instrument(2)
    folder = new_run(tmp_path, agents, inst)
    await run_batch(folder, agents, [inst], fake_llm())
    env = folder.manifest.environment
    assert env["libraries"]["numpy"] and env["libraries"]["pandas"] and env["simulacra"]
    assert env["model"]["kind"] in ("embedded", "endpoint")
    lines = environment_lines(env)
    assert lines[0].startswith("model: ") and "numpy " in lines[1]
    assert environment_lines({}) == ["environment: not recorded (a run from before simulacra recorded it)"]
