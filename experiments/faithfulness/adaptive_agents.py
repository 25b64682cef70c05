"""Composite agents built from the K adaptive answers (`benchmark gss-panel --adaptive K --adaptive-agents N`).

The adaptive benchmark (`adaptive_benchmark`) predicts a person's other items statistically from the K items asked.
This adds the language-model predictor: for N people (seeded) and M target items (seeded, from the half of the
battery the K items are never asked from: the `halves` design, pass 1), one composite agent per condition
(adaptive, random and the best fixed K) knows exactly the person's wave-1 answers to the K items that condition
asked, and answers the M targets. Everything goes through the one pipeline: one RunSpec (three agent conditions,
`adaptive-kK`, `random-kK`, `fixed-kK`; the targets' near-duplicates hidden by the run's exclusions), `run`, and
`score(folder)` (metrics.json and report.html in the run folder, its references and verdicts).

Beside that report, on exactly the agents' cells (the same people and targets): the statistical predictors from the
same K answers (logistic, composite kNN), and paired differences with two-way bootstrap intervals: adaptive agents
minus random agents, minus fixed-form agents, and each agent condition minus the logistic regression from the
same K answers. The person's target answers never reach an agent: targets come from the half that is never asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from simulacra.agents.baselines import CompositeAgent
from simulacra.errors import SimulacraError

from experiments.faithfulness.adaptive_benchmark import brief
from experiments.pipeline import EvalSettings, RunSpec, report, run
from experiments.scoring import stats as st
from experiments.scoring.leakage import exclusions_for, near_duplicates
from experiments.scoring.panel import PanelMatrix

AGENT_CONDITIONS = ("adaptive", "random", "fixed")
DESIGN = "halves"  # the design whose targets are never askable (pass 1: asked from one half, the other predicted)


@dataclass
class AgentPlan:
    k: int
    people: list[str]
    rows: np.ndarray  # the people's rows in the benchmark's panel matrix
    targets: list[str]
    agents: dict[str, list[CompositeAgent]] = field(default_factory=dict)  # condition -> one agent per person
    spec: RunSpec | None = None

    def condition(self, name: str) -> str:
        return f"{name}-k{self.k}"


def choose_targets(matrix: PanelMatrix, rows: np.ndarray, toward: Sequence[int], m: int, seed: int) -> list[str]:
    """M items of the predicted half, seeded, among its better-covered half (wave 1 and retest answers among the
    benchmark's people); never two near-duplicates of each other. Panel order kept."""
    both = (matrix.w1[np.ix_(rows, toward)] >= 0) & (matrix.w2[np.ix_(rows, toward)] >= 0)
    counts = both.sum(axis=0)
    pool = [int(toward[int(j)]) for j in np.flatnonzero(counts >= np.median(counts))]
    dups = near_duplicates()
    chosen: list[int] = []
    for j in np.random.default_rng(seed).permutation(pool):
        if len(chosen) >= m:
            break
        if not dups.get(matrix.items[j], set()) & {matrix.items[c] for c in chosen}:
            chosen.append(int(j))
    return [matrix.items[j] for j in sorted(chosen)]


def choose_people(matrix: PanelMatrix, rows: np.ndarray, targets: Sequence[str], n: int, seed: int) -> np.ndarray:
    """N of the benchmark's people (seeded) with wave-1 and retest answers to at least half of the targets."""
    cols = [matrix.item_index(t) for t in targets]
    both = ((matrix.w1[np.ix_(rows, cols)] >= 0) & (matrix.w2[np.ix_(rows, cols)] >= 0)).sum(axis=1)
    eligible = rows[both >= max(1, len(targets) // 2)]
    if not len(eligible):
        raise SimulacraError("--adaptive-agents: nobody answered half of the chosen target items in both waves")
    return np.sort(np.random.default_rng(seed).choice(eligible, size=min(n, len(eligible)), replace=False))


def plan_agents(result: Any, k: int, people: int, items: int, seed: int = 0) -> AgentPlan:
    """The composite agents of N people for each condition, from the K items that condition asked them."""
    state = result.state
    if DESIGN not in state.get("orders", {}):
        raise SimulacraError("--adaptive-agents needs the halves design (--adaptive-design halves or both)")
    if k not in result.settings["ks"]:
        raise SimulacraError(f"--adaptive-agents-k {k}: not one of the benchmark's K ({', '.join(map(str, result.settings['ks']))})")
    matrix: PanelMatrix = state["matrix"]
    order, toward = state["orders"][DESIGN][0]
    targets = choose_targets(matrix, state["rows"], list(toward), items, seed)
    rows = choose_people(matrix, state["rows"], targets, people, seed)
    plan = AgentPlan(k=k, people=[str(matrix.people[r]) for r in rows], rows=rows, targets=targets)
    for condition in AGENT_CONDITIONS:
        agents = []
        for r in rows:
            asked = [matrix.items[j] for j in order[condition][r, :k] if j >= 0]
            known = {q: matrix.code(q, int(matrix.w1[r, matrix.item_index(q)])) for q in asked}
            known = {q: code for q, code in known.items() if code is not None}
            agents.append(CompositeAgent(id=f"{condition}-{matrix.people[r]}", known_answers=known,
                                         questions=[matrix.questions[q] for q in known], group_size=1))
        plan.agents[condition] = agents
    return plan


def agent_spec(plan: AgentPlan, result: Any, *, model: dict[str, Any] | None = None, **kwargs: Any) -> RunSpec:
    """The run: every condition's agents, the M targets, the panel's answers to the targets and to every item any of
    these agents knows (so the run's references learn from what the agents see), the targets' exclusions."""
    state = result.state
    gss = state["instrument"]
    instrument = gss.model_copy(update={"questions": [state["matrix"].questions[t] for t in plan.targets]}, deep=True)
    known = sorted({q for agents in plan.agents.values() for a in agents for q in a.known_answers})
    truth = state["responses"].subset(questions=[*plan.targets, *known])
    agents = [a for condition in AGENT_CONDITIONS for a in plan.agents[condition]]
    respondents = {a.id: a.id.split("-", 1)[1] for a in agents}
    conditions = {a.id: plan.condition(a.id.split("-", 1)[0]) for a in agents}
    return RunSpec.build(agents, [instrument], truth=truth, design=result.design, exclusions=exclusions_for(plan.targets),
                         respondents=respondents, conditions=conditions, model=model,
                         label=f"{kwargs.pop('label', 'gss-panel')}-adaptive-agents-k{plan.k}",
                         extra={"benchmark": "gss-panel-adaptive-agents", "k": plan.k, "people": plan.people,
                                "targets": plan.targets, "design": DESIGN, **kwargs.pop("extra", {})}, **kwargs)


def agent_cells(plan: AgentPlan, result: Any, answers: Any) -> dict[str, st.Cells]:
    """Each agent condition's answers on the plan's people x targets (failed answers count as wrong)."""
    sub = result.state["matrix"].subset(people=plan.people, items=plan.targets)
    row_of = {p: i for i, p in enumerate(plan.people)}
    out = {}
    for condition in AGENT_CONDITIONS:
        predicted = np.full(sub.truth.shape, -1, np.int16)
        asked = np.zeros(sub.truth.shape, bool)
        frame = answers[answers["agent"].str.startswith(f"{condition}-")] if len(answers) else answers
        for row in frame.itertuples(index=False):
            person = row.agent.split("-", 1)[1]
            if person not in row_of or row.question not in sub.items:
                continue
            i, j = row_of[person], sub.item_index(row.question)
            asked[i, j] = True
            if row.status == "ok" and row.value is not None and predicted[i, j] < 0:
                predicted[i, j] = sub.encode(row.question, row.value)
        out[condition] = st.Cells.from_panel(sub, predicted, asked=asked, failed=asked & (predicted < 0))
    return out


def statistical_cells(plan: AgentPlan, result: Any) -> dict[tuple[str, str], st.Cells]:
    """The benchmark's statistical predictions from the same K answers, on the same cells: (condition, predictor)."""
    matrix: PanelMatrix = result.state["matrix"]
    sub = matrix.subset(people=plan.people, items=plan.targets)
    cols = [matrix.item_index(t) for t in plan.targets]
    out = {}
    for condition in AGENT_CONDITIONS:
        for name, predicted in result.state["predicted"][(DESIGN, plan.k, condition)].items():
            if name in ("logistic", "composite_knn"):
                out[(condition, name)] = st.Cells.from_panel(sub, predicted[np.ix_(plan.rows, cols)])
    return out


def compare(plan: AgentPlan, result: Any, answers: Any, bootstrap: int, min_items: int, seed: int = 0) -> dict[str, Any]:
    """Agents and statistical predictors on the agents' cells, and the paired differences (see the module doc)."""
    boot = st.Bootstrap(len(plan.people), len(plan.targets), bootstrap, seed)
    sums = {(c, "agents"): st.person_sums(cells) for c, cells in agent_cells(plan, result, answers).items()}
    sums.update({key: st.person_sums(cells) for key, cells in statistical_cells(plan, result).items()})
    rows = [{"condition": c, "predictor": p, **brief(st.summarize(s, boot, min_items))} for (c, p), s in sums.items()]
    pairs = [(("adaptive", "agents"), ("random", "agents")), (("adaptive", "agents"), ("fixed", "agents"))]
    pairs += [((c, "agents"), (c, "logistic")) for c in AGENT_CONDITIONS if (c, "logistic") in sums]
    paired = [{"a": list(a), "b": list(b), **st.paired_difference(sums[a], sums[b], boot, "normalized_accuracy", min_items)}
              for a, b in pairs]
    return {"k": plan.k, "people": len(plan.people), "targets": plan.targets, "design": DESIGN, "rows": rows,
            "paired": paired, "min_items": min_items, "bootstrap": bootstrap}


def run_agents(result: Any, *, k: int, people: int, items: int, seed: int = 0, bootstrap: int = 200,
               executor: Any = None, workspace: Any = None, console: Any = None, spec_kwargs: dict[str, Any] | None = None
               ) -> dict[str, Any]:
    """Plan, run (resumable), score and compare the composite-agent condition; the comparison is also stored in
    `result.agents` (written with the benchmark's metrics.json)."""
    plan = plan_agents(result, k, people, items, seed)
    plan.spec = agent_spec(plan, result, seed=seed, **(spec_kwargs or {}))
    outcome = run(plan.spec, executor, workspace=workspace, console=console, progress_label=f"agents from K={k} answers")
    min_items = max(1, len(plan.targets) // 2)
    scored = report(outcome.folder, settings=EvalSettings(bootstrap=bootstrap, seed=seed, min_items=min_items))
    comparison = compare(plan, result, outcome.folder.answers(), bootstrap, min_items, seed)
    comparison["run"] = outcome.folder.path.name
    comparison["report"] = str(scored.html_path)
    comparison["model"] = plan.spec.model.get("model") or "the configured model"
    comparison["score"] = {c: {i: {"normalized_accuracy": b.get("normalized_accuracy"), "people": b.get("people")}
                               for i, b in blocks.items()} for c, blocks in scored.metrics.get("conditions", {}).items()}
    result.agents = comparison
    return comparison

