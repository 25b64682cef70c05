"""Fixtures for study tests: a small instrument of every question kind, a study on it, the web app with a
test clock, and helpers to invite respondents and answer through the API."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from simulacra.llm import LLM, FakeBackend
from simulacra.llm.types import ChatRequest
from simulacra.workspace import Workspace

MINI = """\
id: mini
title: Mini survey
questions:
  - id: color
    text: Which colour do you like best?
    kind: categorical
    options: [{code: r, label: Red}, {code: g, label: Green}, {code: b, label: Blue}]
  - id: happy
    text: Taken all together, how happy are you?
    kind: ordinal
    options: [{code: "1", label: Very happy}, {code: "2", label: Pretty happy}, {code: "3", label: Not too happy}]
  - id: sleep
    text: How many hours do you sleep on a typical night?
    kind: numeric
    min: 0
    max: 16
    integer: true
    unit: hours
  - id: note
    text: Anything else you want to tell us?
    kind: open
"""

SCRIPT = """\
id: study-test
title: Two questions
blocks:
  - id: intro
    questions:
      - {id: intro, kind: intro, budget_s: 0, text: "Hi, {name}! Let's get started!"}
  - id: life
    label: Life
    questions:
      - {id: q002, budget_s: 600, text: "To start, tell me the story of your life."}
      - {id: q110, budget_s: 120, text: "What do you value the most in your life?"}
  - id: closing
    questions:
      - {id: closing, kind: closing, budget_s: 0, text: "That was the last question. Thank you, {name}!"}
"""

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


class Clock:
    """The test clock the study routes read (`app.state.study_clock`)."""

    def __init__(self, now: datetime = T0):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now = self.now + timedelta(**delta)


def interviewer_reply(request: ChatRequest) -> str:
    """The interviewer model, scripted: always move on; notes from answers."""
    if request.schema_name == "NotesUpdate":
        return json.dumps({"bullets": ["Said something."]})
    return json.dumps({"assessment": "Enough on this question.", "action": "move_on", "follow_up": ""})


def write_study(folder: Path, *, interview: bool = False, retest_days: float = 14, extra: str = "") -> Path:
    (folder / "mini.yaml").write_text(MINI, encoding="utf-8")
    (folder / "script.yaml").write_text(SCRIPT, encoding="utf-8")
    interview_part = "{script: script.yaml, required: true}" if interview else "{required: false}"
    path = folder / "study.yaml"
    path.write_text(
        f"id: s1\ntitle: Test study\ninterview: {interview_part}\ninstruments:\n  - mini.yaml\n"
        f"  - {{id: games, questions: [dictator]}}\nretest_days: {retest_days}\n{extra}",
        encoding="utf-8",
    )
    return path


@dataclass
class Person:
    respondent: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def workspace(isolated_workspace) -> Workspace:
    return Workspace(Path(isolated_workspace))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_study(tmp_path, workspace):
    def make(**kwargs: Any):
        from experiments.studies import create_study

        study, _ = create_study(write_study(tmp_path, **kwargs), workspace=workspace)
        return study

    return make


@pytest.fixture
def invite(workspace):
    def invite(study_id: str = "s1", count: int = 1) -> list[Person]:
        from experiments.studies import invite_respondents

        rows = invite_respondents(study_id, count, workspace=workspace, base_url="http://testserver")
        return [Person(r, link.split("#", 1)[1]) for r, link in rows]

    return invite


@pytest.fixture
def app_factory(workspace, clock, tmp_path):
    def make(**kwargs: Any):
        from interviewer.script import parse_script
        from interviewer.web.app import create_app

        script = parse_script(SCRIPT, tmp_path / "script.yaml")
        app = create_app(workspace, llm=LLM(FakeBackend(default=interviewer_reply)), script=script, stt=None, tts=None,
                         **kwargs)
        app.state.study_clock = clock
        return app

    return make


@pytest.fixture
def client(app_factory):
    from fastapi.testclient import TestClient

    with TestClient(app_factory()) as c:
        yield c


def answer(client, person: Person, state: dict[str, Any], value: Any):
    q = state["question"]
    return client.post("/api/study/answer", headers=person.headers,
                       json={"instrument": q["instrument"], "question": q["id"], "wave": state["wave"], "value": value})


def good_value(question: dict[str, Any], salt: int = 0) -> Any:
    if question["options"]:
        return question["options"][salt % len(question["options"])]["code"]
    if question["kind"] == "numeric":
        return int(question["min"]) + salt % 3
    return f"an open answer {salt}"


def finish_interview(client, person: Person) -> None:
    """Consent and answer every interview question by typing (the scripted interviewer moves on)."""
    assert client.post("/api/session/consent", headers=person.headers, json={}).status_code == 200
    result = client.post("/api/session/next", headers=person.headers).json()
    texts = iter(["I grew up in a small town in Ohio and became a teacher.", "My family and honesty.", "Thanks."] * 3)
    while not result["done"]:
        if not result["utterance"]["expects_answer"]:  # an acknowledgement said while the interviewer decides
            result = client.post("/api/session/next", headers=person.headers).json()
            continue
        result = client.post("/api/session/answer/text", headers=person.headers,
                             json={"text": next(texts), "answer_to": result["utterance"]["turn_index"]}).json()


def strip_ws(text: str) -> str:
    return re.sub(r"\s+", " ", text)
