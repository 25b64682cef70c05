"""The workspace folder (default ./simulacra-data or $SIMULACRA_HOME) and safe file writing.

`SIMULACRA_HOME` set but empty is an error (not the current folder, and not silently the default): unset it
to use ./simulacra-data. A `SIMULACRA_HOME` that is a file, or lies under a file, is an error too.

Interview data is personal: folders are created 0700 and files 0600. Writes are atomic (temporary file,
fsync, rename) or append-only with flush+fsync, so nothing half-written is ever read back as good.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from simulacra.errors import ConfigError, SimulacraError

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
DEFAULT_HOME = "simulacra-data"


def home_setting() -> str:
    """`$SIMULACRA_HOME` as given (default `simulacra-data`); set but empty (or blank) is a ConfigError."""

    value = os.environ.get("SIMULACRA_HOME")
    if value is None:
        return DEFAULT_HOME
    if not value.strip():
        raise ConfigError("SIMULACRA_HOME is set but empty: name the workspace folder, or unset it to use "
                          f"./{DEFAULT_HOME}")
    return value


def _file_in_the_way(path: Path) -> Path | None:
    """The first of `path` and its parents that exists and is not a folder (so `path` cannot be one)."""
    for probe in [path, *path.parents]:
        if probe.exists():
            return None if probe.is_dir() else probe
    return None


def restrict_umask() -> None:
    """From now on this process creates files and folders for its owner only (umask |= 0o077).

    Libraries write personal data beside ours (SQLite's -wal/-shm side files, chromadb's store and its
    index files) with their own default modes; a restricted umask makes those 0600/0700 too. Called when a
    workspace folder is opened (`private_dir`), so every command that touches the workspace has it."""
    current = os.umask(0o077)  # reading the umask means setting it: two cheap calls, no flag to go stale
    os.umask(current | 0o077)


def private_dir(path: Path, *, within: Path | None = None) -> Path:
    """Create `path` (and missing parents) readable only by the owner.

    Only folders created here are made 0700: an existing folder is used as it is, never chmodded (it may be a
    folder of the user's that simulacra did not make). With `within`, a path that resolves outside that folder
    (a `..` or an absolute path, a symlink out) is refused."""

    restrict_umask()
    path = Path(path)
    if within is not None:
        root = Path(within).resolve()
        resolved = path.resolve()
        if resolved != root and root not in resolved.parents:
            raise SimulacraError(f"{path} is outside {root}; simulacra only writes inside its workspace here")
    missing = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    blocker = _file_in_the_way(path)
    if blocker is not None:
        where = "is a file" if blocker == path else f"is under {blocker}, which is a file"
        raise SimulacraError(f"{path} cannot be a folder: it {where}")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SimulacraError(f"cannot create the folder {path} ({exc.strerror or exc})") from None
    if not path.is_dir():
        raise SimulacraError(f"{path} is not a folder")
    for created in reversed(missing):
        try:
            os.chmod(created, PRIVATE_DIR)
        except PermissionError:
            pass
    return path


def atomic_write_bytes(path: Path, data: bytes, mode: int = PRIVATE_FILE) -> None:
    """Write `data` to `path` so that readers see either the old or the new file, never a torn one."""
    path = Path(path)
    if not path.parent.is_dir():
        private_dir(path.parent)  # a missing folder (a workspace not made yet) is made 0700, like every other
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str, mode: int = PRIVATE_FILE) -> None:
    """`atomic_write_bytes` of the text in UTF-8."""
    atomic_write_bytes(path, text.encode("utf-8"), mode)


def atomic_write_json(path: Path, data: Any, mode: int = PRIVATE_FILE) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", mode)


@contextmanager
def file_lock(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `lock_path` (made 0600 in a private folder) across processes (fcntl)."""
    lock_path = Path(lock_path)
    private_dir(lock_path.parent)
    fd = os.open(lock_path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def append_line(path: Path, line: str, mode: int = PRIVATE_FILE) -> None:
    """Append one line and make it durable before returning (used for transcripts and logs)."""
    path = Path(path)
    if not path.parent.is_dir():
        private_dir(path.parent)  # a missing folder (a workspace not made yet) is made 0700, like every other
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, mode)
    try:
        os.write(fd, (line.rstrip("\n") + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(path, mode)


@dataclass(frozen=True)
class Workspace:
    """Where everything simulacra keeps lives. Sub-folders are created on first use."""

    root: Path

    @classmethod
    def default(cls) -> "Workspace":
        """`$SIMULACRA_HOME` (default ./simulacra-data); empty, a file, or under a file is a ConfigError."""

        root = Path(home_setting()).expanduser().resolve()
        blocker = _file_in_the_way(root)
        if blocker is not None:
            raise ConfigError(f"SIMULACRA_HOME={os.environ.get('SIMULACRA_HOME', DEFAULT_HOME)} cannot be the "
                              f"workspace folder: {blocker} is a file")
        return cls(root)

    def _sub(self, name: str) -> Path:
        private_dir(self.root)
        return private_dir(self.root / name)

    @property
    def transcripts(self) -> Path:
        return self._sub("transcripts")

    @property
    def agents(self) -> Path:
        return self._sub("agents")

    @property
    def runs(self) -> Path:
        return self._sub("runs")

    @property
    def cache(self) -> Path:
        return self._sub("cache")

    @property
    def models(self) -> Path:
        return self._sub("models")

    @property
    def sessions(self) -> Path:
        return self._sub("sessions")
