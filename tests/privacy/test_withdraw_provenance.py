"""Withdrawal by provenance (#24, what must work 1) and explicit wiring (#22, what must work 5).

- A participant who took part only through the study (the web app's study pages, no interview) and was used in
  persona, composite and combined conditions by `simulacra study evaluate`: after `simulacra withdraw`, no byte
  of the workspace (SQLite files and chromadb included) holds their "about you" paragraph or their free-text
  answers. A second participant who also gave an interview (the combined condition) likewise; a third, who
  stays, keeps everything.
- A web app created directly (not by `simulacra serve`) and handed the composition root's withdrawal removes a
  respondent from the run store too.
- A cache row tagged with a respondent but holding none of their text is deleted; a row served again for
  another person is tagged with them too; tags follow asyncio tasks and a backend's own thread; cache files of
  the earlier schema keep working.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from privacy_helpers import files_holding, run_cli

from experiments.wiring import withdraw_everywhere, withdrawal_steps
from interviewer.clock import FakeClock
from interviewer.engine import InterviewSession
from interviewer.script import parse_script
from interviewer.storage import TranscriptStore
from interviewer.web.app import create_app
from simulacra.agents.baselines import PersonaAgent
from simulacra.llm import LLM, FakeBackend, provenance
from simulacra.llm.cache import ResponseCache
from simulacra.llm.types import BackendReply, Usage
from simulacra.transcript import Turn
from simulacra.withdraw import withdraw
from simulacra.workspace import Workspace
from surveys.model import Option, Question, QuestionKind

OPEN = """\
id: habits
title: Habits
questions:
  - id: happy
    text: Taken all together, how happy are you?
    kind: ordinal
    options: [{code: "1", label: Very happy}, {code: "2", label: Pretty happy}, {code: "3", label: Not too happy}]
  - id: note
    text: Anything else you want to tell us?
    kind: open
"""
STUDY = """\
id: s1
title: Withdrawal of a study participant
interview: {required: false}
instruments:
  - about_you
  - habits.yaml
  - {id: gss, questions: [natspac, natenvir]}
retest_days: 14
"""
# Distinctive words per person: the "about you" paragraph (persona agents read it) and an open answer (composite
# and combined agents read it).
PEOPLE = {
    "p-alma": {"about_self": "I am a retired lighthouse keeper from Kirkwall who paints seabirds and distrusts banks.",
               "note": "My sister Wilhelmina keeps bees on a rooftop in Tromso."},
    "p-bruno": {"about_self": "I drive a night bus in Gdansk, collect tram tickets and sing in a Lutheran choir.",
                "note": "Every winter I knit scarves for the harbour pilots."},
    "p-cleo": {"about_self": "I teach violin to children in Valparaiso and grow tomatoes on my balcony.",
               "note": "My grandmother crossed the Andes on a mule in 1952."},
}
INTERVIEWED = "p-bruno"  # also interviewed: interview and combined agents
INTERVIEW_LINE = "I grew up above a bakery on Ogarna Street and still wake at four."
COMMON = {"about_age": 58, "about_sex": "2", "about_race": "1", "about_degree": "3", "happy": "2",
          "natspac": "1", "natenvir": "2"}


def _instance(schema: dict):
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object":
        return {k: _instance(v) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        return [f"observation number {i + 1}" for i in range(max(1, schema.get("minItems", 1)))]
    if kind == "integer":
        return int(schema.get("minimum", 0) or 0) + 1
    if kind == "number":
        return float(schema.get("minimum", 0) or 0)
    if "anyOf" in schema:
        return _instance(schema["anyOf"][0])
    return "because of what they said"


def model_reply(request):
    """A schema-following scripted model: the interviewer moves on, agents answer the first option."""
    if request.schema_name == "NotesUpdate":
        return json.dumps({"bullets": ["Said something."]})
    if request.json_schema is not None and "action" in request.json_schema.get("properties", {}):
        return json.dumps({"assessment": "Enough.", "action": "move_on", "follow_up": ""})
    return "ok" if request.json_schema is None else json.dumps(_instance(request.json_schema))


@pytest.fixture
def workspace(isolated_workspace) -> Workspace:
    from pathlib import Path

    return Workspace(Path(isolated_workspace))


def _llm(workspace: Workspace) -> LLM:
    return LLM(FakeBackend(default=model_reply), cache=ResponseCache(workspace.cache / "llm.sqlite"))


def _study(tmp_path, workspace, monkeypatch, capsys) -> tuple[TestClient, dict[str, str]]:
    """The study created and its links made with the commands; every person answers wave 1 in the web app;
    p-bruno's interview transcript is in the workspace. Returns (client of an app wired with every store,
    respondent -> link token)."""
    (tmp_path / "habits.yaml").write_text(OPEN)
    (tmp_path / "study.yaml").write_text(STUDY)
    code, out = run_cli(monkeypatch, capsys, "study", "create", str(tmp_path / "study.yaml"))
    assert code == 0, out
    args = [a for person in PEOPLE for a in ("--respondent", person)]
    code, out = run_cli(monkeypatch, capsys, "study", "invite", "s1", "0", *args, "--json")
    assert code == 0, out
    tokens = {row["respondent"]: row["link"].split("#", 1)[1] for row in json.loads(out[out.index("["):])}
    assert set(tokens) == set(PEOPLE)
    script = parse_script(_SCRIPT, tmp_path / "script.yaml")
    client = TestClient(create_app(workspace, llm=_llm(workspace), script=script, stt=None, tts=None,
                                   withdraw=withdraw_everywhere))  # created here, not by `simulacra serve`
    for person, token in tokens.items():
        headers = {"Authorization": f"Bearer {token}"}
        assert client.post("/api/session/consent", headers=headers, json={}).status_code == 200
        state = client.get("/api/study/session", headers=headers).json()
        while state["phase"] == "survey":
            q = state["question"]
            value = {**COMMON, **PEOPLE[person]}[q["id"]]
            reply = client.post("/api/study/answer", headers=headers,
                                json={"instrument": q["instrument"], "question": q["id"], "wave": 1, "value": value})
            assert reply.status_code == 200, reply.text
            state = reply.json()
        assert state["phase"] == "waiting", state
    store = TranscriptStore(workspace.transcripts)
    store.write_header(INTERVIEWED, script="default", name="Bruno")
    store.append(INTERVIEWED, Turn(index=0, speaker="interviewer", text="Tell me the story of your life.", kind="scripted"))
    store.append(INTERVIEWED, Turn(index=1, speaker="respondent", text=INTERVIEW_LINE))
    return client, tokens


_SCRIPT = """\
id: short
title: One question
blocks:
  - id: life
    questions:
      - {id: q002, budget_s: 600, text: "To start, tell me the story of your life."}
      - {id: closing, kind: closing, budget_s: 0, text: "Thank you!"}
"""


def _evaluate(workspace, monkeypatch, capsys) -> None:
    """`simulacra study evaluate` with the scripted model (and the workspace's response cache) in place of the
    configured one: persona, composite and combined conditions."""
    import simulacra.llm

    monkeypatch.setattr(simulacra.llm, "open_llm", lambda *a, **k: _llm(workspace))
    monkeypatch.setattr(simulacra.llm, "describe_backend", lambda *a, **k: {"backend": "fake", "model": "scripted"})
    code, out = run_cli(monkeypatch, capsys, "study", "evaluate", "s1", "--condition", "persona", "--condition",
                        "composite", "--condition", "combined", "--no-reflections", "--min-items", "1",
                        "--bootstrap", "5")
    assert code == 0, out


def _run_agents(workspace: Workspace) -> set[str]:
    agents = set()
    for store in workspace.runs.glob("**/responses.sqlite"):
        with sqlite3.connect(store) as db:
            agents |= {r[0] for r in db.execute("SELECT agent FROM answers")}
    return agents


def test_a_study_participant_leaves_no_byte_behind(tmp_path, workspace, monkeypatch, capsys):
    client, _ = _study(tmp_path, workspace, monkeypatch, capsys)
    client.close()
    _evaluate(workspace, monkeypatch, capsys)
    code, out = run_cli(monkeypatch, capsys, "study", "export", "s1")
    assert code == 0, out
    # before: their words are in the cache (persona, composite and combined prompts), the study and the run
    for person, words in PEOPLE.items():
        places = {p.split("/")[0] for p in files_holding(workspace.root, words["about_self"])}
        assert {"cache", "studies"} <= places, (person, places)
        assert {"cache", "studies", "runs"} <= {p.split("/")[0] for p in files_holding(workspace.root, words["note"])}
    assert any(p.startswith("agents/") for p in files_holding(workspace.root, INTERVIEW_LINE))  # chromadb, agent
    sources = {a.split(".")[-1] for a in _run_agents(workspace)}
    assert {"persona", "composite", "combined"} <= sources

    for person in ("p-alma", INTERVIEWED):
        code, out = run_cli(monkeypatch, capsys, "withdraw", person, "--yes")
        assert code == 0 and "withdrawn" in out, out
        for text in PEOPLE[person].values():
            assert files_holding(workspace.root, text) == [], (person, text)
        assert not {a for a in _run_agents(workspace) if f".{person}." in a or a.endswith(f".{person}")}
    assert files_holding(workspace.root, INTERVIEW_LINE) == []
    assert files_holding(workspace.root, "Bruno") == []
    # the one who stays keeps everything: study answers, cache rows made from them, run answers
    stays = PEOPLE["p-cleo"]
    assert {"cache", "studies", "runs"} <= {p.split("/")[0] for p in files_holding(workspace.root, stays["note"])}
    assert {"cache", "studies"} <= {p.split("/")[0] for p in files_holding(workspace.root, stays["about_self"])}
    assert {a for a in _run_agents(workspace) if "p-cleo" in a}
    assert all(p.stat().st_size == 0 for p in workspace.root.rglob("*-wal"))


def test_a_web_app_created_without_the_cli_withdraws_from_the_run_store_too(tmp_path, workspace, monkeypatch, capsys):
    client, tokens = _study(tmp_path, workspace, monkeypatch, capsys)
    _evaluate(workspace, monkeypatch, capsys)
    assert any(".p-alma." in a for a in _run_agents(workspace))
    reply = client.post("/api/session/withdraw", headers={"Authorization": f"Bearer {tokens['p-alma']}"},
                        json={"confirm": True})
    assert reply.status_code == 200, reply.text
    removed = reply.json()["removed"]
    assert removed["run_rows"] >= 2 and removed["study_files"] >= 1 and removed["cache_entries"] >= 1
    agents = _run_agents(workspace)
    assert not [a for a in agents if "p-alma" in a] and [a for a in agents if "p-cleo" in a]
    for run in workspace.runs.iterdir():
        manifest = json.loads((run / "manifest.json").read_text())
        assert "p-alma" not in {a.get("respondent") for a in manifest["agents"]}
        if (run / "responses.csv").is_file():
            assert not pd.read_csv(run / "responses.csv")["agent"].str.contains("p-alma").any()
    assert files_holding(workspace.root, PEOPLE["p-alma"]["about_self"]) == []
    client.close()


def test_the_composition_root_lists_every_store():
    assert [s.name for s in withdrawal_steps()] == ["runs", "web_sessions", "study_answers"]


# -- provenance tags in the response cache ----------------------------------------------------------------
def _tags(workspace: Workspace) -> dict[str, set[str]]:
    with sqlite3.connect(workspace.cache / "llm.sqlite") as db:
        out: dict[str, set[str]] = {}
        for key, who in db.execute("SELECT key, respondent FROM provenance"):
            out.setdefault(key, set()).add(who)
        return out


def _keys(workspace: Workspace) -> set[str]:
    with sqlite3.connect(workspace.cache / "llm.sqlite") as db:
        return {r[0] for r in db.execute("SELECT key FROM responses")}


async def test_a_row_tagged_with_them_goes_even_without_their_text(workspace):
    llm = _llm(workspace)
    with provenance.about("p-7"):
        await llm.chat([{"role": "user", "content": "What is two plus two?"}])  # nothing of theirs in it
    await llm.chat([{"role": "user", "content": "What is three plus three?"}])  # nobody's
    async with provenance.about("p-8"):
        await llm.chat([{"role": "user", "content": "What is four plus four?"}])
    llm.cache.close()
    assert sorted(map(sorted, _tags(workspace).values())) == [["p-7"], ["p-8"]]
    found = withdraw("p-7", workspace, steps=[])
    assert found.removed["cache_entries"] == 1
    assert len(_keys(workspace)) == 2 and sorted(map(sorted, _tags(workspace).values())) == [["p-8"]]
    assert withdraw("p-7", workspace, steps=[]).removed.get("cache_entries", 0) == 0  # again: nothing left


async def test_a_reply_served_again_for_another_person_is_tagged_with_them_too(workspace):
    llm = _llm(workspace)
    messages = [{"role": "user", "content": "Say hello."}]
    with provenance.about("p-1"):
        await llm.chat(messages)
    with provenance.about("p-2"):
        assert (await llm.chat(messages)).cached
    llm.cache.close()
    assert list(_tags(workspace).values()) == [{"p-1", "p-2"}]
    withdraw("p-2", workspace, steps=[])
    assert _keys(workspace) == set() and _tags(workspace) == {}


class ThreadBackend(FakeBackend):
    """Answers on its own thread, as the embedded model does (a thread does not see the caller's context)."""

    def __init__(self):
        super().__init__(default=model_reply)
        self.seen: list[frozenset[str]] = []

    async def complete(self, request):
        def on_thread():
            self.seen.append(provenance.current())
            return BackendReply(text=model_reply(request), usage=Usage(1, 1, 1), finish_reason="stop")

        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, on_thread)


async def test_tags_follow_tasks_and_survive_a_backend_thread(workspace):
    backend = ThreadBackend()
    llm = LLM(backend, cache=ResponseCache(workspace.cache / "llm.sqlite"))

    async def ask(n: int):
        await llm.chat([{"role": "user", "content": f"Question {n}?"}])

    with provenance.about("p-3"):
        with provenance.about("p-4"):  # nested: both
            await asyncio.gather(*(asyncio.create_task(ask(n)) for n in range(3)))
        await ask(9)
    assert frozenset() in backend.seen  # the thread itself has no tags: the client read them before handing off
    llm.cache.close()
    tags = list(_tags(workspace).values())
    assert sorted(map(sorted, tags)) == [["p-3"]] + [["p-3", "p-4"]] * 3
    assert provenance.current() == frozenset() and threading.current_thread() is threading.main_thread()


async def test_an_agent_answer_an_interview_and_a_build_are_tagged(workspace, tmp_path):
    from simulacra.agents.build import build_agent_from_transcript

    llm = _llm(workspace)
    question = Question(id="q1", text="Do you like your job?", kind=QuestionKind.categorical,
                        options=[Option(code="1", label="yes"), Option(code="2", label="no")])
    persona = PersonaAgent(id="s1.p-5.persona", respondent="p-5", persona="Someone.")
    await persona.answer([question], llm=llm)
    keys = set(_tags(workspace))
    assert keys and all(_tags(workspace)[k] == {"p-5"} for k in keys)

    session = InterviewSession.open(parse_script(_SCRIPT, tmp_path / "s.yaml"), "p-6", llm,
                                    TranscriptStore(workspace.transcripts), FakeClock())
    await session.next_utterance()
    await session.submit_answer("I was born somewhere and live elsewhere now.")
    interview_keys = set(_tags(workspace)) - keys
    assert interview_keys and all(_tags(workspace)[k] == {"p-6"} for k in interview_keys)

    await build_agent_from_transcript(workspace.transcripts / "p-6.jsonl", llm, reflections=False)
    build_keys = set(_tags(workspace)) - keys - interview_keys
    assert build_keys and all(_tags(workspace)[k] == {"p-6"} for k in build_keys)
    llm.cache.close()
    withdraw("p-6", workspace, steps=[])
    assert set(_tags(workspace)) == keys


def test_a_cache_file_of_the_earlier_schema_keeps_working(workspace):
    path = workspace.cache / "llm.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:  # schema 1: responses only
        db.execute("CREATE TABLE responses (key TEXT PRIMARY KEY, model TEXT NOT NULL, request TEXT NOT NULL, "
                   "text TEXT NOT NULL, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, "
                   "finish_reason TEXT, created REAL NOT NULL)")
        db.execute("INSERT INTO responses VALUES ('k1', 'm', '{}', 'old reply', 1, 1, 'stop', 0)")
    assert withdraw("p-9", workspace, steps=[]).removed.get("cache_entries", 0) == 0  # no tags table: fine
    cache = ResponseCache(path)
    assert cache.get("k1").text == "old reply" and cache.tags("k1") == set()
    cache.put("k2", "m", {}, BackendReply("new", Usage(1, 1, 1), "stop"), ["p-9"])
    cache.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 2
    assert withdraw("p-9", workspace, steps=[]).removed["cache_entries"] == 1
    assert _keys(workspace) == {"k1"}


def test_an_app_given_no_withdrawal_says_what_it_did_not_reach(workspace, caplog):
    from interviewer.web.app import withdraw_from_interviewer_stores

    TranscriptStore(workspace.transcripts).write_header("p-10")
    run = workspace.runs / "some-run"
    run.mkdir(parents=True)
    (run / "responses.sqlite").touch()
    with caplog.at_level("WARNING", logger="interviewer.web.app"):
        found = withdraw_from_interviewer_stores("p-10", workspace)
    assert found.removed["transcript_files"] == 1
    assert any("did not reach the workspace's run folders" in r.getMessage() for r in caplog.records)
    assert not any("p-10" in r.getMessage() for r in caplog.records)


def test_simulacra_serve_hands_the_app_the_full_withdrawal(workspace, monkeypatch, capsys):
    import uvicorn

    import interviewer.web.app as web_app

    made = {}
    real = web_app.create_app

    def spy(*args, **kwargs):
        made.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(web_app, "create_app", spy)
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: None)  # built, not served
    code, out = run_cli(monkeypatch, capsys, "serve", "--no-speech", "--no-warm")
    assert code == 0, out
    assert made["withdraw"] is withdraw_everywhere
