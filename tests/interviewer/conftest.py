"""Fixtures for interviewer tests: a small script of real questions (from the paper's script), a scripted
fake model that plays the interviewer's decisions and notes, a fake clock and a transcript store."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable

import pytest

from interviewer.clock import FakeClock
from interviewer.script import Script, load_script, parse_script
from interviewer.storage import TranscriptStore
from simulacra.llm import LLM, FakeBackend
from simulacra.llm.types import ChatRequest

SMALL_SCRIPT = """\
id: small
title: Three questions from the paper's script
blocks:
  - id: intro
    questions:
      - id: intro
        kind: intro
        budget_s: 0
        text: "Hi, {name}! My name is Isabella. Let's get started!"
  - id: life_story
    label: Life story
    questions:
      - id: q002
        budget_s: 120
        objective: Learn the main chapters of the person's life.
        text: "To start, I would like to begin with a big question: tell me the story of your life."
      - id: q003
        budget_s: 60
        text: "Was there a moment like a crossroads for you, and if so, could you tell me the whole story?"
  - id: hopes_values
    label: Hopes and values
    questions:
      - id: q110
        budget_s: 60
        text: What do you value the most in your life?
  - id: closing
    questions:
      - id: closing
        kind: closing
        budget_s: 0
        text: "That was the last question. Thank you so much for your time, {name}!"
"""


@pytest.fixture
def small_script(tmp_path) -> Script:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL_SCRIPT, encoding="utf-8")
    return parse_script(SMALL_SCRIPT, path)


@pytest.fixture
def small_script_path(tmp_path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL_SCRIPT, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def default_script() -> Script:
    return load_script("default")


@pytest.fixture
def store(tmp_path) -> TranscriptStore:
    return TranscriptStore(tmp_path / "transcripts")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


class InterviewerModel:
    """Plays the interviewer's model: decisions by a policy of the prompt, notes from the answers seen.

    `policy(prompt_text) -> "follow_up" | "move_on"`; the default asks one follow-up per question (it reads
    the follow-up count from the prompt, so the same prompt always gets the same reply, as a real cached
    model would).
    """

    def __init__(self, policy: Callable[[str], str] | None = None):
        self.policy = policy or (lambda prompt: "follow_up" if "asked on this question: 0." in prompt else "move_on")
        self.backend = FakeBackend(default=self.reply)
        self.llm = LLM(self.backend)

    def reply(self, request: ChatRequest) -> str:
        prompt = "\n".join(m["content"] for m in request.messages)
        if request.schema_name == "NotesUpdate":
            old = re.findall(r"^- (.+)$", prompt.split("Here is a conversation")[0], re.M)
            facts = re.findall(r"Interviewee: (.{0,60})", prompt)
            return json.dumps({"bullets": old + [f"Said: {f.strip()}" for f in facts]})
        action = self.policy(prompt)
        question = re.search(r'Scripted question now being discussed: "(.*)"', prompt).group(1)
        count = re.search(r"asked on this question: (\d+)\.", prompt).group(1)
        return json.dumps({
            "assessment": f"The answer covers part of the objective; {count} follow-ups so far.",
            "action": action,
            "follow_up": f"Could you say more about that? ({question[:30]} #{count})" if action == "follow_up" else "",
        })

    def decision_prompts(self) -> list[str]:
        return ["\n".join(m["content"] for m in r.messages) for r in self.backend.requests if r.schema_name == "FollowUpDecision"]

    def notes_prompts(self) -> list[str]:
        return ["\n".join(m["content"] for m in r.messages) for r in self.backend.requests if r.schema_name == "NotesUpdate"]


@pytest.fixture
def model() -> InterviewerModel:
    return InterviewerModel()
