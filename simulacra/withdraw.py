"""Withdrawal: remove one respondent's words from every store of a workspace, and keep an audit line.

`withdraw(respondent, workspace, steps=...)` removes:

- what the `steps` handed in reach (explicit wiring: the caller says which stores; `experiments.wiring`
  hands every one, the web app the ones it was given): e.g. the web app's invitation and link token and the
  study answers (interviewer), runs' answers, manifest entries, saved human answers and exports
  (experiments). A step may also `collect` the person's texts first (study answers, free text included;
  the human answers saved beside runs), before anything is removed;
- response-cache rows tagged with them (`simulacra.llm.provenance`: every entry made while answering,
  building or interviewing for them, whatever its text) and rows whose request or reply holds any of their
  text (`cache/*.sqlite`; entries written before tags existed are found this way only);
- the agents built from them (agent id = the respondent, or `respondent` / `origin.respondent` naming
  them): the agent folder, its memory nodes and reflections, and its chromadb collection (through the
  client API, so a chromadb server forgets it too; for the embedded store, leftover rows and orphaned
  index folders too);
- the transcript and everything beside it (`transcripts/<respondent>.jsonl`, `.notes.json`,
  `.state.json`, a `.torn` tail);
- then every SQLite file of the workspace's stores is checkpointed (`wal_checkpoint(TRUNCATE)`) and
  VACUUMed with `secure_delete` on, so deleted text survives neither in free pages nor in a -wal file;
6. one audit line in `withdrawals.jsonl`: an HMAC-SHA256 of the respondent id keyed by the workspace's
   random salt (`withdrawals.salt`, 0600; `respondent_digest`), what was removed (counts), the time. No personal text, no agent ids (they may be the respondent id).

The personal text to look for is collected first (the transcript's answers and follow-ups, the notes,
every memory and reflection of their agents, and what the steps collect) and never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import shutil
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from simulacra.agents.bank import AgentBank
from simulacra.agents.memory import _collection_name
from simulacra.errors import SimulacraError
from simulacra.llm.cache import delete_entries, delete_tagged
from simulacra.workspace import PRIVATE_FILE, Workspace, append_line, private_dir
from surveys.errors import InvalidNameError
from surveys.names import check_name

log = logging.getLogger(__name__)

AUDIT_FILE = "withdrawals.jsonl"
AUDIT_SALT_FILE = "withdrawals.salt"  # the audit line's HMAC key (random, per workspace, 0600)
MIN_NEEDLE = 12  # shorter fragments ("Yes.", "I agree.") would match strangers' cache rows
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class WithdrawalError(SimulacraError):
    """The respondent id is unusable, or a store could not be cleaned."""


@dataclass
class Withdrawal:
    """What a withdrawal found and removed. `texts` (personal) is for matching only; never log it."""

    respondent: str
    workspace: Workspace
    bank_root: Path
    agent_ids: list[str] = field(default_factory=list)
    transcript_files: list[Path] = field(default_factory=list)
    texts: set[str] = field(default_factory=set)
    removed: dict[str, int] = field(default_factory=dict)
    held: dict[str, int] = field(default_factory=dict)  # what the steps found before removing (counts)
    sqlite_files: set[Path] = field(default_factory=set)  # to checkpoint and VACUUM at the end

    def count(self, what: str, n: int = 1) -> None:
        self.removed[what] = self.removed.get(what, 0) + n

    def add_texts(self, values: Iterable[Any]) -> None:
        """Their words, to find in other stores (strings anywhere inside; numbers and codes are too short)."""
        for value in values:
            self.texts.update(t for t in _strings(value) if t.strip())

    def matches(self, haystack: str) -> bool:
        flat = _flat(haystack)
        return any(needle in flat for needle in self._needles())

    def _needles(self) -> list[str]:
        cached = getattr(self, "_needle_cache", None)
        if cached is None or cached[0] != len(self.texts):
            needles = sorted({_flat(t) for t in self.texts if len(_flat(t)) >= MIN_NEEDLE}, key=len)
            cached = (len(self.texts), needles)
            self._needle_cache = cached
        return cached[1]

    def summary(self) -> str:
        parts = [f"{n} {what.replace('_', ' ')}" for what, n in sorted(self.removed.items()) if n]
        return ", ".join(parts) or "nothing"


@dataclass(frozen=True)
class Step:
    """One store's part of a withdrawal, handed to `plan`/`withdraw` by the caller (no registry: the
    composition root, `experiments.wiring`, lists every store). `collect` (optional) adds the person's texts,
    agent ids or `held` counts while nothing is changed yet; `remove` deletes their data from the store and
    counts it (`found.count`). Steps run before the cache, agents and transcript are cleaned (those hold
    what finds the person again when a withdrawal that stopped part-way is run again)."""

    name: str
    remove: Callable[[Withdrawal], None]
    collect: Callable[[Withdrawal], None] | None = None


def _flat(text: str) -> str:
    return " ".join(str(text).split())


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def check_respondent(respondent: str) -> str:
    """The one name rule of `surveys.names` (a respondent id names files)."""
    try:
        return check_name(respondent, kind="respondent")
    except InvalidNameError as exc:
        raise WithdrawalError(str(exc)) from None


# -- finding what is theirs -------------------------------------------------------------------------------
def _memory_texts(text: str) -> list[str]:
    """A memory and its paragraphs that are not the interviewer's scripted line (those are everyone's)."""
    out = [text]
    for paragraph in re.split(r"\n\s*\n", text):
        if paragraph.strip() and not paragraph.lstrip().startswith("Interviewer:"):
            out.append(paragraph)
            _, sep, rest = paragraph.partition(": ")
            if sep and len(_) <= 40:
                out.append(rest)
    return out


def _transcript_texts(path: Path) -> set[str]:
    """Answers, follow-up questions (made from the answers) and notes of a transcript file."""
    texts: set[str] = set()
    try:
        lines = path.read_bytes().decode("utf-8", errors="replace").splitlines()
    except OSError:
        return texts
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            if line.strip():
                texts.add(line)
            continue
        if not isinstance(record, dict) or record.get("type") == "header":
            if isinstance(record, dict):
                texts.update(str(v) for k, v in record.items() if k in ("name", "persona") and v)
            continue
        if record.get("speaker") == "respondent" or record.get("kind") in ("follow_up", "note"):
            texts.add(str(record.get("text", "")))
    return texts


def _notes_texts(path: Path) -> set[str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError):
        return set()
    return set(_strings(data.get("bullets", []))) if isinstance(data, dict) else set()


def _agent_records(bank_root: Path) -> Iterable[tuple[Path, dict[str, Any]]]:
    if not bank_root.is_dir():
        return
    for path in sorted(bank_root.glob("*/agent.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        agent = record.get("agent") if isinstance(record, dict) else None
        if isinstance(agent, dict):
            yield path, agent


def _belongs(agent: dict[str, Any], respondent: str) -> bool:
    origin = agent.get("origin") if isinstance(agent.get("origin"), dict) else {}
    return respondent in (agent.get("id"), agent.get("respondent"), origin.get("respondent"))


def plan(respondent: str, workspace: Workspace | None = None, bank_root: Path | None = None, *,
         steps: Sequence[Step]) -> Withdrawal:
    """Find everything of `respondent` (nothing is changed): in the core stores and through `steps`."""
    respondent = check_respondent(respondent)
    workspace = workspace or Workspace.default()
    bank_root = Path(bank_root) if bank_root is not None else workspace.root / "agents"
    found = Withdrawal(respondent, workspace, bank_root)
    transcripts = workspace.root / "transcripts"
    if transcripts.is_dir():
        found.transcript_files = sorted(p for p in transcripts.glob(f"{respondent}.*") if p.is_file())
        for path in found.transcript_files:
            if path.name == f"{respondent}.jsonl" or path.name.endswith(".torn"):
                found.texts |= _transcript_texts(path)
            elif path.name.endswith(".notes.json"):
                found.texts |= _notes_texts(path)
    # compacted at the end every time (also when a first attempt stopped before compacting)
    found.sqlite_files.update(p for p in (workspace.root / "cache").glob("*.sqlite") if p.is_file())
    found.sqlite_files.update(p for p in [bank_root / "chroma" / "chroma.sqlite3"] if p.is_file())
    found.sqlite_files.update(p for p in (workspace.root / "runs").glob("**/responses.sqlite") if p.is_file())
    for path, agent in _agent_records(bank_root):
        if not _belongs(agent, respondent):
            continue
        found.agent_ids.append(str(agent.get("id") or path.parent.name))
        for memory in agent.get("memories") or []:
            if isinstance(memory, dict) and memory.get("text"):
                found.texts.update(_memory_texts(str(memory["text"])))
        if isinstance(agent.get("persona"), str):  # the whole line only: its sentences are common to many
            found.texts.add(agent["persona"])
    for step in steps:
        if step.collect is not None:
            step.collect(found)
    return found


# -- removing ---------------------------------------------------------------------------------------------
def _remove_transcripts(found: Withdrawal) -> None:
    for path in found.transcript_files:
        path.unlink(missing_ok=True)
        found.count("transcript_files")


def _remove_agents(found: Withdrawal) -> None:
    if not found.agent_ids:
        return

    bank = AgentBank(found.bank_root)
    for agent_id in found.agent_ids:
        # the vectors first (through the client API: an embedded store or a chromadb server alike), then the
        # folder, so a stop in between leaves the agent to be found by the next attempt
        try:
            store = bank.store
            if _collection_name(agent_id) in _collection_names(store):
                store.client.delete_collection(_collection_name(agent_id))
                found.count("memory_collections")
            store.delete(agent_id)  # also forgets vectors held in memory
        except SimulacraError as exc:
            raise WithdrawalError(f"cannot reach the memory store to delete agent memories: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - chromadb's own errors (server down, ...): one clear line
            raise WithdrawalError(f"the memory store refused to delete agent {agent_id}'s memories "
                                  f"({type(exc).__name__}: {exc}); nothing of this agent was deleted yet") from None
        folder = found.bank_root / agent_id
        if folder.is_dir():
            shutil.rmtree(folder)
            found.count("agents")
    chroma_db = found.bank_root / "chroma" / "chroma.sqlite3"
    if chroma_db.is_file():
        _scrub_chroma_sqlite(chroma_db, found)
        found.sqlite_files.add(chroma_db)


def _collection_names(store: Any) -> set[str]:
    return {getattr(c, "name", c) for c in store.client.list_collections()}


def _scrub_chroma_sqlite(path: Path, found: Withdrawal) -> None:
    """After the collection is deleted through the client: any row of chromadb's own SQLite store still
    holding the respondent's text (its write-ahead log table, the full-text index) is removed too, and
    index folders of segments that no longer exist (their vectors) are deleted."""
    db = sqlite3.connect(path, timeout=30)
    try:
        db.execute("PRAGMA secure_delete=ON")
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            if table.startswith("embedding_fulltext_search_"):  # FTS5 shadow tables: cleaned through the table
                continue
            try:
                rows = db.execute(f'SELECT rowid, * FROM "{table}"').fetchall()
            except sqlite3.DatabaseError:
                continue
            doomed = [row[0] for row in rows if any(
                found.matches(v if isinstance(v, str) else v.decode("utf-8", "replace"))
                for v in row[1:] if isinstance(v, (str, bytes)))]
            for rowid in doomed:
                db.execute(f'DELETE FROM "{table}" WHERE rowid = ?', (rowid,))
            if doomed:
                found.count("memory_store_rows", len(doomed))
        db.commit()
        try:
            live = {r[0] for r in db.execute("SELECT id FROM segments")}
        except sqlite3.DatabaseError:
            return
    finally:
        db.close()
    for folder in path.parent.iterdir():
        if folder.is_dir() and _UUID.match(folder.name) and folder.name not in live:
            shutil.rmtree(folder)
            found.count("memory_index_folders")


def _remove_cache_rows(found: Withdrawal) -> None:
    """Rows tagged with them (or with one of their agents), then rows holding any of their text."""
    cache_dir = found.workspace.root / "cache"
    if not cache_dir.is_dir():
        return
    for path in sorted(cache_dir.glob("*.sqlite")):
        db = sqlite3.connect(path, timeout=30)
        try:
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            if "responses" not in tables:
                continue
            db.execute("PRAGMA secure_delete=ON")
            tagged = sum(delete_tagged(db, who) for who in sorted({found.respondent, *found.agent_ids}))
            db.commit()
            found.count("cache_entries", tagged)
            if not found.texts:
                continue
            doomed = []
            for key, request, reply in db.execute("SELECT key, request, text FROM responses"):
                try:
                    haystack = "\n".join(_strings(json.loads(request)))
                except ValueError:
                    haystack = request or ""
                if found.matches(haystack) or found.matches(reply or ""):
                    doomed.append(key)
            found.count("cache_entries", delete_entries(db, doomed))
            db.commit()
        finally:
            db.close()
        found.sqlite_files.add(path)


def compact_sqlite(path: Path) -> None:
    """Leave no deleted text behind: checkpoint the WAL into the file, rebuild it, truncate the WAL."""
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        db.execute("PRAGMA secure_delete=ON")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("VACUUM")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()


def withdraw(respondent: str, workspace: Workspace | None = None, bank_root: Path | None = None, *,
             steps: Sequence[Step]) -> Withdrawal:
    """Remove `respondent` from the core stores and from what `steps` reach (see the module docstring; every
    store of a workspace: `experiments.wiring.withdraw_everywhere`); returns what was removed.

    Running it again is safe (and finishes a withdrawal that stopped part-way, e.g. on a locked file)."""
    found = plan(respondent, workspace, bank_root, steps=steps)
    try:
        # Where their texts and agent ids are found (agents, transcript) goes last, so running the command
        # again after a stop still finds everything that is left.
        for step in steps:
            step.remove(found)
        _remove_cache_rows(found)
        _remove_agents(found)
        _remove_transcripts(found)
        for path in sorted(found.sqlite_files):
            if path.is_file():
                compact_sqlite(path)
    except sqlite3.Error as exc:
        audit(found, incomplete=True)
        raise WithdrawalError(
            f"withdrawal stopped part-way ({exc}); a database may be in use by another simulacra process: "
            "run the same withdraw command again when it ends"
        ) from None
    audit(found)
    log.info("withdrawal done: %s", found.summary())
    return found


def _audit_salt(workspace: Workspace) -> bytes:
    """The workspace's random audit salt (`withdrawals.salt`, 0600), made on first use."""
    path = workspace.root / AUDIT_SALT_FILE
    private_dir(workspace.root)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        pass
    else:
        try:
            os.write(fd, secrets.token_hex(32).encode("ascii") + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
    salt = path.read_bytes().strip()
    if len(salt) < 32:
        raise WithdrawalError(f"{path} is damaged (the audit salt is too short); move it away to start a new one")
    return salt


def respondent_digest(respondent: str, workspace: Workspace) -> str:
    """The audit line's `respondent_hmac`: HMAC-SHA256 of the id keyed by the workspace's salt. A plain hash of
    an id (often a name or an email) is reversed by trying candidates; without the salt file it is not."""
    return hmac.new(_audit_salt(workspace), respondent.encode("utf-8"), hashlib.sha256).hexdigest()


def audit(found: Withdrawal, incomplete: bool = False) -> None:
    """One line per withdrawal, without personal text: who (a salted hash), what was removed, when."""
    record: dict[str, Any] = {
        "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "respondent_hmac": respondent_digest(found.respondent, found.workspace),
        "removed": dict(sorted(found.removed.items())),
    }
    if incomplete:
        record["incomplete"] = True
    append_line(found.workspace.root / AUDIT_FILE, json.dumps(record))
