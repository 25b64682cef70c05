"""The voice interview web app (FastAPI): `create_app(workspace=..., llm=..., script=...)`.

Pages: `/interview#<token>` (the respondent's link; the token lives in the URL fragment, which browsers
never send to the server, so it stays out of access logs), `/operator#<operator token>`.
The page talks to `/api/session/*` with `Authorization: Bearer <token>`; the token decides the
respondent, so one session can never reach another's transcript. The operator API needs the operator
token. Every answer is checked (type, size, non-empty, recognisable speech) before the engine saves it,
and an answer must name the turn it answers, so a resent request cannot be saved twice.

The routes live in routers (`routes_pages`, `routes_interview`, `routes_voice`, `routes_operator`; the study's
in `interviewer/study/web.py`); they share one `WebContext` (`app.state.web`) and call the live session only
through `engine_api.InterviewEngine`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Callable

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from interviewer.script import Script
from interviewer.speech import SpeechToText, TextToSpeech, open_stt, open_tts
from interviewer.storage import TranscriptStore
from interviewer.study.store import STUDY_ANSWERS_STEP
from interviewer.study.web import include_study
from interviewer.web import routes_interview, routes_operator, routes_pages, routes_voice
from interviewer.web.context import ACKNOWLEDGE_AFTER_S, WebContext, normalise_name
from interviewer.web.engine_api import SessionOpener
from interviewer.web.http_api import ERROR_RESPONSES, add_security_headers, install_error_handlers
from interviewer.web.limits import JSON_BODY_LIMIT, BodyLimit, RateLimit, RateLimits
from interviewer.web.routes_pages import STATIC_DIR
from interviewer.web.routes_voice import MAX_AUDIO_BYTES
from interviewer.web.tokens import DEFAULT_LINK_TTL_DAYS, WEB_SESSIONS_STEP, SessionRegistry, stored_operator_token
from simulacra.withdraw import Withdrawal, withdraw as withdraw_respondent_data
from simulacra.workspace import Workspace

__all__ = ["create_app", "normalise_name", "withdraw_from_interviewer_stores", "MAX_AUDIO_BYTES"]

log = logging.getLogger(__name__)

AUTO = "auto"


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
    script: Script | str | Path | None = None,
    *,
    stt: SpeechToText | None | str = AUTO,
    tts: TextToSpeech | None | str = AUTO,
    operator_token: str | None = None,
    session_opener: SessionOpener | None = None,
    max_audio_bytes: int = MAX_AUDIO_BYTES,
    max_json_bytes: int = JSON_BODY_LIMIT,
    link_ttl_days: float = DEFAULT_LINK_TTL_DAYS,
    rate_limits: RateLimits | None = None,
    withdraw: Callable[[str, Workspace], Withdrawal] | None = None,
    acknowledge_after_s: float | None = ACKNOWLEDGE_AFTER_S,
) -> FastAPI:
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
    `withdraw_from_interviewer_stores`, does not reach run folders). With the default opener the interviewer
    decides in the background and says an acknowledgement when its model takes over `acknowledge_after_s`
    (None: never; the respondent then waits in silence for the decision).
    """
    workspace = workspace or Workspace.default()
    registry = SessionRegistry(workspace.sessions / "web", link_ttl_days=link_ttl_days)
    ctx = WebContext(
        workspace=workspace,
        store=TranscriptStore(workspace.transcripts),
        registry=registry,
        stt=open_stt(workspace=workspace) if isinstance(stt, str) else stt,  # AUTO
        tts=open_tts() if isinstance(tts, str) else tts,  # AUTO
        operator_token=stored_operator_token(registry.folder, operator_token or os.environ.get("SIMULACRA_OPERATOR_TOKEN")),
        max_audio_bytes=max_audio_bytes,
        withdraw_fn=withdraw or withdraw_from_interviewer_stores,
        script_source=script,
        llm_source=llm,
        session_opener=session_opener,
        acknowledge_after_s=acknowledge_after_s,
    )
    app = FastAPI(title="simulacra interviews", docs_url=None, redoc_url=None, openapi_url=None, responses=ERROR_RESPONSES)
    app.state.web = ctx
    app.state.workspace = workspace
    app.state.registry = registry
    app.state.pool = ctx.pool
    app.state.stt = ctx.stt
    app.state.tts = ctx.tts
    app.state.operator_token = ctx.operator_token
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    install_error_handlers(app)
    add_security_headers(app)
    # Outermost (added last): the rate limit, then the body limit, both before anything reads the body.
    app.add_middleware(BodyLimit, json_limit=max_json_bytes, audio_limit=max_audio_bytes)
    app.add_middleware(RateLimit, limits=rate_limits)

    for module in (routes_pages, routes_interview, routes_voice, routes_operator):
        app.include_router(module.router)
    include_study(app, workspace=workspace, registry=registry, operator_token=ctx.operator_token)  # /study, /api/study/*
    return app
