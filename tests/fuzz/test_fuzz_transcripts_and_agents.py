"""Fuzz: interview transcripts (JSONL, simulacra/transcript.py) and the agents built from them, and genagents
agent folders (`simulacra agents import-genagents`, simulacra/agents/build.py). Seeds: a transcript written by
the product's own TranscriptStore from the real genagents sample interview, and the sample agent folder."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
from fuzz_helpers import (
    HUGE_DIGITS, assert_clean_exit, counted, dump_json, fresh_dir, mutated_bytes, mutated_tree, read_or_refuse,
    run_command, scaled, write,
)
from hypothesis import example, given, settings
from hypothesis import strategies as st

from simulacra.agents.bank import AgentBank
from simulacra.agents.build import build_agent_from_transcript, import_genagents
from simulacra.agents.interview import InterviewAgent
from simulacra.agents.memory import MemoryStore
from simulacra.llm import LLM, FakeBackend
from simulacra.transcript import InterviewNotes, Transcript, Turn, read_transcript
from surveys.paths import shared_data_dir

SAMPLE = shared_data_dir() / "genagents_sample"
NODES = json.loads((SAMPLE / "single_agent_memory_nodes.json").read_text(encoding="utf-8"))
SCRATCH = json.loads((SAMPLE / "single_agent_scratch.json").read_text(encoding="utf-8"))
META = json.loads((SAMPLE / "single_agent_meta.json").read_text(encoding="utf-8"))


# -- transcripts --------------------------------------------------------------------------------------------
def _written_by_the_store(folder: Path, exchanges: int) -> tuple[bytes, bytes]:
    """(transcript, notes) bytes as the interviewer writes them, from the first real exchanges of the sample."""
    from interviewer.storage import TranscriptStore

    store = TranscriptStore(folder)
    store.write_header("joon", name="Joon Park", demographics=SCRATCH, script="default")
    index = 0
    for node in NODES:
        content = node["content"].strip()
        if "\n\nJoon:" not in content:
            continue
        asked, answered = content.split("\n\nJoon:", 1)
        store.append("joon", Turn(index=index, speaker="interviewer", text=asked.removeprefix("Interviewer:").strip(),
                                  question_id=f"q{index:03d}", block="life", kind="scripted", started_at=float(index),
                                  meta={"decision": "move_on"}))
        store.append("joon", Turn(index=index + 1, speaker="respondent", text=answered.strip()[:400], kind="answer",
                                  started_at=index + 0.5, ended_at=index + 1.0))
        index += 2
        if index // 2 >= exchanges:
            break
    store.save_notes("joon", InterviewNotes(bullets=["Grew up in Korea.", "Studies in Boston."], updated_at_turn=index))
    return store.path("joon").read_bytes(), store.notes_path("joon").read_bytes()


def _seeds() -> tuple[list[bytes], bytes]:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        short, notes = _written_by_the_store(Path(folder) / "a", 3)
        longer, _ = _written_by_the_store(Path(folder) / "b", 8)
    return [short, longer], notes


TRANSCRIPT_SEEDS, NOTES_SEED = _seeds()
TRANSCRIPT_RECORDS = [[json.loads(line) for line in seed.splitlines()] for seed in TRANSCRIPT_SEEDS]


def _read_transcript(folder: Path, data: bytes, notes: bytes | None = None) -> Transcript | None:
    base = fresh_dir(folder)
    path = write(base / "joon.jsonl", data)
    if notes is not None:
        write(base / "joon.notes.json", notes)
    transcript = read_or_refuse(lambda: read_transcript(path), Transcript)
    if transcript is None:
        return None
    # the agent built from an accepted transcript: an InterviewAgent, or one clear refusal (no model is called)
    llm = LLM(FakeBackend())
    agent = read_or_refuse(lambda: asyncio.run(build_agent_from_transcript(
        transcript, llm, reflections=False, score=False, force=True)), InterviewAgent)
    if agent is not None:
        assert agent.observations() and all(m.text.strip() for m in agent.observations())
    return transcript


@given(data=mutated_bytes(TRANSCRIPT_SEEDS), notes=st.one_of(st.none(), st.just(NOTES_SEED), mutated_bytes([NOTES_SEED], 2)))
@example(data=TRANSCRIPT_SEEDS[0].replace(b'"index":0', b'"index":' + HUGE_DIGITS.encode(), 1), notes=None)  # found
@example(data=TRANSCRIPT_SEEDS[0], notes=b'{"bullets": [], "updated_at_turn": ' + HUGE_DIGITS.encode() + b"}")
@counted
def test_mutated_transcript_bytes_read_or_refuse(tmp_path, data, notes):
    _read_transcript(tmp_path, data, notes)


@st.composite
def mutated_records(draw) -> bytes:
    """One line of a transcript (the header or a turn) mutated as a JSON document."""
    records = [dict(r) for r in draw(st.sampled_from(TRANSCRIPT_RECORDS))]
    line = draw(st.integers(0, len(records) - 1))
    records[line] = draw(mutated_tree(records[line]))
    return ("\n".join(dump_json(r) for r in records) + "\n").encode("utf-8", "surrogatepass")


@given(data=mutated_records())
@example(data=(dump_json({"type": "header", "respondent": "joon", "demographics": ["a list"]}) + "\n"  # found
               + dump_json({"speaker": "interviewer", "text": "Hi?"}) + "\n"
               + dump_json({"speaker": "respondent", "text": "Hello."}) + "\n").encode())
@example(data=(dump_json({"type": "header", "respondent": "joon", "name": "  "}) + "\n"
               + dump_json({"speaker": "interviewer", "text": "Hi?"}) + "\n"
               + dump_json({"speaker": "respondent", "text": "Hello."}) + "\n").encode())
@counted
def test_mutated_transcript_records_read_or_refuse(tmp_path, data):
    _read_transcript(tmp_path, data)


def test_the_huge_index_example_is_in_the_seed():
    assert b'"index":0' in TRANSCRIPT_SEEDS[0]  # so the explicit example above really puts 5,001 digits there


# -- genagents folders ------------------------------------------------------------------------------------------
DIMENSION = 8


class HashEmbedder:
    """Deterministic 8-dimensional vectors (no model loads): the store's behaviour, not its quality, is tested."""

    name = "fuzz-hash-8"

    def embed(self, texts):
        out = []
        for text in texts:
            digest = hashlib.sha256(str(text).encode("utf-8", "surrogatepass")).digest()
            vector = np.frombuffer(digest[:DIMENSION], dtype=np.uint8).astype(np.float32) + 1.0
            out.append((vector / np.linalg.norm(vector)).tolist())
        return out


_STORE: list[MemoryStore] = []


def _store() -> MemoryStore:
    if not _STORE:
        _STORE.append(MemoryStore.ephemeral(HashEmbedder()))
    return _STORE[0]


FEW_NODES = NODES[:12]  # the first real memories: big enough to matter, small enough to mutate quickly
EMBEDDINGS = {node["content"]: HashEmbedder().embed([node["content"]])[0] for node in FEW_NODES}
FILES = {
    "meta.json": json.dumps(META).encode(),
    "scratch.json": json.dumps(SCRATCH).encode(),
    "memory_stream/nodes.json": json.dumps(FEW_NODES).encode(),
    "memory_stream/embeddings.json": json.dumps(EMBEDDINGS).encode(),
}
DOCUMENTS = {"meta.json": META, "scratch.json": SCRATCH, "memory_stream/nodes.json": FEW_NODES,
             "memory_stream/embeddings.json": EMBEDDINGS}


@st.composite
def genagents_folders(draw) -> dict[str, bytes | None]:
    """The sample agent's files with one or two of them mutated (bytes or as JSON), or left out (None)."""
    files: dict[str, bytes | None] = dict(FILES)
    if draw(st.booleans()):
        files["memory_stream/nodes.json"] = (SAMPLE / "single_agent_memory_nodes.json").read_bytes()  # all 116
        files["memory_stream/embeddings.json"] = None
    for name in draw(st.lists(st.sampled_from(sorted(FILES)), min_size=1, max_size=2, unique=True)):
        how = draw(st.sampled_from(["bytes", "tree", "tree", "missing"]))
        if how == "missing":
            files[name] = None
        elif how == "bytes" or files[name] is None or name == "memory_stream/nodes.json" and len(files[name]) > 20_000:
            files[name] = draw(mutated_bytes([files[name] or FILES[name]], 3))
        else:
            files[name] = dump_json(draw(mutated_tree(DOCUMENTS[name]))).encode("utf-8", "surrogatepass")
    return files


def _lay_out(folder: Path, files: dict[str, bytes | None]) -> Path:
    agent = folder / "population" / "agent-1"
    agent.mkdir(parents=True)
    for name, data in files.items():
        if data is not None:
            write(agent / name, data)
    return agent.parent


def _import(folder: Path, files: dict[str, bytes | None]) -> list | None:
    base = fresh_dir(folder)
    population = _lay_out(base, files)
    bank = AgentBank(base / "bank")
    bank._store = _store()
    agents = read_or_refuse(lambda: asyncio.run(import_genagents(population, None, bank, reflections=False)), list)
    if agents:
        for agent in agents:  # what was imported can be loaded back from the bank
            assert bank.load(agent.id).id == agent.id
    return agents


@given(files=genagents_folders())
@example(files={**FILES, "memory_stream/embeddings.json": json.dumps(
    {text: ["x"] * DIMENSION for text in EMBEDDINGS}).encode()})  # vectors of the right length, but not numbers
@example(files={**FILES, "meta.json": b'{"id": "../../outside"}'})
@example(files={**FILES, "scratch.json": b"[1, 2]"})
@example(files={**FILES, "memory_stream/nodes.json": json.dumps(  # found: a repeated node_id (chromadb DuplicateIDError)
    [FEW_NODES[1], {**FEW_NODES[2], "node_id": FEW_NODES[1]["node_id"]}]).encode()})
@counted
def test_genagents_folders_import_or_refuse(tmp_path, files):
    _import(tmp_path, files)


@settings(max_examples=scaled(8))
@given(files=genagents_folders())
@counted
def test_import_genagents_command_exits_cleanly(tmp_path, files):
    """Through the real command; the memory stream is left out, so no embedding model loads (a scratch-only
    folder becomes a demographic agent)."""
    files = {name: data for name, data in files.items() if not name.startswith("memory_stream/")}
    base = fresh_dir(tmp_path)
    population = _lay_out(base, files)
    code, output = run_command(["agents", "import-genagents", str(population), "--no-reflections",
                                "--agents", str(base / "bank")], base / "home")
    assert_clean_exit(code, output)
    shutil.rmtree(base, ignore_errors=True)
