"""Language-model access: `open_llm()` returns the one `LLM` everything uses.

With an endpoint configured (base URL or API key) calls go to that OpenAI-compatible server; otherwise
the embedded local model runs in this process (llama.cpp, no key, no network). Callers cannot tell
which, except through `LLM.keeps_prefix_warm`, which says to group work by agent.
"""

from __future__ import annotations

from simulacra.config import Settings, load_settings
from simulacra.llm.cache import ResponseCache
from simulacra.llm.client import LLM, Structured, UsageMeter, extract_json
from simulacra.llm.fake import FakeBackend
from simulacra.llm.types import BackendReply, ChatBackend, ChatRequest, ChatResult, Message, Usage
from simulacra.workspace import Workspace

__all__ = [
    "LLM",
    "Structured",
    "UsageMeter",
    "FakeBackend",
    "ChatBackend",
    "ChatRequest",
    "ChatResult",
    "BackendReply",
    "Message",
    "Usage",
    "ResponseCache",
    "extract_json",
    "open_llm",
    "make_backend",
    "describe_backend",
]


def make_backend(settings: Settings, workspace: Workspace | None = None) -> ChatBackend:
    if settings.llm.uses_endpoint:
        from simulacra.llm.openai_backend import OpenAIBackend

        return OpenAIBackend(settings.llm)
    from simulacra.llm.local_backend import LocalLlamaBackend

    return LocalLlamaBackend.shared(settings.llm, workspace)


def open_llm(
    settings: Settings | None = None,
    workspace: Workspace | None = None,
    *,
    cache: bool = True,
    backend: ChatBackend | None = None,
) -> LLM:
    """The configured LLM with the workspace's response cache (`cache/llm.sqlite`)."""
    settings = settings or load_settings()
    workspace = workspace or Workspace.default()
    backend = backend or make_backend(settings, workspace)
    store = ResponseCache(workspace.cache / "llm.sqlite") if cache else None
    return LLM(backend, settings.llm, store)


def describe_backend(settings: Settings) -> dict[str, str]:
    """What would be used, without loading anything (for `simulacra doctor` and run manifests)."""
    if settings.llm.uses_endpoint:
        return {
            "kind": "endpoint",
            "base_url": settings.llm.base_url or "https://api.openai.com/v1",
            "model": settings.llm.model or "gpt-4o-mini",
        }
    return {"kind": "embedded", "model": settings.llm.local_model}
