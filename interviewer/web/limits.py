"""Request limits enforced before a request body is read: body size (streamed, never buffered beyond the
limit) and a per-token and per-address rate limit (in-process token buckets).

`BodyLimit` is pure ASGI middleware. A declared `Content-Length` over the limit is refused at once; a
body sent without one (chunked) is counted as it arrives and refused as soon as it passes the limit, so
an unauthenticated 200 MB request costs at most one limit's worth of memory. JSON endpoints get a small
limit (64 KB); the audio upload gets its own (16 MB) and is streamed by its handler after the token check.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

JSON_BODY_LIMIT = 64 * 1024
AUDIO_PATH = "/api/session/answer/audio"
BACKSTOP_SLACK = 256 * 1024  # the audio handler's own count (with its clearer message) stops first

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def _size(limit: int) -> str:
    return f"{limit / 2**20:.0f} MB" if limit >= 2**20 else f"{limit / 1024:.0f} KB"


async def send_json(send: Send, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    body = json.dumps(payload).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
           (b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff"), (b"connection", b"close")]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Refuse request bodies over `json_limit` (every path but the audio upload) or `audio_limit`."""

    def __init__(self, app: Any, json_limit: int = JSON_BODY_LIMIT, audio_limit: int = 16 * 2**20):
        self.app = app
        self.json_limit = json_limit
        self.audio_limit = audio_limit

    def _refusal(self, path: str, limit: int) -> dict[str, str]:
        if path == AUDIO_PATH:
            return {"error": "too_large", "detail": f"The recording is larger than {_size(limit)}. Please answer in shorter parts."}
        return {"error": "too_large", "detail": f"The request is larger than {_size(limit)}; a typed answer must be much shorter."}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        limit = self.audio_limit if path == AUDIO_PATH else self.json_limit
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await send_json(send, 413, self._refusal(path, limit))
            return
        if path == AUDIO_PATH:
            # The handler checks the token first, then streams the body with its own running count; this
            # wrapper is the backstop (a body larger than declared, or no handler count at all).
            await self._counted(scope, receive, send, limit + BACKSTOP_SLACK, path)
            return
        # Small bodies: read up to the limit here (never more), then hand the buffered body on.
        messages: list[dict[str, Any]] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                messages.append(message)
                break
            size += len(message.get("body", b""))
            if size > limit:
                await send_json(send, 413, self._refusal(path, limit))
                return
            messages.append(message)
            if not message.get("more_body", False):
                break

        async def replay() -> dict[str, Any]:
            if messages:
                return messages.pop(0)
            return await receive()

        await self.app(scope, replay, send)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int, path: str) -> None:
        size = 0
        started = False

        async def counted_receive() -> dict[str, Any]:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit:
                    raise _TooLarge()
            return message

        async def tracked_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BaseException as exc:  # _TooLarge, possibly wrapped in an exception group by a middleware
            group = getattr(exc, "exceptions", None)
            too_large = isinstance(exc, _TooLarge) or (group is not None and any(isinstance(e, _TooLarge) for e in group))
            if not too_large:
                raise
            if not started:
                await send_json(send, 413, self._refusal(path, limit - BACKSTOP_SLACK))


# -- rate limit ---------------------------------------------------------------------------------------
@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """Token buckets by key: `capacity` requests at once, refilled at `rate` per second."""

    def __init__(self, capacity: float, rate: float, clock: Callable[[], float] = time.monotonic, max_keys: int = 10_000):
        self.capacity, self.rate, self.clock, self.max_keys = capacity, rate, clock, max_keys
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0.0 when the request may go ahead, else the seconds to wait before retrying."""
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self.max_keys:  # forget full (idle) buckets first
                    for old in [k for k, b in self._buckets.items()
                                if b.tokens + (now - b.updated) * self.rate >= self.capacity]:
                        del self._buckets[old]
                    if len(self._buckets) >= self.max_keys:
                        self._buckets.pop(next(iter(self._buckets)))
                bucket = self._buckets[key] = _Bucket(self.capacity, now)
            bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate if self.rate > 0 else math.inf


@dataclass(frozen=True)
class RateLimits:
    """Per client address and per presented token (hashed): a burst, then a steady rate per second."""

    address_burst: float = 120
    address_rate: float = 4.0
    token_burst: float = 60
    token_rate: float = 2.0


class RateLimit:
    """Pure ASGI middleware: API requests over either bucket get 429 with Retry-After (nothing is read)."""

    def __init__(self, app: Any, limits: RateLimits | None = None, clock: Callable[[], float] = time.monotonic):
        self.app = app
        limits = limits or RateLimits()
        self.by_address = TokenBuckets(limits.address_burst, limits.address_rate, clock)
        self.by_token = TokenBuckets(limits.token_burst, limits.token_rate, clock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith("/api/"):
            await self.app(scope, receive, send)
            return
        client = scope.get("client") or ("unknown", 0)
        wait = self.by_address.take(str(client[0]))
        if not wait:
            scheme, _, value = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and value.strip():
                wait = self.by_token.take(hashlib.sha256(value.strip().encode()).hexdigest())
        if wait:
            seconds = max(1, math.ceil(wait)) if math.isfinite(wait) else 3600
            await send_json(send, 429, {"error": "rate_limited",
                                        "detail": f"Too many requests; please wait {seconds} s and try again."},
                            {"Retry-After": str(seconds)})
            return
        await self.app(scope, receive, send)
