"""Withdrawal (#15, what must work 1): a respondent's words leave every store of the workspace.

The real genagents sample agent (Joon) is imported with expert reflections, has a transcript, notes, a
session and a web invitation, answers questions (through the response cache) and takes part in a run
beside another agent. Every byte of the workspace, binary files included, is searched for a distinctive
phrase of his before (present) and after (absent) `simulacra withdraw`; the other agent is untouched."""

from __future__ import annotations

import io
import json
import sqlite3

import pandas as pd
import pytest
from privacy_helpers import genagents_folder, run_cli, sample_dir  # noqa: F401 - fixtures

from experiments.pipeline import RunSpec, run_async
from experiments.wiring import withdraw_everywhere
from interviewer.storage import TranscriptStore
from interviewer.web.tokens import SessionRegistry
from simulacra.agents.bank import AgentBank
from simulacra.agents.baselines import DemographicAgent
from simulacra.agents.build import import_genagents
from simulacra.llm import LLM, FakeBackend
from simulacra.llm.cache import ResponseCache
from simulacra.transcript import InterviewNotes, Turn
from simulacra.withdraw import AUDIT_FILE, withdraw
from simulacra.workspace import Workspace
from surveys.model import Instrument, Option, Question, QuestionKind

AGENT_ID = "01fd7d2a-0357-4c1b-9f3e-8eade2d537ae"
PHRASE = "high school in New Hampshire"  # in one of Joon's memories (his life story)
OTHER = "other-person-7"


def _instance(schema: dict, echo: str):
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {k: _instance(v, echo) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        return [f"{echo} observation {i + 1}" for i in range(max(1, schema.get("minItems", 1)))]
    if kind == "integer":
        return int(schema.get("minimum", 0) or 0) + 1
    if kind == "number":
        return float(schema.get("minimum", 0) or 0)
    return f"{echo} reasoning"


def responder(request):
    """A schema-following fake model that, like a real one, repeats what it read: replies to prompts holding
    Joon's memories quote the phrase (so reflections, answers' reasoning and the cache carry his words)."""
    prompt = "\n".join(str(m.get("content", "")) for m in request.messages)
    echo = f"He went to {PHRASE}." if "Joon" in prompt else "Nothing personal here."
    if request.json_schema is None:
        return echo
    return json.dumps(_instance(request.json_schema, echo))


def instrument() -> Instrument:
    yes_no = [Option(code="1", label="yes"), Option(code="2", label="no")]
    return Instrument(id="mini", title="Two questions", questions=[
        Question(id="q1", text="Did you go to high school in the United States?", kind=QuestionKind.categorical, options=yes_no),
        Question(id="q2", text="Do you like your job?", kind=QuestionKind.categorical, options=yes_no),
    ])


def files_holding(root, phrase: str) -> list[str]:
    """Every file under `root` whose bytes hold `phrase` (also inside Parquet, which is compressed)."""
    needle = phrase.encode()
    hits = []
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        found = needle in data or phrase.encode("utf-16-le") in data
        if not found and path.suffix == ".parquet":
            found = phrase in pd.read_parquet(path).astype(str).to_csv()
        if found:
            hits.append(str(path.relative_to(root)))
    return hits


async def populate(workspace: Workspace, genagents_folder) -> None:
    bank = AgentBank(workspace.agents)
    llm = LLM(FakeBackend(default=responder), cache=ResponseCache(workspace.cache / "llm.sqlite"))
    joon = (await import_genagents(genagents_folder, llm, bank, reflection_limit=3))[0]
    other = DemographicAgent(id=OTHER, name="Someone Else", demographics={"age": "40"})
    bank.save(other)
    # his own interview, as the interviewer stores it
    store = TranscriptStore(workspace.transcripts)
    store.write_header(AGENT_ID, script="default", name="Joon")
    store.append(AGENT_ID, Turn(index=0, speaker="interviewer", text="Tell me the story of your life.", kind="scripted"))
    store.append(AGENT_ID, Turn(index=1, speaker="respondent", text=f"I went to {PHRASE}, then to college."))
    store.save_notes(AGENT_ID, InterviewNotes(bullets=[f"Went to {PHRASE}."], updated_at_turn=1))
    (workspace.transcripts / f"{AGENT_ID}.state.json").write_text(json.dumps({"note": f"resume after {PHRASE}"}))
    SessionRegistry(workspace.sessions / "web").invite(AGENT_ID, label="wave 1", name="Joon")
    # he answers questions, and takes part in a run beside another agent
    outcome = await run_async(RunSpec.build([joon, other], [instrument()], model={"name": "fake"}), llm=llm,
                              workspace=workspace)
    assert outcome.status == "complete"
    folder = outcome.folder
    truth = folder.path / "truth"  # the human answers the run is scored against (his wave-1 survey answers too)
    truth.mkdir()
    (truth / "responses.csv").write_text(f"respondent,question,wave,value\n{AGENT_ID},q1,1,1\n{OTHER},q1,1,2\n")
    (folder.path / "metrics.json").write_text(json.dumps({"per_person": {AGENT_ID: {"accuracy": 0.5}}}))
    folder.close()
    llm.cache.close()


def run_rows(workspace: Workspace) -> pd.DataFrame:
    (store,) = list(workspace.runs.glob("*/responses.sqlite"))
    with sqlite3.connect(store) as db:
        return pd.read_sql("SELECT agent, question, reasoning FROM answers", db)


async def test_withdraw_removes_every_trace_of_the_respondent(workspace, genagents_folder, monkeypatch, capsys):
    await populate(workspace, genagents_folder)
    before = files_holding(workspace.root, PHRASE)
    places = {path.split("/")[0] for path in before}
    assert {"transcripts", "agents", "cache", "runs"} <= places, before
    assert not any(p.endswith("chroma.sqlite3") for p in before)  # memory texts are never stored in chromadb
    assert any(p.endswith("responses.csv") for p in before) and any(p.endswith("responses.sqlite") for p in before)
    assert set(run_rows(workspace)["agent"]) == {AGENT_ID, OTHER}

    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))  # asked to confirm, the operator says no
    code, out = run_cli(monkeypatch, capsys, "withdraw", AGENT_ID)
    assert code == 1 and "nothing was changed" in out
    assert files_holding(workspace.root, PHRASE) == before

    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    code, out = run_cli(monkeypatch, capsys, "withdraw", AGENT_ID)
    assert code == 0, out
    assert "withdrawn" in out

    assert files_holding(workspace.root, PHRASE) == []
    assert files_holding(workspace.root, "Joon") == []  # his name too (invitation, notes, agent, manifest)
    # everything of the other agent is still there, and the run's exports were written again without him
    rows = run_rows(workspace)
    assert set(rows["agent"]) == {OTHER} and len(rows) == 2
    (run_dir,) = [p.parent for p in workspace.runs.glob("*/responses.sqlite")]
    assert set(pd.read_csv(run_dir / "responses.csv")["agent"]) == {OTHER}
    assert set(pd.read_parquet(run_dir / "responses.parquet")["agent"]) == {OTHER}
    assert list(pd.read_csv(run_dir / "truth" / "responses.csv")["respondent"]) == [OTHER]
    assert not (run_dir / "metrics.json").exists()  # scored with him: removed, `simulacra report` redoes it
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert [a["id"] for a in manifest["agents"]] == [OTHER]
    assert AgentBank(workspace.agents).ids() == [OTHER]
    assert not [d for d in (workspace.agents / "chroma").iterdir() if d.is_dir()]  # no vector index left behind
    with sqlite3.connect(workspace.cache / "llm.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM responses").fetchone()[0] >= 1  # the other agent's calls stay
    assert not list(workspace.transcripts.glob(f"{AGENT_ID}*"))
    assert SessionRegistry(workspace.sessions / "web").get(AGENT_ID) is None
    # one audit line, no personal text and not the id itself
    (line,) = (workspace.root / AUDIT_FILE).read_text().splitlines()
    record = json.loads(line)
    assert set(record) == {"at", "respondent_hmac", "removed"} and AGENT_ID not in line
    assert record["removed"]["agents"] == 1 and record["removed"]["transcript_files"] == 3
    assert record["removed"]["cache_entries"] >= 1 and record["removed"]["run_rows"] >= 2
    assert record["removed"]["study_answers"] == 1
    # no SQLite file keeps a write-ahead log with the old pages
    assert all(p.stat().st_size == 0 for p in workspace.root.rglob("*-wal"))


async def test_withdraw_with_yes_skips_the_question_and_an_unknown_id_changes_nothing(workspace, monkeypatch, capsys):
    TranscriptStore(workspace.transcripts).write_header("p-9", name="Pat")
    code, out = run_cli(monkeypatch, capsys, "withdraw", "p-9", "--yes")
    assert code == 0 and "withdrawn" in out and not (workspace.transcripts / "p-9.jsonl").exists()
    code, out = run_cli(monkeypatch, capsys, "withdraw", "../etc", "--yes")
    assert code == 1 and "not a valid respondent name" in out


def test_library_withdraw_reports_counts(workspace):
    store = TranscriptStore(workspace.transcripts)
    store.write_header("p-1")
    store.append("p-1", Turn(index=0, speaker="respondent", text="A private sentence about my family."))
    found = withdraw("p-1", workspace, steps=[])  # the core stores only
    assert found.removed == {"transcript_files": 1}
    assert "A private sentence" not in (workspace.root / AUDIT_FILE).read_text()


@pytest.fixture
def workspace(isolated_workspace) -> Workspace:
    from pathlib import Path

    return Workspace(Path(isolated_workspace))


async def test_withdraw_finds_an_agent_built_from_the_transcript_under_another_id(workspace):
    from simulacra.agents.build import build_agent_from_transcript

    store = TranscriptStore(workspace.transcripts)
    store.write_header("p-2", name="Joon")
    secret = "my first bicycle was stolen in Daejeon"
    store.append("p-2", Turn(index=0, speaker="interviewer", text="Tell me the story of your life.", kind="scripted"))
    store.append("p-2", Turn(index=1, speaker="respondent", text=f"Well, {secret}, and I never forgot it."))
    llm = LLM(FakeBackend(default=responder), cache=ResponseCache(workspace.cache / "llm.sqlite"))
    bank = AgentBank(workspace.agents)
    agent = await build_agent_from_transcript(workspace.transcripts / "p-2.jsonl", llm, bank=bank, agent_id="pilot-agent-2",
                                              reflection_limit=2)
    llm.cache.close()
    assert agent.id == "pilot-agent-2" and files_holding(workspace.root, secret)
    found = withdraw("p-2", workspace, steps=[])
    assert found.agent_ids == ["pilot-agent-2"] and found.removed["cache_entries"] >= 1
    assert files_holding(workspace.root, secret) == [] and files_holding(workspace.root, "Joon") == []
    assert AgentBank(workspace.agents).ids() == []


async def test_withdraw_reaches_runs_of_an_agent_no_longer_in_the_bank(workspace, genagents_folder):
    await populate(workspace, genagents_folder)
    AgentBank(workspace.agents).delete(AGENT_ID)  # deleted earlier, by hand: the run still holds his answers
    assert AGENT_ID in set(run_rows(workspace)["agent"])
    found = withdraw_everywhere(AGENT_ID, workspace)
    assert set(run_rows(workspace)["agent"]) == {OTHER} and found.removed["run_rows"] >= 2
    assert not [p for p in files_holding(workspace.root, PHRASE) if p.startswith("runs/")]
