"""Chat completions against any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp server).

Transient failures (connection lost, timeouts, 429, 5xx) are retried with exponential backoff; when the
server stays away an `EndpointError` says which URL failed, and callers keep everything already saved.
"""

from __future__ import annotations

import math
from typing import Any

import openai
from tenacity import AsyncRetrying, RetryError, retry_if_exception_type, stop_after_attempt, wait_exponential

from simulacra.config import LLMSettings
from simulacra.errors import EndpointError
from simulacra.llm.fake import approx_tokens
from simulacra.llm.types import BackendReply, ChatRequest, Message, Usage

TRANSIENT = (openai.APIConnectionError, openai.APITimeoutError, openai.RateLimitError, openai.InternalServerError)


class OpenAIBackend:
    is_local = False

    def __init__(self, settings: LLMSettings):
        self.settings = settings
        self.base_url = settings.base_url or "https://api.openai.com/v1"
        self.model = settings.model or "gpt-4o-mini"
        self.context_size = settings.context_size or 8192
        self._client = openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=settings.api_key or "not-needed",
            timeout=settings.request_timeout,
            max_retries=0,  # tenacity below does the retrying, so the count is ours
        )

    def _response_format(self, request: ChatRequest) -> dict[str, Any] | None:
        if request.json_schema is None or self.settings.structured_output == "none":
            return None
        if self.settings.structured_output == "json_object":
            return {"type": "json_object"}
        return {
            "type": "json_schema",
            "json_schema": {"name": request.schema_name[:64] or "answer", "schema": request.json_schema, "strict": False},
        }

    async def _call(self, **kwargs: Any) -> Any:
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self.settings.max_retries + 1),
                wait=wait_exponential(multiplier=0.5, max=20),
                retry=retry_if_exception_type(TRANSIENT),
                reraise=False,
            ):
                with attempt:
                    return await self._client.chat.completions.create(**kwargs)
        except RetryError as exc:
            raise EndpointError(
                f"endpoint {self.base_url} did not answer after {self.settings.max_retries + 1} attempts: "
                f"{exc.last_attempt.exception()}"
            ) from exc
        except openai.APIStatusError as exc:
            raise EndpointError(f"endpoint {self.base_url} refused the request ({exc.status_code}): {exc.message}") from exc

    async def complete(self, request: ChatRequest) -> BackendReply:
        kwargs: dict[str, Any] = dict(
            model=self.model,
            messages=request.messages,
            temperature=request.temperature,
            max_tokens=request.max_tokens,
        )
        fmt = self._response_format(request)
        if fmt is not None:
            kwargs["response_format"] = fmt
        if request.seed is not None:
            kwargs["seed"] = request.seed
        if request.stop:
            kwargs["stop"] = request.stop
        response = await self._call(**kwargs)
        choice = response.choices[0]
        usage = response.usage
        return BackendReply(
            text=choice.message.content or "",
            usage=Usage(usage.prompt_tokens if usage else 0, usage.completion_tokens if usage else 0, None),
            finish_reason=choice.finish_reason,
        )

    async def option_logprobs(self, messages: list[Message], options: list[str]) -> dict[str, float]:
        response = await self._call(
            model=self.model, messages=messages, max_tokens=1, temperature=0, logprobs=True, top_logprobs=20
        )
        content = response.choices[0].logprobs.content if response.choices[0].logprobs else None
        if not content:
            raise EndpointError(f"endpoint {self.base_url} returned no logprobs (model {self.model})")
        found: dict[str, float] = {}
        for top in content[0].top_logprobs:
            token = top.token.strip()
            if token in options and token not in found:
                found[token] = top.logprob
        floor = min(found.values(), default=0.0) - 10.0
        return {option: found.get(option, floor if found else -math.inf) for option in options}

    def count_tokens(self, text: str) -> int:
        return approx_tokens(text)

    async def aclose(self) -> None:
        await self._client.close()
