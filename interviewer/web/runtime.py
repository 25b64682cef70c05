"""The voice interview's server-side turn loop, independent of HTTP.

One `LiveSession` per respondent holds the engine session, a lock (one request at a time changes a
transcript) and the interviewer's speech being synthesized. A turn:

    answer upload ends -> speech-to-text -> engine saves the answer and writes the next utterance
    -> text-to-speech starts in the background -> the page gets the subtitle at once, then the audio

Latency is logged per turn at info level as numbers only (never transcript text).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable

from interviewer.speech import SpeechToText, TextToSpeech
from interviewer.speech.errors import SpeechError

log = logging.getLogger("interviewer.web.turns")

MAX_LIVE_SESSIONS = 64


@dataclass
class TurnTiming:
    """Seconds spent per stage of one turn; `total_s` runs from the end of the upload to audio ready."""

    respondent: str
    turn_index: int | None = None
    stt_s: float = 0.0
    model_s: float = 0.0
    tts_s: float | None = None
    audio_s: float = 0.0  # length of the answer recording
    started: float = field(default_factory=time.perf_counter)
    mode: str = "voice"

    def as_dict(self) -> dict[str, Any]:
        return {
            "turn": self.turn_index,
            "mode": self.mode,
            "stt_s": round(self.stt_s, 3),
            "model_s": round(self.model_s, 3),
            "tts_s": None if self.tts_s is None else round(self.tts_s, 3),
            "total_s": round(time.perf_counter() - self.started, 3),
        }

    def log(self) -> dict[str, Any]:
        figures = self.as_dict()
        log.info(
            "turn latency respondent=%s turn=%s mode=%s answer_audio_s=%.1f stt_s=%.2f model_s=%.2f tts_s=%s total_s=%.2f",
            self.respondent,
            figures["turn"],
            self.mode,
            self.audio_s,
            self.stt_s,
            self.model_s,
            "-" if self.tts_s is None else f"{self.tts_s:.2f}",
            figures["total_s"],
        )
        return figures


@dataclass
class LiveSession:
    respondent: str
    engine: Any  # interviewer.engine.InterviewSession
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    speech: dict[int, asyncio.Task] = field(default_factory=dict)  # turn index -> WAV bytes task
    last_timing: dict[str, Any] | None = None


class SessionPool:
    """Live engine sessions by respondent, opened on first use (which resumes a saved transcript)."""

    def __init__(self, opener: Callable[[str], Any], tts: TextToSpeech | None):
        self._opener = opener
        self.tts = tts
        self._live: OrderedDict[str, LiveSession] = OrderedDict()
        self._open_lock = asyncio.Lock()

    async def get(self, respondent: str) -> LiveSession:
        async with self._open_lock:
            live = self._live.get(respondent)
            if live is None:
                engine = await asyncio.to_thread(self._opener, respondent)
                live = LiveSession(respondent, engine)
                self._live[respondent] = live
                self._evict()
            self._live.move_to_end(respondent)
            return live

    def peek(self, respondent: str) -> LiveSession | None:
        return self._live.get(respondent)

    def _evict(self) -> None:
        """Forget idle sessions beyond the limit; everything is on disk, so reopening resumes."""
        for name in list(self._live):
            if len(self._live) <= MAX_LIVE_SESSIONS:
                break
            if not self._live[name].lock.locked():
                self._live.pop(name)

    # -- speech ---------------------------------------------------------------------------------------
    def start_speech(self, live: LiveSession, turn_index: int, text: str, timing: TurnTiming | None) -> None:
        """Synthesize the interviewer's words in the background; logs the turn when the audio is ready."""
        if self.tts is None:
            if timing is not None:
                live.last_timing = timing.log()
            return
        if turn_index in live.speech:
            return

        async def run() -> bytes:
            started = time.perf_counter()
            try:
                return await asyncio.to_thread(self.tts.synthesize, text)
            finally:
                if timing is not None:
                    timing.tts_s = time.perf_counter() - started
                    live.last_timing = timing.log()

        task = asyncio.create_task(run())
        task.add_done_callback(_swallow)  # failures are reported to whoever awaits the audio
        for old in [k for k in live.speech if k != turn_index]:
            live.speech.pop(old)
        live.speech[turn_index] = task

    async def speech(self, live: LiveSession, turn_index: int, text: str) -> bytes:
        if self.tts is None:
            raise SpeechError("text-to-speech is off on this server")
        if turn_index not in live.speech:
            self.start_speech(live, turn_index, text, None)
        return await asyncio.shield(live.speech[turn_index])


def _swallow(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("speech synthesis failed: %s", type(task.exception()).__name__)
