"""Language-model access: `open_llm()` returns the one `LLM` everything uses.

With an endpoint configured (base URL or API key) calls go to that OpenAI-compatible server; otherwise
the embedded local model runs in this process (llama.cpp, no key, no network). Callers cannot tell
which, except through `LLM.keeps_prefix_warm`, which says to group work by agent.
"""

from __future__ import annotations

from simulacra.config import LLMSettings, Settings, load_settings
from simulacra.llm.cache import ResponseCache
from simulacra.llm.client import LLM, RETRY_TEMPERATURE, Structured, UsageMeter, extract_json
from simulacra.llm.endpoints import STRUCTURED_MODES, EndpointMemory
from simulacra.llm.fake import FakeBackend
from simulacra.llm.types import Attempt, BackendReply, ChatBackend, ChatRequest, ChatResult, Message, Usage
from simulacra.workspace import Workspace

__all__ = [
    "LLM",
    "Attempt",
    "RETRY_TEMPERATURE",
    "STRUCTURED_MODES",
    "EndpointMemory",
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
    "negotiated_mode",
]


def make_backend(
    settings: Settings | LLMSettings, workspace: Workspace | None = None, *, role: str = "agents"
) -> ChatBackend:
    """The backend of one role's settings: its endpoint (remembering what it accepts in the workspace), or the
    embedded model (one loaded copy per model file, shared by the roles that use it)."""
    llm_settings = settings.for_role(role) if isinstance(settings, Settings) else settings
    if llm_settings.uses_fleet:  # several replicas: prefix-affinity routing (simulacra.llm.fleet)
        from simulacra.llm.fleet import FleetBackend  # only the chosen backend's client is loaded

        return FleetBackend(llm_settings, EndpointMemory.for_workspace(workspace) if workspace is not None else None)
    if llm_settings.uses_endpoint:
        from simulacra.llm.openai_backend import OpenAIBackend  # (the OpenAI client)

        memory = EndpointMemory.for_workspace(workspace) if workspace is not None else None
        return OpenAIBackend(llm_settings, memory)
    from simulacra.llm.local_backend import LocalLlamaBackend  # (llama.cpp)

    return LocalLlamaBackend.shared(llm_settings, workspace)


def open_llm(
    settings: Settings | None = None,
    workspace: Workspace | None = None,
    *,
    cache: bool = True,
    backend: ChatBackend | None = None,
    role: str = "agents",
) -> LLM:
    """The configured LLM of a role ("agents" or "interviewer") with the workspace's response cache
    (`cache/llm.sqlite`; keys include the model, so roles on different models never share answers)."""
    settings = settings or load_settings()
    workspace = workspace or Workspace.default()
    llm_settings = settings.for_role(role)
    backend = backend or make_backend(llm_settings, workspace)
    fleet_limit = getattr(backend, "total_concurrency", None)  # a fleet: the sum of its replicas' limits
    if fleet_limit:
        llm_settings = llm_settings.model_copy(update={"max_concurrency": fleet_limit})
    store = ResponseCache(workspace.cache / "llm.sqlite") if cache else None
    return LLM(backend, llm_settings, store)


def describe_backend(
    settings: Settings | LLMSettings, workspace: Workspace | None = None, *, role: str = "agents"
) -> dict[str, str]:
    """What a role would use, without loading anything (for `simulacra doctor` and run manifests).

    Besides kind and model it pins what changes answers: temperature, max_tokens, the configured
    structured-output mode (stable: "auto" stays "auto"; `negotiated_mode` says what an endpoint accepted) and
    the seed behaviour. All values are strings (printable as they are); `LLMSettings.pinned()` has the typed ones.
    """
    llm_settings = settings.for_role(role) if isinstance(settings, Settings) else settings
    pinned = llm_settings.pinned()
    described = {"kind": pinned["kind"]}
    if pinned["base_url"]:
        described["base_url"] = pinned["base_url"]
    described["model"] = pinned["model"]
    described["temperature"] = str(pinned["temperature"])
    described["max_tokens"] = str(pinned["max_tokens"])
    described["structured_output"] = pinned["structured_output"]
    described["seed"] = pinned["seed"]
    return described


def negotiated_mode(settings: Settings | LLMSettings, workspace: Workspace | None = None, *, role: str = "agents") -> str | None:
    """The structured-output mode this workspace found the role's endpoint to accept (None: not yet, or embedded)."""
    llm_settings = settings.for_role(role) if isinstance(settings, Settings) else settings
    if not llm_settings.uses_endpoint:
        return None
    pinned = llm_settings.pinned()
    known = EndpointMemory.for_workspace(workspace or Workspace.default()).get(pinned["base_url"], pinned["model"])
    return known.get("structured_output")
