"""The web app's API: session lifecycle, resume, token isolation, upload checks, operator view, latency log.

The interviewer model is scripted (FakeBackend); speech is the real offline STT (Whisper tiny.en) and
espeak-ng for the interviewer's voice (fast), so uploads are real WebM/Opus speech."""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from interviewer.speech.audio import wav_from_pcm16
from interviewer.speech.tts import EspeakTTS
from interviewer.web.app import create_app
from simulacra.transcript import read_transcript
from conftest import FOLLOW_UP
from voice_helpers import wav_to_webm

OPERATOR = "operator-token-for-tests-0123456789"


@pytest.fixture
def make_client(workspace, fake_llm, voice_script, offline_stt):
    clients: list[TestClient] = []

    def make(**overrides) -> TestClient:
        # the scripted model decides in milliseconds; 5 s keeps a loaded machine from turning a reply into an
        # acknowledgement (tests/voice/test_acknowledgement.py covers those)
        options = dict(llm=fake_llm, script=voice_script, stt=offline_stt, tts=EspeakTTS(), operator_token=OPERATOR,
                       acknowledge_after_s=5.0)
        options.update(overrides)
        client = TestClient(create_app(workspace, **options))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def op(client: TestClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {OPERATOR}"}


def invite(client: TestClient, respondent: str | None = None, **extra) -> tuple[str, dict[str, str]]:
    reply = client.post("/api/operator/sessions", json={"respondent": respondent, **extra}, headers=op(client))
    assert reply.status_code == 200, reply.text
    data = reply.json()
    assert data["link"].endswith(f"/interview#{data['token']}")
    return data["respondent"], {"Authorization": f"Bearer {data['token']}"}


def start(client: TestClient, respondent: str | None = None, name: str = "Maria") -> tuple[str, dict[str, str], dict]:
    """Invite, consent, hear the intro."""
    respondent, auth = invite(client, respondent)
    assert client.post("/api/session/consent", json={"name": name}, headers=auth).status_code == 200
    first = client.post("/api/session/next", headers=auth).json()
    return respondent, auth, first


def transcript_bytes(workspace, respondent: str) -> bytes:
    return (workspace.transcripts / f"{respondent}.jsonl").read_bytes()


def test_lifecycle_consent_typed_and_spoken_answers(make_client, workspace, spoken_answers):
    client = make_client()
    respondent, auth = invite(client, "resp-1")
    state = client.get("/api/session", headers=auth).json()
    assert state["respondent"] == "resp-1" and state["consented"] is False and state["interviewer_name"] == "Isabella"
    assert client.post("/api/session/next", headers=auth).status_code == 403  # consent first

    assert client.post("/api/session/consent", json={"name": "Maria"}, headers=auth).json() == {"consented": True}
    intro = client.post("/api/session/next", headers=auth).json()
    assert intro["utterance"]["kind"] == "intro" and "Hi, Maria!" in intro["utterance"]["text"]
    assert intro["utterance"]["turn_index"] == 0 and intro["utterance"]["expects_answer"]
    again = client.post("/api/session/next", headers=auth).json()  # no answer yet: the same line again
    assert again["utterance"] == intro["utterance"]

    typed = client.post("/api/session/answer/text", json={"text": "Yes, that sounds good.", "answer_to": 0}, headers=auth)
    assert typed.status_code == 200, typed.text
    life = typed.json()
    assert life["saved"] is True and life["heard"] == "Yes, that sounds good."
    assert "story of your life" in life["utterance"]["text"]
    assert life["progress"]["question_number"] == 1 and life["progress"]["total_questions"] == 3

    spoken = client.post(
        f"/api/session/answer/audio?answer_to={life['utterance']['turn_index']}",
        content=spoken_answers["town"],
        headers={**auth, "Content-Type": "audio/webm;codecs=opus"},
    )
    assert spoken.status_code == 200, spoken.text
    follow = spoken.json()
    assert {"small", "town", "ohio"} <= set(follow["heard"].lower().replace(",", "").replace(".", "").split())
    assert follow["utterance"]["kind"] == "follow_up" and follow["utterance"]["text"] == FOLLOW_UP

    assert follow["utterance"]["audio_parts"] == 1
    audio = client.get(follow["utterance"]["audio_url"] + "/0", headers=auth)
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav" and audio.content[:4] == b"RIFF"
    assert client.get(follow["utterance"]["audio_url"] + "/1", headers=auth).status_code == 404
    assert client.get("/api/session/speech/0/0", headers=auth).status_code == 404  # only the current line is spoken

    transcript = read_transcript(workspace.transcripts / "resp-1.jsonl")
    answers = [t for t in transcript.turns if t.speaker == "respondent"]
    assert [a.text for a in answers] == ["Yes, that sounds good.", follow["heard"]]
    assert answers[1].question_id == "q002" and answers[1].meta["duration_s"] > 1
    assert (workspace.transcripts / "resp-1.jsonl").stat().st_mode & 0o777 == 0o600


def test_reopening_the_link_resumes_at_the_last_saved_turn(make_client, workspace):
    client = make_client()
    respondent, auth, intro = start(client)
    life = client.post("/api/session/answer/text", json={"text": "Sounds good.", "answer_to": 0}, headers=auth).json()
    saved = transcript_bytes(workspace, respondent)

    reopened = make_client()  # a new server process on the same workspace (tab closed, server restarted)
    state = reopened.get("/api/session", headers=auth).json()
    assert state["consented"] and state["pending"]["turn_index"] == life["utterance"]["turn_index"]
    resumed = reopened.post("/api/session/next", headers=auth).json()
    assert resumed["utterance"]["text"] == life["utterance"]["text"]
    assert resumed["utterance"]["turn_index"] == life["utterance"]["turn_index"]
    assert transcript_bytes(workspace, respondent) == saved  # resuming wrote nothing new
    audio = reopened.get(resumed["utterance"]["audio_url"] + "/0", headers=auth)
    assert audio.status_code == 200 and audio.content[:4] == b"RIFF"  # and the question can be heard again
    nxt = reopened.post("/api/session/answer/text", json={"text": "I was born in Ohio and grew up in a small town.", "answer_to": resumed["utterance"]["turn_index"]}, headers=auth)
    assert nxt.status_code == 200 and nxt.json()["utterance"]["text"] == FOLLOW_UP


def test_a_resent_answer_is_refused_not_saved_twice(make_client, workspace):
    client = make_client()
    respondent, auth, intro = start(client)
    first = client.post("/api/session/answer/text", json={"text": "Okay.", "answer_to": 0}, headers=auth)
    assert first.status_code == 200
    saved = transcript_bytes(workspace, respondent)
    again = client.post("/api/session/answer/text", json={"text": "Okay.", "answer_to": 0}, headers=auth)
    assert again.status_code == 409 and again.json()["error"] == "already_answered"
    assert transcript_bytes(workspace, respondent) == saved


def test_tokens_isolate_respondents(make_client, workspace):
    client = make_client()
    alice, alice_auth, _ = start(client, "alice")
    bob, bob_auth, _ = start(client, "bob")
    bob_before = transcript_bytes(workspace, "bob")

    assert client.get("/api/session", headers=alice_auth).json()["respondent"] == "alice"
    assert client.post("/api/session/answer/text", json={"text": "Alice speaking.", "answer_to": 0}, headers=alice_auth).status_code == 200
    assert transcript_bytes(workspace, "bob") == bob_before
    assert b"Alice speaking" not in transcript_bytes(workspace, "bob")

    # no token, a made-up token, a respondent's token on the operator API: all refused
    assert client.get("/api/session").status_code == 401
    assert client.get("/api/session", headers={"Authorization": "Bearer " + "x" * 43}).status_code == 401
    assert client.get("/api/operator/sessions", headers=alice_auth).status_code == 401
    assert client.get("/api/operator/sessions/bob/transcript", headers=alice_auth).status_code == 401

    # tokens are stored only as hashes
    token = alice_auth["Authorization"].split()[1]
    for path in workspace.sessions.rglob("*"):
        if path.is_file():
            assert token not in path.read_text()

    # a reissued link revokes the old one and resumes the same interview
    again, new_auth = invite(client, "alice")
    assert client.get("/api/session", headers=alice_auth).status_code == 401
    state = client.get("/api/session", headers=new_auth).json()
    assert state["respondent"] == "alice" and state["consented"] and state["pending"]["kind"] == "scripted"


def test_bad_uploads_get_clear_errors_and_change_nothing(make_client, workspace, spoken_answers):
    client = make_client(max_audio_bytes=len(spoken_answers["town"]) + 10)
    respondent, auth, intro = start(client)
    turn = intro["utterance"]["turn_index"]
    url = f"/api/session/answer/audio?answer_to={turn}"
    saved = transcript_bytes(workspace, respondent)
    silence = wav_to_webm(wav_from_pcm16(np.zeros(16000 * 2, dtype=np.int16).tobytes(), 16000))

    cases = [
        (415, "unsupported_type", spoken_answers["town"], "text/plain"),
        (415, "unsupported_type", b"<html>not audio</html>", "audio/webm"),  # declared audio, is not
        (415, "unsupported_type", spoken_answers["town"], "audio/ogg"),  # WebM bytes labelled Ogg
        (413, "too_large", spoken_answers["town"] + b"\x00" * 100, "audio/webm"),
        (400, "empty_audio", b"", "audio/webm"),
        (422, "undecodable_audio", b"\x1a\x45\xdf\xa3" + b"\x01" * 500, "audio/webm"),
        (422, "no_speech", silence, "audio/webm"),
    ]
    for status, code, body, content_type in cases:
        reply = client.post(url, content=body, headers={**auth, "Content-Type": content_type})
        assert (reply.status_code, reply.json()["error"]) == (status, code), (content_type, reply.text)
        assert reply.json()["detail"]
    for body in ({"text": "   ", "answer_to": turn}, {"text": "x" * 2_001, "answer_to": turn}, {"text": "no turn"}):
        assert client.post("/api/session/answer/text", json=body, headers=auth).status_code in (400, 413, 422)

    assert transcript_bytes(workspace, respondent) == saved
    assert client.post("/api/session/next", headers=auth).json()["utterance"]["turn_index"] == turn
    ok = client.post(url, content=spoken_answers["town"], headers={**auth, "Content-Type": "audio/webm"})
    assert ok.status_code == 200  # the same question still takes a good answer


def test_operator_view_lists_progress_and_downloads_transcripts(make_client, workspace):
    client = make_client(tts=None)  # without a voice, a turn's latency is final when the answer returns
    respondent, auth, intro = start(client, "resp-op")
    client.post("/api/session/answer/text", json={"text": "Ready.", "answer_to": 0}, headers=auth)
    invite(client, "not-started", label="batch 2")

    assert client.get("/api/operator/sessions").status_code == 401
    assert client.get("/api/operator/sessions", headers={"Authorization": "Bearer wrong"}).status_code == 401
    listing = client.get("/api/operator/sessions", headers=op(client)).json()
    rows = {row["respondent"]: row for row in listing["sessions"]}
    assert rows["resp-op"]["progress"]["question_number"] == 1 and rows["resp-op"]["turns"] == 3
    assert rows["resp-op"]["consented_at"] and rows["resp-op"]["last_turn_latency"]["mode"] == "typed"
    assert rows["not-started"]["consented_at"] is None and rows["not-started"]["label"] == "batch 2"
    assert "progress" not in rows["not-started"] and listing["script"] == "voice-test"

    download = client.get("/api/operator/sessions/resp-op/transcript", headers=op(client))
    assert download.status_code == 200 and download.content == transcript_bytes(workspace, "resp-op")
    assert "resp-op.jsonl" in download.headers["content-disposition"]
    assert client.get("/api/operator/sessions/nobody/transcript", headers=op(client)).status_code == 404
    assert client.get("/api/operator/sessions/..%2Fsecrets/transcript", headers=op(client)).status_code == 404
    bad = client.post("/api/operator/sessions", json={"respondent": "../../etc"}, headers=op(client))
    assert bad.status_code == 422 and "respondent id" in bad.json()["detail"]


def test_turn_latency_is_logged_without_any_words(make_client, spoken_answers, caplog):
    client = make_client()
    respondent, auth, intro = start(client, "resp-log")
    with caplog.at_level(logging.INFO, logger="interviewer.web.turns"):
        reply = client.post("/api/session/answer/audio?answer_to=0", content=spoken_answers["town"],
                            headers={**auth, "Content-Type": "audio/webm"})
        assert reply.status_code == 200
        client.get(reply.json()["utterance"]["audio_url"] + "/0", headers=auth)  # audio starts = the turn is over
        deadline = time.time() + 10
        while not [r for r in caplog.records if "turn latency" in r.getMessage()] and time.time() < deadline:
            time.sleep(0.05)
    lines = [r.getMessage() for r in caplog.records if "turn latency" in r.getMessage()]
    assert len(lines) == 1
    line = lines[0]
    for field in ("respondent=resp-log", "mode=voice", "stt_s=", "model_s=", "tts_s=", "total_s="):
        assert field in line
    stt_s = float(line.split("stt_s=")[1].split()[0])
    total_s = float(line.split("total_s=")[1].split()[0])
    assert 0 < stt_s <= total_s
    spoken_words = set(reply.json()["heard"].lower().split()) | set(reply.json()["utterance"]["text"].lower().split())
    logged = " ".join(r.getMessage() for r in caplog.records).lower()
    assert not [w for w in spoken_words if len(w) > 4 and w.strip(".,!?") in logged.split()], logged


def test_pause_stops_the_interview_clock(make_client):
    client = make_client()
    respondent, auth, intro = start(client)
    assert client.post("/api/session/pause", headers=auth).json() == {"paused": True}
    before = client.get("/api/session", headers=auth).json()["progress"]["elapsed_s"]
    time.sleep(0.3)
    assert client.get("/api/session", headers=auth).json()["progress"]["elapsed_s"] == before
    client.post("/api/session/resume", headers=auth)
    time.sleep(0.2)
    assert client.get("/api/session", headers=auth).json()["progress"]["elapsed_s"] > before


def test_skip_and_finish(make_client, workspace):
    client = make_client()
    respondent, auth, intro = start(client)
    step = client.post("/api/session/answer/text", json={"text": "Okay.", "answer_to": 0}, headers=auth).json()
    step = client.post("/api/session/skip", json={"answer_to": step["utterance"]["turn_index"]}, headers=auth).json()
    assert "crossroads" in step["utterance"]["text"]  # the life story question was left without an answer
    step = client.post("/api/session/answer/text", json={"text": "Moving away.", "answer_to": step["utterance"]["turn_index"]}, headers=auth).json()
    step = client.post("/api/session/answer/text", json={"text": "My family.", "answer_to": step["utterance"]["turn_index"]}, headers=auth).json()
    assert step["utterance"]["kind"] == "closing" and step["done"] and not step["utterance"]["expects_answer"]
    assert "Maria" in step["utterance"]["text"] and step["progress"]["finished"]
    late = client.post("/api/session/answer/text", json={"text": "One more thing.", "answer_to": step["utterance"]["turn_index"]}, headers=auth)
    assert late.status_code == 409 and late.json()["error"] == "finished"
    assert client.post("/api/session/next", headers=auth).json()["done"] is True
    texts = [t.text for t in read_transcript(workspace.transcripts / f"{respondent}.jsonl").turns if t.speaker == "respondent"]
    assert texts == ["Okay.", "Moving away.", "My family."]


def test_pages_and_static_files_are_served_with_safe_headers(make_client):
    client = make_client(stt=None, tts=None)
    page = client.get("/interview")
    assert page.status_code == 200 and 'aria-live="polite"' in page.text and "Start answering" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"
    for path in ("/static/interview.js", "/static/style.css", "/static/operator.js", "/operator", "/"):
        assert client.get(path).status_code == 200, path
    respondent, auth = invite(client)
    state = client.get("/api/session", headers=auth).json()
    assert state["speech_to_text"] is False and state["text_to_speech"] is False
    client.post("/api/session/consent", json={}, headers=auth)
    intro = client.post("/api/session/next", headers=auth).json()
    assert intro["utterance"]["audio_url"] is None and "Hi, friend!" in intro["utterance"]["text"]
    off = client.post("/api/session/answer/audio?answer_to=0", content=b"OggS", headers={**auth, "Content-Type": "audio/ogg"})
    assert off.status_code == 501
    assert client.post("/api/session/consent", json={"name": "<script>"}, headers=auth).status_code == 422


def test_long_utterances_are_spoken_in_parts(make_client, workspace, tmp_path):
    from interviewer.script import load_script
    from interviewer.speech.audio import wav_duration

    client = make_client(script=load_script("default"))  # the paper's intro: a minute and a half of speech
    respondent, auth, intro = start(client)
    utterance = intro["utterance"]
    assert utterance["audio_parts"] >= 5
    parts = [client.get(f"{utterance['audio_url']}/{k}", headers=auth) for k in range(utterance["audio_parts"])]
    assert all(p.status_code == 200 and p.content[:4] == b"RIFF" for p in parts)
    durations = [wav_duration(p.content) for p in parts]
    assert durations[0] < sum(durations) / 3  # the first part is a small share: playback starts early
    assert client.get(f"{utterance['audio_url']}/{utterance['audio_parts']}", headers=auth).status_code == 404


def test_split_for_speech_keeps_every_word():
    from interviewer.web.runtime import split_for_speech

    text = ("Hi, Maria! My name is Isabella. " + "This sentence is long, and it goes on, " * 20 + "the end. Okay? Yes.")
    parts = split_for_speech(text)
    assert " ".join(parts).split() == text.split()
    assert all(len(p) <= 400 for p in parts) and len(parts) > 2
    assert split_for_speech("Short one.") == ["Short one."]
