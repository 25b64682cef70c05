"""`LLM`: the one async interface everything else uses to talk to a language model.

It wraps a backend (OpenAI-compatible endpoint, embedded llama.cpp model, or a scripted fake) with:
- a content-addressed SQLite cache (a repeated call makes no request and costs nothing);
- a concurrency bound (the endpoint's `max_concurrency`);
- structured output: a JSON schema is sent with the request (grammar on the local model,
  `response_format` on servers), the reply is parsed and validated with pydantic plus an optional
  caller check, invalid output is repaired (the problems are shown to the model) and retried with
  backoff (tenacity), and a reply that stays invalid raises `StructuredOutputError` for the caller to
  record as a failure;
- token and cost accounting per call, summed in a `UsageMeter`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from tenacity import AsyncRetrying, RetryError, retry_if_exception_type, stop_after_attempt, wait_exponential

from simulacra.config import LLMSettings
from simulacra.errors import StructuredOutputError
from simulacra.llm.cache import ResponseCache, cache_key
from simulacra.llm.types import ChatBackend, ChatRequest, ChatResult, Message, Usage

log = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseModel)


@dataclass
class UsageMeter:
    """Running totals for a session or a run (tokens, cost, calls, cache hits, failures)."""

    calls: int = 0
    cached_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    prompt_tokens_evaluated: int = 0
    cost_usd: float = 0.0
    failures: int = 0
    seconds: float = 0.0

    def add(self, result: ChatResult) -> None:
        self.calls += 1
        if result.cached:
            self.cached_calls += 1
            return
        self.prompt_tokens += result.usage.prompt_tokens
        self.completion_tokens += result.usage.completion_tokens
        evaluated = result.usage.prompt_tokens_evaluated
        self.prompt_tokens_evaluated += result.usage.prompt_tokens if evaluated is None else evaluated
        self.cost_usd += result.cost_usd
        self.seconds += result.seconds

    def snapshot(self) -> dict[str, Any]:
        return dict(self.__dict__)


class _Invalid(Exception):
    def __init__(self, raw: str, problems: list[str]):
        super().__init__("; ".join(problems))
        self.raw = raw
        self.problems = problems


@dataclass
class Structured(Generic[T]):
    value: T
    result: ChatResult
    attempts: int
    raw: str = ""
    repairs: list[str] = field(default_factory=list)


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def extract_json(text: str) -> Any:
    """Parse JSON from a model reply, tolerating code fences and prose around one object or array."""
    text = text.strip()
    try:  # strict=False: grammar-constrained local models may write raw line breaks inside strings
        return json.loads(text, strict=False)
    except json.JSONDecodeError:
        pass
    fenced = _FENCE.search(text)
    if fenced:
        try:
            return json.loads(fenced.group(1), strict=False)
        except json.JSONDecodeError:
            pass
    decoder = json.JSONDecoder(strict=False)
    for index, char in enumerate(text):
        if char in "{[":
            try:
                value, _ = decoder.raw_decode(text[index:])
                return value
            except json.JSONDecodeError:
                continue
    raise ValueError("no JSON object found in the reply")


class LLM:
    def __init__(
        self,
        backend: ChatBackend,
        settings: LLMSettings | None = None,
        cache: ResponseCache | None = None,
        meter: UsageMeter | None = None,
    ):
        self.backend = backend
        self.settings = settings or LLMSettings()
        self.cache = cache
        self.usage = meter or UsageMeter()
        self._semaphore = asyncio.Semaphore(self.settings.max_concurrency)

    # -- facts callers use to plan work -------------------------------------------------------------
    @property
    def model(self) -> str:
        return self.backend.model

    @property
    def context_size(self) -> int:
        return self.settings.context_size or self.backend.context_size

    @property
    def keeps_prefix_warm(self) -> bool:
        """True when consecutive calls sharing a prompt prefix are cheap: group work by agent."""
        return self.backend.is_local

    def count_tokens(self, text: str) -> int:
        return self.backend.count_tokens(text)

    def cost(self, usage: Usage) -> float:
        s = self.settings
        return usage.prompt_tokens / 1000 * s.price_input_per_1k + usage.completion_tokens / 1000 * s.price_output_per_1k

    # -- calls ----------------------------------------------------------------------------------------
    async def chat(
        self,
        messages: list[Message],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        json_schema: dict[str, Any] | None = None,
        schema_name: str = "answer",
        seed: int | None = None,
        stop: list[str] | None = None,
        sample: int = 0,
        use_cache: bool = True,
    ) -> ChatResult:
        request = ChatRequest(
            messages=list(messages),
            temperature=self.settings.temperature if temperature is None else temperature,
            max_tokens=max_tokens or self.settings.max_tokens,
            json_schema=json_schema,
            schema_name=schema_name,
            seed=seed,
            stop=stop,
        )
        payload = request.cache_payload(self.model, sample)
        key = cache_key(payload)
        if use_cache and self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                result = ChatResult(hit.text, hit.usage, 0.0, True, self.model, hit.finish_reason)
                self.usage.add(result)
                return result
        async with self._semaphore:
            started = time.perf_counter()
            reply = await self.backend.complete(request)
            seconds = time.perf_counter() - started
        result = ChatResult(reply.text, reply.usage, self.cost(reply.usage), False, self.model, reply.finish_reason, seconds)
        self.usage.add(result)
        if self.cache is not None:
            self.cache.put(key, self.model, payload, reply)
        log.debug("llm call: %d prompt + %d completion tokens in %.2fs", reply.usage.prompt_tokens, reply.usage.completion_tokens, seconds)
        return result

    async def structured(
        self,
        messages: list[Message],
        output_type: type[T],
        *,
        validate: Callable[[T], None] | None = None,
        json_schema: dict[str, Any] | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        attempts: int | None = None,
        sample: int = 0,
    ) -> Structured[T]:
        """Ask for JSON matching `output_type`; repair and retry until it validates.

        `validate` may raise ValueError for checks a schema cannot express (e.g. "this option exists").
        `json_schema` overrides the schema sent to the model (e.g. one with an enum of the valid options).
        """
        schema = json_schema or output_type.model_json_schema()
        conversation = list(messages)
        repairs: list[str] = []
        attempt_no = 0
        max_attempts = attempts or self.settings.max_retries
        last: dict[str, Any] = {}

        async def one_attempt() -> Structured[T]:
            nonlocal attempt_no, conversation
            attempt_no += 1
            result = await self.chat(
                conversation,
                temperature=temperature,
                max_tokens=max_tokens,
                json_schema=schema,
                schema_name=output_type.__name__,
                sample=sample,
            )
            last["raw"] = result.text
            problems: list[str] = []
            value: T | None = None
            try:
                value = output_type.model_validate(extract_json(result.text))
                if validate is not None:
                    validate(value)
            except ValidationError as exc:
                problems = [f"{'.'.join(map(str, e['loc'])) or 'reply'}: {e['msg']}" for e in exc.errors()]
            except ValueError as exc:
                problems = [str(exc)]
            if problems:
                repairs.append("; ".join(problems))
                conversation = list(messages) + [
                    {"role": "assistant", "content": result.text[:2000]},
                    {
                        "role": "user",
                        "content": "That reply was not valid: "
                        + "; ".join(problems)
                        + ". Reply again with only a JSON object that follows the schema and uses only the allowed values.",
                    },
                ]
                raise _Invalid(result.text, problems)
            assert value is not None
            return Structured(value, result, attempt_no, result.text, repairs)

        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(max_attempts),
                wait=wait_exponential(multiplier=0.05, max=2),
                retry=retry_if_exception_type(_Invalid),
                reraise=False,
            ):
                with attempt:
                    return await one_attempt()
        except RetryError as exc:
            self.usage.failures += 1
            inner = exc.last_attempt.exception()
            problems = inner.problems if isinstance(inner, _Invalid) else [str(inner)]
            raise StructuredOutputError(
                f"model output stayed invalid after {max_attempts} attempts: {'; '.join(problems)}",
                raw=last.get("raw", ""),
                problems=problems,
            ) from inner
        raise AssertionError("unreachable")

    async def option_logprobs(self, messages: list[Message], options: list[str]) -> dict[str, float]:
        """Next-token log-probabilities of each option label after `messages` (one forward pass)."""
        async with self._semaphore:
            return await self.backend.option_logprobs(list(messages), list(options))

    async def aclose(self) -> None:
        await self.backend.aclose()
