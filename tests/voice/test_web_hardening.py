"""Findings of the live attack test (#15) on the web app, each reproduced first: body limits before reading
(1), link expiry, rate limit, typed-answer limit, stable operator token and name normalisation (8), and the
audio answer that could be saved twice when the live-session pool let its session go (10).

The interviewer model is scripted; speech-to-text is a fake engine (no model loads), so these run fast."""

from __future__ import annotations

import asyncio
import json
import stat
import threading
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from interviewer.speech.audio import wav_from_pcm16
from interviewer.speech.stt import Transcription
from interviewer.web.app import create_app, normalise_name
from interviewer.web.limits import RateLimits

OPERATOR = "operator-token-for-tests-0123456789"
CHUNK = 64 * 1024


class FakeSTT:
    """Speech-to-text that hears a fixed sentence; optionally waits for `release` (a slow transcription)."""

    name = "fake-stt"

    def __init__(self, text: str = "I grew up by the river.", block: bool = False):
        self.text = text
        self.entered = threading.Event()
        self.release = threading.Event()
        if not block:
            self.release.set()

    def transcribe(self, audio: bytes, mime: str = "") -> Transcription:
        self.entered.set()
        assert self.release.wait(20), "test never released the transcription"
        return Transcription(self.text, 1.5, 0.01)


@pytest.fixture
def app_factory(workspace, fake_llm, voice_script):
    clients: list[TestClient] = []

    def make(**overrides):
        options = dict(llm=fake_llm, script=voice_script, stt=FakeSTT(), tts=None, operator_token=OPERATOR,
                       acknowledge_after_s=5.0)  # the scripted model is instant: no acknowledgement, even under load
        options.update(overrides)
        app = create_app(workspace, **options)
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return app, client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


OP = {"Authorization": f"Bearer {OPERATOR}"}


def invite(client, respondent=None, **extra):
    reply = client.post("/api/operator/sessions", json={"respondent": respondent, **extra}, headers=OP)
    assert reply.status_code == 200, reply.text
    data = reply.json()
    return data["respondent"], {"Authorization": f"Bearer {data['token']}"}


def start(client, respondent=None, name="Maria"):
    respondent, auth = invite(client, respondent)
    assert client.post("/api/session/consent", json={"name": name}, headers=auth).status_code == 200
    first = client.post("/api/session/next", headers=auth).json()
    return respondent, auth, first


def tiny_wav() -> bytes:
    return wav_from_pcm16(b"\x00\x00" * 16000, 16000)


# -- finding 1: body limits before reading ----------------------------------------------------------------
async def call_asgi(app, path: str, headers: dict[str, str], total: int) -> tuple[int, int, dict]:
    """POST a body of `total` bytes in 64 KB chunks straight into the ASGI app; (status, bytes consumed, body)."""
    consumed = 0
    sent: list[dict] = []

    async def receive():
        nonlocal consumed
        if consumed >= total:
            return {"type": "http.request", "body": b"", "more_body": False}
        consumed += CHUNK
        return {"type": "http.request", "body": b"x" * CHUNK, "more_body": consumed < total}

    async def send(message):
        sent.append(message)

    path, _, query = path.partition("?")
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 5555), "server": ("127.0.0.1", 8000),
    }
    await app(scope, receive, send)
    start_message = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start_message["status"], consumed, json.loads(body or b"{}")


@pytest.mark.parametrize("path", ["/api/session/answer/text", "/api/session/consent", "/api/operator/sessions"])
def test_a_huge_json_body_without_a_token_is_refused_after_64_kb(app_factory, path):
    app, _client = app_factory()
    total = 256 * 2**20  # 256 MB offered, chunked (no Content-Length)
    status, consumed, body = asyncio.run(call_asgi(app, path, {"content-type": "application/json"}, total))
    assert status == 413 and body["error"] == "too_large" and "64 KB" in body["detail"]
    assert consumed <= 64 * 1024 + CHUNK  # read no further than the limit


def test_a_declared_oversize_body_is_refused_without_reading_any_of_it(app_factory):
    app, _client = app_factory()
    headers = {"content-type": "application/json", "content-length": str(200 * 2**20)}
    status, consumed, _ = asyncio.run(call_asgi(app, "/api/session/answer/text", headers, 200 * 2**20))
    assert status == 413 and consumed == 0
    headers = {"content-type": "audio/webm", "content-length": str(17 * 2**20)}
    status, consumed, body = asyncio.run(call_asgi(app, "/api/session/answer/audio?answer_to=0", headers, 17 * 2**20))
    assert status == 413 and consumed == 0 and "16 MB" in body["detail"]


def test_an_audio_upload_without_a_token_is_not_read(app_factory):
    app, _client = app_factory()
    status, consumed, _ = asyncio.run(
        call_asgi(app, "/api/session/answer/audio?answer_to=0", {"content-type": "audio/webm"}, 100 * 2**20))
    assert status == 401 and consumed == 0


def test_a_chunked_audio_upload_stops_at_the_limit(app_factory):
    app, client = app_factory(max_audio_bytes=256 * 1024)
    _, auth, _ = start(client)
    headers = {"content-type": "audio/webm", **{k.lower(): v for k, v in auth.items()}}
    status, consumed, body = asyncio.run(call_asgi(app, "/api/session/answer/audio?answer_to=0", headers, 64 * 2**20))
    assert status == 413 and consumed <= 256 * 1024 + CHUNK and "256 KB" in body["detail"]


def test_normal_requests_still_pass_the_limits(app_factory):
    _, client = app_factory()
    _, auth, first = start(client)
    reply = client.post("/api/session/answer/text", json={"text": "Hello there.", "answer_to": first["utterance"]["turn_index"]},
                        headers=auth)
    assert reply.status_code == 200, reply.text


# -- finding 8: typed answers, names, operator token, link expiry, rate limit -----------------------------
def test_a_typed_answer_is_at_most_2000_characters_with_a_clear_error(app_factory, workspace):
    _, client = app_factory()
    respondent, auth, first = start(client)
    turn = first["utterance"]["turn_index"]
    reply = client.post("/api/session/answer/text", json={"text": "word " * 600, "answer_to": turn}, headers=auth)
    assert reply.status_code == 413
    assert reply.json()["error"] == "answer_too_long" and "2,000 characters" in reply.json()["detail"]
    lines = [json.loads(line) for line in (workspace.transcripts / f"{respondent}.jsonl").read_text().splitlines()]
    assert not [line for line in lines if line.get("speaker") == "respondent"]  # nothing saved
    assert client.post("/api/session/answer/text", json={"text": "x" * 2000, "answer_to": turn}, headers=auth).status_code == 200


@pytest.mark.parametrize("given, expected", [
    ("Ma\u202eria\u200b", "Maria"),                      # bidi override, zero-width space
    ('"Bob" \u201cthe builder\u201d', "Bob the builder"),  # quotes
    ("\uff2d\uff41\uff52\uff49\uff41", "Maria"),          # fullwidth letters (NFKC)
    ("O\u2019Brien", "O'Brien"),                          # an apostrophe inside a name stays
    ("'quoted'", "quoted"),
    ("Ana\u00a0Lu\u2028cia", "Ana Lu cia"),
])
def test_names_are_normalised(given, expected):
    assert normalise_name(given) == expected


def test_a_name_reaches_the_intro_normalised(app_factory, workspace):
    _, client = app_factory()
    _, auth, first = start(client, name='Ma\u202eria\u200b"')
    assert "Hi, Maria!" in first["utterance"]["text"]
    assert client.get("/api/session", headers=auth).json()["name"] == "Maria"
    invitations = list((workspace.sessions / "web" / "respondents").glob("*.json"))
    assert "\u202e" not in invitations[0].read_text(encoding="utf-8")


def test_the_operator_token_is_stored_0600_and_reused_across_restarts(app_factory, workspace):
    first_app, _ = app_factory(operator_token=None)
    second_app, client = app_factory(operator_token=None)
    token = first_app.state.operator_token
    assert token == second_app.state.operator_token and len(token) >= 32
    path = workspace.sessions / "web" / "operator_token"
    assert path.read_text().strip() == token and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert client.get("/api/operator/sessions", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    explicit, _ = app_factory(operator_token="an-explicit-operator-token-0123456789")
    assert explicit.state.operator_token == "an-explicit-operator-token-0123456789"
    assert path.read_text().strip() == token  # an explicit token is not stored


def _age_link(workspace, respondent: str, days: float) -> None:
    path = workspace.sessions / "web" / "respondents" / f"{respondent}.json"
    data = json.loads(path.read_text())
    data["expires_at"] = (datetime.now(timezone.utc) + timedelta(days=days)).isoformat(timespec="seconds")
    path.write_text(json.dumps(data))


def test_links_expire_and_the_operator_renews_them(app_factory, workspace):
    _, client = app_factory()
    respondent, auth, _ = start(client)
    sessions = client.get("/api/operator/sessions", headers=OP).json()["sessions"]
    expires = datetime.fromisoformat(sessions[0]["expires_at"])
    assert timedelta(days=29) < expires - datetime.now(timezone.utc) <= timedelta(days=30)  # default 30 days
    _age_link(workspace, respondent, -1)
    reply = client.get("/api/session", headers=auth)
    assert reply.status_code == 401 and reply.json()["error"] == "link_expired" and "renew" in reply.json()["detail"]
    assert client.get("/api/operator/sessions", headers=OP).json()["sessions"][0]["expired"] is True
    renewed = client.post(f"/api/operator/sessions/{respondent}/renew", json={"days": 7}, headers=OP)
    assert renewed.status_code == 200
    assert client.get("/api/session", headers=auth).status_code == 200  # the same link works again
    assert client.post("/api/operator/sessions/nobody/renew", headers=OP).status_code == 404


def test_link_lifetime_is_configurable(app_factory):
    _, client = app_factory(link_ttl_days=2)
    invite(client, "short")
    expires = datetime.fromisoformat(client.get("/api/operator/sessions", headers=OP).json()["sessions"][0]["expires_at"])
    assert timedelta(days=1) < expires - datetime.now(timezone.utc) <= timedelta(days=2)


def test_rate_limit_per_token_and_per_address(app_factory):
    _, client = app_factory(rate_limits=RateLimits(address_burst=1000, address_rate=0.001, token_burst=5, token_rate=0.001))
    _, auth = invite(client)
    codes = [client.get("/api/session", headers=auth).status_code for _ in range(8)]
    assert codes[:5] == [200] * 5 and codes[5:] == [429] * 3
    reply = client.get("/api/session", headers=auth)
    assert reply.json()["error"] == "rate_limited" and int(reply.headers["retry-after"]) >= 1
    assert client.get("/api/operator/sessions", headers=OP).status_code == 200  # another token is unaffected

    _, client = app_factory(rate_limits=RateLimits(address_burst=4, address_rate=0.001, token_burst=1000, token_rate=1))
    codes = [client.get("/api/session", headers={"Authorization": f"Bearer guess-{i:030d}"}).status_code for i in range(6)]
    assert codes[:4] == [401] * 4 and codes[4:] == [429] * 2  # guessing tokens from one address is slowed down
    assert client.get("/").status_code == 200  # pages are not limited


# -- finding 10: an audio answer transcribed while its session was let go ---------------------------------
def test_an_audio_answer_is_not_saved_twice_when_its_session_was_evicted(app_factory, workspace, monkeypatch):
    import interviewer.web.runtime as runtime

    monkeypatch.setattr(runtime, "MAX_LIVE_SESSIONS", 1)
    stt = FakeSTT(block=True)
    _, client = app_factory(stt=stt)
    respondent, auth, first = start(client, "slow-1")
    turn = first["utterance"]["turn_index"]
    results: dict[str, object] = {}

    def upload():
        results["audio"] = client.post(f"/api/session/answer/audio?answer_to={turn}", content=tiny_wav(),
                                       headers={**auth, "Content-Type": "audio/wav"})

    worker = threading.Thread(target=upload)
    worker.start()
    assert stt.entered.wait(10)
    start(client, "other-1")  # a second respondent: the pool (size 1) lets slow-1's session go
    typed = client.post("/api/session/answer/text", json={"text": "Typed while the recording was transcribed.",
                                                          "answer_to": turn}, headers=auth)
    assert typed.status_code == 200  # the resent answer (typed this time) is saved
    stt.release.set()
    worker.join(20)
    assert results["audio"].status_code == 409, results["audio"].text  # ... and the recording is not saved as well
    lines = [json.loads(line) for line in (workspace.transcripts / f"{respondent}.jsonl").read_text().splitlines()]
    answers = [line for line in lines if line.get("speaker") == "respondent"]
    assert [a["text"] for a in answers] == ["Typed while the recording was transcribed."]


# -- withdrawal from the respondent's page and from the operator view ------------------------------------
def _files_holding(root, phrase: str) -> list[str]:
    return [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and phrase.encode() in p.read_bytes()]


def test_a_respondent_withdraws_from_their_own_page(app_factory, workspace):
    _, client = app_factory()
    respondent, auth, first = start(client, "self-1", name="Rosalind")
    phrase = "my grandmother's bakery in Tromso"
    reply = client.post("/api/session/answer/text", json={"text": f"I grew up above {phrase}.", "answer_to": first["utterance"]["turn_index"]},
                        headers=auth)
    assert reply.status_code == 200
    assert _files_holding(workspace.root, phrase) and _files_holding(workspace.root, "Rosalind")
    refused = client.post("/api/session/withdraw", json={}, headers=auth)
    assert refused.status_code == 400 and refused.json()["error"] == "confirm_required"
    done = client.post("/api/session/withdraw", json={"confirm": True}, headers=auth)
    assert done.status_code == 200 and done.json()["withdrawn"] is True
    assert done.json()["removed"]["transcript_files"] >= 1 and done.json()["removed"]["web_invitation_files"] == 2
    assert _files_holding(workspace.root, phrase) == [] and _files_holding(workspace.root, "Rosalind") == []
    assert client.get("/api/session", headers=auth).status_code == 401  # the link is gone with them
    assert not client.get("/api/operator/sessions", headers=OP).json()["sessions"]
    (line,) = (workspace.root / "withdrawals.jsonl").read_text().splitlines()
    assert respondent not in line and phrase not in line


def test_the_operator_withdraws_a_respondent(app_factory, workspace):
    _, client = app_factory()
    respondent, auth, first = start(client, "op-1")
    client.post("/api/session/answer/text", json={"text": "Something only I would say, about Tromso.", "answer_to": 0}, headers=auth)
    keep, keep_auth, _ = start(client, "op-2")
    assert client.post(f"/api/operator/sessions/{respondent}/withdraw", json={"confirm": True}).status_code == 401
    assert client.post(f"/api/operator/sessions/{respondent}/withdraw", json={}, headers=OP).status_code == 400
    reply = client.post(f"/api/operator/sessions/{respondent}/withdraw", json={"confirm": True}, headers=OP)
    assert reply.status_code == 200 and reply.json()["removed"]["transcript_files"] >= 1
    assert _files_holding(workspace.root, "Tromso") == []
    assert [s["respondent"] for s in client.get("/api/operator/sessions", headers=OP).json()["sessions"]] == [keep]
    assert client.get("/api/session", headers=auth).status_code == 401
    assert client.get("/api/session", headers=keep_auth).status_code == 200
    assert client.post("/api/operator/sessions/..%2Fx/withdraw", json={"confirm": True}, headers=OP).status_code in (404, 422)


def test_an_expired_link_can_still_withdraw(app_factory, workspace):
    _, client = app_factory()
    respondent, auth, first = start(client, "late-1")
    client.post("/api/session/answer/text", json={"text": "A thing I said about Svalbard.", "answer_to": 0}, headers=auth)
    _age_link(workspace, respondent, -1)
    assert client.post("/api/session/next", headers=auth).status_code == 401
    assert client.post("/api/session/withdraw", json={"confirm": True}, headers=auth).status_code == 200
    assert _files_holding(workspace.root, "Svalbard") == []
