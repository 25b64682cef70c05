"""A slow interviewer model over HTTP (issue #25): the answer's reply is a short acknowledgement whose audio is
served while the model is still deciding; the next line follows on `/api/session/next`; the transcript holds both,
in the order said; the turn's log gives the time to first audio beside the turn total; withdrawing mid-decision
leaves nothing behind."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest
from fastapi.testclient import TestClient

from interviewer.engine import ACKNOWLEDGEMENTS
from interviewer.speech.tts import EspeakTTS
from interviewer.web.app import create_app
from simulacra.llm import LLM, FakeBackend
from simulacra.transcript import read_transcript
from conftest import FOLLOW_UP, interviewer_reply

OPERATOR = "operator-token-for-tests-9876543210"


class HeldDecisions(FakeBackend):
    """The scripted interviewer model; each follow-up decision waits until `release` is set (a slow model)."""

    def __init__(self):
        super().__init__(default=interviewer_reply)
        self.release = threading.Event()  # the app's event loop runs in TestClient's thread
        self.deciding = threading.Event()

    async def complete(self, request):
        if request.schema_name == "FollowUpDecision":
            self.deciding.set()
            await asyncio.to_thread(self.release.wait, 30)
        return await super().complete(request)


@pytest.fixture
def held(workspace, voice_script, offline_stt):
    backend = HeldDecisions()
    app = create_app(workspace, llm=LLM(backend), script=voice_script, stt=offline_stt, tts=EspeakTTS(),
                     operator_token=OPERATOR)
    with TestClient(app) as client:
        yield client, backend, app
    backend.release.set()


def begin(client: TestClient, respondent: str) -> tuple[dict[str, str], dict]:
    """Consent, answer the intro (decided by rule, no model), and return the life-story question."""
    token, _ = client.app.state.registry.invite(respondent)
    auth = {"Authorization": f"Bearer {token}"}
    client.post("/api/session/consent", json={"name": "Maria"}, headers=auth)
    intro = client.post("/api/session/next", headers=auth).json()["utterance"]
    life = client.post("/api/session/answer/text", json={"text": "Sounds good.", "answer_to": intro["turn_index"]},
                       headers=auth).json()
    assert life["utterance"]["kind"] == "scripted" and not life["done"]
    return auth, life["utterance"]


def test_the_first_audio_is_sent_before_the_decision_is_made(held, workspace, spoken_answers, caplog):
    client, backend, _ = held
    auth, life = begin(client, "slow-1")
    with caplog.at_level(logging.INFO, logger="interviewer.web.turns"):
        reply = client.post(f"/api/session/answer/audio?answer_to={life['turn_index']}", content=spoken_answers["town"],
                            headers={**auth, "Content-Type": "audio/webm"})
        assert reply.status_code == 200, reply.text
        body = reply.json()
        ack = body["utterance"]
        assert ack["kind"] == "acknowledgement" and ack["text"] in ACKNOWLEDGEMENTS
        assert not ack["expects_answer"] and not body["done"] and "Ohio" in body["heard"]
        audio = client.get(ack["audio_url"] + "/0", headers=auth)
        assert audio.status_code == 200 and audio.content[:4] == b"RIFF"
        assert backend.deciding.is_set() and not backend.release.is_set()  # the model is still deciding
        turns = read_transcript(workspace.transcripts / "slow-1.jsonl").turns
        assert [t.kind for t in turns][-2:] == ["answer", "acknowledgement"] and "decision" not in turns[-1].meta

        backend.release.set()
        after = client.post("/api/session/next", headers=auth).json()
        assert after["utterance"]["kind"] == "follow_up" and after["utterance"]["text"] == FOLLOW_UP
        assert after["utterance"]["expects_answer"] and not after["done"]
        assert client.get(after["utterance"]["audio_url"] + "/0", headers=auth).status_code == 200
        deadline = time.time() + 10
        while not voice_timings(caplog) and time.time() < deadline:
            time.sleep(0.05)
    turns = read_transcript(workspace.transcripts / "slow-1.jsonl").turns
    assert [(t.speaker, t.kind) for t in turns] == [
        ("interviewer", "intro"), ("respondent", "answer"), ("interviewer", "scripted"), ("respondent", "answer"),
        ("interviewer", "acknowledgement"), ("interviewer", "follow_up"),
    ]
    assert turns[-1].meta["decision"]["about_turn"] == 3 and turns[4].text == ack["text"]
    timings = voice_timings(caplog)
    assert len(timings) == 1  # one turn: logged once, when the follow-up's audio was ready
    timing = timings[0]
    assert timing["acknowledged"] and timing["turn"] == turns[-1].index
    assert 0 < timing["stt_s"] < timing["first_audio_s"] < timing["total_s"]
    assert timing["total_s"] - timing["first_audio_s"] > 0


def voice_timings(caplog) -> list[dict]:
    return [r.turn_timing for r in caplog.records if getattr(r, "turn_timing", {}).get("mode") == "voice"]


def test_a_typed_answer_gets_the_same_acknowledgement(held, workspace):
    client, backend, _ = held
    auth, life = begin(client, "slow-2")
    reply = client.post("/api/session/answer/text", headers=auth,
                        json={"text": "I grew up in a small town in Ohio near the river.", "answer_to": life["turn_index"]}).json()
    assert reply["utterance"]["kind"] == "acknowledgement"
    # reopening the page meanwhile: nothing is waiting for an answer; the next line comes once decided
    state = client.get("/api/session", headers=auth).json()
    assert state["pending"] is None
    backend.release.set()
    assert client.post("/api/session/next", headers=auth).json()["utterance"]["text"] == FOLLOW_UP


def test_withdrawing_while_the_model_decides_leaves_nothing_behind(held, workspace):
    client, backend, app = held
    auth, life = begin(client, "slow-3")
    client.post("/api/session/answer/text", headers=auth,
                json={"text": "I grew up in a small town in Ohio near the river.", "answer_to": life["turn_index"]})
    assert backend.deciding.wait(10)
    gone = client.post("/api/session/withdraw", json={"confirm": True}, headers=auth)
    assert gone.status_code == 200 and gone.json()["withdrawn"]
    backend.release.set()
    time.sleep(0.5)  # were the decision still running, it would now go on with the respondent's words
    assert [r for r in backend.requests if r.schema_name == "FollowUpDecision"] == []  # it was stopped, not finished
    assert [p.name for p in workspace.transcripts.glob("slow-3*")] == []


class CountingTTS(EspeakTTS):
    def __init__(self):
        super().__init__()
        self.said: list[str] = []

    def synthesize(self, text: str) -> bytes:
        self.said.append(text)
        return super().synthesize(text)


def test_the_acknowledgements_are_voiced_ahead_and_served_without_synthesis(workspace, voice_script, offline_stt):
    backend, tts = HeldDecisions(), CountingTTS()
    app = create_app(workspace, llm=LLM(backend), script=voice_script, stt=offline_stt, tts=tts, operator_token=OPERATOR)
    with TestClient(app) as client:
        auth, life = begin(client, "slow-4")
        deadline = time.time() + 20
        while not set(ACKNOWLEDGEMENTS) <= set(tts.said) and time.time() < deadline:  # made while the intro plays
            time.sleep(0.05)
        before = list(tts.said)
        ack = client.post("/api/session/answer/text", headers=auth,
                          json={"text": "I grew up in a small town in Ohio near the river.", "answer_to": life["turn_index"]}).json()
        audio = client.get(ack["utterance"]["audio_url"] + "/0", headers=auth)
        assert audio.status_code == 200 and audio.content[:4] == b"RIFF"
        assert tts.said == before and tts.said.count(ack["utterance"]["text"]) == 1  # served from what was made ahead
        backend.release.set()
