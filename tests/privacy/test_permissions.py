"""Finding 7 (#15): every file simulacra writes under the workspace is 0600 and every folder 0700, including
SQLite's -wal/-shm side files (they hold full prompts) and chromadb's store and index files, which libraries
create with their own default modes.

A demo-like workload on the scripted fake model: an interview transcript and web invitation, an agent built
from it (importance, reflections, chromadb indexing), a batch run with exports, the response cache (held
open, so its -wal and -shm files exist while the tree is walked)."""

from __future__ import annotations

import json
import os
import stat

from interviewer.storage import TranscriptStore
from interviewer.web.tokens import SessionRegistry, stored_operator_token
from simulacra.agents.bank import AgentBank
from simulacra.agents.build import build_agent_from_transcript
from simulacra.llm import LLM, FakeBackend
from simulacra.llm.cache import ResponseCache
from simulacra.transcript import Turn
from simulacra.workspace import Workspace
from surveys.model import Instrument, Option, Question, QuestionKind


def schema_reply(request):
    def instance(schema):
        if "enum" in schema:
            return schema["enum"][0]
        kind = schema.get("type")
        if kind == "object":
            return {k: instance(v) for k, v in schema.get("properties", {}).items()}
        if kind == "array":
            return [f"an observation number {i + 1}" for i in range(max(1, schema.get("minItems", 1)))]
        if kind in ("integer", "number"):
            return int(schema.get("minimum", 0) or 0) + 1
        return "because of what they said"

    return "ok" if request.json_schema is None else json.dumps(instance(request.json_schema))


def loose_modes(root) -> list[str]:
    """Paths under `root` (and root itself) whose mode gives the group or others any access."""
    found = []
    for path in [root, *sorted(root.rglob("*"))]:
        mode = stat.S_IMODE(os.lstat(path).st_mode)
        if path.is_symlink():
            continue
        if mode & 0o077:
            found.append(f"{oct(mode)} {path.relative_to(root) if path != root else '.'}")
    return found


async def test_every_file_is_0600_and_every_folder_0700_after_a_demo_like_run(isolated_workspace):
    from pathlib import Path

    previous = os.umask(0o022)  # a usual login umask: what libraries would create world-readable
    try:
        await _workload_and_walk(Path(isolated_workspace))
    finally:
        os.umask(previous)


async def _workload_and_walk(root) -> None:
    from experiments.pipeline import RunSpec, run_async

    workspace = Workspace(root)
    store = TranscriptStore(workspace.transcripts)
    store.write_header("p-1", name="Pat")
    for index, (speaker, text) in enumerate([
        ("interviewer", "Tell me the story of your life."), ("respondent", "I grew up on a farm and became a nurse."),
        ("interviewer", "What do you value most?"), ("respondent", "My family and my patients, in that order."),
    ]):
        store.append("p-1", Turn(index=index, speaker=speaker, text=text, kind="answer" if speaker == "respondent" else "scripted"))
    SessionRegistry(workspace.sessions / "web").invite("p-1", name="Pat")
    stored_operator_token(workspace.sessions / "web")

    cache = ResponseCache(workspace.cache / "llm.sqlite")
    llm = LLM(FakeBackend(default=schema_reply), cache=cache)
    bank = AgentBank(workspace.agents)
    agent = await build_agent_from_transcript(workspace.transcripts / "p-1.jsonl", llm, bank=bank, reflection_limit=2)
    assert bank.store.count(agent.id) == len(agent.memories)  # chromadb indexed them

    yes_no = [Option(code="1", label="yes"), Option(code="2", label="no")]
    instrument = Instrument(id="mini", title="t", questions=[
        Question(id="q1", text="Do you like your job?", kind=QuestionKind.categorical, options=yes_no)])
    outcome = await run_async(RunSpec.build([agent], [instrument], model={"name": "fake"}), llm=llm, workspace=workspace)
    assert outcome.status == "complete"
    folder = outcome.folder

    names = {p.name for p in workspace.root.rglob("*")}
    assert "llm.sqlite-wal" in names and "llm.sqlite-shm" in names  # side files exist while the cache is open
    assert "chroma.sqlite3" in names and "data_level0.bin" in names  # chromadb's store and its vector index
    assert "responses.csv" in names and "responses.parquet" in names
    assert loose_modes(workspace.root) == []
    folder.close()
    cache.close()
