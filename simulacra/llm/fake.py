"""A scripted chat model for unit tests: deterministic, instant, and it records every request.

    backend = FakeBackend(['{"choice": "2"}', lambda req: "hello"])
    llm = LLM(backend)

Each call takes the next scripted reply (a string, or a function of the `ChatRequest`); when the script
runs out, `default` is used (a string or function). `requests` keeps what was asked, for assertions.
"""

from __future__ import annotations

from collections import deque
from typing import Callable, Iterable

from simulacra.errors import LogprobsUnsupportedError
from simulacra.llm.types import BackendReply, ChatRequest, Message, OptionScores, Usage
from simulacra.llm.tokens import approx_tokens

Reply = str | Callable[[ChatRequest], str]


class FakeBackend:
    is_local = False

    def __init__(
        self,
        script: Iterable[Reply] = (),
        default: Reply | None = None,
        model: str = "fake-model",
        context_size: int = 8192,
        logprobs: Callable[[list[Message], list[str]], dict[str, float]] | None = None,
        fail_after: int | None = None,
    ):
        self.script: deque[Reply] = deque(script)
        self.default = default
        self.model = model
        self.context_size = context_size
        self.requests: list[ChatRequest] = []
        self._logprobs = logprobs
        self.fail_after = fail_after  # raise ConnectionError on call number fail_after + 1 (server gone)

    async def complete(self, request: ChatRequest) -> BackendReply:
        if self.fail_after is not None and len(self.requests) >= self.fail_after:
            raise ConnectionError("fake endpoint went away")
        self.requests.append(request)
        if self.script:
            reply = self.script.popleft()
        elif self.default is not None:
            reply = self.default
        else:
            raise AssertionError(f"FakeBackend script exhausted at call {len(self.requests)}")
        text = reply(request) if callable(reply) else reply
        prompt = sum(approx_tokens(m["content"]) for m in request.messages)
        return BackendReply(text=text, usage=Usage(prompt, approx_tokens(text), prompt), finish_reason="stop")

    async def option_logprobs(self, messages: list[Message], options: list[str]) -> OptionScores:
        if self._logprobs is None:  # like an endpoint that gives none: the clear error, never silent generation
            raise LogprobsUnsupportedError("the fake model has no log-probabilities (FakeBackend(logprobs=...) not set)")
        prompt = sum(approx_tokens(m["content"]) for m in messages)
        return OptionScores(self._logprobs(messages, options), Usage(prompt, 1, prompt))

    def count_tokens(self, text: str) -> int:
        return approx_tokens(text)

    async def aclose(self) -> None:
        return None
