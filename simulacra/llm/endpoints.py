"""What the workspace has learned about each endpoint: the structured-output mode it accepts, and so on.

Servers differ in what `response_format` they take (OpenAI and vLLM: `json_schema`; llama-cpp-python's
server: `json_object` with a `schema`; some: plain `json_object`; some: none). Finding out costs a rejected
request, so the answer is kept per (base URL, model) in `cache/endpoints.json` (0600, written atomically)
and later processes start from it; `simulacra doctor` shows it.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from simulacra.workspace import Workspace, atomic_write_json

# Structured-output modes, from the most to the least constrained. "none" is prompt-only: the schema is
# described in the prompt and the reply validated like any other.
STRUCTURED_MODES = ("json_schema", "json_object_schema", "json_object", "none")


def endpoint_key(base_url: str, model: str) -> str:
    return f"{base_url.rstrip('/')} {model}"


class EndpointMemory:
    """A small JSON file of facts per endpoint and model; unreadable or missing means "nothing known yet"."""

    FILE = "endpoints.json"

    def __init__(self, path: Path | None):
        self.path = Path(path) if path is not None else None
        self._lock = threading.Lock()

    @classmethod
    def for_workspace(cls, workspace: Workspace) -> "EndpointMemory":
        return cls(workspace.cache / cls.FILE)

    def _read(self) -> dict[str, dict[str, Any]]:
        if self.path is None or not self.path.is_file():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return {}  # a damaged file only costs a renegotiation
        return data if isinstance(data, dict) else {}

    def get(self, base_url: str, model: str) -> dict[str, Any]:
        return dict(self._read().get(endpoint_key(base_url, model), {}))

    def remember(self, base_url: str, model: str, **facts: Any) -> None:
        if self.path is None:
            return
        with self._lock:
            data = self._read()
            entry = data.setdefault(endpoint_key(base_url, model), {})
            entry.update(facts)
            entry["updated"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            atomic_write_json(self.path, data)
