"""Follow-up quality in closed-loop interviews (issue #14 item 4).

The AI interviewer interviews agents for a fixed number of answers each: the real genagents sample person
(an interview agent built from its transcript, no reflections) and agents of real GSS panel respondents
(a composite agent that knows the person's wave-1 answers, and a demographic agent). For each model tier it
prints:

- the share of the follow-ups the model proposed that pass each check (`interviewer.validation`), before the
  fallback (every proposal -- each candidate of a reply is one -- and first proposals only; a proposal is judged
  after `trim_follow_up`, and how many were trimmed is counted), how many decisions said the model's own
  follow-up rather than a probe, and the share of follow-ups actually said that pass
  after it (regenerated once, else a curated probe, else move on) -- the latter must be 100%;
- what the decisions came to (the model's follow-up, regenerated, probe, moved on, rephrase...);
- the share of agent answers that are not answers (empty, repeat, off topic, acknowledgement, too short, echo,
  same short reply, meta, third person, loops) on the first try and after the one regeneration, the share judged
  adequate (`Turn.adequacy`), and how many interviews stopped because most answers were non-answers;
- the time per interviewer decision (mean, p50, p95) and per agent answer, and the wall time per simulated
  interview minute (speaking-rate clock); the machine's load average before and after each tier.

Run it under the model lock (it loads the embedded model):

    flock /tmp/simulacra-model.lock .venv/bin/python benchmarks/interviewer_quality.py --turns 6
    ... --tiers qwen2.5-1.5b                 # the interviewer role on Qwen, the agents on SmolLM2 (the default)
    ... --tiers qwen2.5-1.5b --agent-tier same   # both roles on Qwen

`--tiers` are the interviewer role's tiers, one after the other; the agents answer on `--agent-tier` (default
smollm2, the embedded default; `same`: the interviewer's tier). Measure one tier a process (one model process at
a time on a small machine). With an endpoint configured the tier name is only a label.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from interviewer.validation import ANSWER_CHECKS, FOLLOW_UP_CHECKS  # noqa: E402
from experiments.demo import sample_agent_folder  # noqa: E402
from simulacra.workspace import Workspace  # noqa: E402

SCRIPT = """\
id: quality
title: Four topics from the paper's script
blocks:
  - id: intro
    questions:
      - {id: intro, kind: intro, budget_s: 0, text: "Hi, {name}! My name is Isabella. Let's get started!"}
  - id: life_story
    label: Life story
    questions:
      - id: q002
        budget_s: 240
        objective: Learn the main chapters of the person's life, in their own words.
        text: "To start, I would like to begin with a big question: tell me the story of your life."
  - id: health
    label: Health
    questions:
      - {id: h1, budget_s: 120, text: "Now we'd like to learn more about your health. First, tell me all about your health."}
  - id: religion
    label: Religion
    questions:
      - {id: r1, budget_s: 120, text: "Some people say that religion or spirituality is important in their lives, for others not so much. How about you?"}
  - id: social_media
    label: Social media
    questions:
      - {id: s1, budget_s: 120, text: "Some people tell us they use Facebook, Instagram, or other social media. How about you?"}
  - id: closing
    questions:
      - {id: closing, kind: closing, budget_s: 0, text: "That was the last question. Thank you, {name}!"}
"""


async def make_agents(kinds: list[str], root: Path, seed: int) -> list[Any]:
    from simulacra.agents.bank import AgentBank
    from simulacra.agents.build import import_genagents

    agents: list[Any] = []
    if "sample" in kinds:
        bank = AgentBank(root / "bank")
        agents += await import_genagents(sample_agent_folder(Workspace(root)), None, bank, reflections=False)
    gss_kinds = [k for k in kinds if k in ("composite", "demographic")]
    if gss_kinds:
        from experiments.faithfulness.gss_benchmark import plan_gss_benchmark

        plan = plan_gss_benchmark(people=1, items=5, seed=seed, conditions=tuple(gss_kinds))
        agents += plan.agents
    return agents


def settings_for(tier: str, agent_tier: str):
    from simulacra.config import load_settings

    return load_settings(**{"llm.local_model": agent_tier, "roles.interviewer.local_model": tier})


async def interview_one(agent: Any, tier: str, turns: int, root: Path, similarity_fn: Any,
                        agent_tier: str = "smollm2") -> dict[str, Any]:
    from interviewer.agent_loop import interview_agent
    from interviewer.clock import SpeakingRateClock
    from interviewer.engine import EngineSettings, InterviewSession
    from interviewer.script import parse_script
    from interviewer.storage import TranscriptStore
    from simulacra.llm import open_llm

    settings = settings_for(tier, agent_tier)
    interviewer_llm = open_llm(settings, role="interviewer")
    agent_llm = open_llm(settings, role="agents")
    script = parse_script(SCRIPT, root / "quality.yaml")
    store = TranscriptStore(root / "transcripts" / tier)
    respondent = "agent-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in agent.id)[:60]
    engine = EngineSettings(notes_every=4, max_follow_ups=3)
    session = InterviewSession.open(script, respondent, interviewer_llm, store, SpeakingRateClock(),
                                    name=agent.name or "there", settings=engine, similarity_fn=similarity_fn)
    started = time.perf_counter()
    try:
        await interview_agent(session, agent, agent_llm, max_turns=turns)
    finally:
        await interviewer_llm.aclose()
        await agent_llm.aclose()
    wall = time.perf_counter() - started
    return {"agent": agent.id, "source": agent.source, "turns": session.turns, "wall_s": wall,
            "simulated_s": session.elapsed(), "script": script, "name": session.name, "unusable": session.unusable_reason}


def nearest_rank(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile (p50 of [1, 2, 3, 4] is 2; p95 of 10 values is the 10th)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * share // 1))  # ceil(n * share), at least 1
    return ordered[int(rank) - 1]


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def summarise(runs: list[dict[str, Any]], similarity_fn: Any) -> dict[str, Any]:
    from interviewer.validation import check_follow_up

    proposals: list[dict] = []
    first_proposals: list[dict] = []
    failed: list[dict] = []
    problems: Counter[str] = Counter()
    asked_model = said_model = 0  # decisions with a model proposal; of them, those that said the model's follow-up
    outcomes: Counter[str] = Counter()
    decision_s: list[float] = []
    spoken_ok = spoken = 0
    answers = 0
    first_bad: Counter[str] = Counter()
    final_bad: Counter[str] = Counter()
    first_any = final_any = 0
    agent_s: list[float] = []
    wall = simulated = 0.0
    judged = adequate = 0
    for run in runs:
        turns = run["turns"]
        wall += run["wall_s"]
        simulated += run["simulated_s"]
        items = {q.id: (b, q) for b, q in run["script"].items()}
        for index, turn in enumerate(turns):
            if turn.speaker == "respondent":
                judged += turn.adequacy is not None
                adequate += turn.adequacy == "adequate"
                check = turn.meta.get("agent_check")
                if check is None:
                    continue
                answers += 1
                agent_s.append(turn.meta.get("agent_s", 0.0))
                first = check.get("first_problems", check.get("problems", []))
                final = check.get("problems", [])
                first_bad.update(first)
                final_bad.update(final)
                first_any += bool(first)
                final_any += bool(final)
                continue
            decision = turn.meta.get("decision")
            if not decision or decision.get("about_turn") is None or decision.get("reason") in ("no_budget", "skipped"):
                continue
            if decision.get("model_s") is not None:
                decision_s.append(decision["model_s"])
            label = decision["reason"] if decision["action"] != "follow_up" else f"follow_up:{decision.get('source')}"
            outcomes[label] += 1
            found = decision.get("proposals", [])
            if decision["action"] != "rephrase":
                proposals += found
                first_proposals += found[:1]
                failed += [{"text": p["text"], "problems": p["problems"]} for p in found if not p["ok"]]
                problems.update(name for p in found for name in p["problems"])
                if found:
                    asked_model += 1
                    said_model += decision["action"] == "follow_up" and decision.get("source") in ("model", "regenerated")
            if turn.kind == "follow_up" and decision.get("source") != "curated":
                block, question = items[turn.question_id]
                target = turns[index - 2].text if decision["action"] == "rephrase" else question.text.replace("{name}", run["name"])
                earlier = [t.text for t in turns[:index] if t.speaker == "interviewer" and t.text != (target if decision["action"] == "rephrase" else None)]
                verdict = check_follow_up(turn.text, question=target,
                                          answer="" if decision["action"] == "rephrase" else turns[index - 1].text,
                                          objective=question.objective or "", block=block.label or block.id,
                                          earlier=earlier, similarity_fn=similarity_fn)
                spoken += 1
                spoken_ok += verdict.ok

    def shares(found: list[dict]) -> dict[str, float | None]:
        if not found:
            return {name: None for name in (*FOLLOW_UP_CHECKS, "all")}
        out: dict[str, float | None] = {name: sum(name not in p["problems"] for p in found) / len(found) for name in FOLLOW_UP_CHECKS}
        out["all"] = sum(p["ok"] for p in found) / len(found)
        return out

    return {
        "interviews": len(runs),
        "proposals": len(proposals),
        "before": shares(proposals),
        "before_first": shares(first_proposals),
        "proposals_ok": sum(p["ok"] for p in proposals),
        "first_proposals": len(first_proposals),
        "first_ok": sum(p["ok"] for p in first_proposals),
        "problems": dict(problems),  # proposals refused by each check (one proposal may fail several)
        "trimmed": sum(1 for p in proposals if p.get("trimmed")),  # proposals with an opening (etc.) taken off
        "trimmed_ok": sum(1 for p in proposals if p.get("trimmed") and p["ok"]),
        "decisions_proposing": asked_model,  # decisions where the model proposed a follow-up
        "decisions_model_said": said_model,  # ... and one of its own (not a probe) was said
        "spoken": spoken,
        "after_all": spoken_ok / spoken if spoken else None,
        "outcomes": dict(outcomes),
        "answers": answers,
        "answer_first_bad": first_any / answers if answers else None,
        "answer_final_bad": final_any / answers if answers else None,
        "answer_first_by": {k: first_bad[k] / answers for k in ANSWER_CHECKS if answers},
        "answer_final_by": {k: final_bad[k] / answers for k in ANSWER_CHECKS if answers},
        "adequate": adequate / judged if judged else None,
        "unusable": sum(1 for run in runs if run.get("unusable")),
        "decision_s_mean": statistics.mean(decision_s) if decision_s else None,
        "decision_s_median": statistics.median(decision_s) if decision_s else None,
        "decision_s_p50": nearest_rank(decision_s, 0.50),
        "decision_s_p95": nearest_rank(decision_s, 0.95),
        "decisions_timed": len(decision_s),
        "failed_proposals": failed[:40],
        "agent_s_mean": statistics.mean(agent_s) if agent_s else None,
        "wall_s": wall,
        "simulated_min": simulated / 60,
        "wall_per_simulated_min": wall / (simulated / 60) if simulated else None,
    }


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def print_tables(results: dict[str, dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=160)
    tiers = list(results)
    table = Table(title="Proposed follow-ups passing each check (before the fallback: all proposals / first only) and spoken ones (after)")
    table.add_column("check")
    for tier in tiers:
        table.add_column(f"{tier} before (all)", justify="right")
        table.add_column(f"{tier} before (first)", justify="right")
    for name in (*FOLLOW_UP_CHECKS, "all"):
        row = [name]
        for tier in tiers:
            row += [pct(results[tier]["before"][name]), pct(results[tier]["before_first"][name])]
        table.add_row(*row)
    row = ["spoken follow-ups passing (after)"]
    for tier in tiers:
        r = results[tier]
        row += [f"{pct(r['after_all'])} of {r['spoken']}", f"{r['proposals']} proposals"]
    table.add_row(*row)
    row = ["passing / proposed (all; first)"]
    for tier in tiers:
        r = results[tier]
        row += [f"{r.get('proposals_ok', '-')} / {r['proposals']}", f"{r.get('first_ok', '-')} / {r.get('first_proposals', '-')}"]
    table.add_row(*row)
    row = ["decisions saying the model's own"]
    for tier in tiers:
        r = results[tier]
        row += [f"{r.get('decisions_model_said', '-')} of {r.get('decisions_proposing', '-')}",
                f"trimmed {r.get('trimmed_ok', '-')}/{r.get('trimmed', '-')} ok"]
    table.add_row(*row)
    console.print(table)

    table = Table(title="Decisions, agent answers and time")
    table.add_column("measure")
    for tier in tiers:
        table.add_column(tier, justify="right")
    outcome_names = sorted({k for r in results.values() for k in r["outcomes"]})
    for name in outcome_names:
        table.add_row(f"decision: {name}", *[str(results[t]["outcomes"].get(name, 0)) for t in tiers])
    table.add_row("agent answers", *[str(results[t]["answers"]) for t in tiers])
    table.add_row("not an answer, first try", *[pct(results[t]["answer_first_bad"]) for t in tiers])
    table.add_row("not an answer, after one retry", *[pct(results[t]["answer_final_bad"]) for t in tiers])
    table.add_row("adequate answers (Turn.adequacy)", *[pct(results[t].get("adequate")) for t in tiers])
    table.add_row("interviews stopped: mostly non-answers", *[str(results[t].get("unusable", 0)) for t in tiers])
    for check in ANSWER_CHECKS:
        table.add_row(f"  {check} (first / final)", *[
            f"{pct(results[t]['answer_first_by'].get(check))} / {pct(results[t]['answer_final_by'].get(check))}" for t in tiers
        ])
    table.add_row("time per decision (mean / p50 / p95)", *[
        f"{secs(results[t]['decision_s_mean'])} / {secs(results[t]['decision_s_p50'])} / "
        f"{secs(results[t]['decision_s_p95'])}" for t in tiers
    ])
    table.add_row("time per agent answer (mean, retries included)", *[secs(results[t]["agent_s_mean"]) for t in tiers])
    table.add_row("interviews / simulated minutes", *[f"{results[t]['interviews']} / {results[t]['simulated_min']:.1f}" for t in tiers])
    table.add_row("wall time", *[secs(results[t]["wall_s"]) for t in tiers])
    table.add_row("wall s per simulated minute", *[secs(results[t]["wall_per_simulated_min"]) for t in tiers])
    table.add_row("agents answered on", *[str(results[t].get("agent_tier", "-")) for t in tiers])
    table.add_row("load average before / after", *[
        f"{results[t].get('load_before', '-')} / {results[t].get('load_after', '-')}" for t in tiers
    ])
    console.print(table)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=6, help="answers per interview (a fixed number)")
    parser.add_argument("--tiers", default="smollm2",
                        help="the interviewer role's local model tiers, comma-separated (smollm2, qwen2.5-1.5b)")
    parser.add_argument("--agent-tier", default="smollm2",
                        help="the agents' local model tier (default smollm2; 'same': the interviewer's tier)")
    parser.add_argument("--agents", default="sample,composite,demographic", help="which agents: sample, composite, demographic")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-embeddings", action="store_true", help="judge topics by words only")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    from interviewer.validation import embedding_similarity

    root = Path(tempfile.mkdtemp(prefix="interviewer-quality-"))
    os.environ.setdefault("SIMULACRA_HOME", str(root / "home"))
    similarity_fn = None if args.no_embeddings else embedding_similarity()
    agents = await make_agents([a.strip() for a in args.agents.split(",") if a.strip()], root, args.seed)
    results: dict[str, dict[str, Any]] = {}
    for tier in [t.strip() for t in args.tiers.split(",") if t.strip()]:
        agent_tier = tier if args.agent_tier == "same" else args.agent_tier
        runs = []
        load_before = load_average()
        for agent in agents:
            print(f"[{tier}] interviewing {agent.source} agent {agent.id} for {args.turns} answers "
                  f"(agents on {agent_tier}) ...", flush=True)
            runs.append(await interview_one(agent, tier, args.turns, root, similarity_fn, agent_tier))
            results[tier] = summarise(runs, similarity_fn)
            results[tier].update(agent_tier=agent_tier, turns=args.turns, load_before=load_before,
                                 load_after=load_average())
            if args.json:  # after every interview: a run stopped by a time limit keeps what it measured
                args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")
    print_tables(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    asyncio.run(main())
