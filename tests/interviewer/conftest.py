"""Fixtures for interviewer tests: a small script of real questions (from the paper's script), a scripted
fake model that plays the interviewer's decisions and notes, a fake clock and a transcript store."""

from __future__ import annotations

from pathlib import Path

import pytest

from interviewer.clock import FakeClock
from interviewer.script import Script, load_script, parse_script
from interviewer.storage import TranscriptStore
from interview_fakes import InterviewerModel

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


@pytest.fixture
def model() -> InterviewerModel:
    return InterviewerModel()
