"""Batch throughput on the embedded model: naive order vs the batch runner's order and batching.

Agents: demographic agents of real GSS 2016-2020 panel respondents; items: real GSS items (seeded).
- naive: one call per question, item-major (every agent answers item 1, then item 2, ...), so each call
  starts from another agent's prompt;
- runner: `experiments.runs.runner` as `simulacra run` uses it on the embedded model: agent-major (each agent's
  prefix stays warm in llama.cpp's KV cache), batches of `--batch-size` questions per agent call and
  transaction, one question per model call (the runner's default on a warm-prefix model);
- runner-batched: the same, with all of a batch's questions in one model call (the default on endpoints);
- runner-logprobs: the runner with `--scoring logprobs` (one forward pass an answer, no generation).
Generated JSON answers are grammar-constrained with the lazy one-token check (`simulacra/llm/lazy_grammar.py`);
`--library-grammar` uses llama-cpp-python's whole-vocabulary grammar instead, to reproduce the earlier figures.
The response cache is off, so both really compute. Prints answers per minute for both, prompt tokens
actually evaluated, and the ratios. Beside each measurement: the prefill+decode bound, i.e. the time the model
itself needs for that mode's work (prompt tokens evaluated / prefill tok/s + completion tokens / decode tok/s,
with both rates calibrated on this model in this process right before and right after each mode), and measured / bound.
Beside it, llama.cpp's own clock for the mode (its prompt and decode time, timed during the mode itself) and measured /
model time: what the runner and the library add outside the model, immune to the machine's drift between calibrations.

    python benchmarks/batch_throughput.py                 # 5 agents x 30 items (the issue's setting)
    python benchmarks/batch_throughput.py --agents 2 --items 6
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path


WORDS = ("family work school church neighborhood garden music city river winter money health friends election "
         "kitchen brother sister teacher job retirement travel dog cat book movie truck farm bank union").split()


_CALIBRATIONS = 0


async def calibrate(llm, prompt_tokens: int = 400, decode_tokens: int = 128, rounds: int = 2) -> tuple[float, float]:
    """(prefill tok/s, decode tok/s) of the model: cold prompts of about `prompt_tokens` (fresh random text, so
    no cached prefix), one token out; then short prompts generating `decode_tokens` (their prefill removed)."""
    import random

    global _CALIBRATIONS
    _CALIBRATIONS += 1  # new text each time: a repeated prompt would come from llama.cpp's state cache for free
    rng = random.Random(12345 + _CALIBRATIONS)
    evaluated = prefill_s = 0.0
    for _ in range(rounds):
        text = " ".join(rng.choice(WORDS) for _ in range(int(prompt_tokens * 0.9)))
        started = time.perf_counter()
        reply = await llm.chat([{"role": "user", "content": text}], max_tokens=1, temperature=0.0)
        prefill_s += time.perf_counter() - started
        evaluated += reply.usage.prompt_tokens_evaluated
    prefill = evaluated / prefill_s
    generated = decode_s = 0.0
    for i in range(rounds):
        topic = " ".join(rng.choice(WORDS) for _ in range(6))
        started = time.perf_counter()
        reply = await llm.chat([{"role": "user", "content": f"Write a long story about {topic}. ({i})"}],
                               max_tokens=decode_tokens, temperature=0.0)
        seconds = time.perf_counter() - started
        decode_s += seconds - reply.usage.prompt_tokens_evaluated / prefill
        generated += reply.usage.completion_tokens
    return prefill, generated / decode_s


def fresh_model_state(llm) -> None:
    """Forget the embedded model's saved prompt states (llama.cpp KV of earlier calls, kept in its RAM cache),
    so each mode starts cold: otherwise a later mode re-reads the earlier modes' prompts for free."""
    backend = getattr(llm, "backend", None)
    model = getattr(backend, "_llm", None)
    if model is None:
        return
    import llama_cpp

    model.set_cache(llama_cpp.LlamaRAMCache(capacity_bytes=getattr(model.cache, "capacity_bytes", 1 << 30)))
    model.reset()  # the context's own prefix too (next call re-evaluates from the first token)


def model_clock(model) -> tuple[float, float, int, int]:
    """llama.cpp's own timing (prompt ms, decode ms, prompt tokens, decoded tokens): the model's time for a
    mode, measured during that mode, so it does not drift away from the mode the way a calibration can."""
    import llama_cpp

    data = llama_cpp.llama_perf_context(model._ctx.ctx)
    return float(data.t_p_eval_ms), float(data.t_eval_ms), int(data.n_p_eval), int(data.n_eval)


def cpu_jiffies() -> tuple[int, int]:
    """(stolen, total) CPU time of this machine so far: a VM whose host takes cycles runs everything slower."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    return (fields[7] if len(fields) > 7 else 0), sum(fields[:8])


async def naive(agents, questions, llm) -> tuple[int, int]:
    answered = failed = 0
    for question in questions:
        for agent in agents:
            answer = (await agent.answer([question], llm=llm))[0]
            answered += 1
            failed += answer.status.value != "ok"
    return answered, failed


async def with_runner(agents, instrument, llm, batch_size: int, root: Path, per_call: int | None, label: str,
                      scoring: str | None = None) -> tuple[int, int]:
    from experiments.runs import BatchRunner, RunFolder, RunSpec
    from experiments.runs.options import answer_options

    options = answer_options(scoring, None, None, None) if scoring else None
    folder = RunFolder.open(RunSpec.build(agents, [instrument], model={"model": llm.model}, label=label, options=options),
                            root / "runs")
    outcome = await BatchRunner(folder, llm, batch_size=batch_size, questions_per_call=per_call).run(agents, [instrument])
    return outcome.written, outcome.failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=5)
    parser.add_argument("--items", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--modes", default="naive,runner,runner-batched,runner-logprobs",
                        help="comma-separated subset of naive, runner, runner-batched, runner-logprobs")
    parser.add_argument("--library-grammar", action="store_true",
                        help="JSON grammar applied to the whole vocabulary every token (llama-cpp-python's own "
                             "sampler), instead of the lazy one-token check: reproduces the measurement before it")
    args = parser.parse_args()

    from simulacra.config import load_settings
    from simulacra.llm import open_llm
    from simulacra.workspace import Workspace

    from experiments.faithfulness.gss_benchmark import plan_gss_benchmark

    with tempfile.TemporaryDirectory(prefix="simulacra-throughput-") as tmp:
        root = Path(tmp)
        plan = plan_gss_benchmark(people=args.agents, items=args.items, seed=args.seed, conditions=["demographic"], context_items=0)
        llm = open_llm(load_settings(), Workspace(root), cache=False)
        model = getattr(llm.backend, "_llm", None)
        if args.library_grammar and model is not None:
            model.lazy_grammar = False
        grammar = "library (whole vocabulary)" if args.library_grammar else "lazy (one token, vocabulary on rejection)"
        print(f"model {llm.model}; {len(plan.agents)} agents x {len(plan.items)} GSS items; batch size {args.batch_size}; "
              f"JSON grammar: {grammar}")
        asyncio.run(llm.chat([{"role": "user", "content": "Say OK."}], max_tokens=2))  # load and warm up

        results = {}
        modes = {"naive": None, "runner": None, "runner-batched": args.batch_size, "runner-logprobs": None}
        chosen = args.modes.split(",")
        if unknown := set(chosen) - set(modes):
            parser.error(f"--modes: unknown {sorted(unknown)}; choose from {list(modes)}")
        stats = getattr(model, "grammar_stats", None)
        for name in chosen:
            # calibrated right before and right after each mode (the bound uses the mean time per token of the
            # two): on this machine the rates drift by up to 2x within minutes, even with nothing else running
            before_rates = asyncio.run(calibrate(llm))
            fresh_model_state(llm)
            before = llm.usage.snapshot()
            checks = (stats.checked, stats.fallbacks) if stats else (0, 0)
            clock, jiffies = (model_clock(model) if model is not None else None), cpu_jiffies()
            started = time.perf_counter()
            if name == "naive":
                answered, failed = asyncio.run(naive(plan.agents, plan.instrument.questions, llm))
            else:
                answered, failed = asyncio.run(with_runner(
                    plan.agents, plan.instrument, llm, args.batch_size, root, modes[name], name,
                    scoring="logprobs" if name == "runner-logprobs" else None))
            seconds = time.perf_counter() - started
            after = llm.usage.snapshot()
            clock_after, jiffies_after = (model_clock(model) if model is not None else None), cpu_jiffies()
            after_rates = asyncio.run(calibrate(llm))
            prefill_rate, decode_rate = (2 / (1 / b + 1 / a) for b, a in zip(before_rates, after_rates))
            results[name] = {
                "answers": answered,
                "failed": failed,
                "seconds": seconds,
                "per_minute": answered / seconds * 60,
                "calls": after["calls"] - before["calls"],
                "evaluated": after["prompt_tokens_evaluated"] - before["prompt_tokens_evaluated"],
                "generated": after["completion_tokens"] - before["completion_tokens"],
            }
            r = results[name]
            r["bound"] = r["evaluated"] / prefill_rate + r["generated"] / decode_rate
            print(f"{name:>14}: {r['answers']} answers ({r['failed']} failed) in {r['seconds']:.1f}s = {r['per_minute']:.1f} answers/min; "
                  f"{r['calls']} calls, {r['evaluated']} prompt tokens evaluated, {r['generated']} generated; "
                  f"bound from prefill {prefill_rate:.0f} tok/s + decode {decode_rate:.0f} tok/s (before {before_rates[0]:.0f}/"
                  f"{before_rates[1]:.0f}, after {after_rates[0]:.0f}/{after_rates[1]:.0f}): {r['bound']:.1f}s, measured/bound {r['seconds'] / r['bound']:.2f}x, "
                  f"overhead {(r['seconds'] - r['bound']) / max(1, r['calls']) * 1000:.0f} ms/call")
            if clock is not None:
                p_ms, d_ms, p_n, d_n = (a - b for a, b in zip(clock_after, clock))
                model_s = (p_ms + d_ms) / 1000
                stolen, total = (a - b for a, b in zip(jiffies_after, jiffies))
                r["model_seconds"] = model_s
                print(f"{'':>14}  llama.cpp's own clock during the mode: prompt {p_ms / 1000:.1f}s ({p_n} tok, "
                      f"{p_n / max(p_ms, 1e-9) * 1000:.0f} tok/s), decode {d_ms / 1000:.1f}s ({d_n} tok, "
                      f"{d_n / max(d_ms, 1e-9) * 1000:.0f} tok/s); measured / model time {r['seconds'] / model_s:.2f}x "
                      f"(outside the model: {(r['seconds'] - model_s) / max(1, r['calls']) * 1000:.0f} ms/call); "
                      f"CPU stolen by the host: {stolen / max(1, total):.1%}")
            if stats and stats.checked > checks[0]:
                checked, fallbacks = stats.checked - checks[0], stats.fallbacks - checks[1]
                print(f"{'':>14}  lazy grammar: {checked} tokens checked one at a time, {fallbacks} "
                      f"({fallbacks / checked:.0%}) rejected and filtered against the shortlist or vocabulary")
        naive_r = results.get("naive")
        for name in [m for m in chosen if m != "naive"] if naive_r else []:
            r = results[name]
            print(f"speed-up of {name} (answers per minute vs naive): {r['per_minute'] / naive_r['per_minute']:.2f}x; "
                  f"prompt tokens evaluated naive / {name}: {naive_r['evaluated'] / max(1, r['evaluated']):.2f}x")


if __name__ == "__main__":
    main()
