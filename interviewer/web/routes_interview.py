"""The respondent's interview API (`/api/session*`): state, consent, the question waiting, typed answers, skip,
pause/resume and withdrawal. The link token (`Authorization: Bearer`) decides the respondent.

An answer names the turn it answers (`answer_to`), so a resent answer is refused (409), never saved twice.
`save_answer` and `next_payload` are the turn both answer routes (typed here, spoken in routes_voice) share.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from interviewer.web.context import (
    WebContext, Withdraw, clean_name, consented, respondent_invitation, web_context, withdrawer,
)
from interviewer.web.engine_api import InterviewEngine, SpokenLine
from interviewer.web.http_api import ApiError
from interviewer.web.runtime import LiveSession, TurnTiming, split_for_speech
from interviewer.web.tokens import Invitation
from interviewer.speech.audio import ACCEPTED_AUDIO_TYPES

MAX_TEXT_CHARS = 2_000  # about what one says in three minutes: a typed answer is one spoken answer
ALREADY_ANSWERED = "That question was already answered. Reload the page to continue from the last saved turn."

router = APIRouter()


class TextAnswer(BaseModel):
    text: str  # at most MAX_TEXT_CHARS, checked with a clear message (and the whole body by BodyLimit)
    answer_to: int  # turn index of the utterance being answered (a resent answer is refused, not saved twice)
    duration_s: float | None = Field(default=None, ge=0, le=24 * 3600)


class SkipRequest(BaseModel):
    answer_to: int


class Consent(BaseModel):
    name: str | None = Field(default=None, max_length=60)


def utterance_payload(utt: SpokenLine | None, speaking: bool) -> dict[str, Any] | None:
    """An utterance as the page gets it; `speaking`: the server has a voice (the page fetches the audio parts)."""
    if utt is None:
        return None
    return {
        "text": utt.text,
        "kind": utt.kind,
        "question_id": utt.question_id,
        "block": utt.block,
        "block_label": utt.block_label,
        "turn_index": utt.turn_index,
        "expects_answer": utt.expects_answer,
        "audio_url": f"/api/session/speech/{utt.turn_index}" if speaking else None,  # + "/<part>"
        "audio_parts": len(split_for_speech(utt.text)) if speaking else 0,
    }


def progress_payload(engine: InterviewEngine) -> dict[str, Any]:
    progress = asdict(engine.progress)
    progress["elapsed_s"] = round(float(progress.get("elapsed_s") or 0.0), 1)
    return progress


def check_waiting(live: LiveSession, answer_to: int) -> None:
    """Refuse (409) an answer or skip whose `answer_to` is not the question waiting now."""
    pending = live.engine.pending
    if pending is None or pending.turn_index != answer_to:
        raise ApiError(409, "already_answered", ALREADY_ANSWERED)


async def next_payload(ctx: WebContext, live: LiveSession, timing: TurnTiming | None) -> dict[str, Any]:
    """The next utterance (its speech started in the background) and the progress, as the page gets them.

    An acknowledgement (said while the interviewer's model decides) expects no answer and is not the end: the
    page plays it and asks for the next line (`/api/session/next`), which finishes the turn's timing."""
    if timing is None:
        timing, live.open_timing = live.open_timing, None
    started = time.perf_counter()
    utt = await live.engine.next_utterance()
    acknowledgement = utt is not None and utt.kind == "acknowledgement"
    if timing is not None:
        timing.model_s += time.perf_counter() - started
        timing.turn_index = utt.turn_index if utt is not None else None
        if acknowledgement:
            timing.acknowledged, live.open_timing = True, timing
    if utt is not None:
        ctx.pool.start_speech(live, utt.turn_index, utt.text, timing, final=not acknowledgement)
    elif timing is not None:
        live.last_timing = timing.log()
    return {
        "utterance": utterance_payload(utt, ctx.tts is not None),
        "progress": progress_payload(live.engine),
        "saved": True,
        "done": utt is None or live.engine.progress.finished,
    }


async def save_answer(ctx: WebContext, live: LiveSession, text: str, answer_to: int, duration_s: float | None,
                      timing: TurnTiming) -> dict[str, Any]:
    """Save one answer (the caller holds the session lock) and produce the next utterance."""
    pending = live.engine.pending
    if pending is None:
        if live.engine.progress.finished:
            raise ApiError(409, "finished", "The interview is finished; there is no question waiting for an answer.")
        raise ApiError(409, "no_question", "No question is waiting for an answer. Reload the page to continue.")
    if answer_to != pending.turn_index:
        raise ApiError(409, "already_answered", ALREADY_ANSWERED)
    live.engine.resume()
    started = time.perf_counter()
    await live.engine.submit_answer(text, duration_s=duration_s)
    timing.model_s += time.perf_counter() - started
    return await next_payload(ctx, live, timing)


@router.get("/api/session")
async def session_state(invitation: Invitation = Depends(respondent_invitation), ctx: WebContext = Depends(web_context)):
    state: dict[str, Any] = {
        "respondent": invitation.respondent,
        "consented": invitation.consented_at is not None,
        "name": invitation.name,
        "interviewer_name": ctx.script().interviewer_name or "the interviewer",
        "speech_to_text": ctx.stt is not None,
        "text_to_speech": ctx.tts is not None,
        "max_audio_bytes": ctx.max_audio_bytes,
        "accepted_audio_types": sorted(ACCEPTED_AUDIO_TYPES),
    }
    if invitation.consented_at is not None:
        live = await ctx.pool.get(invitation.respondent)
        state["progress"] = progress_payload(live.engine)
        state["pending"] = utterance_payload(live.engine.pending, ctx.tts is not None)
    return state


@router.post("/api/session/consent")
async def consent(body: Consent | None = None, invitation: Invitation = Depends(respondent_invitation),
                  ctx: WebContext = Depends(web_context)):
    ctx.registry.record_consent(invitation.respondent, clean_name(body.name if body else None))
    return {"consented": True}


@router.post("/api/session/next")
async def next_utterance(invitation: Invitation = Depends(consented), ctx: WebContext = Depends(web_context)):
    """The question now waiting (the same one again until it is answered: this is how a reopened link resumes)."""
    async with ctx.pool.locked(invitation.respondent) as live:
        live.engine.resume()
        return await next_payload(ctx, live, None)


@router.post("/api/session/answer/text")
async def answer_text(body: TextAnswer, invitation: Invitation = Depends(consented),
                      ctx: WebContext = Depends(web_context)):
    text = body.text.strip()
    if not text:
        raise ApiError(400, "empty_answer", "The answer is empty. Please type something, or say it aloud.")
    if len(text) > MAX_TEXT_CHARS:
        raise ApiError(413, "answer_too_long",
                       f"A typed answer can be at most {MAX_TEXT_CHARS:,} characters (this one has {len(text):,}). "
                       "Please shorten it, or send the rest as your next answer.")
    async with ctx.pool.locked(invitation.respondent) as live:
        timing = TurnTiming(invitation.respondent, mode="typed")
        result = await save_answer(ctx, live, text, body.answer_to, body.duration_s, timing)
    result["heard"] = text
    return result


@router.post("/api/session/skip")
async def skip(body: SkipRequest, invitation: Invitation = Depends(consented), ctx: WebContext = Depends(web_context)):
    """Leave the waiting question unanswered (nothing is saved in the respondent's name)."""
    async with ctx.pool.locked(invitation.respondent) as live:
        check_waiting(live, body.answer_to)
        live.engine.resume()
        live.engine.skip()
        return await next_payload(ctx, live, None)


@router.post("/api/session/pause")
async def pause(invitation: Invitation = Depends(consented), ctx: WebContext = Depends(web_context)):
    """Stop the interview clock (the break does not count against the script's time budgets)."""
    async with ctx.pool.locked(invitation.respondent) as live:
        live.engine.pause()
    return {"paused": True}


@router.post("/api/session/resume")
async def resume(invitation: Invitation = Depends(consented), ctx: WebContext = Depends(web_context)):
    async with ctx.pool.locked(invitation.respondent) as live:
        live.engine.resume()
    return {"paused": False}


@router.post("/api/session/withdraw")
async def withdraw_self(body: Withdraw, invitation: Invitation = Depends(withdrawer),
                        ctx: WebContext = Depends(web_context)):
    """Delete everything this respondent said, and everything made from it (agents, answers, caches)."""
    if not body.confirm:
        raise ApiError(400, "confirm_required", "Withdrawal deletes your interview for good; confirm to go ahead.")
    return await ctx.withdraw(invitation.respondent)
