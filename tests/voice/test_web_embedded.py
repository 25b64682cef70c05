"""The voice app end to end on the real embedded model (SmolLM2 via llama.cpp): a spoken answer is
transcribed offline, saved, and the embedded interviewer decides what to ask next (saying a short
acknowledgement first while it decides)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from interviewer.web.app import create_app
from simulacra.llm import open_llm
from simulacra.transcript import read_transcript

pytestmark = pytest.mark.embedded


def test_spoken_answer_with_the_embedded_interviewer(workspace, voice_script, offline_stt, offline_tts, spoken_answers):
    app = create_app(workspace, llm=open_llm(workspace=workspace), script=voice_script, stt=offline_stt, tts=offline_tts,
                     operator_token="op-" + "y" * 30)
    token, _ = app.state.registry.invite("embedded-1")
    auth = {"Authorization": f"Bearer {token}"}
    with TestClient(app) as client:
        client.post("/api/session/consent", json={"name": "Sam"}, headers=auth)
        intro = client.post("/api/session/next", headers=auth).json()["utterance"]
        life = client.post("/api/session/answer/text", json={"text": "Sounds good.", "answer_to": intro["turn_index"]},
                           headers=auth).json()["utterance"]
        reply = client.post(f"/api/session/answer/audio?answer_to={life['turn_index']}", content=spoken_answers["teacher"],
                            headers={**auth, "Content-Type": "audio/webm"})
        assert reply.status_code == 200, reply.text
        nxt = reply.json()["utterance"]
        if nxt["kind"] == "acknowledgement":  # said at once while the model decides; the next line follows
            assert client.get(nxt["audio_url"] + "/0", headers=auth).content[:4] == b"RIFF"
            nxt = client.post("/api/session/next", headers=auth).json()["utterance"]
        assert nxt["kind"] in ("follow_up", "scripted") and nxt["text"].strip()
        audio = client.get(nxt["audio_url"] + "/0", headers=auth)
        assert audio.status_code == 200 and audio.content[:4] == b"RIFF"

    turns = read_transcript(workspace.transcripts / "embedded-1.jsonl").turns
    answer = [t for t in turns if t.speaker == "respondent"][-1]
    assert "teacher" in answer.text.lower() and answer.question_id == "q002"
    decision = turns[-1].meta["decision"]
    assert decision["about_turn"] == answer.index and decision["action"] in ("follow_up", "move_on")
