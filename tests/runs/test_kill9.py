"""A run killed with SIGKILL mid-way: its session's usage is on disk up to the last batch, and the next
invocation marks the session `interrupted` (it stays `running` and under-reports on the old code)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from experiments.runs.spec import RunSpec
from experiments.runs import RunFolder, run_batch
from runs_helpers import MODEL, EchoAgent, fake_llm, instrument

SCRIPT = textwrap.dedent("""
    import asyncio, sys
    sys.path.insert(0, sys.argv[2])
    from runs_helpers import MODEL, EchoAgent, fake_llm, instrument
    from experiments.runs import RunFolder, RunSpec, run_batch

    class Slow(EchoAgent):
        async def answer(self, questions, **kwargs):
            await asyncio.sleep(0.15)
            return await super().answer(questions, **kwargs)

    agents = [Slow(id="a"), Slow(id="b")]
    inst = instrument(20)
    folder = RunFolder.open(RunSpec.build(agents, [inst], model=MODEL, temperature=0.0, run_id="killed"), sys.argv[1])
    asyncio.run(run_batch(folder, agents, [inst], fake_llm(), batch_size=2, questions_per_call=2))
""")


def test_kill_9_keeps_usage_and_the_next_invocation_marks_the_session(tmp_path):
    runs = tmp_path / "runs"
    here = Path(__file__).resolve().parent
    root = here.parents[1]
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{here}"}
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(runs), str(here)], env=env, cwd=root)
    db = runs / "killed" / "responses.sqlite"
    try:
        deadline = time.time() + 60
        written = 0
        while time.time() < deadline:
            if db.exists():
                try:
                    with sqlite3.connect(db, timeout=1) as conn:
                        written = conn.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
                except sqlite3.Error:
                    written = 0
            if written >= 6:
                break
            time.sleep(0.05)
        assert written >= 6, "the child run did not start"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    folder = RunFolder(runs / "killed")
    stored = len(folder.answers())
    session = folder.sessions()[0]
    assert session["outcome"] == "running"  # nobody closed it ...
    assert session["usage"]["calls"] == session["answers_written"] // 2 >= 3  # ... but its usage is on disk
    from experiments.runs.summary import describe_run

    shown = describe_run(folder)  # `simulacra runs show`: the header says what happened, not "running"
    assert shown["manifest"]["status"] == "interrupted" and shown["sessions"][0]["outcome"] == "interrupted"

    agents = [EchoAgent(id="a"), EchoAgent(id="b")]
    inst = instrument(20)
    again = RunFolder.open(RunSpec.build(agents, [inst], model=MODEL, temperature=0.0, run_id="killed"), runs)
    import asyncio

    outcome = asyncio.run(run_batch(again, agents, [inst], fake_llm(), batch_size=2, questions_per_call=2))
    assert outcome.written == 40 - stored
    sessions = again.sessions()
    assert [s["outcome"] for s in sessions] == ["interrupted", "complete"]
    manifest = again.manifest
    assert manifest.usage["calls"] == 20  # every call of both sessions: one per stored batch of 2
    assert manifest.counts["ok"] == 40
