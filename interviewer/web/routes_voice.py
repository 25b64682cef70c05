"""The spoken side of the interview: the recorded answer (`POST /api/session/answer/audio`, checked, transcribed,
then saved like a typed one) and the interviewer's words as audio (`GET /api/session/speech/{turn}/{part}`)."""

from __future__ import annotations

import asyncio
import logging
import time

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from interviewer.speech.audio import ACCEPTED_AUDIO_TYPES, base_mime, sniff_container
from interviewer.speech.errors import AudioFormatError, SpeechError
from interviewer.web.context import WebContext, consented, web_context
from interviewer.web.http_api import ApiError
from interviewer.web.routes_interview import check_waiting, save_answer
from interviewer.web.runtime import TurnTiming
from interviewer.web.tokens import Invitation

log = logging.getLogger("interviewer.web.app")

MAX_AUDIO_BYTES = 16 * 1024 * 1024  # over ten minutes of Opus: a longer single answer is a mistake

router = APIRouter()


async def read_upload(request: Request, max_audio_bytes: int) -> tuple[bytes, str]:
    """The request body as audio of an accepted type whose bytes match it, at most `max_audio_bytes`."""
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


@router.post("/api/session/answer/audio")
async def answer_audio(request: Request, answer_to: int, invitation: Invitation = Depends(consented),
                       ctx: WebContext = Depends(web_context)):
    """The recorded answer as the raw request body (Content-Type: audio/webm, audio/ogg, ...)."""
    if ctx.stt is None:
        raise ApiError(501, "speech_off", "Speech recognition is off on this server. Please type your answer.")
    audio, declared = await read_upload(request, ctx.max_audio_bytes)
    timing = TurnTiming(invitation.respondent, mode="voice")  # starts at the end of the upload
    check_waiting(await ctx.pool.get(invitation.respondent), answer_to)  # cheap early refusal; checked again under the lock
    try:
        heard = await asyncio.to_thread(ctx.stt.transcribe, audio, declared)
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
    async with ctx.pool.locked(invitation.respondent) as live:
        result = await save_answer(ctx, live, text, answer_to, round(heard.audio_s, 2) or None, timing)
    result["heard"] = text
    return result


@router.get("/api/session/speech/{turn_index}/{part}")
async def speech(turn_index: int, part: int, invitation: Invitation = Depends(consented),
                 ctx: WebContext = Depends(web_context)):
    """Part `part` of the interviewer's words as WAV; only the utterance now being said can be fetched."""
    live = await ctx.pool.get(invitation.respondent)
    text = ""
    if turn_index not in live.speech:
        turns = live.engine.turns
        last = turns[-1] if turns else None
        if last is None or last.index != turn_index or last.speaker != "interviewer":
            raise ApiError(404, "no_such_audio", "That part of the interview is not being spoken now.")
        text = last.text
    try:
        wav = await ctx.pool.speech(live, turn_index, part, text)
    except IndexError:
        raise ApiError(404, "no_such_audio", "That part of the interview does not exist.") from None
    except SpeechError:
        raise ApiError(503, "text_to_speech_failed", "The interviewer's voice failed; the words are shown as subtitles.") from None
    return Response(wav, media_type="audio/wav", headers={"Cache-Control": "no-store"})
