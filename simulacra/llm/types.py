"""Plain data that crosses the language-model layer: requests, replies, usage."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # Prompt tokens actually computed (not served from a warm prefix); None when the backend cannot tell.
    prompt_tokens_evaluated: int | None = None

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class ChatRequest:
    messages: list[Message]
    temperature: float = 0.0
    max_tokens: int = 512
    json_schema: dict[str, Any] | None = None
    schema_name: str = "answer"
    seed: int | None = None
    stop: list[str] | None = None

    def cache_payload(self, model: str, sample: int = 0, retry_round: int = 0) -> dict[str, Any]:
        payload = {
            "model": model,
            "messages": self.messages,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            # as a string: the cache key sorts keys, but property order changes what the model writes first
            "json_schema": json.dumps(self.json_schema) if self.json_schema is not None else None,
            "seed": self.seed,
            "stop": self.stop,
            "sample": sample,
        }
        if retry_round:  # only when set, so every key written before retry rounds existed stays valid
            payload["retry_round"] = retry_round
        return payload


@dataclass
class Attempt:
    """One structured-output attempt that did not validate: what the model said and what was wrong.

    The fields match `surveys.model.AnswerAttempt` (raw, error, round, at), so an answer can keep the
    history of its failed attempts: `AnswerAttempt(**dataclasses.asdict(attempt))`.
    """

    raw: str
    error: str | None = None
    round: int = 0  # the retry round the attempt belonged to (0: the first pass)
    at: float = 0.0  # unix time the reply arrived


@dataclass
class BackendReply:
    text: str
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None


@dataclass
class OptionScores:
    """What a backend's option scoring returns: each label's log-probability and the tokens the pass cost
    (so option scoring is counted in usage like any other call)."""

    logprobs: dict[str, float]
    usage: Usage = field(default_factory=Usage)


@dataclass
class ChatResult:
    """What callers get back from `LLM.chat`."""

    text: str
    usage: Usage
    cost_usd: float
    cached: bool
    model: str
    finish_reason: str | None = None
    seconds: float = 0.0


@runtime_checkable
class ChatBackend(Protocol):
    """One way to run chat completions: an OpenAI-compatible endpoint, the embedded model, or a fake.

    Callers never use a backend directly; they go through `simulacra.llm.LLM`, which adds the cache,
    retries, schema validation, concurrency limits and usage accounting.
    """

    model: str  # identifies the model in cache keys and manifests
    context_size: int
    is_local: bool  # True: the prompt prefix stays warm between calls (order work by agent)

    async def complete(self, request: ChatRequest) -> BackendReply: ...

    async def option_logprobs(self, messages: list[Message], options: list[str]) -> OptionScores:
        """Log-probability of each option label as the next token after the prompt (one forward pass), with
        the pass's token usage."""
        ...

    def count_tokens(self, text: str) -> int: ...

    async def aclose(self) -> None: ...
