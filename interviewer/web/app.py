"""The voice interview web app (FastAPI): `create_app(workspace=..., llm=..., script=...)`.

Pages: `/interview#<token>` (the respondent's link; the token lives in the URL fragment, which browsers
never send to the server, so it stays out of access logs), `/operator#<operator token>`.
The page talks to `/api/session/*` with `Authorization: Bearer <token>`; the token decides the
respondent, so one session can never reach another's transcript. The operator API needs the operator
token. Every answer is checked (type, size, non-empty, recognisable speech) before the engine saves it,
and an answer must name the turn it answers, so a resent request cannot be saved twice.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import time
import unicodedata
from dataclasses import asdict, is_dataclass
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from pydantic import BaseModel, Field

from interviewer.errors import RespondentIdError, SessionStateError
from interviewer.speech import SpeechToText, TextToSpeech, open_stt, open_tts
from interviewer.speech.audio import ACCEPTED_AUDIO_TYPES, base_mime, sniff_container
from interviewer.speech.errors import AudioFormatError, SpeechError
from interviewer.storage import TranscriptStore
from interviewer.study.store import STUDY_ANSWERS_STEP
from interviewer.study.web import include_study, with_study_handoff, with_study_operator_link
from interviewer.web.limits import JSON_BODY_LIMIT, BodyLimit, RateLimit, RateLimits
from interviewer.web.runtime import LiveSession, SessionPool, TurnTiming, split_for_speech
from interviewer.web.tokens import DEFAULT_LINK_TTL_DAYS, WEB_SESSIONS_STEP, Invitation, SessionRegistry, stored_operator_token
from simulacra.errors import SimulacraError
from simulacra.withdraw import Withdrawal, withdraw as withdraw_respondent_data
from simulacra.workspace import Workspace

log = logging.getLogger(__name__)

STATIC_DIR = Path(str(resources.files("interviewer.web").joinpath("static")))
MAX_AUDIO_BYTES = 16 * 1024 * 1024  # over ten minutes of Opus: a longer single answer is a mistake
MAX_TEXT_CHARS = 2_000  # about what one says in three minutes: a typed answer is one spoken answer
DEFAULT_NAME = "friend"  # fills the script's {name} when the respondent gives none
AUTO = "auto"
_NAME = re.compile(r"^[^\x00-\x1f<>{}\\]{1,60}$")
_QUOTES = dict.fromkeys(map(ord, '"`\u00ab\u00bb\u201c\u201d\u201e\u201f\u2039\u203a'), None)


class ApiError(Exception):
    """An error the page shows to the person: HTTP status, a short machine code and a sentence."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class TextAnswer(BaseModel):
    text: str  # at most MAX_TEXT_CHARS, checked with a clear message (and the whole body by BodyLimit)
    answer_to: int  # turn index of the utterance being answered (a resent answer is refused, not saved twice)
    duration_s: float | None = Field(default=None, ge=0, le=24 * 3600)


class SkipRequest(BaseModel):
    answer_to: int


class Consent(BaseModel):
    name: str | None = Field(default=None, max_length=60)


class Withdraw(BaseModel):
    confirm: bool = False  # must be true: withdrawal deletes everything and cannot be undone


class Renewal(BaseModel):
    days: float | None = Field(default=None, gt=0, le=3650)


class NewInvitation(BaseModel):
    respondent: str | None = None
    label: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=60)


class ErrorBody(BaseModel):
    """Every refusal of the API (ApiError, the request-validation handler, the limits): a short machine code and
    a sentence the page shows; some add fields (e.g. `retest_at`)."""

    error: str
    detail: str


# Documented on every route (the OpenAPI schema says what the API answers; 422 is our body, not FastAPI's default).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text} for status, text in (
        (400, "Bad request"), (401, "No valid token"), (403, "Not allowed yet (consent first)"), (404, "Not found"),
        (409, "Conflicts with the session's state"), (413, "Too large"), (415, "Unsupported media type"),
        (422, "Invalid request"), (429, "Too many requests"), (501, "Turned off on this server"),
        (503, "Temporarily unavailable"))
}


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def normalise_name(name: str | None) -> str:
    """A name as it may reach prompts and the spoken intro: NFKC, no control or format characters
    (bidi overrides, zero-width), no double quotes or backticks; apostrophes only inside a word."""
    name = unicodedata.normalize("NFKC", name or "")
    name = "".join(" " if ch.isspace() else ch for ch in name if ch.isspace() or unicodedata.category(ch)[0] != "C")
    name = name.replace("\u2018", "'").replace("\u2019", "'").translate(_QUOTES)
    name = re.sub(r"(?<![^\W\d_])'|'(?![^\W\d_])", "", name)  # keep O'Brien, drop quoting apostrophes
    return " ".join(name.split())


def _clean_name(name: str | None) -> str | None:
    name = normalise_name(name)
    if not name:
        return None
    if not _NAME.match(name):
        raise ApiError(422, "bad_name", "Please give a short first name or nickname (letters, no symbols like < > { }).")
    return name


def _plain(obj: Any) -> dict[str, Any]:
    return asdict(obj) if is_dataclass(obj) else dict(vars(obj))


def withdraw_from_interviewer_stores(respondent: str, workspace: Workspace) -> Withdrawal:
    """The app's withdrawal when it is given none: the core stores (transcripts, agents, caches) and what this
    layer knows (invitations, study answers), not run folders (experiments: `simulacra serve` hands the app
    `experiments.wiring.withdraw_everywhere`, which reaches them too)."""
    found = withdraw_respondent_data(respondent, workspace, steps=[WEB_SESSIONS_STEP, STUDY_ANSWERS_STEP])
    if any(workspace.runs.glob("**/responses.sqlite")):
        log.warning("a withdrawal through this app did not reach the workspace's run folders (the app was created "
                    "without the full withdrawal: pass create_app(withdraw=experiments.wiring.withdraw_everywhere)); "
                    "run `simulacra withdraw` for the respondent")
    return found


def create_app(
    workspace: Workspace | None = None,
    llm: Any = None,
    script: Any = None,
    *,
    stt: SpeechToText | None | str = AUTO,
    tts: TextToSpeech | None | str = AUTO,
    operator_token: str | None = None,
    session_opener: Callable[..., Any] | None = None,
    max_audio_bytes: int = MAX_AUDIO_BYTES,
    max_json_bytes: int = JSON_BODY_LIMIT,
    link_ttl_days: float = DEFAULT_LINK_TTL_DAYS,
    rate_limits: RateLimits | None = None,
    withdraw: Callable[[str, Workspace], Withdrawal] | None = None,
) -> "FastAPI":
    """Build the app.

    `llm`/`script` default to the configured model and the paper's script (both loaded on first use; a
    script may also be given by name or path). `stt`/`tts` default to the best installed engines (None
    turns one off). `operator_token` defaults to $SIMULACRA_OPERATOR_TOKEN, else the one stored in the
    workspace (`sessions/web/operator_token`, 0600, made on first use; read it from
    `app.state.operator_token`). Links expire `link_ttl_days` after they are issued (the operator renews
    them); `rate_limits` bounds requests per address and per token; bodies over `max_json_bytes` (JSON) or
    `max_audio_bytes` (the audio upload) are refused before they are read. `session_opener(script, respondent, llm, store, clock, name=)`
    defaults to `InterviewSession.open`. `withdraw(respondent, workspace)` removes a respondent who withdraws
    (the composition root hands `experiments.wiring.withdraw_everywhere`, every store; the default,
    `withdraw_from_interviewer_stores`, does not reach run folders).
    """
    workspace = workspace or Workspace.default()
    store = TranscriptStore(workspace.transcripts)
    registry = SessionRegistry(workspace.sessions / "web", link_ttl_days=link_ttl_days)
    stt_engine = open_stt(workspace=workspace) if stt == AUTO else stt
    tts_engine = open_tts() if tts == AUTO else tts
    operator_token = stored_operator_token(registry.folder, operator_token or os.environ.get("SIMULACRA_OPERATOR_TOKEN"))
    lazy: dict[str, Any] = {"llm": llm, "script": script}

    def get_script():
        if lazy["script"] is None or isinstance(lazy["script"], (str, Path)):
            from interviewer.script import load_script

            lazy["script"] = load_script(lazy["script"] or "default")
        return lazy["script"]

    def get_llm():
        if lazy["llm"] is None:
            from simulacra.llm import open_llm

            lazy["llm"] = open_llm(workspace=workspace, role="interviewer")
        return lazy["llm"]

    def opener(respondent: str):
        from interviewer.clock import WallClock

        open_session = session_opener
        if open_session is None:
            from interviewer.engine import InterviewSession

            open_session = InterviewSession.open
        invitation = registry.get(respondent)
        name = normalise_name(invitation.name if invitation else None) or DEFAULT_NAME
        return open_session(get_script(), respondent, get_llm(), store, WallClock(), name=name)

    pool = SessionPool(opener, tts_engine)
    app = FastAPI(title="simulacra interviews", docs_url=None, redoc_url=None, openapi_url=None, responses=ERROR_RESPONSES)
    app.state.workspace = workspace
    app.state.registry = registry
    app.state.pool = pool
    app.state.stt = stt_engine
    app.state.tts = tts_engine
    app.state.operator_token = operator_token
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    # -- errors and headers ---------------------------------------------------------------------------
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return JSONResponse({"error": exc.code, "detail": exc.message}, status_code=exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):  # FastAPI's own (a body it cannot parse, 404, 405)
        code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse({"error": code, "detail": str(exc.detail)}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        field = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return JSONResponse({"error": "bad_request", "detail": f"{field or 'request'}: {first.get('msg')}"}, status_code=422)

    @app.exception_handler(SimulacraError)
    async def _simulacra_error(request: Request, exc: SimulacraError):
        if isinstance(exc, SessionStateError):
            return JSONResponse({"error": "session_state", "detail": str(exc)}, status_code=409)
        log.warning("request %s failed: %s", request.url.path, type(exc).__name__)
        log.debug("request failed: %s", exc)
        return JSONResponse(
            {"error": "interviewer_unavailable",
             "detail": "The interviewer is having trouble right now. Everything you said is saved; please try again."},
            status_code=503,
        )

    @app.middleware("http")
    async def _headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if request.url.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        else:
            response.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'self'; media-src 'self' blob:; img-src 'self' data:; frame-ancestors 'none'",
            )
        return response

    # Outermost (added last): the rate limit, then the body limit, both before anything reads the body.
    app.add_middleware(BodyLimit, json_limit=max_json_bytes, audio_limit=max_audio_bytes)
    app.add_middleware(RateLimit, limits=rate_limits)

    # -- authentication -------------------------------------------------------------------------------
    def respondent_invitation(request: Request) -> Invitation:
        invitation = registry.resolve(_bearer(request), include_expired=True)
        if invitation is None:
            raise ApiError(401, "bad_token", "This interview link is not valid. Please use the full link you were given.")
        if invitation.expired(registry.link_ttl_days):
            raise ApiError(401, "link_expired",
                           "This interview link has expired. Please ask the study team to renew it; what you said is kept.")
        return invitation

    def consented(invitation: Invitation = Depends(respondent_invitation)) -> Invitation:
        if invitation.consented_at is None:
            raise ApiError(403, "consent_required", "Please read and accept the consent form first.")
        return invitation

    def operator(request: Request) -> None:
        token = _bearer(request) or ""
        if not secrets.compare_digest(token.encode(), operator_token.encode()):
            raise ApiError(401, "bad_operator_token", "Operator token missing or wrong.")

    # -- pages ----------------------------------------------------------------------------------------
    @app.get("/")
    async def home():
        return FileResponse(STATIC_DIR / "home.html", media_type="text/html")

    @app.get("/interview")
    async def interview_page():  # with the study hand-off script (interviewer/study: surveys after the interview)
        html = with_study_handoff((STATIC_DIR / "interview.html").read_text(encoding="utf-8"))
        return Response(html, media_type="text/html")

    @app.get("/operator")
    async def operator_page():  # with a link to the study operator page (interviewer/study)
        html = with_study_operator_link((STATIC_DIR / "operator.html").read_text(encoding="utf-8"))
        return Response(html, media_type="text/html")

    @app.get("/api/health")
    async def health():
        return {"ok": True}  # unauthenticated: says it is up, nothing about which engines run behind it

    # -- respondent API -------------------------------------------------------------------------------
    def utterance_payload(utt: Any) -> dict[str, Any] | None:
        if utt is None:
            return None
        speaking = tts_engine is not None
        return {
            "text": utt.text,
            "kind": utt.kind,
            "question_id": utt.question_id,
            "block": utt.block,
            "block_label": getattr(utt, "block_label", None),
            "turn_index": utt.turn_index,
            "expects_answer": bool(getattr(utt, "expects_answer", utt.kind != "closing")),
            "audio_url": f"/api/session/speech/{utt.turn_index}" if speaking else None,  # + "/<part>"
            "audio_parts": len(split_for_speech(utt.text)) if speaking else 0,
        }

    def progress_payload(engine: Any) -> dict[str, Any]:
        progress = _plain(engine.progress)
        progress["elapsed_s"] = round(float(progress.get("elapsed_s") or 0.0), 1)
        return progress

    async def next_payload(live: LiveSession, timing: TurnTiming | None) -> dict[str, Any]:
        started = time.perf_counter()
        utt = await live.engine.next_utterance()
        if timing is not None:
            timing.model_s += time.perf_counter() - started
            timing.turn_index = utt.turn_index if utt is not None else None
        if utt is not None:
            pool.start_speech(live, utt.turn_index, utt.text, timing)
        elif timing is not None:
            live.last_timing = timing.log()
        return {
            "utterance": utterance_payload(utt),
            "progress": progress_payload(live.engine),
            "saved": True,
            "done": utt is None or not utterance_payload(utt)["expects_answer"],
        }

    @app.get("/api/session")
    async def session_state(invitation: Invitation = Depends(respondent_invitation)):
        state: dict[str, Any] = {
            "respondent": invitation.respondent,
            "consented": invitation.consented_at is not None,
            "name": invitation.name,
            "interviewer_name": getattr(get_script(), "interviewer_name", None) or "the interviewer",
            "speech_to_text": stt_engine is not None,
            "text_to_speech": tts_engine is not None,
            "max_audio_bytes": max_audio_bytes,
            "accepted_audio_types": sorted(ACCEPTED_AUDIO_TYPES),
        }
        if invitation.consented_at is not None:
            live = await pool.get(invitation.respondent)
            state["progress"] = progress_payload(live.engine)
            state["pending"] = utterance_payload(getattr(live.engine, "pending", None))
        return state

    @app.post("/api/session/consent")
    async def consent(body: Consent | None = None, invitation: Invitation = Depends(respondent_invitation)):
        registry.record_consent(invitation.respondent, _clean_name(body.name if body else None))
        return {"consented": True}

    @app.post("/api/session/next")
    async def next_utterance(invitation: Invitation = Depends(consented)):
        """The question now waiting (the same one again until it is answered: this is how a reopened link resumes)."""
        async with pool.locked(invitation.respondent) as live:
            _resume(live)
            return await next_payload(live, None)

    async def save_answer(live: LiveSession, text: str, answer_to: int, duration_s: float | None, timing: TurnTiming):
        """Save one answer (the caller holds the session lock) and produce the next utterance."""
        pending = getattr(live.engine, "pending", None)
        if pending is None:
            if live.engine.progress.finished:
                raise ApiError(409, "finished", "The interview is finished; there is no question waiting for an answer.")
            raise ApiError(409, "no_question", "No question is waiting for an answer. Reload the page to continue.")
        if answer_to != pending.turn_index:
            raise ApiError(409, "already_answered",
                           "That question was already answered. Reload the page to continue from the last saved turn.")
        _resume(live)
        started = time.perf_counter()
        await live.engine.submit_answer(text, duration_s=duration_s)
        timing.model_s += time.perf_counter() - started
        return await next_payload(live, timing)

    @app.post("/api/session/answer/text")
    async def answer_text(body: TextAnswer, invitation: Invitation = Depends(consented)):
        text = body.text.strip()
        if not text:
            raise ApiError(400, "empty_answer", "The answer is empty. Please type something, or say it aloud.")
        if len(text) > MAX_TEXT_CHARS:
            raise ApiError(413, "answer_too_long",
                           f"A typed answer can be at most {MAX_TEXT_CHARS:,} characters (this one has {len(text):,}). "
                           "Please shorten it, or send the rest as your next answer.")
        async with pool.locked(invitation.respondent) as live:
            timing = TurnTiming(invitation.respondent, mode="typed")
            result = await save_answer(live, text, body.answer_to, body.duration_s, timing)
        result["heard"] = text
        return result

    @app.post("/api/session/skip")
    async def skip(body: SkipRequest, invitation: Invitation = Depends(consented)):
        """Leave the waiting question unanswered (nothing is saved in the respondent's name)."""
        async with pool.locked(invitation.respondent) as live:
            pending = getattr(live.engine, "pending", None)
            if pending is None or pending.turn_index != body.answer_to:
                raise ApiError(409, "already_answered",
                               "That question was already answered. Reload the page to continue from the last saved turn.")
            _resume(live)
            live.engine.skip()
            return await next_payload(live, None)

    async def read_upload(request: Request) -> tuple[bytes, str]:
        limit = f"{max_audio_bytes / 2**20:.0f} MB" if max_audio_bytes >= 2**20 else f"{max_audio_bytes / 1024:.0f} KB"
        too_large = ApiError(413, "too_large", f"The recording is larger than {limit}. Please answer in shorter parts.")
        declared = base_mime(request.headers.get("content-type"))
        if declared not in ACCEPTED_AUDIO_TYPES:
            raise ApiError(415, "unsupported_type",
                           f"Audio of type '{declared or 'none'}' is not accepted; send WebM, Ogg, WAV, MP4 or MP3 audio.")
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > max_audio_bytes:
            raise too_large
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_audio_bytes:
                raise too_large
            chunks.append(chunk)
        audio = b"".join(chunks)
        if not audio:
            raise ApiError(400, "empty_audio", "The recording is empty. Please try again, or type your answer.")
        if sniff_container(audio) != ACCEPTED_AUDIO_TYPES[declared]:
            raise ApiError(415, "unsupported_type", "The upload is not audio in the format it claims to be.")
        return audio, declared

    @app.post("/api/session/answer/audio")
    async def answer_audio(request: Request, answer_to: int, invitation: Invitation = Depends(consented)):
        """The recorded answer as the raw request body (Content-Type: audio/webm, audio/ogg, ...)."""
        if stt_engine is None:
            raise ApiError(501, "speech_off", "Speech recognition is off on this server. Please type your answer.")
        audio, declared = await read_upload(request)
        timing = TurnTiming(invitation.respondent, mode="voice")  # starts at the end of the upload
        live = await pool.get(invitation.respondent)
        pending = getattr(live.engine, "pending", None)
        if pending is None or pending.turn_index != answer_to:  # cheap early refusal; checked again under the lock
            raise ApiError(409, "already_answered",
                           "That question was already answered. Reload the page to continue from the last saved turn.")
        try:
            heard = await asyncio.to_thread(stt_engine.transcribe, audio, declared)
        except AudioFormatError:
            raise ApiError(422, "undecodable_audio", "The recording could not be read (it may be cut off). Please try again.") from None
        except SpeechError as exc:
            log.warning("speech-to-text failed: %s", type(exc).__name__)
            raise ApiError(503, "speech_to_text_failed", "Speech recognition failed. Please try again, or type your answer.") from None
        timing.stt_s = time.perf_counter() - timing.started
        timing.audio_s = heard.audio_s
        text = heard.text.strip()
        if not text:
            raise ApiError(422, "no_speech", "No words were recognised in the recording. Please try again, or type your answer.")
        # Transcription ran without the lock, and the live-session pool may have let this session go
        # meanwhile (then a resent answer could reach a fresh copy): save under the lock of the session
        # the pool holds now, which checks again that `answer_to` is still the question waiting.
        async with pool.locked(invitation.respondent) as live:
            result = await save_answer(live, text, answer_to, round(heard.audio_s, 2) or None, timing)
        result["heard"] = text
        return result

    @app.get("/api/session/speech/{turn_index}/{part}")
    async def speech(turn_index: int, part: int, invitation: Invitation = Depends(consented)):
        """Part `part` of the interviewer's words as WAV; only the utterance now being said can be fetched."""
        live = await pool.get(invitation.respondent)
        text = ""
        if turn_index not in live.speech:
            turns = live.engine.turns if hasattr(live.engine, "turns") else []
            last = turns[-1] if turns else None
            if last is None or last.index != turn_index or last.speaker != "interviewer":
                raise ApiError(404, "no_such_audio", "That part of the interview is not being spoken now.")
            text = last.text
        try:
            wav = await pool.speech(live, turn_index, part, text)
        except IndexError:
            raise ApiError(404, "no_such_audio", "That part of the interview does not exist.") from None
        except SpeechError:
            raise ApiError(503, "text_to_speech_failed", "The interviewer's voice failed; the words are shown as subtitles.") from None
        return Response(wav, media_type="audio/wav", headers={"Cache-Control": "no-store"})

    def _resume(live: LiveSession) -> None:
        if hasattr(live.engine, "resume"):
            live.engine.resume()

    @app.post("/api/session/pause")
    async def pause(invitation: Invitation = Depends(consented)):
        """Stop the interview clock (the break does not count against the script's time budgets)."""
        async with pool.locked(invitation.respondent) as live:
            if hasattr(live.engine, "pause"):
                live.engine.pause()
        return {"paused": True}

    @app.post("/api/session/resume")
    async def resume(invitation: Invitation = Depends(consented)):
        async with pool.locked(invitation.respondent) as live:
            _resume(live)
        return {"paused": False}

    # -- withdrawal (the respondent's own page and the operator view) ----------------------------------
    async def do_withdraw(respondent: str) -> dict[str, Any]:
        await pool.forget(respondent)
        found = await asyncio.to_thread(withdraw or withdraw_from_interviewer_stores, respondent, workspace)
        return {"withdrawn": True, "removed": found.removed}

    def withdrawer(request: Request) -> Invitation:  # an expired link may still withdraw
        invitation = registry.resolve(_bearer(request), include_expired=True)
        if invitation is None:
            raise ApiError(401, "bad_token", "This interview link is not valid. Please use the full link you were given.")
        return invitation

    @app.post("/api/session/withdraw")
    async def withdraw_self(body: Withdraw, invitation: Invitation = Depends(withdrawer)):
        """Delete everything this respondent said, and everything made from it (agents, answers, caches)."""
        if not body.confirm:
            raise ApiError(400, "confirm_required", "Withdrawal deletes your interview for good; confirm to go ahead.")
        return await do_withdraw(invitation.respondent)

    @app.post("/api/operator/sessions/{respondent}/withdraw", dependencies=[Depends(operator)])
    async def withdraw_respondent(respondent: str, body: Withdraw):
        if not body.confirm:
            raise ApiError(400, "confirm_required", "Withdrawal deletes the respondent's data for good; confirm to go ahead.")
        try:
            registry.get(respondent)
        except RespondentIdError:
            raise ApiError(404, "no_invitation", "No such respondent.") from None
        return await do_withdraw(respondent)

    # -- operator API ---------------------------------------------------------------------------------
    def summary(invitation: Invitation) -> dict[str, Any]:
        row: dict[str, Any] = {
            "respondent": invitation.respondent,
            "label": invitation.label,
            "invited_at": invitation.created_at,
            "consented_at": invitation.consented_at,
            "expires_at": invitation.expiry(registry.link_ttl_days).isoformat(timespec="seconds"),
            "expired": invitation.expired(registry.link_ttl_days),
            "has_transcript": store.exists(invitation.respondent),
        }
        if row["has_transcript"]:
            path = store.path(invitation.respondent)
            row["last_saved"] = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).isoformat(timespec="seconds")
        return row

    @app.get("/api/operator/sessions", dependencies=[Depends(operator)])
    async def list_sessions():
        rows = []
        for invitation in registry.all():
            row = await asyncio.to_thread(summary, invitation)
            live = pool.peek(invitation.respondent)
            engine = live.engine if live is not None else None
            if engine is None and row["has_transcript"]:
                try:  # a read-only look at a saved session, not kept in memory
                    engine = await asyncio.to_thread(opener, invitation.respondent)
                except SimulacraError as exc:
                    row["error"] = str(exc)
            if engine is not None:
                row["progress"] = progress_payload(engine)
                row["turns"] = len(engine.turns) if hasattr(engine, "turns") else None
            row["live"] = live is not None
            row["last_turn_latency"] = live.last_timing if live is not None else None
            rows.append(row)
        the_script = get_script()
        return {"sessions": rows, "script": getattr(the_script, "id", None),
                "speech_to_text": getattr(stt_engine, "name", None), "text_to_speech": getattr(tts_engine, "name", None)}

    @app.post("/api/operator/sessions", dependencies=[Depends(operator)])
    async def invite(body: NewInvitation, request: Request):
        """A link for a new respondent, or a fresh link for an existing one (the old link stops working)."""
        try:
            token, invitation = registry.invite(body.respondent or None, body.label, _clean_name(body.name))
        except RespondentIdError as exc:
            raise ApiError(422, "bad_respondent", str(exc)) from None
        base = str(request.base_url).rstrip("/")
        return {"respondent": invitation.respondent, "token": token, "link": f"{base}/interview#{token}"}

    @app.post("/api/operator/sessions/{respondent}/renew", dependencies=[Depends(operator)])
    async def renew(respondent: str, body: Renewal | None = None):
        """Keep a respondent's link working for longer (the same link; `days` from now, default the ttl)."""
        try:
            invitation = registry.renew(respondent, body.days if body else None)
        except (KeyError, RespondentIdError):
            raise ApiError(404, "no_invitation", "No such respondent.") from None
        return {"respondent": invitation.respondent, "expires_at": invitation.expires_at}

    @app.get("/api/operator/sessions/{respondent}/transcript", dependencies=[Depends(operator)])
    async def download(respondent: str):
        try:
            path = store.path(respondent)
        except RespondentIdError:
            raise ApiError(404, "no_transcript", "No such respondent.") from None
        if not path.is_file():
            raise ApiError(404, "no_transcript", "No transcript saved for this respondent yet.")
        return FileResponse(path, media_type="application/x-ndjson", filename=f"{respondent}.jsonl")

    include_study(app, workspace=workspace, registry=registry, operator_token=operator_token)  # /study, /api/study/*
    return app
