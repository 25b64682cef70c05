"""Answer quality and speed on the 2016-2020 GSS panel, on the local model tier(s), with option scoring.

For each configuration (bias correction none / permute / calibrate with `--scoring logprobs`; composite agents
with leave-one-out vs k-fold leave-out) this runs the GSS-panel benchmark through the benchmark library
(`plan_gss_benchmark`, `open_run`, `execute_run`, `evaluate`: the same code as `simulacra benchmark
gss-panel`) and prints one table: accuracy and normalized accuracy (mean of per-person ratios, two-way
bootstrap interval) of demographic, composite and population-informed agents beside the reference
conditions on the same people and items, with answers per minute and prompt tokens evaluated per answer.

    flock /tmp/simulacra-model.lock .venv/bin/python benchmarks/answer_quality.py --people 4 --items 10
    SIMULACRA_LOCAL_MODEL=qwen2.5-1.5b flock /tmp/simulacra-model.lock .venv/bin/python benchmarks/answer_quality.py

Sizes: the faithfulness README's measured standard errors (20 items: ~0.12 whatever the people; 50 items x
400 people: ~0.03) say what a run can show; small runs are smoke tests, and the intervals printed say so.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

CONFIGS = {  # name -> (debias, leave_out)
    "none": ("none", "item"),
    "permute": ("permute", "item"),
    "calibrate": ("calibrate", "item"),
    "kfold": ("none", "kfold"),  # composite agents only, no bias correction
}


def _model_tokens(llm) -> int | None:
    """Tokens the embedded model evaluated so far (llama.cpp's own counters: prompt + generated). Option scoring
    calls are not in `llm.usage`, so the per-answer prompt figure is read here; None on an endpoint."""
    perf = getattr(getattr(llm, "backend", None), "_perf", None)
    return sum(perf()) if callable(perf) else None


def run_config(name: str, debias: str, leave_out: str, args, llm, root: Path) -> tuple[dict, dict]:
    from experiments.faithfulness.gss_benchmark import plan_gss_benchmark
    from experiments.runs.folder import TRUTH_IN_RUN, save_truth
    from experiments.runs.options import answer_options
    from experiments.runs.runner import execute_run, open_run
    from experiments.reports.report import load_truth
    from experiments.scoring.evaluate import EvalSettings, evaluate

    conditions = ["composite"] if leave_out == "kfold" else ["demographic", "composite"]
    plan = plan_gss_benchmark(people=args.people, items=args.items, seed=args.seed, conditions=conditions,
                              context_items=args.context_items)
    options = answer_options("logprobs", debias, leave_out, args.folds if leave_out == "kfold" else None)
    folder = open_run(root / "runs", plan.agents, [plan.instrument], model={"model": llm.model},
                      settings={"samples": 1, "batch_size": 5}, truth=TRUTH_IN_RUN, label=f"answer-quality-{name}",
                      respondents=plan.respondents, extra=plan.describe(), options=options)
    save_truth(folder, plan.truth)
    before = llm.usage.snapshot()
    tokens_before = _model_tokens(llm)
    started = time.perf_counter()
    asyncio.run(execute_run(folder, plan.agents, [plan.instrument], llm, batch_size=5, show_progress=False))
    seconds = time.perf_counter() - started
    after = llm.usage.snapshot()
    answers = len(plan.agents) * len(plan.items)
    evaluated = after["prompt_tokens_evaluated"] - before["prompt_tokens_evaluated"]
    tokens_after = _model_tokens(llm)
    if tokens_before is not None and tokens_after is not None:  # counts option scoring too (not in llm.usage)
        evaluated = tokens_after - tokens_before - (after["completion_tokens"] - before["completion_tokens"])
    speed = {"answers": answers, "seconds": seconds, "per_minute": answers / seconds * 60,
             "evaluated_per_answer": evaluated / answers,
             "calls": after["calls"] - before["calls"]}
    metrics = evaluate(folder, load_truth(None, folder), EvalSettings(bootstrap=args.bootstrap, seed=args.seed))
    return metrics, speed


def _cell(block: dict, key: str) -> str:
    value = block.get(key)
    if not isinstance(value, dict) or value.get("mean") is None:
        return "-"
    ci = value.get("ci")
    return f"{value['mean']:.3f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=4)
    parser.add_argument("--items", type=int, default=10)
    parser.add_argument("--context-items", type=int, default=20)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated, of: {', '.join(CONFIGS)}")
    args = parser.parse_args()

    from simulacra.config import load_settings
    from simulacra.llm import open_llm
    from simulacra.workspace import Workspace

    rows: list[tuple] = []
    references_done = False
    with tempfile.TemporaryDirectory(prefix="simulacra-quality-") as tmp:
        root = Path(tmp)
        llm = open_llm(load_settings(), Workspace(root), cache=False)
        print(f"model {llm.model}; GSS 2016-2020 panel, {args.people} people x {args.items} items, seed {args.seed}, "
              f"--scoring logprobs; composite context {args.context_items} items; k-fold = {args.folds} folds")
        for name in [c.strip() for c in args.configs.split(",") if c.strip()]:
            debias, leave_out = CONFIGS[name]
            metrics, speed = run_config(name, debias, leave_out, args, llm, root)
            print(f"  {name}: {speed['answers']} answers in {speed['seconds']:.0f}s = {speed['per_minute']:.1f}/min, "
                  f"{speed['evaluated_per_answer']:.0f} prompt tokens evaluated per answer, {speed['calls']} model calls",
                  flush=True)
            for condition, per_instrument in metrics["conditions"].items():
                block = next(iter(per_instrument.values()), {})
                reference = condition.split("+")[0] not in ("demographic", "composite")  # *_knn are references
                if reference and references_done:
                    continue
                rows.append((("reference" if reference else name), condition, block.get("people", 0),
                             _cell(block, "accuracy"), _cell(block, "normalized_accuracy"),
                             "" if reference else f"{speed['per_minute']:.1f}",
                             "" if reference else f"{speed['evaluated_per_answer']:.0f}"))
            references_done = True
    header = ("bias correction / leave-out", "condition", "people", "accuracy [95% CI]", "normalized accuracy [95% CI]",
              "answers/min (run)", "prompt tok/answer (run)")
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    print()
    for row in [header, tuple("-" * w for w in widths)] + rows:
        print(" | ".join(str(v).ljust(w) for v, w in zip(row, widths)))
    print("\nIntervals: two-way bootstrap over people and items. Answers/min and tokens are per run (all its agent "
          "conditions together); +population rows are scored from the same run's stored distributions.")


if __name__ == "__main__":
    main()
