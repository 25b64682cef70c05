"""Speech-to-text behind one small interface: `transcribe(audio_bytes, mime) -> Transcription`.

`WhisperSTT` runs faster-whisper in this process on a model directory (offline); `EndpointSTT` sends the
audio to an OpenAI-compatible `/audio/transcriptions`. Both are synchronous and CPU/IO bound: callers in
async code run them with `asyncio.to_thread`.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from interviewer.speech.audio import sniff_container
from interviewer.speech.errors import AudioFormatError, SpeechError

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000  # what Whisper listens at


@dataclass(frozen=True)
class Transcription:
    text: str
    audio_s: float  # length of the audio heard
    seconds: float  # time spent transcribing
    language: str | None = None


class SpeechToText(Protocol):
    name: str

    def transcribe(self, audio: bytes, mime: str = "") -> Transcription: ...


def decode_audio(audio: bytes):
    """Any container PyAV reads (WebM/Ogg Opus, WAV, MP4, MP3) -> mono 16 kHz float32 samples."""
    from faster_whisper.audio import decode_audio as fw_decode

    try:
        return fw_decode(io.BytesIO(audio), sampling_rate=SAMPLE_RATE)
    except Exception as exc:  # PyAV raises its own error types for corrupt or truncated input
        kind = sniff_container(audio) or "unknown"
        raise AudioFormatError(f"could not decode the {kind} audio ({type(exc).__name__}: {exc})") from None


class WhisperSTT:
    """faster-whisper on a local model directory; the model loads on first use and is shared by threads."""

    def __init__(
        self,
        model_dir: Path,
        *,
        label: str = "whisper",
        language: str | None = "en",
        threads: int = 2,
        compute_type: str = "int8",
        beam_size: int = 5,
    ):
        self.model_dir = Path(model_dir)
        self.name = label
        self.language = language
        self.threads = threads
        self.compute_type = compute_type
        self.beam_size = beam_size
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                from faster_whisper import WhisperModel

                started = time.perf_counter()
                self._model = WhisperModel(
                    str(self.model_dir), device="cpu", compute_type=self.compute_type, cpu_threads=self.threads
                )
                log.info("loaded %s in %.1fs", self.name, time.perf_counter() - started)
            return self._model

    def warm_up(self) -> None:
        self._load()

    def transcribe(self, audio: bytes, mime: str = "") -> Transcription:
        samples = decode_audio(audio)
        return self.transcribe_samples(samples)

    def transcribe_samples(self, samples) -> Transcription:
        started = time.perf_counter()
        audio_s = len(samples) / SAMPLE_RATE
        if audio_s < 0.1:
            return Transcription("", audio_s, 0.0, self.language)
        model = self._load()
        try:
            segments, info = model.transcribe(
                samples,
                language=self.language,
                beam_size=self.beam_size,
                vad_filter=True,  # skips silence, which is where Whisper invents words
                condition_on_previous_text=False,
            )
            text = " ".join(segment.text.strip() for segment in segments).strip()
        except Exception as exc:
            raise SpeechError(f"{self.name} failed to transcribe: {exc}") from exc
        return Transcription(text, audio_s, time.perf_counter() - started, info.language)


class EndpointSTT:
    """An OpenAI-compatible transcription API (OpenAI, or a local server that serves Whisper)."""

    def __init__(
        self, base_url: str | None, api_key: str, model: str = "whisper-1", language: str | None = "en", *, http_client=None
    ):
        from openai import OpenAI  # the OpenAI client (~0.5 s) only for an audio endpoint

        self.client = OpenAI(base_url=base_url, api_key=api_key, timeout=120.0, max_retries=2, http_client=http_client)
        self.model = model
        self.language = language
        self.name = f"endpoint {model} ({base_url or 'OpenAI'})"

    def transcribe(self, audio: bytes, mime: str = "") -> Transcription:
        started = time.perf_counter()
        extension = sniff_container(audio) or "webm"
        try:
            kwargs = {"language": self.language} if self.language else {}
            result = self.client.audio.transcriptions.create(
                model=self.model, file=(f"answer.{extension}", audio, mime or f"audio/{extension}"), **kwargs
            )
        except Exception as exc:
            raise SpeechError(f"{self.name} failed to transcribe: {exc}") from exc
        text = (getattr(result, "text", None) or "").strip()
        return Transcription(text, float(getattr(result, "duration", 0.0) or 0.0), time.perf_counter() - started, self.language)
