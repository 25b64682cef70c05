"""Chat completions against any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp server).

Endpoints as they really are:
- an outage (connection refused, timeouts, 429, 502-504 and other bare 5xx) is retried with exponential
  backoff; when the server stays away an `EndpointError` says which URL failed (a run interrupts, everything
  saved, and the same command resumes);
- a request the server refuses (any other 4xx, or a 5xx whose body names the request, as llama-cpp-python's
  server does for a `response_format` it does not know) is a `RequestRejectedError` carrying the server's
  complaint: sending it again would fail the same way, so it is not retried as an outage;
- structured output is negotiated (`structured_output = "auto"`): `json_schema` response_format, then
  llama-cpp-python's `{"type": "json_object", "schema": ...}`, then plain `json_object`, then prompt-only.
  A rejected mode falls through to the next; the mode that worked is kept per (base URL, model) in the
  workspace (`cache/endpoints.json`) so later runs start from it. Modes that do not carry the schema to the
  server describe it in the prompt; every reply is validated by `LLM.structured` whatever the mode.
"""

from __future__ import annotations

import json
import logging
import math
import re
from typing import Any

import openai
from tenacity import AsyncRetrying, RetryError, retry_if_exception, stop_after_attempt, wait_exponential

from simulacra.config import LLMSettings
from simulacra.errors import EndpointError, LogprobsUnsupportedError, RequestRejectedError
from simulacra.llm.endpoints import STRUCTURED_MODES, EndpointMemory
from simulacra.llm.tokens import approx_tokens
from simulacra.llm.types import BackendReply, ChatRequest, Message, OptionScores, Usage

log = logging.getLogger(__name__)

# A 500 whose body says this is about the request (validation, an unknown parameter, a prompt too long) is a
# rejection, not an outage: llama-cpp-python's server answers 500 to a response_format it does not accept.
_NAMES_REQUEST = re.compile(
    r"validat|response_format|logprob|invalid|not supported|unsupported|input should|field required|"
    r"extra inputs|exceed|too long|context (window|length)|unknown (parameter|field|argument)",
    re.I,
)
_OUTAGE_STATUSES = {408, 429, 502, 503, 504}
_PYDANTIC_REPR = re.compile(r"'loc': \(([^)]*)\), 'msg': (\"[^\"]*\"|'[^']*')")


def _detail(exc: openai.APIStatusError) -> str:
    """The server's own complaint, on one line (FastAPI's 422 detail lists and OpenAI's error objects)."""
    body: Any = exc.body
    if isinstance(body, dict):
        body = body.get("error", body)
        if isinstance(body, dict):
            body = body.get("message") or body.get("detail") or body
    if isinstance(body, list):  # FastAPI / pydantic: [{"loc": [...], "msg": "..."}]
        parts = []
        for item in body:
            if isinstance(item, dict):
                loc = ".".join(str(p) for p in item.get("loc", []) if p != "body")
                parts.append(f"{loc}: {item.get('msg', '')}" if loc else str(item.get("msg", item)))
            else:
                parts.append(str(item))
        body = "; ".join(parts)
    text = str(body) if body not in (None, "") else exc.message
    text = text.split("\n\n  File ")[0]  # llama_cpp.server appends a traceback location
    # llama_cpp.server reports a validation error as pydantic's repr: keep "where: what" of each error
    found = _PYDANTIC_REPR.findall(text)
    if found:
        text = "; ".join(
            ".".join(p.strip(" '\"") for p in loc.split(",") if p.strip(" '\"") not in ("", "body")) + ": " + msg[1:-1]
            for loc, msg in found
        )
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:297] + "..."


def _is_outage(exc: BaseException) -> bool:
    if isinstance(exc, (openai.APIConnectionError, openai.APITimeoutError)):
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in _OUTAGE_STATUSES or exc.status_code >= 500
    return False


def _schema_instruction(schema: dict[str, Any]) -> str:
    return (
        "\n\nReply with only a JSON object (no other text) that follows this JSON schema:\n"
        + json.dumps(schema, ensure_ascii=False)
    )


class OpenAIBackend:
    is_local = False

    def __init__(self, settings: LLMSettings, memory: EndpointMemory | None = None):
        self.settings = settings
        self.base_url = settings.base_url or "https://api.openai.com/v1"
        self.model = settings.model or "gpt-4o-mini"
        self.context_size = settings.context_size or 8192
        self.memory = memory or EndpointMemory(None)
        known = self.memory.get(self.base_url, self.model).get("structured_output")
        self._mode_index = STRUCTURED_MODES.index(known) if known in STRUCTURED_MODES else 0
        self._negotiated = known in STRUCTURED_MODES
        self._logprobs_known = False
        # the endpoint's `system_fingerprint` (its backend configuration), last one seen and every one seen
        self.system_fingerprint: str | None = None
        self.system_fingerprints: set[str] = set()
        self._client = openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=settings.api_key or "not-needed",
            timeout=settings.request_timeout,
            max_retries=0,  # tenacity below does the retrying, so the count is ours
        )

    @property
    def structured_mode(self) -> str:
        """The structured-output mode requests use now (forced by settings, negotiated, or the first to try)."""
        if self.settings.structured_output != "auto":
            return self.settings.structured_output
        return STRUCTURED_MODES[self._mode_index]

    def _kwargs(self, request: ChatRequest, mode: str | None) -> dict[str, Any]:
        messages = request.messages
        kwargs: dict[str, Any] = dict(model=self.model, temperature=request.temperature, max_tokens=request.max_tokens)
        schema = request.json_schema
        if schema is not None and mode is not None:
            if mode == "json_schema":
                kwargs["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": request.schema_name[:64] or "answer", "schema": schema, "strict": False},
                }
            elif mode == "json_object_schema":
                kwargs["response_format"] = {"type": "json_object", "schema": schema}
            else:
                if mode == "json_object":
                    kwargs["response_format"] = {"type": "json_object"}
                messages = self._with_schema_in_prompt(messages, schema)
        kwargs["messages"] = messages
        if request.seed is not None:
            kwargs["seed"] = request.seed
        if request.stop:
            kwargs["stop"] = request.stop
        return kwargs

    @staticmethod
    def _with_schema_in_prompt(messages: list[Message], schema: dict[str, Any]) -> list[Message]:
        """Describe the schema at the end of the last user message (a new message could break strict templates)."""
        out = [dict(m) for m in messages]
        if out and out[-1].get("role") == "user":
            out[-1]["content"] = out[-1]["content"] + _schema_instruction(schema)
        else:
            out.append({"role": "user", "content": _schema_instruction(schema).strip()})
        return out

    def _rejection(self, exc: openai.APIStatusError) -> RequestRejectedError | None:
        status = exc.status_code
        detail = _detail(exc)
        if status in _OUTAGE_STATUSES:
            return None
        if 400 <= status < 500 or status == 501 or (status >= 500 and _NAMES_REQUEST.search(detail)):
            return RequestRejectedError(
                f"the model endpoint {self.base_url} rejected the request ({status}): {detail}", status, detail
            )
        return None

    async def _call(self, **kwargs: Any) -> Any:
        async def once() -> Any:
            try:
                response = await self._client.chat.completions.create(**kwargs)
            except openai.APIStatusError as exc:
                rejected = self._rejection(exc)
                if rejected is not None:
                    raise rejected from exc
                raise
            fingerprint = getattr(response, "system_fingerprint", None)
            if isinstance(fingerprint, str) and fingerprint:
                self.system_fingerprint = fingerprint
                self.system_fingerprints.add(fingerprint)
            return response

        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self.settings.max_retries + 1),
                wait=wait_exponential(multiplier=0.5, max=20),
                retry=retry_if_exception(_is_outage),
                reraise=False,
            ):
                with attempt:
                    return await once()
        except RetryError as exc:
            raise EndpointError(
                f"the model endpoint {self.base_url} did not answer after {self.settings.max_retries + 1} attempts: "
                f"{exc.last_attempt.exception()}"
            ) from exc
        raise AssertionError("unreachable")

    @staticmethod
    def _reply(response: Any) -> BackendReply:
        choice = response.choices[0]
        usage = response.usage
        return BackendReply(
            text=choice.message.content or "",
            usage=Usage(usage.prompt_tokens if usage else 0, usage.completion_tokens if usage else 0, None),
            finish_reason=choice.finish_reason,
        )

    async def complete(self, request: ChatRequest) -> BackendReply:
        if request.json_schema is None:
            return self._reply(await self._call(**self._kwargs(request, None)))
        forced = self.settings.structured_output
        if forced != "auto":
            try:
                return self._reply(await self._call(**self._kwargs(request, forced)))
            except RequestRejectedError as exc:
                raise RequestRejectedError(
                    f"{exc} (structured output is forced to '{forced}' by SIMULACRA_STRUCTURED_OUTPUT or "
                    "structured_output; 'auto' negotiates what the server accepts)",
                    exc.status,
                    exc.detail,
                ) from exc
        start = self._mode_index
        rejected: RequestRejectedError | None = None
        for index in range(start, len(STRUCTURED_MODES)):
            mode = STRUCTURED_MODES[index]
            try:
                response = await self._call(**self._kwargs(request, mode))
            except RequestRejectedError as exc:
                log.info("endpoint %s rejected structured output mode %s; trying the next", self.base_url, mode)
                log.debug("rejection: %s", exc.detail)
                rejected = exc
                continue
            if index > self._mode_index or not self._negotiated:
                self._mode_index = max(self._mode_index, index)
                self._negotiated = True
                self.memory.remember(self.base_url, self.model, structured_output=STRUCTURED_MODES[self._mode_index])
            return self._reply(response)
        # Every mode was rejected, prompt-only included: the request itself is the problem (its complaint is in
        # the last rejection). Nothing is remembered.
        assert rejected is not None
        raise rejected

    async def option_logprobs(self, messages: list[Message], options: list[str]) -> OptionScores:
        """Log-probabilities of the option labels as the first token of the reply (chat logprobs, one token).

        Variants of a label among the top 20 tokens (" A", "A", "A)") are summed. A label outside the top 20
        gets a value just below the least likely listed token (its true value is at most that). An endpoint
        that gives no log-probabilities raises `LogprobsUnsupportedError`: nothing is generated instead.
        """
        try:
            response = await self._call(
                model=self.model, messages=messages, max_tokens=1, temperature=0, logprobs=True, top_logprobs=20
            )
        except RequestRejectedError as exc:
            if "logprob" in exc.detail.lower():
                self.memory.remember(self.base_url, self.model, logprobs=False)
                raise LogprobsUnsupportedError(
                    f"the model endpoint {self.base_url} (model {self.model}) does not give log-probabilities: "
                    f"{exc.detail}. Use generated answers (--scoring generate) with this endpoint."
                ) from exc
            raise
        choice = response.choices[0]
        content = choice.logprobs.content if getattr(choice, "logprobs", None) else None
        tops = list(content[0].top_logprobs or []) if content else []
        if not tops:
            self.memory.remember(self.base_url, self.model, logprobs=False)
            raise LogprobsUnsupportedError(
                f"the model endpoint {self.base_url} (model {self.model}) returned no log-probabilities for the "
                "option letters. Use generated answers (--scoring generate) with this endpoint, or a server "
                "that supports `logprobs`/`top_logprobs` in chat completions."
            )
        wanted = set(options)
        found: dict[str, float] = {}
        for top in tops:
            label = top.token.strip()
            if label not in wanted:
                label = label.rstrip(").:,")
            if label in wanted:
                value = top.logprob
                found[label] = value if label not in found else float(math.log(math.exp(found[label]) + math.exp(value)))
        if not self._logprobs_known:
            self._logprobs_known = True
            self.memory.remember(self.base_url, self.model, logprobs=True)
        floor = min(top.logprob for top in tops) - 1.0
        usage = response.usage
        return OptionScores({option: found.get(option, floor) for option in options},
                            Usage(usage.prompt_tokens if usage else 0, usage.completion_tokens if usage else 0, None))

    def count_tokens(self, text: str) -> int:
        return approx_tokens(text)

    async def aclose(self) -> None:
        await self._client.close()
