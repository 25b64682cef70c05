"""Speech for voice interviews: speech-to-text (Whisper) and text-to-speech (piper, espeak-ng), offline by
default, an OpenAI-compatible audio endpoint when configured.

    stt = open_stt()          # SpeechToText | None  (None: typed answers only)
    tts = open_tts()          # TextToSpeech | None  (None: subtitles only)
    stt.transcribe(webm_bytes, "audio/webm").text
    tts.synthesize("Hello") -> WAV bytes
"""

from __future__ import annotations

import logging
import shutil

from interviewer.speech.errors import AudioFormatError, SpeechError, SpeechUnavailableError
from interviewer.speech.settings import SpeechSettings, load_speech_settings
from interviewer.speech.stt import SpeechToText, Transcription
from interviewer.speech.tts import TextToSpeech
from simulacra.extras import install_hint, installed
from simulacra.workspace import Workspace

__all__ = [
    "SpeechToText",
    "TextToSpeech",
    "Transcription",
    "SpeechSettings",
    "SpeechError",
    "AudioFormatError",
    "SpeechUnavailableError",
    "load_speech_settings",
    "open_stt",
    "open_tts",
]

log = logging.getLogger(__name__)


def open_stt(settings: SpeechSettings | None = None, workspace: Workspace | None = None) -> SpeechToText | None:
    """The speech-to-text engine the settings ask for; None when speech input is turned off.

    `auto` falls back to None (typed answers) if no model is installed, with a warning; an explicit
    choice that cannot be honoured raises `SpeechUnavailableError` naming what to install.
    """
    settings = settings or load_speech_settings()
    if settings.stt == "none":
        return None
    if settings.stt == "endpoint" or (settings.stt == "auto" and settings.has_audio_endpoint):
        from interviewer.speech.stt import EndpointSTT  # only the chosen backend (extras)

        base, key = settings.endpoint()
        return EndpointSTT(base, key, settings.stt_model, settings.language)
    from interviewer.speech.models import find_whisper_model  # only the chosen backend (extras)
    from interviewer.speech.stt import WhisperSTT

    if not installed("faster_whisper"):
        missing = f"speech recognition needs the voice extra: {install_hint('voice')}"
        if settings.stt == "auto" and not settings.whisper_model:
            log.warning("speech input off (typed answers only): %s", missing)
            return None
        raise SpeechUnavailableError(missing)
    workspace = workspace or Workspace.default()
    try:
        location = find_whisper_model(settings.whisper_model, workspace.models)
    except SpeechUnavailableError as exc:
        if settings.stt == "auto" and not settings.whisper_model:
            log.warning("speech input off (typed answers only): %s", exc)
            return None
        raise
    return WhisperSTT(location.path, label=location.label, language=settings.language)


def open_tts(settings: SpeechSettings | None = None) -> TextToSpeech | None:
    """The best text-to-speech engine available: endpoint (if configured) > piper > espeak-ng; None if none."""
    settings = settings or load_speech_settings()
    choice = settings.tts
    if choice == "none":
        return None
    if choice == "endpoint" or (choice == "auto" and settings.has_audio_endpoint):
        from interviewer.speech.tts import EndpointTTS  # only the chosen backend (extras)

        base, key = settings.endpoint()
        return EndpointTTS(base, key, settings.tts_model, settings.tts_voice)
    if choice in ("auto", "piper"):
        from interviewer.speech.models import find_piper_voice  # only the chosen backend (extras)
        from interviewer.speech.tts import PiperTTS

        voice = find_piper_voice(settings.piper_voice)
        if voice is not None:
            return PiperTTS(voice.path, label=voice.label)
        if choice == "piper":
            raise SpeechUnavailableError("piper or its voice is not installed: pip install 'simulacra[piper]'")
    from interviewer.speech.tts import EspeakTTS  # only the chosen backend (extras)

    if choice == "espeak" or shutil.which("espeak-ng") or shutil.which("espeak"):
        return EspeakTTS(settings.espeak_voice)
    log.warning("speech output off (subtitles only): neither piper nor espeak-ng is installed")
    return None
