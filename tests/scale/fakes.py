"""Fakes for the scale-out tests and benchmarks/scale_out.py.

- `schema_reply`: a deterministic model: for each question of the request's JSON schema it picks an option (or a
  number in range) by hashing the whole prompt and the question key, so the same prompt always gets the same
  answer, in any process, on any executor.
- `fake_backend(settings)`: a FakeBackend answering with `schema_reply` (importable by Ray workers); with
  `crash_marker` it kills its own process (os._exit) on call `crash_on_call`, once (the marker file remembers),
  like a worker lost mid-run.
- `FakeOpenAIServer`: an OpenAI-compatible chat endpoint on loopback with a fixed per-call latency and a prefix
  cache modelled on vLLM's automatic prefix caching (the prompt is cut into blocks of 16 tokens, each block
  hashed with everything before it; leading blocks already seen are "warm" and cost nothing, cold blocks cost
  `per_token` seconds each). It reports prompt_tokens_details.cached_tokens and keeps counters (`stats`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
import time
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from simulacra.llm import FakeBackend
from simulacra.llm.tokens import approx_tokens

BLOCK_CHARS = 64  # ~16 tokens


def _digest(*parts: str) -> int:
    return int(hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest(), 16)


def schema_reply(messages: list[dict[str, str]], schema: dict[str, Any] | None) -> str:
    prompt = "\n".join(m["content"] for m in messages)
    if not schema or "properties" not in schema:
        return json.dumps({"reasoning": "fine", "answer": "ok"})
    out: dict[str, Any] = {}
    for key, spec in schema["properties"].items():
        answer_spec = spec.get("properties", {}).get("answer", spec)
        choice = _digest(prompt, key)
        if "enum" in answer_spec:
            value: Any = answer_spec["enum"][choice % len(answer_spec["enum"])]
        elif answer_spec.get("type") in ("number", "integer"):
            low, high = answer_spec.get("minimum", 0), answer_spec.get("maximum", 10)
            value = low + choice % int(high - low + 1)
        elif answer_spec.get("type") == "array":  # e.g. an expert's observations when building an agent
            items = answer_spec.get("items", {})
            if "enum" in items:
                value = [items["enum"][choice % len(items["enum"])]]
            else:
                words = ["calm", "careful", "curious", "frugal", "hopeful", "proud", "quiet", "social", "steady"]
                count = max(answer_spec.get("minItems", 0), min(6, answer_spec.get("maxItems", 6)))
                value = [f"The person seems {words[(choice >> (4 * k)) % len(words)]} in item {k}." for k in range(count)]
        else:
            value = "text"
        out[key] = {"reasoning": "as this person would", "answer": value} if "properties" in spec else value
    return json.dumps(out)


def _crash_once(marker: str, crash_on_call: int, counter: list[int]) -> None:
    counter[0] += 1
    if counter[0] == crash_on_call and not Path(marker).exists():
        Path(marker).write_text(str(os.getpid()))
        os._exit(1)  # the worker process dies mid-call, as on an OOM kill or a lost node


def _backend(settings: Any, crash_marker: str | None = None, crash_on_call: int = 0, delay: float = 0.0) -> FakeBackend:
    counter = [0]

    def reply(request: Any) -> str:
        if crash_marker:
            _crash_once(crash_marker, crash_on_call, counter)
        if delay:
            time.sleep(delay)
        return schema_reply(request.messages, request.json_schema)

    return FakeBackend(default=reply)


def fake_backend(settings: Any = None) -> FakeBackend:
    return _backend(settings)


def _gone(settings: Any, after: int) -> FakeBackend:
    return FakeBackend(default=lambda r: schema_reply(r.messages, r.json_schema), fail_after=after)


def gone_backend(after: int):
    """A picklable factory of fake backends whose endpoint goes away after `after` calls (ConnectionError)."""
    return functools.partial(_gone, after=after)


def _fleet(settings: Any, routing: str = "affinity") -> Any:
    from simulacra.llm.fleet import FleetBackend

    return FleetBackend(settings, routing=routing)


def fleet_backend(routing: str):
    """A picklable factory of fleet backends with the given routing ("affinity" or "round_robin")."""
    return functools.partial(_fleet, routing=routing)


def crashing_backend(marker: str, on_call: int, delay: float = 0.0):
    """A picklable factory of fake backends whose process dies on call `on_call` (only the first time)."""
    return functools.partial(_backend, crash_marker=marker, crash_on_call=on_call, delay=delay)


class PrefixCache:
    """Block-hash prefix cache (LRU over blocks), as vLLM's automatic prefix caching keeps KV blocks."""

    def __init__(self, capacity_blocks: int = 4096):
        self.capacity = capacity_blocks
        self.blocks: OrderedDict[int, None] = OrderedDict()

    def lookup_and_fill(self, text: str) -> tuple[int, int]:
        """(prompt tokens, tokens served warm) for this prompt; its blocks become warm."""
        chain, warm, leading = "", 0, True
        for start in range(0, len(text), BLOCK_CHARS):
            block = text[start:start + BLOCK_CHARS]
            if len(block) < BLOCK_CHARS:  # a partial last block is never cached
                break
            chain = hashlib.sha1((chain + block).encode("utf-8")).hexdigest()
            key = int(chain[:15], 16)
            if leading and key in self.blocks:
                warm += approx_tokens(block)
                self.blocks.move_to_end(key)
            else:
                leading = False
                self.blocks[key] = None
                while len(self.blocks) > self.capacity:
                    self.blocks.popitem(last=False)
        return approx_tokens(text), warm


class FakeOpenAIServer:
    """`with FakeOpenAIServer(latency=0.05) as server: server.base_url` -> "http://127.0.0.1:PORT/v1"."""

    def __init__(self, latency: float = 0.0, per_token: float = 0.0, capacity_blocks: int = 4096, name: str = "",
                 slots: int | None = None):
        self.latency = latency
        self.slots = threading.Semaphore(slots) if slots else None  # the replica's batch capacity
        self.per_token = per_token
        self.cache = PrefixCache(capacity_blocks)
        self.name = name
        self.lock = threading.Lock()
        self.stats = {"calls": 0, "prompt_tokens": 0, "cached_tokens": 0, "computed_tokens": 0, "prefixes": set(),
                      "in_flight": 0, "max_in_flight": 0, "cold_calls": 0}
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return None

            def setup(self) -> None:
                super().setup()
                server.connections.add(self.connection)

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                reply = server.complete(body)
                data = json.dumps(reply).encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:  # a client hanging up is no news
                return None

        self.connections: set[Any] = set()
        self._httpd = Server(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = body.get("messages", [])
        schema = None
        fmt = body.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            schema = fmt["json_schema"]["schema"]
        elif fmt.get("schema"):
            schema = fmt["schema"]
        text = "\n".join(m["content"] for m in messages)
        with self.lock:
            prompt, warm = self.cache.lookup_and_fill(text)
            self.stats["calls"] += 1
            self.stats["prompt_tokens"] += prompt
            self.stats["cached_tokens"] += warm
            self.stats["computed_tokens"] += prompt - warm
            self.stats["cold_calls"] += warm < prompt / 2  # most of the prompt (the agent's context) computed anew
            self.stats["prefixes"].add(hashlib.sha1(text[:1024].encode("utf-8")).hexdigest())  # system + agent context
            self.stats["in_flight"] += 1
            self.stats["max_in_flight"] = max(self.stats["max_in_flight"], self.stats["in_flight"])
        try:
            if self.slots is not None:
                with self.slots:
                    time.sleep(self.latency + (prompt - warm) * self.per_token)
            else:
                time.sleep(self.latency + (prompt - warm) * self.per_token)
        finally:
            with self.lock:
                self.stats["in_flight"] -= 1
        content = schema_reply(messages, schema)
        return {
            "id": "fake", "object": "chat.completion", "created": int(time.time()), "model": body.get("model", "fake"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": approx_tokens(content),
                      "total_tokens": prompt + approx_tokens(content), "prompt_tokens_details": {"cached_tokens": warm}},
        }

    def start(self) -> "FakeOpenAIServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Gone for good: the port refuses connections and open keep-alive connections are cut."""
        import socket

        self._httpd.shutdown()
        self._httpd.server_close()
        for connection in list(self.connections):
            try:
                connection.shutdown(socket.SHUT_RDWR)
                connection.close()
            except OSError:
                pass

    def __enter__(self) -> "FakeOpenAIServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
