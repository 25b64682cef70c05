"""Where the shared real data lives: $SIMULACRA_SHARED_DATA, else the `shared/data` folder beside the repo."""

from __future__ import annotations

import os
from pathlib import Path

from surveys.errors import ConfigError

_REPO = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path:
    explicit = os.environ.get("SIMULACRA_SHARED_DATA")
    candidates = [Path(explicit)] if explicit else []
    candidates += [_REPO.parent / "shared" / "data", Path.cwd().parent / "shared" / "data", Path.cwd() / "shared" / "data"]
    for candidate in candidates:
        if (candidate / "README.md").is_file() or (candidate / "gss").is_dir():
            return candidate.resolve()
    raise ConfigError(
        "cannot find the shared data folder (../shared/data next to the repository); set SIMULACRA_SHARED_DATA"
    )
