"""Real and stand-in OpenAI-compatible servers on loopback, for tests of every package.

    from tests.llm.llama_server import llama_server, running_llama_server, plain_json_proxy

    # as a module-scoped pytest fixture (import the name into your test module):  def test_x(llama_server): ...
    with running_llama_server() as server:            # python -m llama_cpp.server with SmolLM2, on 127.0.0.1
        monkeypatch.setenv("SIMULACRA_BASE_URL", server.base_url)
        monkeypatch.setenv("SIMULACRA_MODEL", server.model)
        ...
        with plain_json_proxy(server.base_url) as proxy:   # the same server, but it only takes plain JSON mode
            ...

Loading the model is model work: run such tests under the model lock
(`flock /tmp/simulacra-model.lock .venv/bin/pytest -m server ...`). The server is always terminated, and its
log is printed in the error if it does not come up.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

# The model name the tests send. llama_cpp.server serves its one model whatever name is asked for.
SERVED_MODEL = "smollm2"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LlamaServer:
    base_url: str  # e.g. http://127.0.0.1:PORT/v1
    model: str
    process: subprocess.Popen | None = None
    log_path: Path | None = None

    def env(self) -> dict[str, str]:
        """Environment variables that point simulacra at this server (no structured-output setting)."""
        return {"SIMULACRA_BASE_URL": self.base_url, "SIMULACRA_MODEL": self.model, "SIMULACRA_API_KEY": "not-needed"}

    def log(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-4000:]


@contextmanager
def running_llama_server(
    model_path: str | Path | None = None, *, n_ctx: int = 4096, threads: int = 2, timeout: float = 180.0
) -> Iterator[LlamaServer]:
    """Start `python -m llama_cpp.server` (the project's own llama-cpp-python, `server` extra) on loopback.

    Waits until `/v1/models` answers; always terminates the process (then kills it if it lingers).
    """
    if model_path is None:
        from simulacra.llm.models import smollm2_path

        model_path = smollm2_path()
    port = free_port()
    handle, log_name = tempfile.mkstemp(prefix="llama-server-", suffix=".log")
    os.close(handle)
    log_path = Path(log_name)
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(model_path), "--model_alias", SERVED_MODEL,
        "--host", "127.0.0.1", "--port", str(port),
        "--n_threads", str(threads), "--n_threads_batch", str(threads), "--n_ctx", str(n_ctx),
    ]
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = LlamaServer(f"http://127.0.0.1:{port}/v1", SERVED_MODEL, process, log_path)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {process.returncode}:\n{server.log()}")
            try:
                if httpx.get(f"{server.base_url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama_cpp.server did not come up within {timeout:.0f}s:\n{server.log()}")
            time.sleep(0.5)
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        log_path.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def llama_server() -> Iterator[LlamaServer]:
    """One llama_cpp.server for a test module (starting it costs a few seconds; the model lock is the caller's)."""
    with running_llama_server() as server:
        yield server


@contextmanager
def serve_app(app: FastAPI) -> Iterator[str]:
    """Run a FastAPI app on a free loopback port in a thread; yields its base URL ("http://127.0.0.1:PORT")."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the stub server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(5)


def llama_style_rejection(message: str) -> JSONResponse:
    """How llama_cpp.server answers a request it cannot validate: a 500 whose message names the problem."""
    return JSONResponse(
        {"error": {"message": message, "type": "internal_server_error", "param": None, "code": None}}, status_code=500
    )


@contextmanager
def plain_json_proxy(upstream: str, *, enforce_json: bool = True) -> Iterator[str]:
    """A loopback proxy in front of `upstream` (".../v1") that accepts only plain JSON mode.

    A `response_format` of type json_schema, or json_object with a schema, is rejected with a 500 naming the
    request (as llama_cpp.server does for json_schema); everything else is forwarded. Yields the proxy's base
    URL (".../v1"). With `enforce_json=False` an accepted plain json_object is forwarded without it: the
    client's side is the same (it negotiated json_object and put the schema in the prompt), but llama_cpp.server's
    generic JSON grammar, slow on 2 cores (about 30 s for a short reply), is not run: use it for bigger tests.
    """
    app = FastAPI()

    @app.api_route("/v1/{path:path}", methods=["GET", "POST"])
    async def forward(path: str, request: Request) -> Response:
        body = await request.body()
        if request.method == "POST" and path == "chat/completions":
            data = json.loads(body)
            fmt = data.get("response_format") or {}
            if fmt.get("type") not in (None, "text", "json_object") or "schema" in fmt:
                return llama_style_rejection(
                    "1 validation error for CreateChatCompletionRequest\nresponse_format: only "
                    "{'type': 'json_object'} without a schema is supported by this server"
                )
            if not enforce_json and "response_format" in data:
                del data["response_format"]
                body = json.dumps(data).encode("utf-8")
        async with httpx.AsyncClient(timeout=600) as client:
            upstream_response = await client.request(
                request.method, f"{upstream}/{path}", content=body, headers={"content-type": "application/json"}
            )
        return Response(upstream_response.content, upstream_response.status_code, media_type="application/json")

    with serve_app(app) as url:
        yield f"{url}/v1"
