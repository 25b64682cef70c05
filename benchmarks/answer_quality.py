"""Answer quality and speed on the 2016-2020 GSS panel, on the local model tier(s), with option scoring.

Design: demographic agents see a person's wave-1 demographics (those repeating a target left out); composite
agents see the person's wave-1 answers to the other target items and 20 context items (k-fold leave-out: the
predicted item's whole fold hidden; `item`: only the item hidden). Both are scored against the person's
wave-1 answers and normalized by the same person's wave-1 vs wave-2 agreement (2016 -> 2020: a 4-year retest).
For each configuration (bias correction none / permute / calibrate with `--scoring logprobs`, composite agents
with k-fold leave-out; `item`: leave-one-out composite agents without correction) this runs the GSS-panel benchmark through the benchmark library
(`plan_gss_benchmark`, `RunSpec`, `run`, `score`: the same code as `simulacra benchmark
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
import contextlib
import asyncio
import tempfile
import time
from pathlib import Path

from batch_throughput import fresh_model_state  # benchmarks/ is this script's folder

CONFIGS = {  # name -> (debias, leave_out): composite agents use k-fold leave-out unless the name says item
    "none": ("none", "kfold"),
    "permute": ("permute", "kfold"),
    "calibrate": ("calibrate", "kfold"),
    "item": ("none", "item"),  # composite agents only, no bias correction, leave-one-out: the cost of k-fold
}
# Agent conditions of a configuration (default: demographic and composite). Permuting every option order costs
# k passes an item; `permute-demographic` measures the correction on the cheap demographic agents alone.
CONFIGS["permute-demographic"] = ("permute", "kfold")
CONDITIONS = {"item": ["composite"], "permute-demographic": ["demographic"]}


def _model_tokens(llm) -> int | None:
    """Tokens the embedded model evaluated so far (llama.cpp's own counters: prompt + generated); None on an
    endpoint, where `llm.usage` (which counts option-scoring passes too) is the figure."""
    perf = getattr(getattr(llm, "backend", None), "_perf", None)
    return sum(perf()) if callable(perf) else None


def run_config(name: str, debias: str, leave_out: str, args, llm, root: Path) -> tuple[dict, dict]:
    from experiments.faithfulness.gss_benchmark import plan_gss_benchmark
    from experiments.pipeline import EvalSettings, open_folder, run_async, score
    from experiments.runs.options import answer_options
    from simulacra.workspace import Workspace

    conditions = CONDITIONS.get(name, ["demographic", "composite"])
    plan = plan_gss_benchmark(people=args.people, items=args.items, seed=args.seed, conditions=conditions,
                              context_items=args.context_items)
    options = answer_options("logprobs", debias, leave_out, args.folds if leave_out == "kfold" else None)
    config_plans[name] = plan
    spec = plan.spec(model={"model": llm.model}, batch_size=5, label=f"answer-quality-{name}", options=options)
    workspace = Workspace(root)
    folder = open_folder(spec, workspace=workspace)
    fresh_model_state(llm)  # each configuration from a cold state cache: no free re-reads of the previous one's prompts
    before = llm.usage.snapshot()
    tokens_before = _model_tokens(llm)
    stored_before = len(folder.answers())
    started = time.perf_counter()
    asyncio.run(run_async(spec, llm=llm, workspace=workspace))
    seconds = time.perf_counter() - started
    after = llm.usage.snapshot()
    evaluated = after["prompt_tokens_evaluated"] - before["prompt_tokens_evaluated"]
    tokens_after = _model_tokens(llm)
    if tokens_before is not None and tokens_after is not None:  # llama.cpp's own count, prompt tokens only
        evaluated = tokens_after - tokens_before - (after["completion_tokens"] - before["completion_tokens"])
    session = {"answers": len(folder.answers()) - stored_before, "seconds": seconds, "evaluated": evaluated,
               "calls": after["calls"] - before["calls"]}
    speed = _accumulate_speed(root / f"speed-{name}.json", session)
    metrics = score(folder, None, EvalSettings(bootstrap=args.bootstrap, seed=args.seed)).as_dict()
    config_folders[name] = folder
    return metrics, speed


def _accumulate_speed(path: Path, session: dict) -> dict:
    """Answers, seconds, prompt tokens and calls summed over every session of a configuration's run (a resumed
    run adds to what its earlier sessions measured), kept beside the runs in the work folder."""
    import json

    total = json.loads(path.read_text()) if path.exists() else {"answers": 0, "seconds": 0.0, "evaluated": 0, "calls": 0}
    total = {key: total.get(key, 0) + session[key] for key in ("answers", "seconds", "evaluated", "calls")}
    path.write_text(json.dumps(total))
    answers = max(total["answers"], 1)
    return {**total, "per_minute": total["answers"] / max(total["seconds"], 1e-9) * 60,
            "evaluated_per_answer": total["evaluated"] / answers}


config_plans: dict = {}  # config name -> its BenchmarkPlan (the same people and items for every config)
config_folders: dict = {}  # config name -> its run folder


def correct_cells(name: str) -> dict[str, dict[tuple[str, str], bool]]:
    """condition -> (person, item) -> agent answer == the person's scored (wave-1) answer, from the stored run."""
    from experiments.scoring.panel import PanelMatrix

    plan = config_plans[name]
    panel = PanelMatrix.from_responses(plan.truth, [q for q in plan.instrument.questions if q.is_choice])
    people, items = panel.person_index(), {q: j for j, q in enumerate(panel.items)}
    out: dict[str, dict[tuple[str, str], bool]] = {}
    for row in config_folders[name].answers().itertuples(index=False):
        person = plan.respondents.get(row.agent)
        if person not in people or row.question not in items:
            continue
        truth = panel.truth[people[person], items[row.question]]
        if truth < 0:
            continue
        condition = row.agent.split("-", 1)[0].replace("dem", "demographic").replace("comp", "composite")
        ok = row.status == "ok" and panel.encode(row.question, row.value) == truth
        out.setdefault(condition, {})[(person, row.question)] = bool(ok)
    return out


def paired_difference(a: dict, b: dict, replicates: int, seed: int) -> tuple[float, list[float], int]:
    """Accuracy of a minus b on the cells both answered: point, two-way bootstrap 95% interval, cells."""
    import numpy as np

    cells = sorted(set(a) & set(b))
    people = sorted({p for p, _ in cells})
    items = sorted({i for _, i in cells})
    diff = {cell: float(a[cell]) - float(b[cell]) for cell in cells}
    rng = np.random.default_rng(seed)
    reps = []
    for _ in range(replicates):
        weight_p = dict(zip(people, np.bincount(rng.integers(0, len(people), len(people)), minlength=len(people))))
        weight_i = dict(zip(items, np.bincount(rng.integers(0, len(items), len(items)), minlength=len(items))))
        w = np.array([weight_p[p] * weight_i[i] for p, i in cells], dtype=float)
        if w.sum() > 0:
            reps.append(float(np.dot(w, [diff[c] for c in cells]) / w.sum()))
    point = float(np.mean(list(diff.values()))) if diff else float("nan")
    ci = [float(np.percentile(reps, 2.5)), float(np.percentile(reps, 97.5))] if reps else []
    return point, ci, len(cells)


def _cell(block: dict, key: str) -> str:
    value = block.get(key)
    if not isinstance(value, dict) or value.get("mean") is None:
        return "-"
    ci = value.get("ci")
    return f"{value['mean']:.3f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


def _number(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=4)
    parser.add_argument("--items", type=int, default=10)
    parser.add_argument("--context-items", type=int, default=20)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--workdir", help="keep the runs here (default: a temporary folder): rerunning with the same "
                        "sizes resumes them, so configurations can be added later and the table recomputed")
    parser.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated, of: {', '.join(CONFIGS)}")
    args = parser.parse_args()

    from simulacra.config import load_settings
    from simulacra.llm import open_llm
    from simulacra.workspace import Workspace

    rows: list[tuple] = []
    references_done = False
    with contextlib.ExitStack() as stack:
        root = Path(args.workdir) if args.workdir else Path(stack.enter_context(
            tempfile.TemporaryDirectory(prefix="simulacra-quality-")))
        root.mkdir(parents=True, exist_ok=True)
        llm = open_llm(load_settings(), Workspace(root), cache=False)
        print(f"model {llm.model}; GSS 2016-2020 panel, {args.people} people x {args.items} items, seed {args.seed}, "
              f"--scoring logprobs; composite context {args.context_items} items; k-fold = {args.folds} folds")
        print("design: agents see wave 1 (demographics / other answers, predicted items left out); scored against "
              "wave 1; normalized by each person's wave-1 vs wave-2 agreement (2016 -> 2020, 4 years)", flush=True)
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
                dist = block.get("distribution") or {}
                weight = (block.get("weights") or {}).get("mean")
                label = condition if weight is None else f"{condition} (agent weight {weight:.2f})"
                rows.append((("reference" if reference else name), label, block.get("people", 0),
                             _cell(block, "accuracy"), _cell(block, "normalized_accuracy"),
                             _number(dist.get("log_loss")), _number(dist.get("population_tv_score")),
                             "" if reference else f"{speed['per_minute']:.1f}",
                             "" if reference else f"{speed['evaluated_per_answer']:.0f}"))
            references_done = True
    header = ("bias correction / leave-out", "condition", "people", "accuracy [95% CI]", "normalized accuracy [95% CI]",
              "log-loss", "1-TV/TVu", "answers/min (run)", "prompt tok/answer (run)")
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    print()
    for row in [header, tuple("-" * w for w in widths)] + rows:
        print(" | ".join(str(v).ljust(w) for v, w in zip(row, widths)))
    print("\nIntervals: two-way bootstrap over people and items. Answers/min and tokens are per run (all its agent "
          "conditions together); +population rows are scored from the same run's stored distributions (agent weight: the mean mixing weight of the agent's distribution, each person's fitted on the others). log-loss: mean per "
          "person of -log p(the person's answer); 1-TV/TVu: SimBench's population score per item (1 = the humans' "
          "answer distribution, 0 = no better than uniform).")
    comparisons = [(x, "none") for x in ("permute", "permute-demographic", "calibrate")
                   if x in config_folders and "none" in config_folders]
    if "item" in config_folders and "none" in config_folders:
        comparisons.append(("none", "item"))
    if comparisons:
        print("\nPaired differences in accuracy (same people, same items; two-way bootstrap 95% interval). "
              "none vs item = k-fold minus leave-one-out, composite agents:")
        for a, b in comparisons:
            cells_a, cells_b = correct_cells(a), correct_cells(b)
            for condition in sorted(set(cells_a) & set(cells_b)):
                point, ci, n = paired_difference(cells_a[condition], cells_b[condition], args.bootstrap, args.seed)
                verdict = ("helps" if ci and ci[0] > 0 else "hurts" if ci and ci[1] < 0 else "no detectable difference")
                interval = f"[{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else "[-]"
                print(f"  {a} - {b}, {condition}: {point:+.3f} {interval} over {n} answers: {verdict}")


if __name__ == "__main__":
    main()
