"""Text-to-speech behind one small interface: `synthesize(text) -> WAV bytes`.

- `PiperTTS`: natural offline voice (piper-tts is GPL-3.0, so it is an optional extra, imported only
  when first used).
- `EspeakTTS`: Debian's `espeak-ng` program, robotic but always available.
- `EndpointTTS`: an OpenAI-compatible `/audio/speech`.
Synthesis is synchronous; async callers use `asyncio.to_thread`.
"""

from __future__ import annotations

import io
import logging
import shutil
import subprocess
import threading
import time
import wave
from pathlib import Path
from typing import Protocol

from interviewer.speech.audio import repair_streamed_wav
from interviewer.speech.errors import SpeechError, SpeechUnavailableError

log = logging.getLogger(__name__)

MAX_TTS_CHARS = 4000  # an interviewer utterance is a few sentences; refuse runaway text


class TextToSpeech(Protocol):
    name: str

    def synthesize(self, text: str) -> bytes: ...


def _checked(text: str) -> str:
    text = " ".join(text.split())
    if not text:
        raise SpeechError("nothing to say: the text is empty")
    if len(text) > MAX_TTS_CHARS:
        raise SpeechError(f"text too long to speak ({len(text)} characters, limit {MAX_TTS_CHARS})")
    return text


class PiperTTS:
    def __init__(self, model_path: Path, *, label: str = "piper", length_scale: float | None = None):
        self.model_path = Path(model_path)
        self.name = label
        self.length_scale = length_scale
        self._voice = None
        self._lock = threading.Lock()

    def _load(self):
        if self._voice is None:
            try:
                from piper import PiperVoice
            except ImportError as exc:  # pragma: no cover - checked by find_piper_voice
                raise SpeechUnavailableError("piper is not installed: pip install 'simulacra[piper]'") from exc
            started = time.perf_counter()
            self._voice = PiperVoice.load(self.model_path, config_path=f"{self.model_path}.json")
            log.info("loaded %s in %.1fs", self.name, time.perf_counter() - started)
        return self._voice

    def warm_up(self) -> None:
        with self._lock:
            self._load()

    def synthesize(self, text: str) -> bytes:
        text = _checked(text)
        with self._lock:  # one ONNX session; piper's phonemizer is not re-entrant either
            voice = self._load()
            from piper import SynthesisConfig

            config = SynthesisConfig(length_scale=self.length_scale)
            buffer = io.BytesIO()
            try:
                with wave.open(buffer, "wb") as out:
                    voice.synthesize_wav(text, out, syn_config=config)
            except Exception as exc:
                raise SpeechError(f"{self.name} failed: {exc}") from exc
        return buffer.getvalue()


class EspeakTTS:
    def __init__(self, voice: str = "en-us", words_per_minute: int = 160, binary: str | None = None):
        self.binary = binary or shutil.which("espeak-ng") or shutil.which("espeak")
        if not self.binary:
            raise SpeechUnavailableError("espeak-ng is not installed (Debian/Ubuntu: apt-get install espeak-ng)")
        self.voice = voice
        self.words_per_minute = words_per_minute
        self.name = f"espeak-ng {voice}"

    def warm_up(self) -> None:
        return None

    def synthesize(self, text: str) -> bytes:
        text = _checked(text)
        # Text goes through stdin, never the command line, so it cannot be read as options.
        try:
            done = subprocess.run(
                [self.binary, "-v", self.voice, "-s", str(self.words_per_minute), "--stdout"],
                input=text.encode("utf-8"),
                capture_output=True,
                timeout=60,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise SpeechError("espeak-ng took longer than 60 s") from exc
        if done.returncode != 0 or not done.stdout:
            raise SpeechError(f"espeak-ng failed ({done.returncode}): {done.stderr.decode(errors='replace')[:200]}")
        return repair_streamed_wav(done.stdout)


class EndpointTTS:
    def __init__(self, base_url: str | None, api_key: str, model: str = "tts-1", voice: str = "alloy", *, http_client=None):
        from openai import OpenAI  # the OpenAI client (~0.5 s) only for an audio endpoint

        self.client = OpenAI(base_url=base_url, api_key=api_key, timeout=120.0, max_retries=2, http_client=http_client)
        self.model = model
        self.voice = voice
        self.name = f"endpoint {model}/{voice} ({base_url or 'OpenAI'})"

    def warm_up(self) -> None:
        return None

    def synthesize(self, text: str) -> bytes:
        text = _checked(text)
        try:
            reply = self.client.audio.speech.create(model=self.model, voice=self.voice, input=text, response_format="wav")
        except Exception as exc:
            raise SpeechError(f"{self.name} failed: {exc}") from exc
        data = reply.read() if hasattr(reply, "read") else bytes(reply.content)
        try:
            return repair_streamed_wav(data)  # streamed WAVs carry placeholder sizes
        except ValueError:
            return data
