"""The voice interview's server-side turn loop, independent of HTTP.

One `LiveSession` per respondent holds the engine session, a lock (one request at a time changes a
transcript) and the interviewer's speech being synthesized. A turn:

    answer upload ends -> speech-to-text -> engine saves the answer and writes the next utterance
    -> text-to-speech starts in the background -> the page gets the subtitle at once, then the audio

When the interviewer's model is still deciding (`EngineSettings.acknowledge_after_s` after the answer), the
next utterance is a short acknowledgement ("I see."), spoken at once; the page then asks for the next line
(`POST /api/session/next`), which comes when the decision is made. The turn's timing stays open across both.

Latency is logged per turn at info level as numbers only (never transcript text).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable

from interviewer.speech import TextToSpeech
from interviewer.speech.errors import SpeechError
from interviewer.web.engine_api import InterviewEngine

log = logging.getLogger("interviewer.web.turns")

MAX_LIVE_SESSIONS = 64
PHRASE_CHARS = 40  # parts this short (acknowledgements, probes) are kept once synthesized: said again at once
MAX_PHRASES = 256


@dataclass
class TurnTiming:
    """Seconds spent per stage of one turn, from the end of the answer's upload (`started`).

    `first_audio_s`: until the first part of the first line said after the answer is synthesized (an
    acknowledgement, or the next line itself): when the page can start playing. `total_s`: until the first part
    of the line that asks something (the follow-up, rephrase or next question) is ready. `model_s`: time spent
    waiting for the engine (saving the answer, deciding), `tts_s`: synthesis of that line's first part.
    """

    respondent: str
    turn_index: int | None = None
    stt_s: float = 0.0
    model_s: float = 0.0
    tts_s: float | None = None
    first_audio_s: float | None = None
    acknowledged: bool = False  # an acknowledgement was said while the model decided
    audio_s: float = 0.0  # length of the answer recording
    started: float = field(default_factory=time.perf_counter)
    mode: str = "voice"

    def as_dict(self) -> dict[str, Any]:
        total = time.perf_counter() - self.started
        return {
            "turn": self.turn_index,
            "mode": self.mode,
            "stt_s": round(self.stt_s, 3),
            "model_s": round(self.model_s, 3),
            "tts_s": None if self.tts_s is None else round(self.tts_s, 3),
            "first_audio_s": round(total if self.first_audio_s is None else self.first_audio_s, 3),
            "acknowledged": self.acknowledged,
            "total_s": round(total, 3),
        }

    def log(self) -> dict[str, Any]:
        figures = self.as_dict()
        log.info(
            "turn latency respondent=%s turn=%s mode=%s answer_audio_s=%.1f stt_s=%.2f model_s=%.2f tts_s=%s "
            "first_audio_s=%.2f acknowledged=%s total_s=%.2f",
            self.respondent,
            figures["turn"],
            self.mode,
            self.audio_s,
            self.stt_s,
            self.model_s,
            "-" if self.tts_s is None else f"{self.tts_s:.2f}",
            figures["first_audio_s"],
            self.acknowledged,
            figures["total_s"],
            extra={"turn_timing": {**figures, "answer_audio_s": round(self.audio_s, 3), "respondent": self.respondent}},
        )
        return figures


def split_for_speech(text: str, min_chars: int = 80, max_chars: int = 400, first_chars: int = 60) -> list[str]:
    """Cut an utterance into sentence groups, spoken one after another.

    The page can start playing the first part while later parts are still being synthesized, so a long
    scripted question (the paper's intro runs for minutes) starts sounding within a sentence's time. The first
    part, whose synthesis the respondent waits for, is cut further at its first clause break (", ", ": ", "; ",
    a sentence end) between 20 and `first_chars` characters: "To start, I would like to begin with a big
    question:" is heard while "tell me the story of your life." is synthesized.
    """
    parts = _sentence_groups(text, min_chars, max_chars)
    head = parts[0]
    if len(head) > first_chars:
        breaks = [m.end() for m in re.finditer(r"[,;:.!?](?=\s)", head) if 20 <= m.end() <= first_chars]
        if breaks:
            parts[:1] = [head[: breaks[0]], head[breaks[0]:].strip()]
    return parts


def _sentence_groups(text: str, min_chars: int, max_chars: int) -> list[str]:
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", " ".join(text.split())) if s]
    pieces: list[str] = []
    for sentence in sentences:
        while len(sentence) > max_chars:  # a run-on sentence: cut at the last comma or space that fits
            cut = max(sentence.rfind(", ", 0, max_chars), sentence.rfind(" ", 0, max_chars))
            cut = cut if cut > 0 else max_chars
            pieces.append(sentence[: cut + 1].strip())
            sentence = sentence[cut + 1 :].strip()
        if sentence:
            pieces.append(sentence)
    parts: list[str] = []
    for piece in pieces:
        if parts and (len(parts[-1]) < min_chars or (len(parts) > 1 and len(piece) < min_chars // 2)) \
                and len(parts[-1]) + len(piece) < max_chars:
            parts[-1] = f"{parts[-1]} {piece}"
        else:
            parts.append(piece)
    return parts or [text.strip()]


@dataclass
class Speech:
    """One utterance being synthesized part by part, in order, in the background."""

    parts: list[str]
    audio: list[asyncio.Future]
    task: asyncio.Task | None = None


@dataclass
class LiveSession:
    respondent: str
    engine: InterviewEngine
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    speech: dict[int, Speech] = field(default_factory=dict)  # turn index -> its audio
    last_timing: dict[str, Any] | None = None
    open_timing: TurnTiming | None = None  # a turn answered by an acknowledgement: finished by the next line


class SessionPool:
    """Live engine sessions by respondent, opened on first use (which resumes a saved transcript)."""

    def __init__(self, opener: Callable[[str], InterviewEngine], tts: TextToSpeech | None):
        self._opener = opener
        self.tts = tts
        self._live: OrderedDict[str, LiveSession] = OrderedDict()
        self._open_lock = asyncio.Lock()
        # Short phrases said often, synthesized ahead (`warm_phrases`, the engine's acknowledgements) and kept: the
        # acknowledgement said while the model decides is then heard without waiting for the voice, which would
        # share the CPU with the model.
        self.warm_phrases: tuple[str, ...] = ()
        self._phrases: dict[str, bytes] = {}
        self._warming: asyncio.Task | None = None

    async def get(self, respondent: str) -> LiveSession:
        async with self._open_lock:
            live = self._live.get(respondent)
            if live is None:
                engine = await asyncio.to_thread(self._opener, respondent)
                live = LiveSession(respondent, engine)
                self._live[respondent] = live
                self._evict()
            self._live.move_to_end(respondent)
            if self.warm_phrases and self._warming is None and self.tts is not None:
                self._warming = asyncio.create_task(self._warm())
            return live

    async def _warm(self) -> None:
        assert self.tts is not None
        for phrase in self.warm_phrases:
            if phrase not in self._phrases:
                try:
                    self._keep(phrase, await asyncio.to_thread(self.tts.synthesize, phrase))
                except Exception as exc:  # noqa: BLE001 - a phrase not warmed is synthesized when said
                    log.warning("speech synthesis failed: %s", type(exc).__name__)

    def _keep(self, part: str, wav: bytes) -> None:
        if len(part) <= PHRASE_CHARS and len(self._phrases) < MAX_PHRASES:
            self._phrases[part] = wav

    def peek(self, respondent: str) -> LiveSession | None:
        return self._live.get(respondent)

    @asynccontextmanager
    async def locked(self, respondent: str) -> AsyncIterator[LiveSession]:
        """The respondent's live session, locked, and the one the pool holds now: a session let go while
        we waited for its lock is never written to (another request may already use a fresh copy)."""
        while True:
            live = await self.get(respondent)
            await live.lock.acquire()
            if self._live.get(respondent) is live:
                break
            live.lock.release()
        try:
            yield live
        finally:
            live.lock.release()

    async def forget(self, respondent: str) -> None:
        """Drop the respondent's live session (after withdrawal); waits for a request in progress."""
        async with self._open_lock:
            live = self._live.pop(respondent, None)
        if live is not None:
            async with live.lock:
                await live.engine.close()  # no background work may write for a withdrawn respondent
                for speech in live.speech.values():
                    if speech.task is not None:
                        speech.task.cancel()
                live.speech.clear()

    def _evict(self) -> None:
        """Forget idle sessions beyond the limit; everything is on disk, so reopening resumes."""
        for name in list(self._live):
            if len(self._live) <= MAX_LIVE_SESSIONS:
                break
            if not self._live[name].lock.locked() and not self._live[name].engine.busy:
                self._live.pop(name)

    # -- speech ---------------------------------------------------------------------------------------
    def start_speech(self, live: LiveSession, turn_index: int, text: str, timing: TurnTiming | None,
                     final: bool = True) -> Speech | None:
        """Synthesize the interviewer's words in the background, part by part. When the first part is ready (the
        page starts playing then) the turn's first audio is noted and, for its `final` line (not an
        acknowledgement), its latency logged."""
        if self.tts is None:
            if timing is not None and final:
                live.last_timing = timing.log()
            return None
        if turn_index in live.speech:
            return live.speech[turn_index]
        loop = asyncio.get_running_loop()
        speech = Speech(split_for_speech(text), [])
        speech.audio = [loop.create_future() for _ in speech.parts]
        tts = self.tts

        async def run() -> None:
            started = time.perf_counter()
            for number, (part, future) in enumerate(zip(speech.parts, speech.audio)):
                try:
                    wav = self._phrases.get(part)
                    if wav is None:
                        wav = await asyncio.to_thread(tts.synthesize, part)
                        self._keep(part, wav)
                    future.set_result(wav)
                except Exception as exc:  # noqa: BLE001 - handed to whoever awaits this part
                    log.warning("speech synthesis failed: %s", type(exc).__name__)
                    for rest in speech.audio[number:]:
                        if not rest.done():
                            rest.set_exception(exc if isinstance(exc, SpeechError) else SpeechError(str(exc)))
                            rest.exception()  # mark retrieved: nobody may ask for the later parts
                    break
                finally:
                    if number == 0 and timing is not None:
                        if timing.first_audio_s is None:
                            timing.first_audio_s = time.perf_counter() - timing.started
                        if final:
                            timing.tts_s = time.perf_counter() - started
                            live.last_timing = timing.log()

        for old in [k for k in live.speech if k != turn_index]:
            live.speech.pop(old)
        speech.task = asyncio.create_task(run())
        live.speech[turn_index] = speech
        return speech

    async def speech(self, live: LiveSession, turn_index: int, part: int, text: str) -> bytes:
        if self.tts is None:
            raise SpeechError("text-to-speech is off on this server")
        speech = live.speech.get(turn_index) or self.start_speech(live, turn_index, text, None)
        assert speech is not None  # a voice is on
        if not 0 <= part < len(speech.audio):
            raise IndexError(part)
        return await asyncio.shield(speech.audio[part])
