"""What the routes share: one `WebContext` per app (`app.state.web`), and the dependencies that check tokens.

`create_app` builds the context; every route reaches it with `Depends(web_context)`. The token dependencies
decide who is asking: `respondent_invitation` (a respondent's link, not expired), `consented` (and consent
given), `withdrawer` (a respondent's link, expired or not: an expired link may still withdraw) and `operator`
(the operator token).
"""

from __future__ import annotations

import asyncio
import functools
import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from fastapi import Depends, Request
from pydantic import BaseModel

from interviewer.clock import WallClock
from interviewer.script import Script, load_script
from interviewer.speech import SpeechToText, TextToSpeech
from interviewer.storage import TranscriptStore
from interviewer.web.engine_api import InterviewEngine, SessionOpener
from interviewer.web.http_api import ApiError, bearer
from interviewer.web.runtime import SessionPool
from interviewer.web.tokens import Invitation, SessionRegistry
from simulacra.llm import open_llm
from simulacra.withdraw import Withdrawal
from simulacra.workspace import Workspace

DEFAULT_NAME = "friend"  # fills the script's {name} when the respondent gives none
_NAME = re.compile(r"^[^\x00-\x1f<>{}\\]{1,60}$")
_QUOTES = dict.fromkeys(map(ord, '"`\u00ab\u00bb\u201c\u201d\u201e\u201f\u2039\u203a'), None)


def normalise_name(name: str | None) -> str:
    """A name as it may reach prompts and the spoken intro: NFKC, no control or format characters
    (bidi overrides, zero-width), no double quotes or backticks; apostrophes only inside a word."""
    name = unicodedata.normalize("NFKC", name or "")
    name = "".join(" " if ch.isspace() else ch for ch in name if ch.isspace() or unicodedata.category(ch)[0] != "C")
    name = name.replace("\u2018", "'").replace("\u2019", "'").translate(_QUOTES)
    name = re.sub(r"(?<![^\W\d_])'|'(?![^\W\d_])", "", name)  # keep O'Brien, drop quoting apostrophes
    return " ".join(name.split())


def clean_name(name: str | None) -> str | None:
    """A name the respondent or operator typed, normalised; None for none; ApiError 422 for one we refuse."""
    name = normalise_name(name)
    if not name:
        return None
    if not _NAME.match(name):
        raise ApiError(422, "bad_name", "Please give a short first name or nickname (letters, no symbols like < > { }).")
    return name


class Withdraw(BaseModel):
    confirm: bool = False  # must be true: withdrawal deletes everything and cannot be undone


# A model decision not made this soon after an answer gets a short acknowledgement said first ("I see."), so the
# respondent hears the interviewer within a second of answering (issue #25); a fast model's line comes directly.
ACKNOWLEDGE_AFTER_S = 0.3


def default_session_opener(acknowledge_after_s: float | None = ACKNOWLEDGE_AFTER_S) -> SessionOpener:
    """`InterviewSession.open` with the voice settings: decisions and notes in the background, an acknowledgement
    when the model takes longer than `acknowledge_after_s` (None: never)."""
    # Imported when the first session opens, not with the app: the engine loads the prompt stack (~1.5 s).
    from interviewer.engine import EngineSettings, InterviewSession

    settings = EngineSettings(decide_in_background=True, acknowledge_after_s=acknowledge_after_s)
    return functools.partial(InterviewSession.open, settings=settings)


@dataclass
class WebContext:
    """The app's stores, engines and settings; the script and the interviewer model load on first use."""

    workspace: Workspace
    store: TranscriptStore
    registry: SessionRegistry
    stt: SpeechToText | None
    tts: TextToSpeech | None
    operator_token: str
    max_audio_bytes: int
    withdraw_fn: Callable[[str, Workspace], Withdrawal]
    script_source: Script | str | Path | None = None  # a script, its name or path; None: the paper's script
    llm_source: Any = None  # None: the configured interviewer model
    session_opener: SessionOpener | None = None  # None: InterviewSession.open with the voice settings
    acknowledge_after_s: float | None = ACKNOWLEDGE_AFTER_S  # for the default opener (`default_session_opener`)
    pool: SessionPool = field(init=False)

    def __post_init__(self) -> None:
        self.pool = SessionPool(self.open_session, self.tts)

    def script(self) -> Script:
        if self.script_source is None or isinstance(self.script_source, (str, Path)):
            self.script_source = load_script(str(self.script_source or "default"))
        return self.script_source

    def llm(self) -> Any:
        if self.llm_source is None:
            self.llm_source = open_llm(workspace=self.workspace, role="interviewer")
        return self.llm_source

    def open_session(self, respondent: str) -> InterviewEngine:
        """The respondent's session, opened (a new one) or resumed from its saved transcript."""
        open_session = self.session_opener or default_session_opener(self.acknowledge_after_s)
        if self.session_opener is None and self.acknowledge_after_s is not None:
            from interviewer.engine import ACKNOWLEDGEMENTS  # loaded with the engine, as late

            self.pool.warm_phrases = ACKNOWLEDGEMENTS  # their audio is made ahead, while the respondent listens
        invitation = self.registry.get(respondent)
        name = normalise_name(invitation.name if invitation else None) or DEFAULT_NAME
        return open_session(self.script(), respondent, self.llm(), self.store, WallClock(), name=name)

    async def withdraw(self, respondent: str) -> dict[str, Any]:
        """Forget the live session, then remove everything of the respondent (`withdraw_fn`)."""
        await self.pool.forget(respondent)
        found = await asyncio.to_thread(self.withdraw_fn, respondent, self.workspace)
        return {"withdrawn": True, "removed": found.removed}


def web_context(request: Request) -> WebContext:
    return request.app.state.web


def _invitation(request: Request, ctx: WebContext) -> Invitation:
    invitation = ctx.registry.resolve(bearer(request), include_expired=True)
    if invitation is None:
        raise ApiError(401, "bad_token", "This interview link is not valid. Please use the full link you were given.")
    return invitation


def respondent_invitation(request: Request, ctx: WebContext = Depends(web_context)) -> Invitation:
    invitation = _invitation(request, ctx)
    if invitation.expired(ctx.registry.link_ttl_days):
        raise ApiError(401, "link_expired",
                       "This interview link has expired. Please ask the study team to renew it; what you said is kept.")
    return invitation


def consented(invitation: Invitation = Depends(respondent_invitation)) -> Invitation:
    if invitation.consented_at is None:
        raise ApiError(403, "consent_required", "Please read and accept the consent form first.")
    return invitation


def withdrawer(request: Request, ctx: WebContext = Depends(web_context)) -> Invitation:
    """The respondent of a link, expired or not (an expired link may still withdraw)."""
    return _invitation(request, ctx)


def operator(request: Request, ctx: WebContext = Depends(web_context)) -> None:
    token = bearer(request) or ""
    if not secrets.compare_digest(token.encode(), ctx.operator_token.encode()):
        raise ApiError(401, "bad_operator_token", "Operator token missing or wrong.")
