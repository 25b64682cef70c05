"""Information yield of an interview script: how much of what a person knows reaches an agent built from
their interview (issue #14 item 5, `simulacra interview-yield`).

For real GSS panel respondents (seeded choice of people and of held-out *target* items):

1. a **twin**: a composite agent that knows the person's wave-1 answers to other GSS items, the targets
   excluded (it is the interviewee; what it could say about the targets is inferred, never read);
2. the AI interviewer interviews the twin with the script (`--blocks`, a fixed number of answers);
3. **interview agents** are built from that transcript (no reflections): from the whole interview, from its
   first N answers for each `--lengths` N, and from each script block alone;
4. the twin, the interview agents and the statistical reference conditions (`experiments.scoring.references`:
   majority and composite kNN) predict the targets, scored against the person's wave-1 answers.

The **yield** is interview-agent accuracy / twin accuracy over the same person-items: the share of what the
interviewee could say about the targets that the interview carried (the paper's transcript-ablation curve,
measured for any script). Its interval is a percentile bootstrap over person-items. Nothing here needs a
particular model: the interviewer uses the "interviewer" role's model, the agents the "agents" role's.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from simulacra.errors import SimulacraError

log = logging.getLogger(__name__)
REPORT_VERSION = 1


@dataclass
class YieldPlan:
    people: list[str]
    targets: list[str]
    questions: list[Any]  # the target Questions
    truth: dict[tuple[str, str], str]  # (person, item) -> wave-1 answer code
    twins: dict[str, Any]  # person -> twin agent
    plan: Any = None


@dataclass
class Condition:
    name: str  # "twin", "interview", "interview:first-2", "interview:block:life_story", "ref:majority" ...
    predictions: dict[tuple[str, str], str | None] = field(default_factory=dict)


def plan_yield(panel: str = "2016-2020", *, people: int = 1, targets: int = 4, context_items: int = 12, seed: int = 0) -> YieldPlan:
    """People, targets and twins (the targets excluded from each twin's known answers)."""
    from experiments.faithfulness.gss_benchmark import plan_gss_benchmark

    plan = plan_gss_benchmark(panel, people=people, items=targets, seed=seed, context_items=context_items, conditions=("composite",))
    truth: dict[tuple[str, str], str] = {}
    for person in plan.people:
        for item in plan.items:
            value = plan.truth.value(person, item, 1)
            if value is not None:
                truth[(person, item)] = str(value)
    twins = {}
    for agent in plan.agents:
        person = plan.respondents[agent.id]
        twins[person] = agent.model_copy(update={"id": f"twin-{person}", "exclude": list(plan.items), "respondent": person}, deep=True)
    return YieldPlan(list(plan.people), list(plan.items), list(plan.instrument.questions), truth, twins, plan)


def check_no_leak(plan: YieldPlan) -> None:
    """A twin's context never shows a target (it would read the answer out in the interview)."""
    for person, twin in plan.twins.items():
        shown = twin.context_preview([])
        for question in plan.questions:
            if question.text.strip() and question.text.strip() in shown:
                raise SimulacraError(f"twin of {person} would see target {question.id} in its context")


async def interview_twin(twin: Any, script: Any, store: Any, *, interviewer_llm: Any, agent_llm: Any, turns: int,
                         similarity_fn: Any = None) -> Any:
    from interviewer.agent_loop import interview_agent
    from interviewer.clock import SpeakingRateClock
    from interviewer.engine import InterviewSession

    respondent = f"yield-{twin.respondent}"
    session = InterviewSession.open(script, respondent, interviewer_llm, store, SpeakingRateClock(), name=twin.name or "there",
                                    meta={"respondent_agent": twin.id, "agent_source": twin.source}, similarity_fn=similarity_fn)
    await interview_agent(session, twin, agent_llm, max_turns=turns)
    return store.load(respondent)


def cut_transcript(transcript: Any, *, answers: int | None = None, block: str | None = None) -> Any:
    """The transcript up to its first `answers` answers, or only the turns of `block` (None when empty)."""
    kept, count = [], 0
    for turn in transcript.turns:
        if block is not None and turn.block != block:
            continue
        if answers is not None and count >= answers:
            break
        kept.append(turn)
        if turn.speaker == "respondent" and turn.text:
            count += 1
    if not any(t.speaker == "respondent" and t.text for t in kept):
        return None
    return transcript.model_copy(update={"turns": kept})


async def answer_targets(agent: Any, questions: Sequence[Any], llm: Any, person: str) -> dict[tuple[str, str], str | None]:
    from simulacra.agent import AnswerOptions
    from surveys.model import AnswerStatus

    answers = await agent.answer(list(questions), llm=llm, options=AnswerOptions(batch_size=5, reasoning=False))
    return {(person, a.question_id): (str(a.value) if a.status == AnswerStatus.ok and a.value is not None else None) for a in answers}


def reference_predictions(plan: YieldPlan, names: Sequence[str] = ("majority", "composite_knn")) -> tuple[list[Condition], str]:
    """The statistical references on the same person-items (H4's predictors; majority alone when they fail)."""
    from experiments.scoring.panel import PanelMatrix
    from experiments.scoring.references import reference_predictors

    source = plan.plan.panel_data if getattr(plan.plan, "panel_data", None) is not None else plan.plan.truth
    questions = list(plan.questions)
    if source is not plan.plan.truth:
        from surveys.instruments import load_instrument

        gss = load_instrument("gss")
        ids = set(plan.targets) | set(plan.plan.context_items)
        questions = [q for q in gss.questions if q.id in ids]
    matrix = PanelMatrix.from_responses(source, questions)
    index = matrix.person_index()
    rows = np.array([index[p] for p in plan.people if p in index], dtype=int)
    people = [p for p in plan.people if p in index]
    conditions: list[Condition] = []
    note = ""
    for predictor in reference_predictors(names):
        try:
            predicted = predictor.predict(matrix, plan.targets, rows=rows)
        except Exception as exc:  # a reference that cannot run at this scale is reported, not fatal
            note += f"{predictor.label}: not computed ({exc}); "
            continue
        condition = Condition(name=f"ref:{getattr(predictor, 'name', type(predictor).__name__.lower())}")
        for r, person in enumerate(people):
            for j, item in enumerate(plan.targets):
                code = matrix.code(item, int(predicted[r, j])) if int(predicted[r, j]) >= 0 else None
                condition.predictions[(person, item)] = code
        conditions.append(condition)
    return conditions, note


def accuracy(condition: Condition, truth: dict[tuple[str, str], str], keys: Sequence[tuple[str, str]]) -> float:
    return float(np.mean([condition.predictions.get(k) == truth[k] for k in keys])) if keys else float("nan")


def bootstrap_ratio(a: Condition, b: Condition, truth: dict, keys: Sequence[tuple[str, str]], *, draws: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """accuracy(a) / accuracy(b) on the same person-items, with a 95% percentile bootstrap interval."""
    hits_a = np.array([a.predictions.get(k) == truth[k] for k in keys], dtype=float)
    hits_b = np.array([b.predictions.get(k) == truth[k] for k in keys], dtype=float)
    if not len(keys) or hits_b.mean() == 0:
        return float("nan"), float("nan"), float("nan")
    ratio = hits_a.mean() / hits_b.mean()
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(keys), size=(draws, len(keys)))
    num, den = hits_a[picks].mean(axis=1), hits_b[picks].mean(axis=1)
    valid = den > 0
    if not valid.any():
        return ratio, float("nan"), float("nan")
    samples = num[valid] / den[valid]
    return float(ratio), float(np.percentile(samples, 2.5)), float(np.percentile(samples, 97.5))


async def run_interview_yield(
    *,
    panel: str = "2016-2020",
    people: int = 1,
    targets: int = 4,
    context_items: int = 12,
    script_name: str = "default",
    blocks: Sequence[str] = ("life_story",),
    turns: int = 4,
    lengths: Sequence[int] = (),
    seed: int = 0,
    out_dir: Path | None = None,
    embeddings: bool = False,
    progress: Any = None,
) -> dict[str, Any]:
    """Run the whole measure; returns the report (also written to `out_dir/report.json` and `report.md`)."""
    from interviewer.script import load_script, select_blocks
    from interviewer.storage import TranscriptStore
    from simulacra.agents.bank import AgentBank
    from simulacra.agents.build import build_agent_from_transcript
    from simulacra.llm import open_llm
    from simulacra.workspace import Workspace

    say = progress or (lambda message: None)
    started = time.perf_counter()
    plan = plan_yield(panel, people=people, targets=targets, context_items=context_items, seed=seed)
    check_no_leak(plan)
    script = load_script(script_name)
    if blocks:
        script = select_blocks(script, list(blocks))
    workspace = Workspace.default()
    out_dir = out_dir or workspace.root / "runs" / f"interview-yield-{panel}-s{seed}"
    out_dir.mkdir(parents=True, exist_ok=True)
    store = TranscriptStore(out_dir / "transcripts")
    bank = AgentBank(out_dir / "agents")
    similarity_fn = None
    if embeddings:
        from interviewer.validation import embedding_similarity

        similarity_fn = embedding_similarity()
    interviewer_llm = open_llm(role="interviewer")
    agent_llm = open_llm(role="agents")
    conditions: dict[str, Condition] = {}

    def add(name: str, predictions: dict) -> None:
        conditions.setdefault(name, Condition(name=name)).predictions.update(predictions)

    lengths = sorted({n for n in lengths if 0 < n < turns})
    try:
        for person in plan.people:
            twin = plan.twins[person]
            say(f"{person}: the twin answers the {len(plan.targets)} targets")
            add("twin", await answer_targets(twin, plan.questions, agent_llm, person))
            say(f"{person}: interviewing the twin ({turns} answers)")
            transcript = await interview_twin(twin, script, store, interviewer_llm=interviewer_llm, agent_llm=agent_llm,
                                              turns=turns, similarity_fn=similarity_fn)
            cuts: dict[str, Any] = {"interview": transcript}
            for n in lengths:
                cuts[f"interview:first-{n}"] = cut_transcript(transcript, answers=n)
            for block in script.blocks:
                if block.id in blocks:
                    cuts[f"interview:block:{block.id}"] = cut_transcript(transcript, block=block.id)
            for name, cut in cuts.items():
                if cut is None:
                    add(name, {(person, item): None for item in plan.targets})
                    continue
                say(f"{person}: {name} agent answers the targets")
                agent = await build_agent_from_transcript(
                    cut, agent_llm, bank=bank, reflections=False, score=False,
                    agent_id=f"yield-{person}-{name.replace(':', '-')}",
                )
                add(name, await answer_targets(agent, plan.questions, agent_llm, person))
    finally:
        await interviewer_llm.aclose()
        await agent_llm.aclose()
    references, note = reference_predictions(plan)
    for condition in references:
        conditions[condition.name] = condition
    keys = sorted(plan.truth)
    twin = conditions["twin"]
    rows = []
    for name, condition in conditions.items():
        ratio, low, high = bootstrap_ratio(condition, twin, plan.truth, keys, seed=seed)
        rows.append({"condition": name, "accuracy": accuracy(condition, plan.truth, keys), "ratio_to_twin": ratio,
                     "ci95": [low, high], "answered": sum(condition.predictions.get(k) is not None for k in keys)})
    report = {
        "report": "interview-yield", "version": REPORT_VERSION, "panel": panel, "seed": seed, "people": plan.people,
        "targets": plan.targets, "person_items": len(keys), "script": script.id, "blocks": list(blocks), "turns": turns,
        "lengths": lengths, "interviewer_model": interviewer_llm.model, "agent_model": agent_llm.model,
        "references_note": note or "majority and composite kNN from experiments.scoring.references",
        "wall_s": round(time.perf_counter() - started, 1), "conditions": rows,
        "what": "accuracy on held-out GSS items vs the person's wave-1 answers; ratio = accuracy / the twin's on the same "
                "person-items, 95% percentile bootstrap over person-items",
    }
    (out_dir / "report.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    (out_dir / "report.md").write_text(markdown(report), encoding="utf-8")
    return report


def _num(value: float) -> str:
    return "-" if value != value else f"{value:.2f}"


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Interview yield: {report['script']} ({', '.join(report['blocks']) or 'all blocks'}), {report['turns']} answers",
        "",
        f"{len(report['people'])} GSS panel {report['panel']} people x {len(report['targets'])} held-out items "
        f"({report['person_items']} person-items). Interviewer model {report['interviewer_model']}, agents {report['agent_model']}.",
        f"{report['what']}. References: {report['references_note']}.",
        "",
        "| condition | accuracy | ratio to twin | 95% interval | answered |",
        "|---|---|---|---|---|",
    ]
    for row in report["conditions"]:
        low, high = row["ci95"]
        interval = f"{_num(low)}-{_num(high)}" if low == low else "n/a"
        lines.append(f"| {row['condition']} | {_num(row['accuracy'])} | {_num(row['ratio_to_twin'])} | "
                     f"{interval} | {row['answered']} |")
    twin = next((r for r in report["conditions"] if r["condition"] == "twin"), None)
    if twin is not None and not twin["accuracy"]:
        lines += ["", "The twin got none of the held-out items right, so no ratio is defined: use more people and items."]
    return "\n".join(lines) + "\n"


def interview_yield(
    panel: str = "2016-2020",
    people: int = 2,
    targets: int = 6,
    context_items: int = 12,
    script: str = "default",
    blocks: str = "life_story",
    turns: int = 6,
    lengths: str = "2,4",
    seed: int = 0,
    embeddings: bool = False,
) -> None:
    """Measure how much of what an interviewee knows reaches an agent built from the interview."""
    import asyncio

    from rich.console import Console

    console = Console()
    report = asyncio.run(run_interview_yield(
        panel=panel, people=people, targets=targets, context_items=context_items, script_name=script,
        blocks=[b.strip() for b in blocks.split(",") if b.strip()], turns=turns,
        lengths=[int(n) for n in lengths.split(",") if n.strip()], seed=seed, embeddings=embeddings,
        progress=lambda message: console.print(f"[dim]{message}[/dim]"),
    ))
    console.print(markdown(report))


def register(app: Any) -> None:
    import typer

    def command(
        panel: str = typer.Option("2016-2020", help="GSS panel: 2016-2020 or 2006-2010."),
        people: int = typer.Option(2, min=1, help="Panel respondents to interview (seeded choice)."),
        targets: int = typer.Option(6, min=1, help="Held-out GSS items (the twins never see them)."),
        context_items: int = typer.Option(12, min=0, help="Further GSS items the twins know."),
        script: str = typer.Option("default", help="Interview script (name or YAML path)."),
        blocks: str = typer.Option("life_story", help="Comma-separated script blocks to use; '' for all."),
        turns: int = typer.Option(6, min=1, help="Answers per interview."),
        lengths: str = typer.Option("2,4", help="Also build agents from the first N answers, for each N."),
        seed: int = typer.Option(0),
        embeddings: bool = typer.Option(False, "--embeddings/--no-embeddings", help="Embedding topic checks in the interview."),
    ) -> None:
        """Information yield: interview GSS twins, build agents from the transcripts, score on held-out items."""
        interview_yield(panel, people, targets, context_items, script, blocks, turns, lengths, seed, embeddings)

    app.command("interview-yield")(command)
