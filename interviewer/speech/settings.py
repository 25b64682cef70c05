"""Speech settings, read from the environment (the voice app's knobs; everything has an offline default).

    SIMULACRA_STT            auto | whisper | endpoint | none      (default auto)
    SIMULACRA_TTS            auto | piper | espeak | endpoint | none (default auto)
    SIMULACRA_WHISPER_MODEL  a faster-whisper model directory, or `base` / `tiny.en` to pick a shipped one
    SIMULACRA_STT_LANGUAGE   spoken language code for Whisper (default en; empty = detect)
    SIMULACRA_PIPER_VOICE    path to a piper .onnx voice (its .onnx.json beside it)
    SIMULACRA_ESPEAK_VOICE   espeak-ng voice (default en-us)
    SIMULACRA_AUDIO_BASE_URL OpenAI-compatible endpoint serving /audio/transcriptions and /audio/speech
    SIMULACRA_AUDIO_API_KEY  its key (falls back to SIMULACRA_API_KEY / OPENAI_API_KEY)
    SIMULACRA_STT_MODEL      endpoint transcription model (default whisper-1)
    SIMULACRA_TTS_MODEL      endpoint speech model (default tts-1)
    SIMULACRA_TTS_VOICE      endpoint voice (default alloy)

`auto` uses the audio endpoint when one is configured, else the best offline engine installed.
A chat endpoint alone (SIMULACRA_BASE_URL) does not switch speech to it, since vLLM, Ollama and
llama.cpp servers do not serve audio; ask for it with SIMULACRA_STT=endpoint / SIMULACRA_TTS=endpoint.
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ValidationError

from simulacra.errors import ConfigError

_ENV = {
    "stt": "SIMULACRA_STT",
    "tts": "SIMULACRA_TTS",
    "whisper_model": "SIMULACRA_WHISPER_MODEL",
    "language": "SIMULACRA_STT_LANGUAGE",
    "piper_voice": "SIMULACRA_PIPER_VOICE",
    "espeak_voice": "SIMULACRA_ESPEAK_VOICE",
    "audio_base_url": "SIMULACRA_AUDIO_BASE_URL",
    "audio_api_key": "SIMULACRA_AUDIO_API_KEY",
    "stt_model": "SIMULACRA_STT_MODEL",
    "tts_model": "SIMULACRA_TTS_MODEL",
    "tts_voice": "SIMULACRA_TTS_VOICE",
}


class SpeechSettings(BaseModel):
    stt: Literal["auto", "whisper", "endpoint", "none"] = "auto"
    tts: Literal["auto", "piper", "espeak", "endpoint", "none"] = "auto"
    whisper_model: str | None = None
    language: str | None = "en"
    piper_voice: str | None = None
    espeak_voice: str = "en-us"
    audio_base_url: str | None = None
    audio_api_key: str | None = None
    stt_model: str = "whisper-1"
    tts_model: str = "tts-1"
    tts_voice: str = "alloy"

    @property
    def has_audio_endpoint(self) -> bool:
        return bool(self.audio_base_url or self.audio_api_key)

    def endpoint(self) -> tuple[str | None, str]:
        """(base URL, API key) for audio calls: the audio endpoint, else the chat endpoint, else OpenAI."""
        base = self.audio_base_url or os.environ.get("SIMULACRA_BASE_URL") or None
        key = (
            self.audio_api_key
            or os.environ.get("SIMULACRA_API_KEY")
            or os.environ.get("OPENAI_API_KEY")
            or ("not-needed" if base else None)
        )
        if key is None:
            raise ConfigError(
                "speech endpoint requested but no endpoint is configured: set SIMULACRA_AUDIO_BASE_URL "
                "(and SIMULACRA_AUDIO_API_KEY if it needs one)"
            )
        return base, key


def load_speech_settings(**overrides: object) -> SpeechSettings:
    """Environment over defaults, explicit keyword overrides over both."""
    data: dict[str, object] = {}
    for field, name in _ENV.items():
        value = os.environ.get(name)
        if value is None:
            continue
        if field == "language":  # empty means "detect the language"
            data[field] = value.strip() or None
        elif value.strip():
            data[field] = value.strip()
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return SpeechSettings(**data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        raise ConfigError(f"environment: {_ENV.get(field, field)} is invalid: {first['msg']}") from None
