"""The operator API (`/api/operator/sessions*`, the operator token): every invitation with its progress, new and
renewed links, transcript download and withdrawal of a respondent."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from interviewer.errors import RespondentIdError
from interviewer.web.context import WebContext, Withdraw, clean_name, operator, web_context
from interviewer.web.engine_api import InterviewEngine
from interviewer.web.http_api import ApiError
from interviewer.web.routes_interview import progress_payload
from interviewer.web.tokens import Invitation
from simulacra.errors import SimulacraError

router = APIRouter(dependencies=[Depends(operator)])


class Renewal(BaseModel):
    days: float | None = Field(default=None, gt=0, le=3650)


class NewInvitation(BaseModel):
    respondent: str | None = None
    label: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=60)


def summary(ctx: WebContext, invitation: Invitation) -> dict[str, Any]:
    """An invitation as the operator view lists it (reads the transcript file's time: run it in a thread)."""
    ttl = ctx.registry.link_ttl_days
    row: dict[str, Any] = {
        "respondent": invitation.respondent,
        "label": invitation.label,
        "invited_at": invitation.created_at,
        "consented_at": invitation.consented_at,
        "expires_at": invitation.expiry(ttl).isoformat(timespec="seconds"),
        "expired": invitation.expired(ttl),
        "has_transcript": ctx.store.exists(invitation.respondent),
    }
    if row["has_transcript"]:
        path = ctx.store.path(invitation.respondent)
        row["last_saved"] = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).isoformat(timespec="seconds")
    return row


@router.post("/api/operator/sessions/{respondent}/withdraw")
async def withdraw_respondent(respondent: str, body: Withdraw, ctx: WebContext = Depends(web_context)):
    if not body.confirm:
        raise ApiError(400, "confirm_required", "Withdrawal deletes the respondent's data for good; confirm to go ahead.")
    try:
        ctx.registry.get(respondent)
    except RespondentIdError:
        raise ApiError(404, "no_invitation", "No such respondent.") from None
    return await ctx.withdraw(respondent)


@router.get("/api/operator/sessions")
async def list_sessions(ctx: WebContext = Depends(web_context)):
    rows = []
    for invitation in ctx.registry.all():
        row = await asyncio.to_thread(summary, ctx, invitation)
        live = ctx.pool.peek(invitation.respondent)
        engine: InterviewEngine | None = live.engine if live is not None else None
        if engine is None and row["has_transcript"]:
            try:  # a read-only look at a saved session, not kept in memory
                engine = await asyncio.to_thread(ctx.open_session, invitation.respondent)
            except SimulacraError as exc:
                row["error"] = str(exc)
        if engine is not None:
            row["progress"] = progress_payload(engine)
            row["turns"] = len(engine.turns)
        row["live"] = live is not None
        row["last_turn_latency"] = live.last_timing if live is not None else None
        rows.append(row)
    return {"sessions": rows, "script": ctx.script().id,
            "speech_to_text": ctx.stt.name if ctx.stt is not None else None,
            "text_to_speech": ctx.tts.name if ctx.tts is not None else None}


@router.post("/api/operator/sessions")
async def invite(body: NewInvitation, request: Request, ctx: WebContext = Depends(web_context)):
    """A link for a new respondent, or a fresh link for an existing one (the old link stops working)."""
    try:
        token, invitation = ctx.registry.invite(body.respondent or None, body.label, clean_name(body.name))
    except RespondentIdError as exc:
        raise ApiError(422, "bad_respondent", str(exc)) from None
    base = str(request.base_url).rstrip("/")
    return {"respondent": invitation.respondent, "token": token, "link": f"{base}/interview#{token}"}


@router.post("/api/operator/sessions/{respondent}/renew")
async def renew(respondent: str, body: Renewal | None = None, ctx: WebContext = Depends(web_context)):
    """Keep a respondent's link working for longer (the same link; `days` from now, default the ttl)."""
    try:
        invitation = ctx.registry.renew(respondent, body.days if body else None)
    except (KeyError, RespondentIdError):
        raise ApiError(404, "no_invitation", "No such respondent.") from None
    return {"respondent": invitation.respondent, "expires_at": invitation.expires_at}


@router.get("/api/operator/sessions/{respondent}/transcript")
async def download(respondent: str, ctx: WebContext = Depends(web_context)):
    try:
        path = ctx.store.path(respondent)
    except RespondentIdError:
        raise ApiError(404, "no_transcript", "No such respondent.") from None
    if not path.is_file():
        raise ApiError(404, "no_transcript", "No transcript saved for this respondent yet.")
    return FileResponse(path, media_type="application/x-ndjson", filename=f"{respondent}.jsonl")
