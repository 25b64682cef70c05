"""Information yield of an interview script: how much of what a person knows reaches an agent built from
their interview (issue #14 item 5, `simulacra interview-yield`).

For real GSS panel respondents (seeded choice of people and of held-out *target* items):

1. a **twin**: a composite agent that knows the person's wave-1 answers to other GSS items, the targets
   excluded (it is the interviewee; what it could say about the targets is inferred, never read);
2. the AI interviewer interviews the twin with the script (`--blocks`, a fixed number of answers);
3. **interview agents** are built from that transcript (no reflections): from the whole interview, from its
   first N answers for each `--lengths` N, and from each script block alone;
4. the twin and the interview agents answer the targets through the one pipeline (a RunSpec, `run`, a run folder
   with the people's answers as its truth and the exclusions computed once; `--executor ray` answers on Ray); the
   run is scored like any run (`score`: the statistical reference conditions beside every condition) and the
   yield is computed from the same run folder.

The **yield** is interview-agent accuracy / twin accuracy over the same person-items: the share of what the
interviewee could say about the targets that the interview carried (the paper's transcript-ablation curve,
measured for any script). Its interval is a two-way percentile bootstrap (people and items resampled
independently); replicates whose twin accuracy is 0 have no ratio and are counted, not hidden. Nothing here needs
a particular model: the interviewer uses the "interviewer" role's model, the agents the "agents" role's.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from interviewer.agent_loop import interview_agent
from interviewer.clock import SpeakingRateClock
from interviewer.engine import InterviewSession
from interviewer.script import load_script, select_blocks
from interviewer.storage import TranscriptStore
from interviewer.validation import embedding_similarity
from simulacra.agent import AnswerOptions
from simulacra.agents.bank import AgentBank
from simulacra.agents.baselines import format_known_answer
from simulacra.agents.build import build_agent_from_transcript
from simulacra.errors import SimulacraError
from simulacra.transcript import UnusableTranscriptError
from simulacra.llm import open_llm
from simulacra.workspace import Workspace, atomic_write_json, atomic_write_text, private_dir

from experiments.faithfulness.gss_benchmark import plan_gss_benchmark
from experiments.pipeline import EvalSettings, report, run_async
from experiments.runs.spec import RunSpec

log = logging.getLogger(__name__)
REPORT_VERSION = 2
YIELD_REPORT = "yield.json"


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
    """A twin's context never shows a target (it would read the answer out in the interview): no answer line of its
    context belongs to a target, by id or by the same wording. An item that only shares a stem with a target is
    not one (polattak, "Are there any situations ... citizen? Was attacking the policeman with his fists?", beside
    the target polhitok, "Are there any situations ... citizen?")."""
    ids = {q.id for q in plan.questions}
    texts = {q.text.strip() for q in plan.questions}
    for person, twin in plan.twins.items():
        shown = set(twin.known_answers_lines([]))
        for question in twin.questions:
            value = twin.known_answers.get(question.id)
            if value is None or format_known_answer(question, value) not in shown:
                continue
            if question.id in ids or question.text.strip() in texts:
                raise SimulacraError(f"twin of {person} would see target {question.id} in its context")


async def interview_twin(twin: Any, script: Any, store: Any, *, interviewer_llm: Any, agent_llm: Any, turns: int,
                         similarity_fn: Any = None) -> Any:

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


def predictions_from_run(folder: Any) -> dict[str, Condition]:
    """Each condition's answers in the run folder: {condition: (person, item) -> option code or None (failed)}."""
    manifest = folder.manifest
    entries = manifest.agents_by_id
    out: dict[str, Condition] = {}
    for row in folder.answers().itertuples(index=False):
        entry = entries.get(row.agent)
        if entry is None:
            continue
        value = str(row.value) if row.status == "ok" and row.value is not None else None
        out.setdefault(entry.source, Condition(entry.source)).predictions[(entry.respondent, row.question)] = value
    return out


def accuracy(condition: Condition, truth: dict[tuple[str, str], str], keys: Sequence[tuple[str, str]]) -> float:
    return float(np.mean([condition.predictions.get(k) == truth[k] for k in keys])) if keys else float("nan")


def bootstrap_ratio(a: Condition, b: Condition, truth: dict, keys: Sequence[tuple[str, str]], *, draws: int = 2000,
                    seed: int = 0) -> tuple[float, float, float, int]:
    """accuracy(a) / accuracy(b) on the same person-items, with a 95% two-way percentile bootstrap interval (people
    and items resampled independently, each replicate the ratio over its cells). Returns (ratio, low, high, dropped):
    `dropped` replicates had a denominator of 0 (no ratio); the interval is over the others."""
    people = sorted({p for p, _ in keys})
    items = sorted({i for _, i in keys})
    hits_a = np.full((len(people), len(items)), np.nan)
    hits_b = np.full_like(hits_a, np.nan)
    for (person, item) in keys:
        r, c = people.index(person), items.index(item)
        hits_a[r, c] = float(a.predictions.get((person, item)) == truth[(person, item)])
        hits_b[r, c] = float(b.predictions.get((person, item)) == truth[(person, item)])
    present = ~np.isnan(hits_a)
    if not present.any() or np.nansum(hits_b) == 0:
        return float("nan"), float("nan"), float("nan"), 0
    ratio = float(np.nansum(hits_a) / np.nansum(hits_b))
    rng = np.random.default_rng(seed)
    samples, dropped = [], 0
    a0, b0, n0 = np.nan_to_num(hits_a), np.nan_to_num(hits_b), present.astype(float)
    for _ in range(draws):
        rows = rng.integers(0, len(people), len(people))
        cols = rng.integers(0, len(items), len(items))
        den = b0[np.ix_(rows, cols)].sum()
        if n0[np.ix_(rows, cols)].sum() == 0 or den == 0:
            dropped += 1
            continue
        samples.append(a0[np.ix_(rows, cols)].sum() / den)
    if not samples:
        return ratio, float("nan"), float("nan"), dropped
    return ratio, float(np.percentile(samples, 2.5)), float(np.percentile(samples, 97.5)), dropped


def yield_rows(folder: Any, truth: dict[tuple[str, str], str], *, seed: int = 0) -> list[dict[str, Any]]:
    """Accuracy and ratio to the twin per condition, from the run folder."""
    conditions = predictions_from_run(folder)
    keys = sorted(truth)
    twin = conditions.get("twin", Condition("twin"))
    rows = []
    for name, condition in conditions.items():
        ratio, low, high, dropped = bootstrap_ratio(condition, twin, truth, keys, seed=seed)
        rows.append({"condition": name, "accuracy": accuracy(condition, truth, keys), "ratio_to_twin": ratio,
                     "ci95": [low, high], "replicates_without_ratio": dropped,
                     "answered": sum(condition.predictions.get(k) is not None for k in keys)})
    return rows


async def interview_and_build(plan: YieldPlan, script: Any, blocks: Sequence[str], store: Any, bank: Any, *,
                              interviewer_llm: Any, agent_llm: Any, turns: int, lengths: Sequence[int],
                              similarity_fn: Any = None, say: Any = print) -> tuple[list[Any], dict[str, str], dict[str, str]]:
    """Interview each twin, build interview agents from the transcript and its cuts. Returns (agents, agent id ->
    person, agent id -> condition); the twins are among the agents (condition `twin`)."""
    agents: list[Any] = []
    respondents: dict[str, str] = {}
    conditions: dict[str, str] = {}
    for person in plan.people:
        twin = plan.twins[person]
        agents.append(twin)
        respondents[twin.id], conditions[twin.id] = person, "twin"
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
                say(f"{person}: {name}: no answers in this cut (no agent)")
                continue
            say(f"{person}: building the {name} agent")
            try:
                agent = await build_agent_from_transcript(cut, agent_llm, bank=bank, reflections=False, score=False,
                                                          agent_id=f"yield-{person}-{name.replace(':', '-')}")
            except UnusableTranscriptError as exc:  # the closed loop stopped: its answers were mostly non-answers
                say(f"{person}: {name}: no agent ({exc})")
                continue
            agents.append(agent)
            respondents[agent.id], conditions[agent.id] = person, name
    return agents, respondents, conditions


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
    embeddings: bool = False,
    progress: Any = None,
    executor: Any = None,
    workspace: Any = None,
    bootstrap: int = 1000,
) -> dict[str, Any]:
    """Run the whole measure through the pipeline; returns the yield report (also written into the run folder as
    yield.json and yield.md, beside the run's metrics.json and report.html)."""
    say = progress or (lambda message: None)
    started = time.perf_counter()
    plan = plan_yield(panel, people=people, targets=targets, context_items=context_items, seed=seed)
    check_no_leak(plan)
    script = load_script(script_name)
    if blocks:
        script = select_blocks(script, list(blocks))
    workspace = workspace or Workspace.default()
    work = private_dir(workspace.root / "interview-yield" / f"{panel}-s{seed}")  # transcripts and agents of the twins
    store = TranscriptStore(work / "transcripts")
    bank = AgentBank(work / "agents")
    similarity_fn = None
    if embeddings:

        similarity_fn = embedding_similarity()
    interviewer_llm = open_llm(role="interviewer")
    agent_llm = open_llm(role="agents")
    lengths = sorted({n for n in lengths if 0 < n < turns})
    try:
        agents, respondents, conditions = await interview_and_build(
            plan, script, blocks, store, bank, interviewer_llm=interviewer_llm, agent_llm=agent_llm, turns=turns,
            lengths=lengths, similarity_fn=similarity_fn, say=say)
        inner = plan.plan
        spec = RunSpec.build(agents, [inner.instrument], model={"model": agent_llm.model}, truth=inner.truth,
                             exclusions=inner.exclusions, respondents=respondents, conditions=conditions,
                             options=AnswerOptions(reasoning=False), batch_size=5, label=f"interview-yield-{panel}",
                             extra={**inner.describe(), "interview_yield": {"script": script.id, "blocks": list(blocks),
                                                                           "turns": turns, "lengths": lengths}})
        say(f"{len(agents)} agents answer the {len(plan.targets)} targets")
        outcome = await run_async(spec, executor, llm=agent_llm, workspace=workspace)
    finally:
        await interviewer_llm.aclose()
        await agent_llm.aclose()
    folder = outcome.folder
    scored = report(folder, None, EvalSettings(bootstrap=bootstrap, seed=seed, min_items=1))
    keys = sorted(plan.truth)
    result = {
        "report": "interview-yield", "version": REPORT_VERSION, "run": folder.path.name, "panel": panel, "seed": seed,
        "people": plan.people, "targets": plan.targets, "person_items": len(keys), "script": script.id,
        "blocks": list(blocks), "turns": turns, "lengths": lengths, "interviewer_model": interviewer_llm.model,
        "agent_model": agent_llm.model, "wall_s": round(time.perf_counter() - started, 1),
        "conditions": yield_rows(folder, plan.truth, seed=seed),
        "references": {name: (by.get(inner.instrument.id, {}).get("accuracy") or {}).get("mean")
                       for name, by in scored.metrics["conditions"].items() if by.get(inner.instrument.id, {}).get("kind") in ("reference", "floor")},
        "what": "accuracy on held-out GSS items vs the person's wave-1 answers; ratio = accuracy / the twin's on the same "
                "person-items, 95% two-way percentile bootstrap (people and items); the reference conditions are the "
                "run's (metrics.json)",
    }
    atomic_write_json(folder.path / YIELD_REPORT, result)
    atomic_write_text(folder.path / "yield.md", markdown(result))
    return result


def _num(value: float) -> str:
    return "-" if value != value else f"{value:.2f}"


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Interview yield: {report['script']} ({', '.join(report['blocks']) or 'all blocks'}), {report['turns']} answers",
        "",
        f"{len(report['people'])} GSS panel {report['panel']} people x {len(report['targets'])} held-out items "
        f"({report['person_items']} person-items). Interviewer model {report['interviewer_model']}, agents {report['agent_model']}.",
        f"{report['what']}. Run folder: {report['run']}.",
        "",
        "| condition | accuracy | ratio to twin | 95% interval | replicates without a ratio | answered |",
        "|---|---|---|---|---|---|",
    ]
    for row in report["conditions"]:
        low, high = row["ci95"]
        interval = f"{_num(low)}-{_num(high)}" if low == low else "n/a"
        lines.append(f"| {row['condition']} | {_num(row['accuracy'])} | {_num(row['ratio_to_twin'])} | "
                     f"{interval} | {row.get('replicates_without_ratio', 0)} | {row['answered']} |")
    for name, value in sorted(report.get("references", {}).items()):
        lines.append(f"| {name} (reference) | {_num(value if value is not None else float('nan'))} | | | | |")
    twin = next((r for r in report["conditions"] if r["condition"] == "twin"), None)
    if twin is not None and not twin["accuracy"]:
        lines += ["", "The twin got none of the held-out items right, so no ratio is defined: use more people and items."]
    return "\n".join(lines) + "\n"
