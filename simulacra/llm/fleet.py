"""An inference fleet: several OpenAI-compatible replicas (vLLM, llama.cpp servers) behind one backend.

    [llm]
    base_urls = ["http://gpu1:8000/v1#16", "http://gpu2:8000/v1#16"]   # or SIMULACRA_BASE_URLS=url,url
    max_concurrency = 4          # per replica, unless the URL says otherwise with a "#N" suffix

- **Prefix affinity.** Every call carries a prefix key: the agent's `prefix_key()` when the caller set one with
  `prefix_scope(key)` (the runner and the executors do), else a hash of the first message (the system prompt
  and the agent's context come first in simulacra's prompts). The key is placed on a consistent-hash ring
  (64 virtual nodes per replica), so all of one agent's calls go to one replica while it is healthy, and that
  replica's prefix cache (vLLM automatic prefix caching, llama.cpp's KV reuse) serves the agent's long context
  once rather than once per replica. Adding or losing a replica moves only the keys that hashed to it.
- **Per-replica limits.** Each replica has its own concurrency bound (`#N` on its URL, else `max_concurrency`);
  a call waits for its own replica rather than spilling to another one (which would recompute its prefix).
- **A replica that goes away** (connection refused, timeouts, bare 5xx) is taken out for `cooldown` seconds
  and the call moves to the next replica on the ring; its later calls follow. It is tried again after the
  cooldown. Only when every replica is down does the call raise `EndpointError` (the run interrupts, all
  saved). A request a replica rejects (`RequestRejectedError`, 4xx) is not an outage and is raised as it is.

The fragment (`#N`) of a URL is never sent to a server, so it is a safe place for the limit.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import contextvars
import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

from simulacra.config import LLMSettings
from simulacra.errors import ConfigError, EndpointError, RequestRejectedError
from simulacra.llm.openai_backend import OpenAIBackend
from simulacra.llm.tokens import approx_tokens
from simulacra.llm.types import BackendReply, ChatRequest, Message, OptionScores

log = logging.getLogger(__name__)

VIRTUAL_NODES = 64
_prefix_key: contextvars.ContextVar[str | None] = contextvars.ContextVar("simulacra_prefix_key", default=None)


@contextlib.contextmanager
def prefix_scope(key: str | None) -> Iterator[None]:
    """Calls made inside (in this task and the tasks it starts) are routed by `key` (an agent's prefix key)."""
    token = _prefix_key.set(key)
    try:
        yield
    finally:
        _prefix_key.reset(token)


def current_prefix_key() -> str | None:
    return _prefix_key.get()


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.sha1(text.encode("utf-8")).digest()[:8], "big")


def parse_replica(spec: str, default_limit: int) -> tuple[str, int]:
    """"http://host:8000/v1#16" -> ("http://host:8000/v1", 16); no suffix -> the default limit."""
    spec = spec.strip()
    url, _, limit = spec.partition("#")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"fleet replica {spec!r} is not an http(s) URL")
    if limit:
        if not limit.isdigit() or int(limit) < 1:
            raise ConfigError(f"fleet replica {spec!r}: the part after '#' must be its concurrency limit (>= 1)")
        return url.rstrip("/"), int(limit)
    return url.rstrip("/"), default_limit


class HashRing:
    """Consistent hashing of keys onto replicas (virtual nodes); `walk(key)` yields replicas in ring order."""

    def __init__(self, names: Sequence[str], vnodes: int = VIRTUAL_NODES):
        points = sorted((_hash(f"{name}#{i}"), name) for name in names for i in range(vnodes))
        self._hashes = [p for p, _ in points]
        self._names = [n for _, n in points]
        self._count = len(set(names))

    def walk(self, key: str) -> Iterator[str]:
        if not self._hashes:
            return
        start = bisect.bisect(self._hashes, _hash(key)) % len(self._hashes)
        seen: set[str] = set()
        for offset in range(len(self._hashes)):
            name = self._names[(start + offset) % len(self._hashes)]
            if name not in seen:
                seen.add(name)
                yield name
                if len(seen) == self._count:
                    return

    def owner(self, key: str) -> str:
        return next(self.walk(key))


@dataclass
class Replica:
    url: str
    limit: int
    backend: Any
    semaphore: asyncio.Semaphore
    down_until: float = 0.0
    calls: int = 0
    failures: int = 0
    keys: set[str] = field(default_factory=set)

    def healthy(self, now: float) -> bool:
        return now >= self.down_until


class FleetBackend:
    """A `ChatBackend` over several OpenAI-compatible replicas (see the module docstring)."""

    is_local = False

    def __init__(self, settings: LLMSettings, memory: Any = None, *, cooldown: float = 30.0,
                 routing: str = "affinity", backends: dict[str, Any] | None = None):

        specs = list(settings.base_urls or ([settings.base_url] if settings.base_url else []))
        if not specs:
            raise ConfigError("an inference fleet needs at least one base URL ([llm] base_urls or SIMULACRA_BASE_URLS)")
        if routing not in ("affinity", "round_robin"):
            raise ConfigError(f"fleet routing {routing!r}: affinity or round_robin")
        self.settings = settings
        self.routing = routing
        self.cooldown = cooldown
        self.model = settings.model or "gpt-4o-mini"
        self.context_size = settings.context_size or 8192
        self.replicas: dict[str, Replica] = {}
        for spec in specs:
            url, limit = parse_replica(spec, settings.max_concurrency)
            if url in self.replicas:
                raise ConfigError(f"fleet replica {url} is listed twice")
            # one attempt per replica: an outage moves the call to the next replica at once (the fleet retries)
            own = settings.model_copy(update={"base_url": url, "base_urls": [], "max_retries": 0})
            backend = (backends or {}).get(url) or OpenAIBackend(own, memory)
            self.replicas[url] = Replica(url, limit, backend, asyncio.Semaphore(limit))
        self.ring = HashRing(list(self.replicas))
        self._rr = 0

    # -- routing ---------------------------------------------------------------------------------------------
    @property
    def total_concurrency(self) -> int:
        return sum(r.limit for r in self.replicas.values())

    @property
    def structured_mode(self) -> str:
        return next(iter(self.replicas.values())).backend.structured_mode

    def prefix_key(self, messages: Sequence[Message]) -> str:
        key = current_prefix_key()
        if key:
            return key
        first = messages[0]["content"] if messages else ""
        return "prefix:" + hashlib.sha1(first.encode("utf-8")).hexdigest()

    def order(self, key: str) -> list[Replica]:
        """The replicas to try for a key, best first: its ring owner (affinity) or the next in turn (round robin)."""
        if self.routing == "round_robin":
            names = list(self.replicas)
            start = self._rr % len(names)
            self._rr += 1
            return [self.replicas[names[(start + i) % len(names)]] for i in range(len(names))]
        return [self.replicas[name] for name in self.ring.walk(key)]

    def _mark_down(self, replica: Replica, exc: BaseException) -> None:
        replica.failures += 1
        if replica.healthy(time.monotonic()):
            log.warning("fleet: replica %s is out for %.0f s (%s); its work moves to the next replica",
                        replica.url, self.cooldown, exc)
        replica.down_until = time.monotonic() + self.cooldown

    async def _route(self, messages: Sequence[Message], call: Any) -> Any:
        key = self.prefix_key(messages)
        last: BaseException | None = None
        for round_ in range(self.settings.max_retries + 1):
            now = time.monotonic()
            order = self.order(key)
            candidates = [r for r in order if r.healthy(now)] or (order if round_ else [])
            if not candidates:  # all out: try them all again anyway (the cooldown may be too cautious)
                candidates = order
            for replica in candidates:
                try:
                    async with replica.semaphore:
                        replica.calls += 1
                        replica.keys.add(key)
                        return await call(replica.backend)
                except RequestRejectedError:
                    raise
                except (EndpointError, ConnectionError, TimeoutError, asyncio.TimeoutError) as exc:
                    last = exc
                    self._mark_down(replica, exc)
            if round_ < self.settings.max_retries:
                await asyncio.sleep(min(0.5 * 2 ** round_, 10))
        raise EndpointError(f"every replica of the inference fleet is unreachable ({', '.join(self.replicas)}): {last}")

    # -- ChatBackend -----------------------------------------------------------------------------------------
    async def complete(self, request: ChatRequest) -> BackendReply:
        return await self._route(request.messages, lambda backend: backend.complete(request))

    async def option_logprobs(self, messages: list[Message], options: list[str]) -> OptionScores:
        return await self._route(messages, lambda backend: backend.option_logprobs(messages, options))

    def count_tokens(self, text: str) -> int:
        return approx_tokens(text)

    def stats(self) -> dict[str, dict[str, Any]]:
        now = time.monotonic()
        return {r.url: {"calls": r.calls, "failures": r.failures, "keys": len(r.keys), "healthy": r.healthy(now),
                        "limit": r.limit} for r in self.replicas.values()}

    async def aclose(self) -> None:
        for replica in self.replicas.values():
            with contextlib.suppress(Exception):
                await replica.backend.aclose()
