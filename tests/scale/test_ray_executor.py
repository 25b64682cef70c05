"""The Ray executor on a local Ray cluster started by this module (2 CPUs, no dashboard, loopback): the same
stored answers as a local run, an actor lost mid-run retried with nothing lost or duplicated, a run started
locally resumed on Ray, `simulacra run` and `simulacra experiment run --executor ray` against a fake endpoint, and
(marker embedded) the same small batch on the embedded model."""

from __future__ import annotations

import asyncio
import os

import pytest

ray = pytest.importorskip("ray")

from experiments.runs.folder import RunFolder  # noqa: E402
from experiments.runs.spec import RunSpec
from experiments.runs import RunInterrupted, run_batch, select_questions  # noqa: E402
from experiments.runs.executors.ray_executor import RayExecutor  # noqa: E402
from simulacra.agents.baselines import DemographicAgent  # noqa: E402
from simulacra.config import LLMSettings, load_settings  # noqa: E402
from simulacra.llm import LLM, FakeBackend  # noqa: E402
from simulacra.workspace import Workspace  # noqa: E402
from surveys.instruments import load_instrument  # noqa: E402

from tests.scale.fakes import crashing_backend, fake_backend, schema_reply  # noqa: E402

MODEL = {"kind": "test", "model": "fake-model"}
COLUMNS = ["agent", "instrument", "question", "sample", "value", "status", "reasoning", "prompt_hash"]


@pytest.fixture(scope="module", autouse=True)
def ray_cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    yield
    ray.shutdown()


def people(n: int = 3) -> list[DemographicAgent]:
    sexes, ages = ["female", "male", "female"], ["34", "58", "71"]
    return [DemographicAgent(id=f"p{i}", demographics={"age": ages[i % 3], "sex": sexes[i % 3], "region": f"r{i}"})
            for i in range(n)]


def battery(limit: int = 4):
    return select_questions([load_instrument("gss")], limit=limit)


def answers(folder):
    return folder.answers()[COLUMNS].sort_values(COLUMNS[:4]).reset_index(drop=True)


def count_writes(folder) -> list:
    """Every key the runner writes (to prove each answer is written once)."""
    written: list = []
    original = folder.store.write_batch

    def write_batch(items, **kwargs):
        items = list(items)
        written.extend(item.key for item in items)
        return original(items, **kwargs)

    folder.store.write_batch = write_batch
    return written


def local_run(run_id: str, agents, instruments, backend=None):
    folder = RunFolder.open(RunSpec.build(agents, instruments, model=MODEL, run_id=run_id), Workspace.default().runs)
    outcome = asyncio.run(run_batch(folder, agents, instruments, LLM(backend or fake_backend()), batch_size=2))
    return folder, outcome


def ray_run(run_id: str, agents, instruments, executor):
    folder = RunFolder.open(RunSpec.build(agents, instruments, model=MODEL, run_id=run_id), Workspace.default().runs)
    written = count_writes(folder)
    outcome = asyncio.run(run_batch(folder, agents, instruments, executor, batch_size=2))
    return folder, outcome, written


def fake_executor(**kwargs) -> RayExecutor:
    kwargs.setdefault("backend_factory", fake_backend)
    return RayExecutor(LLMSettings(), workers=2, keeps_prefix_warm=False, cache=False, timeout=120, **kwargs)


def test_ray_run_stores_the_same_answers_as_a_local_run():
    agents, instruments = people(), battery()
    local, _ = local_run("local", agents, instruments)
    with fake_executor() as executor:
        folder, outcome, written = ray_run("on-ray", agents, instruments, executor)
        assert len(executor.incarnations) == 2  # both actors answered
    assert outcome.status == "complete" and outcome.written == 12
    assert len(written) == len(set(written)) == 12
    assert answers(folder).equals(answers(local))
    session = folder.store.sessions()[-1]
    assert session["outcome"] == "complete" and session["answers_written"] == 12
    assert session["usage"]["calls"] == 6 and session["usage"]["prompt_tokens"] > 0  # 3 agents x 2 batches
    assert session["usage"]["prompt_tokens"] == local.store.sessions()[-1]["usage"]["prompt_tokens"]


def test_an_actor_lost_mid_run_is_restarted_and_its_batch_retried(tmp_path):
    agents, instruments = people(), battery()
    local, _ = local_run("local", agents, instruments)
    marker = tmp_path / "crashed"
    # each actor's process dies on its 2nd model call (the first actor to get there; once, the marker remembers)
    with fake_executor(backend_factory=crashing_backend(str(marker), on_call=2, delay=0.05)) as executor:
        folder, outcome, written = ray_run("on-ray-crash", agents, instruments, executor)
        assert marker.exists(), "no actor died: the test did not test a failure"
        live = executor.wait_ready()  # both actors are there again: the dead one was restarted by Ray
        assert len(live) == 2 and int(marker.read_text()) not in {f["pid"] for f in live}
    assert outcome.status == "complete"
    assert len(written) == len(set(written)) == 12  # nothing duplicated ...
    assert answers(folder).equals(answers(local))  # ... nothing lost, the same answers
    assert folder.store.counts() == {"ok": 12, "failed": 0}
    assert all(len(folder.store.history(key)) == 1 for key in written)  # no earlier attempt stored


def test_a_run_started_locally_resumes_on_ray():
    agents, instruments = people(), battery()
    reference, _ = local_run("reference", agents, instruments)
    folder = RunFolder.open(RunSpec.build(agents, instruments, model=MODEL, run_id="moved"), Workspace.default().runs)
    gone = FakeBackend(default=lambda r: schema_reply(r.messages, r.json_schema), fail_after=3)
    with pytest.raises(RunInterrupted):
        asyncio.run(run_batch(folder, agents, instruments, LLM(gone), batch_size=2))
    before = folder.store.counts()["ok"]
    assert 0 < before < 12
    with fake_executor() as executor:
        folder, outcome, written = ray_run("moved", agents, instruments, executor)
    assert outcome.status == "complete" and outcome.already == before
    assert len(written) == len(set(written)) == 12 - before
    assert answers(folder).equals(answers(reference))
    assert [s["outcome"] for s in folder.store.sessions()] == ["interrupted", "complete"]


def test_an_endpoint_gone_on_a_worker_interrupts_the_run_and_it_resumes_locally():
    """The failure taxonomy crosses Ray unchanged: ConnectionError in an actor -> RunInterrupted, all saved; the
    run started on Ray is finished by a local run (the other direction of the resume test above)."""
    from tests.scale.fakes import gone_backend

    agents, instruments = people(), battery()
    reference, _ = local_run("reference", agents, instruments)
    with fake_executor(backend_factory=gone_backend(1)) as executor:
        with pytest.raises(RunInterrupted):
            ray_run("gone", agents, instruments, executor)
    folder, outcome = local_run("gone", agents, instruments)
    assert outcome.status == "complete" and folder.store.counts() == {"ok": 12, "failed": 0}
    assert 0 < outcome.already < 12
    assert answers(folder).equals(answers(reference))
    assert [s["outcome"] for s in folder.store.sessions()] == ["interrupted", "complete"]


@pytest.mark.embedded
def test_the_embedded_model_on_ray_answers_as_it_does_locally():
    """One agent x 2 questions on the embedded model: locally, then on one Ray actor that loads its own copy
    (no shared response cache, so the actor really computes)."""
    agents, instruments = people(1), battery(2)
    settings = load_settings().llm
    local = RunFolder.open(RunSpec.build(agents, instruments, model=MODEL, run_id="embedded-local"), Workspace.default().runs)
    from simulacra.llm import open_llm

    asyncio.run(run_batch(local, agents, instruments, open_llm(cache=False), batch_size=2))
    with RayExecutor(settings, workers=1, cache=False, timeout=600) as executor:
        assert executor.keeps_prefix_warm and executor.slots == 1
        folder, outcome, written = ray_run("embedded-ray", agents, instruments, executor)
        pids = {f["pid"] for f in executor.wait_ready()}
    assert os.getpid() not in pids
    assert outcome.status == "complete" and len(written) == 2
    assert answers(folder).equals(answers(local))
    assert folder.store.sessions()[-1]["usage"]["prompt_tokens"] > 0


def test_simulacra_run_on_ray_against_an_endpoint_fleet(monkeypatch):
    """The command line: `simulacra run --executor ray` with two fake OpenAI-compatible replicas on loopback
    (SIMULACRA_BASE_URLS): the actors build fleet clients from the settings; same answers as the local command."""
    from typer.testing import CliRunner

    from experiments.cli import app
    from experiments.runs.folder import RunFolder
    from simulacra.agents.bank import AgentBank
    from tests.scale.fakes import FakeOpenAIServer

    bank = AgentBank()
    for agent in people():
        bank.save(agent)
    with FakeOpenAIServer() as one, FakeOpenAIServer() as two:
        monkeypatch.setenv("SIMULACRA_BASE_URLS", f"{one.base_url}#2,{two.base_url}#2")
        monkeypatch.setenv("SIMULACRA_MODEL", "fake")
        common = ["run", "--instrument", "gss", "--limit", "4", "--batch-size", "2"]
        local = CliRunner().invoke(app, common + ["--run-id", "cli-local"])
        assert local.exit_code == 0, local.output
        remote = CliRunner().invoke(app, common + ["--run-id", "cli-ray", "--executor", "ray", "--workers", "2"])
        assert remote.exit_code == 0, remote.output
        here, there = RunFolder.resolve("cli-local"), RunFolder.resolve("cli-ray")
        assert len(answers(there)) == 12 and answers(there).equals(answers(here))
        # 6 model calls in all: the actors read the workspace's response cache (same machine) and ask nothing again
        assert one.stats["calls"] + two.stats["calls"] == 6
        assert not one.stats["prefixes"] & two.stats["prefixes"]  # prefix affinity: each agent on one replica
        usage = there.store.sessions()[-1]["usage"]
        assert usage["calls"] == 6 and usage["cached_calls"] == 6


def test_interview_agents_on_ray_read_their_memories_from_a_chroma_server(tmp_path, monkeypatch):
    """Agents built against a chromadb server (SIMULACRA_CHROMA_URL) answer on Ray workers that rebuild them from
    their JSON and read their vectors from the server: the same answers as a local run."""
    from simulacra.agent import AnswerOptions
    from simulacra.agents.bank import AgentBank
    from simulacra.agents.build import build_agent_from_transcript
    from tests.scale.test_chroma_server import chroma_server, transcript

    with chroma_server(tmp_path / "chroma-data") as url:
        monkeypatch.setenv("SIMULACRA_CHROMA_URL", url)
        bank = AgentBank(tmp_path / "bank")
        built = asyncio.run(build_agent_from_transcript(transcript(), LLM(fake_backend()), bank=bank,
                                                        reflections=False, score=False))
        agents, instruments = [bank.load(built.id)], battery(4)
        options = AnswerOptions(context_mode="retrieved", use_router=False)
        runs = Workspace.default().runs
        local = RunFolder.open(RunSpec.build(agents, instruments, model=MODEL, run_id="memories-local", options=options), runs)
        asyncio.run(run_batch(local, agents, instruments, LLM(fake_backend()), batch_size=2))
        with fake_executor() as executor:
            folder = RunFolder.open(RunSpec.build(agents, instruments, model=MODEL, run_id="memories-ray", options=options), runs)
            outcome = asyncio.run(run_batch(folder, agents, instruments, executor, batch_size=2))
    assert outcome.status == "complete" and outcome.written == 4
    assert answers(folder).equals(answers(local))


def test_simulacra_experiment_run_on_ray_stores_the_answers_of_a_local_run(tmp_path, monkeypatch):
    """`simulacra experiment run --executor ray` against a fake OpenAI-compatible endpoint on loopback: the same
    stored answers as the local command. Each command runs in its own workspace (no shared response cache), so
    both really ask the model: the Ray actors' answers are computed, not read back."""
    from typer.testing import CliRunner

    from experiments.cli import app
    from experiments.runs.folder import RunFolder
    from simulacra.agents.bank import AgentBank
    from tests.scale.fakes import FakeOpenAIServer

    bank = AgentBank(tmp_path / "bank")
    for agent in people():
        bank.save(agent)
    homes = {"local": tmp_path / "home-local", "ray": tmp_path / "home-ray"}
    folders, calls = {}, {}
    with FakeOpenAIServer() as server:
        monkeypatch.setenv("SIMULACRA_BASE_URL", server.base_url)
        monkeypatch.setenv("SIMULACRA_MODEL", "fake")
        for name in ("ray", "local"):
            monkeypatch.setenv("SIMULACRA_HOME", str(homes[name]))
            before = server.stats["calls"]
            extra = ["--executor", "ray", "--workers", "2"] if name == "ray" else []
            result = CliRunner().invoke(app, ["experiment", "run", "schilke_2015", "--agents", str(bank.root),
                                              "--run-id", "exp", "--seed", "3", *extra])
            assert result.exit_code == 0, result.output
            calls[name] = server.stats["calls"] - before
            folders[name] = RunFolder.resolve("exp")
    assert calls["ray"] == calls["local"] > 0  # both asked the model, the same number of calls
    here, there = answers(folders["local"]), answers(folders["ray"])
    assert len(there) == 3 and (there["status"] == "ok").all()
    assert there.equals(here)
    conditions = [(folders[n].path / "results.json").read_text() for n in ("local", "ray")]
    assert '"studies"' in conditions[0] and "schilke_2015" in conditions[1]


def test_usage_replies_arriving_out_of_order_do_not_lower_the_totals():
    from experiments.runs.executors.ray_executor import _ActorPool
    pool = _ActorPool.__new__(_ActorPool)
    pool._usage = {}
    pool._record_usage("actor-a", {"calls": 3, "prompt_tokens": 30})
    pool._record_usage("actor-a", {"calls": 2, "prompt_tokens": 20})  # an older reply, delivered late
    pool._record_usage("actor-b", {"calls": 1, "prompt_tokens": 7})
    assert pool.usage() == {"calls": 4, "prompt_tokens": 37}
