"""From stored answers to a study's result: the outcome per agent, the study's test, d, and the verdict.

Verdict: `replicated` when the test is significant at the study's alpha and the effect is in the hypothesised
direction; `not replicated` otherwise; `insufficient data` when the test cannot be computed (a condition with
no valid answers). Agents whose outcome answer failed validation are left out and counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Literal

from pydantic import BaseModel, Field

from experiments.behavioral import stats
from experiments.behavioral.definition import StudyDefinition
from surveys.model import Answer, AnswerStatus, Question, QuestionKind


@dataclass
class StepRecord:
    """One agent's answers to one step of a study, as read back from the run's store."""

    run_id: str
    agent_id: str
    study_id: str
    step_id: str
    condition_id: str
    stimulus: str
    answers: list[Answer]
    status: str  # ok | failed (some answer failed validation after retries)
    created_at: str = ""

Verdict = Literal["replicated", "not replicated", "insufficient data"]


class StudyResult(BaseModel):
    study_id: str
    title: str
    test: str
    hypothesis: str
    alpha: float
    statistic: float | None = None
    df: float | None = None
    p: float | None = None
    d: float | None = None
    d_low: float | None = None
    d_high: float | None = None
    n: int = 0  # agents in the analysis
    n_assigned: int = 0
    n_excluded: int = 0  # outcome answer failed or missing
    groups: dict[str, Any] = Field(default_factory=dict)
    note: str = ""
    significant: bool = False
    direction: int = 0  # +1 hypothesised, -1 opposite, 0 none
    verdict: Verdict = "insufficient data"
    human_d: float | None = None
    human_p: str | None = None
    human_replicated: bool | None = None
    paper_agents_d: dict[str, float] = Field(default_factory=dict)


def outcome_score(question: Question, value: Any) -> float:
    """A numeric answer as given; an ordinal one as its rank (1 = first option)."""
    if question.kind == QuestionKind.ordinal:
        return float([o.code for o in question.options].index(str(value)) + 1)
    return float(value)


def analyze_study(study: StudyDefinition, records: Iterable[StepRecord], assignment: dict[str, str]) -> StudyResult:
    a = study.analysis
    question = study.outcome
    by_agent: dict[str, Any] = {}
    for record in records:
        if record.study_id != study.id or record.step_id != a.outcome.step or record.agent_id not in assignment:
            continue
        for answer in record.answers:
            if answer.question_id == question.id and answer.status == AnswerStatus.ok and answer.value is not None:
                try:
                    by_agent[record.agent_id] = question.validate_value(answer.value)
                except ValueError:
                    pass
    result = StudyResult(
        study_id=study.id, title=study.title, test=a.test, hypothesis=a.hypothesis, alpha=a.alpha,
        n_assigned=len(assignment), n_excluded=len(assignment) - len(by_agent),
    )
    if study.published is not None:
        result.human_d = study.published.d
        result.human_p = study.published.p
        result.human_replicated = study.published.replicated
        result.paper_agents_d = dict(study.published.agents_d)

    def level_of(agent_id: str, factor_id: str) -> str:
        return study.condition(assignment[agent_id]).levels[factor_id]

    if a.test == "chi_square":
        events = set(a.event)
        counts = {a.higher: [0, 0], a.lower: [0, 0]}
        for agent_id, value in by_agent.items():
            counts[level_of(agent_id, a.factor)][0 if value in events else 1] += 1
        test = stats.chi_square_2x2(tuple(counts[a.higher]), tuple(counts[a.lower]))
        test.groups = {a.higher: test.groups["higher"], a.lower: test.groups["lower"]}
    elif a.test == "t_test":
        values: dict[str, list[float]] = {a.higher: [], a.lower: []}
        for agent_id, value in by_agent.items():
            values[level_of(agent_id, a.factor)].append(outcome_score(question, value))
        test = stats.t_test(values[a.higher], values[a.lower])
        test.groups = {a.higher: test.groups["higher"], a.lower: test.groups["lower"]}
    else:
        cells: dict[str, list[float]] = {c.id: [] for c in study.conditions}
        for agent_id, value in by_agent.items():
            cells[assignment[agent_id]].append(outcome_score(question, value))
        test = stats.anova_interaction_2x2(cells, a.contrast)

    result.statistic, result.df, result.p = test.statistic, test.df, test.p
    result.d, result.d_low, result.d_high = test.d, test.d_low, test.d_high
    result.n, result.groups, result.note = test.n, test.groups, test.note
    result.direction = test.direction
    if test.p is None:
        result.verdict = "insufficient data"
    else:
        result.significant = test.p < a.alpha
        result.verdict = "replicated" if result.significant and result.direction > 0 else "not replicated"
    return result
