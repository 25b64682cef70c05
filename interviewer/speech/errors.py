"""Errors a respondent's audio or the speech setup can cause (all `SimulacraError`s, so the CLI prints them)."""

from __future__ import annotations

from simulacra.errors import SimulacraError


class SpeechError(SimulacraError):
    """Speech-to-text or text-to-speech failed."""


class AudioFormatError(SpeechError):
    """The uploaded bytes are not audio we can decode (wrong container, corrupt or truncated)."""


class SpeechUnavailableError(SpeechError):
    """No engine of the requested kind is installed or configured (names what to install or set)."""
