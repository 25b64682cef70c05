"""The GSS-panel benchmark: baseline agents of real panel respondents, scored against their own answers.

From a real GSS panel (2016-2020, or 2006-2008-2010), take N people who were re-interviewed, and K GSS
items most of them were asked. Build for each person:
- a demographic agent: their wave-1 demographics (age, sex, race, degree from the panel, plus their
  wave-1 political views, party and religion when those are not being predicted);
- a composite agent: their wave-1 answers to other GSS items (the other target items, each predicted
  item left out, plus `context_items` further items), as in the paper's composite baseline.
The agents answer the K items; the report scores them against the person's wave-1 answers (design
`same-wave`, the paper's) or wave-2 answers (`cross-wave`: agents see wave 1, scored on wave 2) and
normalizes by the same person's wave-1 vs wave-2 agreement (the panel's real retest, 2-4 years apart, where
the paper had a 2-week retest). Everything is seeded, so the same command rebuilds the same agents and
resumes the same run.

No leakage (see `leakage`): no two targets are near-duplicates of each other; context items are never a
target, a y-version or a near-duplicate of one; demographic fields that repeat a target (sex, race, degree,
or degree's near-duplicate educ) are left out of every demographic profile of the benchmark. The human
answers saved with the run hold the targets and the context items, so the statistical reference
conditions learn from exactly what the composite agents see.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from simulacra.agent import Agent
from simulacra.agents.baselines import CompositeAgent, DemographicAgent
from simulacra.errors import SimulacraError
from surveys.instruments import load_instrument
from surveys.loaders import load_gss_panel, load_panel_file
from surveys.model import Instrument, Question
from surveys.responses import ResponseSet

from experiments.runs.spec import Exclusions, RunSpec
from experiments.scoring.leakage import closed_set, exclusions_for, near_duplicates

PANELS = ("2016-2020", "2006")
DESIGNS = ("same-wave", "cross-wave")
DEMOGRAPHIC_ITEMS = ("polviews", "partyid", "relig")  # wave-1 answers used as demographics when not predicted
DEMOGRAPHIC_FIELDS = ("age", "sex", "race", "degree")
ITEM_FIELDS = {"polviews": "political_views", "partyid": "party", "relig": "religion"}  # DEMOGRAPHIC_ITEMS as fields
CONDITIONS = ("demographic", "composite")


@dataclass
class BenchmarkPlan:
    panel: str
    seed: int
    people: list[str]
    items: list[str]
    context_items: list[str]
    instrument: Instrument  # the GSS instrument cut to the target items (in GSS order)
    truth: ResponseSet  # everyone's answers to the target items (majority floor), waves 1 and 2
    agents: list[Agent] = field(default_factory=list)
    respondents: dict[str, str] = field(default_factory=dict)  # agent id -> panel respondent
    design: str = "same-wave"
    panel_data: ResponseSet | None = None  # the whole panel (every item), for the reference conditions
    exclusions: Exclusions = field(default_factory=Exclusions)  # computed once from the targets
    weights: str | None = None  # survey weight column (population figures only; the truth carries it)

    def spec(self, **kwargs: Any) -> RunSpec:
        """The run of this plan (model, options, batch size, run id ... in `kwargs`; see RunSpec.build)."""
        return RunSpec.build(self.agents, [self.instrument], truth=self.truth, design=self.design,
                             exclusions=self.exclusions, respondents=self.respondents,
                             label=kwargs.pop("label", f"gss-panel-{self.panel}"),
                             extra={**self.describe(), **kwargs.pop("extra", {})}, **kwargs)

    def describe(self) -> dict[str, Any]:
        return {
            "benchmark": "gss-panel",
            "panel": self.panel,
            "seed": self.seed,
            "people": self.people,
            "items": self.items,
            "context_items": self.context_items,
            "design": self.design,
        } | ({"weights": self.weights} if self.weights else {})


def _pairs_per_item(panel: ResponseSet) -> dict[str, int]:
    pairs = panel.retest_pairs(1, 2)
    return pairs.groupby("question").size().to_dict()


def choose_items(panel: ResponseSet, instrument: Instrument, k: int, rng: np.random.Generator, exclude: Sequence[str] = ()) -> list[str]:
    """K items, seeded, among the better-covered half of the items asked in both waves; GSS order kept.

    Never two near-duplicates (see `leakage`), and nothing in `exclude` nor a near-duplicate of it.
    """
    counts = _pairs_per_item(panel)
    banned = closed_set(exclude)
    candidates = [q.id for q in instrument.questions if counts.get(q.id, 0) > 0 and q.id not in banned]
    if not candidates:
        return []
    median = float(np.median([counts[q] for q in candidates]))
    pool = [q for q in candidates if counts[q] >= median] if k <= len(candidates) // 2 else candidates
    dups = near_duplicates()
    chosen: list[str] = []
    for item in rng.permutation(pool).tolist() if pool else []:
        if len(chosen) >= k:
            break
        if not dups.get(item, set()) & set(chosen):
            chosen.append(item)
    return [q.id for q in instrument.questions if q.id in set(chosen)]


def choose_people(panel: ResponseSet, items: Sequence[str], n: int, rng: np.random.Generator) -> list[str]:
    """N re-interviewed people (seeded) who answered at least half of the items in both waves."""
    pairs = panel.retest_pairs(1, 2)
    pairs = pairs[pairs.question.isin(set(items))]
    per_person = pairs.groupby("respondent").size()
    eligible = sorted(per_person[per_person >= max(1, len(items) // 2)].index.astype(str))
    if not eligible:
        return []
    picked = rng.choice(eligible, size=min(n, len(eligible)), replace=False).tolist()
    return sorted(picked)


def _label(question: Question, code: Any) -> str:
    try:
        return question.option(str(code)).label
    except ValueError:
        return str(code)


def demographic_profile(panel: ResponseSet, person: str, gss: Instrument, targets: Sequence[str],
                        exclusions: Exclusions | None = None) -> dict[str, str]:
    """Wave-1 demographics in plain words (fields the panel has), never a target item nor a near-duplicate
    of one (a target `degree` or `educ` drops the degree field; `sex`, `race` likewise): the fields the run's
    exclusions drop."""
    exclusions = exclusions or exclusions_for(targets, [*DEMOGRAPHIC_FIELDS, *ITEM_FIELDS.values()])
    profile: dict[str, str] = {}
    demo = panel.demographics
    if not demo.empty and person in demo.index.astype(str):
        row = demo.loc[demo.index.astype(str) == person].iloc[0]
        for name in DEMOGRAPHIC_FIELDS:
            if name in exclusions.dropped_fields:
                continue
            if name in row and row[name] is not None and str(row[name]) not in ("", "nan", "<NA>"):
                profile[name] = str(row[name])
    ids = {q.id for q in gss.questions}
    for item, label in ITEM_FIELDS.items():
        if label in exclusions.dropped_fields or item not in ids:
            continue
        value = panel.value(person, item, 1)
        if value is not None:
            profile[label] = _label(gss.question(item), value)
    return profile


def _item_columns(demographics: Any, panel: ResponseSet, items: Sequence[str]) -> Any:
    """The demographics with each person's wave-1 answer code to `items` (polviews, partyid, relig: what demographic
    agents are told) as columns of the same name, so the matched reference (experiments.scoring.matched) sees them."""
    frame = demographics.copy() if demographics is not None else pd.DataFrame()
    frame.index = frame.index.astype(str)
    first = panel.data[(panel.data["wave"] == 1) & panel.data["question"].isin(set(items))]
    for item in items:
        values = first[first["question"] == item].drop_duplicates("respondent").set_index("respondent")["value"]
        values.index = values.index.astype(str)
        frame[item] = values.astype(str).reindex(frame.index) if not frame.empty else values.astype(str)
    return frame


def plan_gss_benchmark(
    panel_name: str = "2016-2020",
    *,
    people: int = 20,
    items: int = 20,
    seed: int = 0,
    context_items: int = 20,
    conditions: Sequence[str] = CONDITIONS,
    group_size: int = 5,
    panel: ResponseSet | None = None,
    gss: Instrument | None = None,
    design: str = "same-wave",
    panel_file: str | None = None,
    weights: str | None = None,
) -> BenchmarkPlan:
    """Choose people and items (seeded) and build their agents; nothing is asked of a model here. The exclusions
    are computed once from the targets and applied to every agent (and, through the run, every reference).
    `weights`: a survey weight column of the panel (e.g. wtssall; its wave-1 value per person): the run's
    population figures (the majority reference, 1 - TV/TV_uniform) are weighted by it, individual accuracy is
    not; nobody's agent changes (the same run folder, re-scored)."""
    if design not in DESIGNS:
        raise SimulacraError(f"unknown design {design!r}: choose {' or '.join(DESIGNS)}")
    if panel_file is not None and panel is None:
        gss = gss or load_instrument("gss")
        panel = load_panel_file(panel_file, gss, weights=weights)
        panel_name = panel.name
    elif panel_name not in PANELS:
        raise SimulacraError(f"unknown GSS panel {panel_name!r}: choose {' or '.join(PANELS)}, or give --panel-file")
    unknown = set(conditions) - set(CONDITIONS)
    if unknown:
        raise SimulacraError(f"unknown condition(s) {', '.join(sorted(unknown))}: choose from {', '.join(CONDITIONS)}")
    if people < 1 or items < 1:
        raise SimulacraError("--people and --items must be at least 1")
    gss = gss or load_instrument("gss")
    panel = panel if panel is not None else load_gss_panel(panel_name, gss, waves=(1, 2), weights=weights)  # type: ignore[arg-type]
    if weights and panel.weight_column != weights:
        panel = panel.with_weights(weights)
    rng = np.random.default_rng(seed)
    targets = choose_items(panel, gss, items, rng)
    if not targets:
        raise SimulacraError(f"the {panel_name} panel has no GSS item asked in both waves")
    chosen_people = choose_people(panel, targets, people, rng)
    if not chosen_people:
        raise SimulacraError(f"no re-interviewed person in the {panel_name} panel answered enough of the chosen items")
    extra = choose_items(panel, gss, context_items, rng, exclude=list(targets) + list(DEMOGRAPHIC_ITEMS)) if context_items else []
    instrument = gss.model_copy(update={"questions": [q for q in gss.questions if q.id in set(targets)]}, deep=True)
    known_questions = [q for q in gss.questions if q.id in set(targets) | set(extra)]
    truth = panel.subset(questions=list(targets) + list(extra))
    truth.name = panel.name if panel_file is not None else f"gss-panel-{panel_name}"
    truth.instrument = gss.id
    truth.demographics = _item_columns(truth.demographics, panel, [i for i in DEMOGRAPHIC_ITEMS if i not in targets])
    first = panel.subset(respondents=chosen_people, questions=[q.id for q in known_questions]).wave(1)

    excluded = exclusions_for(targets, [*DEMOGRAPHIC_FIELDS, *ITEM_FIELDS.values()])
    plan = BenchmarkPlan(panel_name, seed, chosen_people, targets, extra, instrument, truth, design=design, panel_data=panel,
                         exclusions=excluded, weights=weights)
    known_ids = {q.id for q in known_questions}
    hidden_with = {t: [i for i in items if i in known_ids] for t, items in excluded.hidden.items()}
    hidden_with = {t: items for t, items in hidden_with.items() if items}
    for person in chosen_people:
        if "demographic" in conditions:
            agent = DemographicAgent(id=f"dem-{person}", demographics=demographic_profile(panel, person, gss, targets, excluded))
            plan.agents.append(agent)
            plan.respondents[agent.id] = person
        if "composite" in conditions:
            known = first.get(person, {})
            agent = CompositeAgent(
                id=f"comp-{person}",
                known_answers=dict(known),
                questions=[q for q in known_questions if q.id in known],
                group_size=group_size,
                exclude=sorted(excluded.closed() - set(targets)),  # never shown, whatever the context holds
                hidden_with=hidden_with,
            )
            plan.agents.append(agent)
            plan.respondents[agent.id] = person
    return plan
