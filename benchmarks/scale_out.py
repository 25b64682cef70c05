"""Scale-out benchmark (#17): the runner's units on 1, 2 and 4 Ray workers.

    .venv/bin/python benchmarks/scale_out.py                  # fake fleet, Ray overhead, projection
    flock /tmp/simulacra-model.lock .venv/bin/python benchmarks/scale_out.py --embedded   # + the embedded model

(a) Fake OpenAI-compatible replicas on loopback (tests/scale/fakes.py): a fixed latency per call plus a prefix-cache
    cost model (vLLM-like block hashing: a cold prompt token costs `--per-token` seconds, a warm one nothing), each
    replica with a bounded number of slots. Persona agents with a long context (~1,000 tokens) answer a GSS battery
    in batches. For each worker count, prefix-affinity routing vs round robin: answers/s, prefix-cache hit rate
    (warm / prompt tokens), prompt tokens recomputed.
(b) Per-answer overhead Ray adds: a zero-latency fake model, one question a call, in-process runner vs one Ray actor.
(c) With --embedded: the embedded model, one llama.cpp thread per Ray worker (2 workers) vs the local runner with
    two threads (one model).
(d) A projection of the paper's whole battery on an N-replica vLLM fleet from the measured figures, with every
    assumption printed.

Everything runs on this machine; its 2 cores are shared, so the figures are measured under load and are only
comparable with each other.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from experiments.runs import RunFolder, RunSpec, run_batch, select_questions  # noqa: E402
from simulacra.agents.baselines import DemographicAgent, PersonaAgent  # noqa: E402
from simulacra.config import LLMSettings, load_settings  # noqa: E402
from simulacra.llm import LLM  # noqa: E402
from surveys.instruments import load_instrument  # noqa: E402

from tests.scale.fakes import FakeOpenAIServer, fake_backend, fleet_backend  # noqa: E402

MODEL = {"kind": "bench", "model": "fake"}
WORDS = ("farm teacher church union city river debt nurse soldier garden election children music factory bus "
         "doctor savings neighbor vote rent market weather baseball library highway prayer tax").split()


def persona(i: int, words: int = 700) -> str:
    """A long, agent-specific context (~1,000 tokens), like an interview agent's transcript."""
    import random

    rnd = random.Random(i)
    return f"I am respondent {i}. " + " ".join(rnd.choice(WORDS) for _ in range(words)) + "."


def fresh_home() -> Path:
    home = Path(tempfile.mkdtemp(prefix="scale-out-")) / "simulacra-data"
    os.environ["SIMULACRA_HOME"] = str(home)
    return home


def workspace_runs() -> Path:
    from simulacra.workspace import Workspace

    return Workspace.default().runs


def run_once(agents, instruments, *, llm=None, executor=None, batch_size: int, run_id: str) -> tuple[float, object]:
    folder = RunFolder.open(RunSpec.build(agents, instruments, model=MODEL, run_id=run_id), workspace_runs())
    start = time.perf_counter()
    outcome = asyncio.run(run_batch(folder, agents, instruments, executor if executor is not None else llm,
                                    batch_size=batch_size, export=False))
    return time.perf_counter() - start, outcome


# -- (a) fake fleet -----------------------------------------------------------------------------------------------
def fleet_rows(args) -> list[dict]:
    from experiments.runs.executors.ray_executor import RayExecutor

    agents = [PersonaAgent(id=f"a{i:03d}", persona=persona(i)) for i in range(args.agents)]
    instruments = select_questions([load_instrument("gss")], limit=args.questions)
    rows = []
    for workers in args.workers:
        for routing in ("affinity", "round_robin"):
            fresh_home()
            servers = [FakeOpenAIServer(latency=args.latency, per_token=args.per_token, slots=args.slots).start()
                       for _ in range(args.replicas)]
            try:
                settings = LLMSettings(base_urls=[f"{s.base_url}#{args.slots}" for s in servers], model="fake",
                                       api_key="x", max_concurrency=args.slots)
                with RayExecutor(settings, workers=workers, per_worker=args.per_worker, cache=False,
                                 backend_factory=fleet_backend(routing), timeout=300) as executor:
                    executor.wait_ready()
                    seconds, outcome = run_once(agents, instruments, executor=executor, batch_size=args.batch_size,
                                                run_id=f"fleet-{workers}-{routing}")
            finally:
                for server in servers:
                    server.stop()
            prompt = sum(s.stats["prompt_tokens"] for s in servers)
            warm = sum(s.stats["cached_tokens"] for s in servers)
            calls = sum(s.stats["calls"] for s in servers)
            # how many times each agent's context was computed (calls that found less than half their prompt warm)
            rows.append({"context_computations": sum(s.stats["cold_calls"] for s in servers) / len(agents),"workers": workers, "routing": routing, "answers": outcome.written, "seconds": seconds,
                         "answers_per_s": outcome.written / seconds, "hit_rate": warm / prompt if prompt else 0.0,
                         "prompt_tokens": prompt, "recomputed": prompt - warm,
                         "calls": calls})
            print(f"  workers={workers} {routing:<11} {rows[-1]['answers_per_s']:6.1f} answers/s  "
                  f"hit rate {rows[-1]['hit_rate']:.0%}", flush=True)
    return rows


# -- (b) Ray overhead ---------------------------------------------------------------------------------------------
def overhead_row(args) -> dict:
    from experiments.runs.executors.ray_executor import RayExecutor

    agents = [DemographicAgent(id=f"d{i:03d}", demographics={"age": str(20 + i % 60), "region": f"r{i}"})
              for i in range(args.overhead_agents)]
    instruments = select_questions([load_instrument("gss")], limit=4)
    fresh_home()
    local_s, outcome = run_once(agents, instruments, llm=LLM(fake_backend()), batch_size=1, run_id="overhead-local")
    with RayExecutor(LLMSettings(), workers=1, per_worker=1, cache=False, keeps_prefix_warm=False,
                     backend_factory=fake_backend, timeout=300) as executor:
        executor.wait_ready()
        ray_s, _ = run_once(agents, instruments, executor=executor, batch_size=1, run_id="overhead-ray")
    n = outcome.written
    return {"answers": n, "local_ms": 1000 * local_s / n, "ray_ms": 1000 * ray_s / n,
            "overhead_ms": 1000 * (ray_s - local_s) / n}


# -- (c) embedded model -------------------------------------------------------------------------------------------
def embedded_row(args) -> dict:
    from experiments.runs.executors.ray_executor import RayExecutor
    from simulacra.llm import open_llm

    agents = [DemographicAgent(id=f"e{i}", demographics={"age": str(30 + 11 * i), "sex": ("female", "male")[i % 2]})
              for i in range(args.embedded_agents)]
    instruments = select_questions([load_instrument("gss")], limit=args.embedded_questions)
    fresh_home()
    base = load_settings()
    two_threads = base.model_copy(update={"llm": base.llm.model_copy(update={"local_threads": 2})})
    llm = open_llm(two_threads, cache=False)
    local_s, outcome = run_once(agents, instruments, llm=llm, batch_size=args.embedded_questions, run_id="emb-local")
    one_thread = base.llm.model_copy(update={"local_threads": 1})
    with RayExecutor(one_thread, workers=2, cache=False, timeout=1800) as executor:
        executor.wait_ready(timeout=600)  # both actors have loaded their copy of the model
        ray_s, _ = run_once(agents, instruments, executor=executor, batch_size=args.embedded_questions,
                            run_id="emb-ray")
    n = outcome.written
    return {"answers": n, "local_s": local_s, "ray_s": ray_s, "local_aps": n / local_s, "ray_aps": n / ray_s}


# -- (d) projection -----------------------------------------------------------------------------------------------
PAPER = {"agents": 1052, "conditions": 4, "gss": 177, "bfi": 44, "games": 5, "experiments": 5}
CONTEXT_TOKENS = {"interview": 8500, "combined": 9500, "composite": 2500, "demographic": 120}


def projection(args, fleet: list[dict]) -> list[str]:
    best = {r["routing"]: r for r in fleet if r["workers"] == max(args.workers)}
    f_aff = best["affinity"]["context_computations"] if "affinity" in best else 1.0
    f_rr = best["round_robin"]["context_computations"] if "round_robin" in best else float(args.replicas)
    questions = PAPER["gss"] + PAPER["bfi"] + PAPER["games"] + PAPER["experiments"]
    calls_per_agent = -(-questions // args.paper_batch)
    out = [
        "assumptions (stated, not measured):",
        f"  battery: {PAPER['agents']} agents x {PAPER['conditions']} conditions ({', '.join(CONTEXT_TOKENS)}) x "
        f"{questions} items (177 GSS + 44 BFI + 5 games + 5 experiments), {args.paper_batch} items a call "
        f"-> {calls_per_agent} calls per agent and condition",
        f"  context tokens per agent: {CONTEXT_TOKENS}; +{args.question_tokens} tokens of questions and instructions "
        f"a call (never cached); {args.completion_tokens} completion tokens an answer",
        f"  one vLLM replica (8B model, one GPU): prefill {args.prefill:,} tok/s, decode {args.decode:,} tok/s "
        f"(batched), ${args.gpu_hour:.2f} per GPU-hour; replicas' caches hold the agents in flight",
        "  round robin computes an agent's context once on every replica its calls reach: min(calls, N) times",
        "measured here (fake fleet, the largest worker count, "
        f"{args.replicas} replicas): an agent's context computed x{f_aff:.2f} with affinity, x{f_rr:.2f} round robin",
    ]
    for routing in ("affinity", "round robin"):
        for replicas in args.replicas_projection:
            factor = f_aff if routing == "affinity" else min(calls_per_agent, replicas)
            prompt = recomputed = completion = 0.0
            for context in CONTEXT_TOKENS.values():
                prompt += PAPER["agents"] * calls_per_agent * (context + args.question_tokens)
                recomputed += PAPER["agents"] * (context * factor + calls_per_agent * args.question_tokens)
                completion += PAPER["agents"] * questions * args.completion_tokens
            gpu_seconds = recomputed / args.prefill + completion / args.decode
            out.append(f"  {routing:<11} N={replicas:<3} prompt {prompt / 1e9:.2f}B tokens, recomputed "
                       f"{recomputed / 1e9:.3f}B (hit {1 - recomputed / prompt:.0%}), completion {completion / 1e6:.0f}M "
                       f"-> wall {gpu_seconds / replicas / 3600:5.2f} h, cost ${gpu_seconds / 3600 * args.gpu_hour:,.0f}")
    return out


def print_embedded(embedded: dict) -> None:
    print(f"\nembedded model, {embedded['answers']} answers: local runner (one model, 2 threads) "
          f"{embedded['local_aps']:.3f} answers/s ({embedded['local_s']:.0f} s); 2 Ray workers (a model each, "
          f"1 thread) {embedded['ray_aps']:.3f} answers/s ({embedded['ray_s']:.0f} s, models loaded beforehand); "
          f"ratio x{embedded['ray_aps'] / embedded['local_aps']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--agents", type=int, default=16)
    parser.add_argument("--questions", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--slots", type=int, default=4, help="concurrent calls a fake replica serves")
    parser.add_argument("--per-worker", type=int, default=2, help="calls in flight per Ray worker")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per call")
    parser.add_argument("--per-token", type=float, default=0.0004, help="seconds per cold prompt token")
    parser.add_argument("--overhead-agents", type=int, default=20)
    parser.add_argument("--embedded", action="store_true", help="also the embedded model (run under the model lock)")
    parser.add_argument("--embedded-only", action="store_true", help="only (c), the embedded model")
    parser.add_argument("--embedded-agents", type=int, default=2)
    parser.add_argument("--embedded-questions", type=int, default=2)
    parser.add_argument("--paper-batch", type=int, default=5)
    parser.add_argument("--question-tokens", type=int, default=450)
    parser.add_argument("--completion-tokens", type=int, default=60)
    parser.add_argument("--prefill", type=int, default=20000)
    parser.add_argument("--decode", type=int, default=2500)
    parser.add_argument("--gpu-hour", type=float, default=2.0)
    parser.add_argument("--replicas-projection", type=int, nargs="+", default=[1, 4, 16])
    args = parser.parse_args()

    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    if args.embedded_only:
        try:
            embedded = embedded_row(args)
        finally:
            ray.shutdown()
        print_embedded(embedded)
        return
    try:
        print(f"(a) fake fleet: {args.replicas} replicas x {args.slots} slots, {args.latency * 1000:.0f} ms a call + "
              f"{args.per_token * 1e6:.0f} us per cold prompt token; {args.agents} persona agents x {args.questions} "
              f"GSS items, {args.batch_size} a call; {args.per_worker} calls in flight per worker", flush=True)
        fleet = fleet_rows(args)
        print("(b) Ray overhead per answer", flush=True)
        overhead = overhead_row(args)
        embedded = embedded_row(args) if args.embedded else None
    finally:
        ray.shutdown()

    print("\nmeasured on this machine (2 cores shared with other work: figures under load)\n")
    print("workers  routing      answers/s  hit rate  prompt tokens  recomputed  calls  context computed")
    base = {r["routing"]: r["answers_per_s"] for r in fleet if r["workers"] == min(args.workers)}
    for r in fleet:
        print(f"{r['workers']:>7}  {r['routing']:<11} {r['answers_per_s']:>10.1f}  {r['hit_rate']:>8.0%}  "
              f"{r['prompt_tokens']:>13,}  {r['recomputed']:>10,}  {r['calls']:>5}  x{r['context_computations']:>5.2f}   "
              f"x{r['answers_per_s'] / base[r['routing']]:.2f} vs {min(args.workers)} worker")
    for w in args.workers:
        pair = {r["routing"]: r for r in fleet if r["workers"] == w}
        if len(pair) == 2:
            print(f"  {w} worker(s): affinity / round robin throughput x{pair['affinity']['answers_per_s'] / pair['round_robin']['answers_per_s']:.2f}, "
                  f"recomputed prompt tokens x{pair['affinity']['recomputed'] / max(1, pair['round_robin']['recomputed']):.2f}")
    print(f"\nRay overhead: {overhead['answers']} answers one a call: local {overhead['local_ms']:.1f} ms/answer, "
          f"one Ray actor {overhead['ray_ms']:.1f} ms/answer -> +{overhead['overhead_ms']:.1f} ms per answer")
    if embedded:
        print_embedded(embedded)
    print("\n(d) projection of the paper's whole battery on an N-replica vLLM fleet")
    for line in projection(args, fleet):
        print(line)


if __name__ == "__main__":
    main()
