"""`LLM`: the one async interface everything else uses to talk to a language model.

It wraps a backend (OpenAI-compatible endpoint, embedded llama.cpp model, or a scripted fake) with:
- a content-addressed SQLite cache (a repeated call makes no request and costs nothing);
- a concurrency bound (the endpoint's `max_concurrency`);
- structured output: a JSON schema is sent with the request (grammar on the local model,
  `response_format` on servers), the reply is parsed and validated with pydantic plus an optional
  caller check, invalid output is repaired (the problems are shown to the model) and retried with
  backoff (tenacity), and a reply that stays invalid raises `StructuredOutputError` (with every attempt)
  for the caller to record as a failure; only validated replies are cached, so a retry really asks again;
- token and cost accounting per call, summed in a `UsageMeter`;
- provenance: every cache entry written or served is tagged with the respondents of the calling scope
  (`simulacra.llm.provenance.about`), read before the request leaves the task (a backend's thread does not
  see the scope), so withdrawing a respondent finds every entry made from their words.
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
from simulacra.llm import provenance
from simulacra.llm.cache import ResponseCache, cache_key
from simulacra.llm.types import Attempt, BackendReply, ChatBackend, ChatRequest, ChatResult, Message, Usage

log = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseModel)

# The temperature a retry round samples at when the configured one is 0 (greedy would repeat the failure).
RETRY_TEMPERATURE = 0.7


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
    attempts: int  # how many model attempts this call took (1: the first reply validated)
    raw: str = ""
    repairs: list[str] = field(default_factory=list)
    history: list[Attempt] = field(default_factory=list)  # the attempts that failed before `value`


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

    @property
    def structured_mode(self) -> str:
        """How structured output is asked for: "grammar" (embedded model), an endpoint's mode, or "validated"."""
        if self.backend.is_local:
            return "grammar"
        return str(getattr(self.backend, "structured_mode", "validated"))

    def count_tokens(self, text: str) -> int:
        return self.backend.count_tokens(text)

    def cost(self, usage: Usage) -> float:
        s = self.settings
        return usage.prompt_tokens / 1000 * s.price_input_per_1k + usage.completion_tokens / 1000 * s.price_output_per_1k

    # -- calls ----------------------------------------------------------------------------------------
    def _request(
        self,
        messages: list[Message],
        *,
        temperature: float | None,
        max_tokens: int | None,
        json_schema: dict[str, Any] | None,
        schema_name: str,
        seed: int | None,
        stop: list[str] | None,
        retry_round: int,
        sample: int = 0,
    ) -> ChatRequest:
        effective = self.settings.temperature if temperature is None else temperature
        if retry_round > 0 and effective == 0:
            # A retry must be able to get a different answer: greedy decoding (temperature 0 on llama.cpp and
            # most servers) would replay the same reply, so a retry round samples, seeded by its number.
            effective = RETRY_TEMPERATURE
        if seed is None and (retry_round > 0 or (sample > 0 and effective > 0)):
            # Distinct samples and rounds need distinct seeds: the embedded model seeds every unseeded call
            # alike, so sample k at temperature > 0 would otherwise repeat sample 0. Round r (sample 0): seed r.
            seed = retry_round + 1000 * sample
        return ChatRequest(
            messages=list(messages),
            temperature=effective,
            max_tokens=max_tokens or self.settings.max_tokens,
            json_schema=json_schema,
            schema_name=schema_name,
            seed=seed,
            stop=stop,
        )

    def _cached(self, key: str, respondents: frozenset[str] = frozenset()) -> ChatResult | None:
        if self.cache is None:
            return None
        hit = self.cache.get(key)
        if hit is None:
            return None
        if respondents:  # served again for these people: it is made from their words too
            self.cache.tag(key, respondents)
        return ChatResult(hit.text, hit.usage, 0.0, True, self.model, hit.finish_reason)

    async def _call_backend(self, request: ChatRequest) -> tuple[ChatResult, BackendReply]:
        async with self._semaphore:
            started = time.perf_counter()
            reply = await self.backend.complete(request)
            seconds = time.perf_counter() - started
        result = ChatResult(reply.text, reply.usage, self.cost(reply.usage), False, self.model, reply.finish_reason, seconds)
        log.debug("llm call: %d prompt + %d completion tokens in %.2fs", reply.usage.prompt_tokens, reply.usage.completion_tokens, seconds)
        return result, reply

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
        retry_round: int = 0,
    ) -> ChatResult:
        """One completion. `retry_round` > 0 asks anew (own cache key; sampled when greedy, see `structured`)."""
        request = self._request(
            messages, temperature=temperature, max_tokens=max_tokens, json_schema=json_schema,
            schema_name=schema_name, seed=seed, stop=stop, retry_round=retry_round, sample=sample,
        )
        payload = request.cache_payload(self.model, sample, retry_round)
        key = cache_key(payload)
        respondents = provenance.current()  # read here: the backend may answer on another thread
        if use_cache:
            hit = self._cached(key, respondents)
            if hit is not None:
                self.usage.add(hit)
                return hit
        result, reply = await self._call_backend(request)
        self.usage.add(result)
        if self.cache is not None:
            self.cache.put(key, self.model, payload, reply, respondents)
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
        retry_round: int = 0,
    ) -> Structured[T]:
        """Ask for JSON matching `output_type`; repair and retry until it validates.

        `validate` may raise ValueError for checks a schema cannot express (e.g. "this option exists").
        `json_schema` overrides the schema sent to the model (e.g. one with an enum of the valid options).

        Only replies that validate are written to the response cache, and a cached reply is validated again
        before it is served, so an invalid reply is never replayed as if it were good (caches written by older
        versions may hold some: they are dropped and the model is asked). `retry_round` > 0 is a retry pass
        over earlier failures (`--retry-failed`): it gets its own cache key and, when the temperature is 0,
        samples at `RETRY_TEMPERATURE` with seed=`retry_round`, so a deterministic backend answers anew.
        The failed attempts are kept: `Structured.history` on success, `StructuredOutputError.attempts` on
        failure.
        """
        schema = json_schema or output_type.model_json_schema()
        conversation = list(messages)
        repairs: list[str] = []
        history: list[Attempt] = []
        attempt_no = 0
        max_attempts = attempts or self.settings.max_retries
        respondents = provenance.current()  # read here: the backend may answer on another thread

        def check(text: str) -> tuple[T | None, list[str]]:
            try:
                value = output_type.model_validate(extract_json(text))
                if validate is not None:
                    validate(value)
            except ValidationError as exc:
                return None, [f"{'.'.join(map(str, e['loc'])) or 'reply'}: {e['msg']}" for e in exc.errors()]
            except ValueError as exc:
                return None, [str(exc)]
            return value, []

        async def one_attempt() -> Structured[T]:
            nonlocal attempt_no, conversation
            attempt_no += 1
            request = self._request(
                conversation, temperature=temperature, max_tokens=max_tokens, json_schema=schema,
                schema_name=output_type.__name__, seed=None, stop=None, retry_round=retry_round, sample=sample,
            )
            payload = request.cache_payload(self.model, sample, retry_round)
            key = cache_key(payload)
            hit = self._cached(key, respondents)
            if hit is not None:
                value, problems = check(hit.text)
                if not problems:
                    self.usage.add(hit)
                    return Structured(value, hit, attempt_no, hit.text, repairs, history)  # type: ignore[arg-type]
                log.debug("dropping an invalid cached reply (%s)", "; ".join(problems))
                assert self.cache is not None
                self.cache.delete(key)
            result, reply = await self._call_backend(request)
            self.usage.add(result)
            value, problems = check(result.text)
            if not problems:
                if self.cache is not None:
                    self.cache.put(key, self.model, payload, reply, respondents)
                return Structured(value, result, attempt_no, result.text, repairs, history)  # type: ignore[arg-type]
            history.append(Attempt(result.text, "; ".join(problems), retry_round, time.time()))
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
                raw=inner.raw if isinstance(inner, _Invalid) else "",
                problems=problems,
                attempts=history,
            ) from inner
        raise AssertionError("unreachable")

    async def option_logprobs(self, messages: list[Message], options: list[str]) -> dict[str, float]:
        """Next-token log-probabilities of each option label after `messages` (one forward pass), counted in
        `usage` as a call with its tokens, cost and time (never cached: a pass is as cheap as a cache read)."""
        async with self._semaphore:
            started = time.perf_counter()
            scores = await self.backend.option_logprobs(list(messages), list(options))
            seconds = time.perf_counter() - started
        self.usage.add(ChatResult("", scores.usage, self.cost(scores.usage), False, self.model, "length", seconds))
        return scores.logprobs

    async def aclose(self) -> None:
        await self.backend.aclose()
