"""Memories in a chromadb server (SIMULACRA_CHROMA_URL): the test starts a real `chroma run` on loopback, builds
an interview agent against it (fake model, the real offline embedder), answers with retrieved memories, and reads
the agent from a second bank folder that holds only agent.json (another machine) through the same server."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from simulacra.agent import AnswerOptions
from simulacra.agents.bank import AgentBank
from simulacra.agents.build import build_agent_from_transcript
from simulacra.llm import LLM
from simulacra.transcript import Transcript, Turn
from surveys.instruments import load_instrument

from tests.scale.fakes import fake_backend

CHROMA = Path(sys.executable).with_name("chroma")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def chroma_server(path: Path, timeout: float = 90.0):
    """A real chromadb server on 127.0.0.1 (started and stopped here); yields its URL."""
    if not CHROMA.exists():
        pytest.skip("the chroma command is not installed beside this Python")
    port = free_port()
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False", "CHROMA_TELEMETRY_IMPL": "none"}
    log = open(path.parent / "chroma.log", "wb")
    proc = subprocess.Popen([str(CHROMA), "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(path)],
                            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        import chromadb

        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"chroma run exited ({proc.returncode}): "
                                     + (path.parent / "chroma.log").read_text(errors="replace")[-2000:])
            try:
                chromadb.HttpClient(host="127.0.0.1", port=port).heartbeat()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=20)
        log.close()


def transcript() -> Transcript:
    said = [
        ("Tell me about where you grew up.", "I grew up on a farm in Iowa, milking cows before school every day."),
        ("What do you do for work?", "I teach chemistry at a public high school and coach the debate team."),
        ("How do you feel about the government?", "I think it spends too little on schools and too much on defense."),
        ("What about religion?", "I go to church most Sundays with my mother; faith matters to me."),
    ]
    turns = []
    for i, (asked, answered) in enumerate(said):
        turns.append(Turn(index=2 * i, speaker="interviewer", text=asked, question_id=f"q{i}", kind="scripted"))
        turns.append(Turn(index=2 * i + 1, speaker="respondent", text=answered, kind="answer"))
    return Transcript(respondent="dana", turns=turns, meta={"name": "Dana", "demographics": {"age": "45"}})


def test_agents_build_and_answer_against_a_chroma_server(tmp_path, monkeypatch):
    import chromadb

    with chroma_server(tmp_path / "chroma-data") as url:
        monkeypatch.setenv("SIMULACRA_CHROMA_URL", url)
        llm = LLM(fake_backend())
        built_here = AgentBank(tmp_path / "bank-a")
        agent = asyncio.run(build_agent_from_transcript(transcript(), llm, bank=built_here, reflections=False,
                                                        score=False))
        assert not (tmp_path / "bank-a" / "chroma").exists()  # no embedded store: the vectors are on the server
        port = int(url.rsplit(":", 1)[1])
        collections = chromadb.HttpClient(host="127.0.0.1", port=port).list_collections()
        assert len(collections) == 1 and collections[0].count() == len(agent.memories) == 4

        # another machine: a bank folder with only agent.json, the vectors read from the server
        elsewhere = tmp_path / "bank-b"
        shutil.copytree(tmp_path / "bank-a" / agent.id, elsewhere / agent.id)
        loaded = AgentBank(elsewhere).load(agent.id)
        assert loaded.store.where == url
        relevance = loaded.store.relevance(agent.id, "a farm in Iowa")
        assert len(relevance) == 4 and max(relevance, key=relevance.get) == agent.observations()[0].id

        gss = {q.id: q for q in load_instrument("gss").questions}
        questions = [gss["natspac"], gss["attend"] if "attend" in gss else gss["polviews"]]
        answers = asyncio.run(loaded.answer(questions, llm=llm, options=AnswerOptions(
            context_mode="retrieved", use_router=False, batch_size=2)))
        assert [a.status.value for a in answers] == ["ok", "ok"]
        assert not (elsewhere / "chroma").exists()
