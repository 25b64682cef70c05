"""The population-informed condition is honest (#23 item 3): failures stay failed, a placebo, a stacked condition.

Synthetic panels: every person's answers are drawn from item-level distributions, plus (for the informative
agents) a person-level signal the agent sees. Nothing here is copied from the implementation's output: the
coverage counts are set by construction, and the placebo/stacked checks assert directions of effects.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from experiments.scoring.distributions import answer_distribution
from experiments.scoring.mixing import placebo_agent, placebo_donors, weight_interval
from experiments.scoring.panel import PanelMatrix
from experiments.scoring.references import Logistic, stacked_proba
from experiments.scoring.stats import Bootstrap
from experiments.scoring.survey import AgentCells, SurveySettings, score_survey
from surveys.model import Option, Question, QuestionKind

K = 3


def question(qid: str, k: int = K) -> Question:
    return Question(id=qid, text=qid, kind=QuestionKind.categorical,
                    options=[Option(code=str(i + 1), label=f"o{i}") for i in range(k)])


def synthetic_panel(n: int, m: int, seed: int = 0, retest_agreement: float = 0.8) -> PanelMatrix:
    """Answers from item-level distributions; the retest repeats the answer with probability `retest_agreement`."""
    rng = np.random.default_rng(seed)
    marginals = rng.dirichlet(np.ones(K) * 2.0, size=m)
    w1 = np.stack([rng.choice(K, size=n, p=marginals[j]) for j in range(m)], axis=1).astype(np.int16)
    redraw = np.stack([rng.choice(K, size=n, p=marginals[j]) for j in range(m)], axis=1).astype(np.int16)
    w2 = np.where(rng.random((n, m)) < retest_agreement, w1, redraw).astype(np.int16)
    items = [f"q{j}" for j in range(m)]
    people = np.array([f"p{i}" for i in range(n)], dtype=object)
    return PanelMatrix(people, items, {q: question(q) for q in items}, w1, w2, pd.DataFrame(index=[str(p) for p in people]))


def cells_from(predicted: np.ndarray, proba: np.ndarray | None = None, has_proba: np.ndarray | None = None) -> AgentCells:
    asked = np.ones(predicted.shape, bool)
    return AgentCells(asked=asked, predicted=predicted.astype(np.int16), failed=asked & (predicted < 0),
                      proba=proba, has_proba=has_proba)


def settings(**kwargs) -> SurveySettings:
    base = dict(min_items=5, bootstrap=200, seed=0, references=("majority",), by_sample=False, exclusions={})
    return SurveySettings(**(base | kwargs))


# -- a failed answer stays failed ---------------------------------------------------------------------------
def test_a_half_failed_agent_keeps_its_coverage_through_population():
    panel = synthetic_panel(24, 20, seed=1)  # 480 cells, all answered in both waves
    rng = np.random.default_rng(5)
    predicted = rng.integers(0, K, panel.truth.shape).astype(np.int16)
    failed = np.zeros(480, bool)
    failed[rng.choice(480, 238, replace=False)] = True  # 242 valid of 480, as in the issue
    predicted[failed.reshape(panel.truth.shape)] = -1
    result = score_survey(panel, panel.items, np.arange(24), {"persona": cells_from(predicted)}, settings())
    agent, mixed = result.conditions["persona"], result.conditions["persona+population"]
    assert (agent["coverage"]["valid"], agent["coverage"]["asked"]) == (242, 480)
    assert (mixed["coverage"]["valid"], mixed["coverage"]["asked"]) == (242, 480)  # not 480/480
    assert mixed["coverage"]["failed"] == 238
    # the headline counts a failed answer as wrong: the mixture can be right on at most the 242 valid cells
    assert mixed["accuracy"]["mean"] <= 242 / 480 + 1e-9
    assert result.conditions["persona+placebo"]["coverage"]["valid"] == 242


def test_one_missing_probability_cell_keeps_the_other_stored_distributions():
    predicted = np.array([[0, 1], [2, -1]], np.int16)
    proba = np.zeros((2, 2, K))
    proba[0, 0] = [0.6, 0.3, 0.1]
    proba[1, 0] = [0.2, 0.2, 0.6]
    has = np.array([[True, False], [True, False]])  # (0, 1) answered without probabilities; (1, 1) failed
    dist, counts = answer_distribution(predicted, proba, has, np.array([K, K]), K)
    assert counts == {"stored": 2, "one_hot": 1}
    assert dist[0, 0] == pytest.approx([0.6, 0.3, 0.1])  # stored kept although another cell has none
    assert dist[1, 0] == pytest.approx([0.2, 0.2, 0.6])
    assert dist[0, 1] == pytest.approx([0.0, 1.0, 0.0])  # one-point distribution of the answer


# -- placebo ------------------------------------------------------------------------------------------------
def test_placebo_donors_are_a_derangement_of_the_valid_people():
    valid = np.ones((7, 3), bool)
    valid[2, 1] = valid[5, 1] = False
    donors = placebo_donors(valid, seed=3)
    for j in range(3):
        people = np.flatnonzero(valid[:, j])
        assert sorted(donors[people, j]) == sorted(people)  # each valid answer handed to exactly one other person
        assert np.all(donors[people, j] != people)
        assert np.all(valid[donors[people, j], j])
        assert np.all(donors[~valid[:, j], j] == -1)
    assert np.array_equal(placebo_donors(valid, seed=3), donors)  # fixed by the seed
    agent = np.random.default_rng(0).dirichlet(np.ones(K), size=(7, 3))
    reference = np.full((7, 3, K), 1 / K)
    placebo = placebo_agent(agent, valid, reference, seed=3)
    assert np.allclose(placebo[0, 0], agent[donors[0, 0], 0])


def _informative(panel: PanelMatrix, strength: float, rng) -> np.ndarray:
    """An agent distribution: `strength` on the person's true answer, the rest on the item's population
    distribution (person-specific information when strength > 0)."""
    n, m = panel.truth.shape
    marg = np.stack([np.bincount(panel.truth[:, j], minlength=K) / n for j in range(m)])
    truth_onehot = np.eye(K)[panel.truth]
    noise = rng.dirichlet(np.ones(K) * 20, size=(n, m))  # mild person-level noise, unrelated to the answers
    return strength * truth_onehot + (1 - strength) * 0.5 * (marg[None] + noise)


def _placebo_block(strength: float, seed: int):
    panel = synthetic_panel(120, 30, seed=seed)
    rng = np.random.default_rng(seed + 100)
    proba = _informative(panel, strength, rng)
    # the agent answers by sampling its own distribution (not its arg-max), as a model sampling answers would
    predicted = np.array([[rng.choice(K, p=proba[i, j]) for j in range(30)] for i in range(120)], np.int16)
    agent = cells_from(predicted, proba, np.ones(predicted.shape, bool))
    result = score_survey(panel, panel.items, np.arange(120), {"persona": agent}, settings(bootstrap=300))
    return result.conditions["persona+population"]


def test_an_agent_without_person_specific_information_gains_nothing_over_its_placebo():
    block = _placebo_block(strength=0.0, seed=11)
    ci = block["placebo"]["ci"]
    assert ci is not None and ci[0] <= 0 <= ci[1]
    assert "no evidence of person-specific information" in block["placebo"]["verdict"]


def test_an_agent_with_person_specific_information_beats_its_placebo():
    block = _placebo_block(strength=0.4, seed=12)
    ci = block["placebo"]["ci"]
    assert ci is not None and ci[0] > 0
    assert block["placebo"]["verdict"].startswith("the model adds person-specific information")
    assert block["placebo"]["log_loss_difference"]["ci"][0] > 0  # placebo's log-loss is higher too
    weight = block["weight"]
    assert 0 < weight["ci"][0] <= weight["fit"] <= weight["ci"][1] <= 1


def test_the_weight_interval_covers_a_known_weight():
    rng = np.random.default_rng(4)
    n, m = 300, 30
    agent = rng.dirichlet(np.ones(K) * 0.5, size=(n, m))
    reference = rng.dirichlet(np.ones(K) * 0.5, size=(n, m))
    mix = 0.6 * agent + 0.4 * reference
    truth = (rng.random((n, m, 1)) > mix.cumsum(axis=2)).sum(axis=2)
    out = weight_interval(agent, reference, truth, np.ones((n, m), bool), Bootstrap(n, m, 200, 0).draws())
    assert out["ci"][0] <= 0.6 <= out["ci"][1]
    assert out["ci"][1] - out["ci"][0] < 0.25


# -- stacked ------------------------------------------------------------------------------------------------
def _accuracy(proba: np.ndarray, truth: np.ndarray) -> float:
    return float((np.argmax(proba, axis=2) == truth).mean())


def test_stacking_an_informative_agent_beats_the_logistic_regression_alone():
    panel = synthetic_panel(300, 8, seed=21)
    rng = np.random.default_rng(22)
    rows = np.arange(300)
    proba = _informative(panel, 0.5, rng)
    valid = np.ones(panel.truth.shape, bool)
    alone = Logistic({}, folds=5, seed=0).predict_proba(panel, panel.items, rows)
    stacked = stacked_proba(panel, panel.items, rows, proba, valid, {}, seed=0, folds=5)
    assert _accuracy(stacked, panel.truth) > _accuracy(alone, panel.truth) + 0.1
    # an uninformative agent (noise) does not help it
    noise = rng.dirichlet(np.ones(K), size=panel.truth.shape)
    noisy = stacked_proba(panel, panel.items, rows, noise, valid, {}, seed=0, folds=5)
    assert _accuracy(noisy, panel.truth) < _accuracy(alone, panel.truth) + 0.05


def test_the_stacked_model_never_sees_the_persons_own_answer():
    panel = synthetic_panel(100, 6, seed=31)
    rows = np.arange(100)
    proba = _informative(panel, 0.5, np.random.default_rng(32))
    valid = np.ones(panel.truth.shape, bool)
    before = stacked_proba(panel, panel.items, rows, proba, valid, {}, seed=0, folds=5)
    changed = PanelMatrix(panel.people, panel.items, panel.questions, panel.w1.copy(), panel.w2, panel.demographics)
    changed.w1[7, 0] = (changed.w1[7, 0] + 1) % K  # person 7's own answer to the target q0
    after = stacked_proba(changed, changed.items, rows, proba, valid, {}, seed=0, folds=5)
    assert np.allclose(before[7, 0], after[7, 0])  # their prediction of q0 does not move


def test_score_survey_adds_a_stacked_condition_that_keeps_the_agents_failures():
    panel = synthetic_panel(60, 10, seed=41)
    rng = np.random.default_rng(42)
    proba = _informative(panel, 0.5, rng)
    predicted = np.argmax(proba, axis=2).astype(np.int16)
    predicted[:, :3] = -1  # three items failed for everyone
    agent = cells_from(predicted, proba, predicted >= 0)
    result = score_survey(panel, panel.items, np.arange(60), {"persona": agent},
                          settings(references=("majority", "logistic"), bootstrap=50))
    stacked = result.conditions["persona+stacked"]
    assert (stacked["coverage"]["valid"], stacked["coverage"]["asked"]) == (420, 600)
    assert any(v["condition"] == "persona+stacked" for v in result.verdicts)
    assert not any(v["condition"] == "persona+placebo" for v in result.verdicts)  # a control, not a contender


def test_the_report_prints_the_weight_and_the_placebo_verdict():
    from experiments.reports.report import population_check_lines

    block = _placebo_block(strength=0.0, seed=11)
    lines = population_check_lines({"conditions": {"persona+population": {"gss": block}}})
    assert len(lines) == 2
    assert "agent weight" in lines[0] and f"{block['weight']['fit']:.2f}" in lines[0]
    assert lines[1].startswith("placebo check") and "no evidence of person-specific information" in lines[1]


def test_paired_log_loss_by_hand():
    from experiments.scoring.distributions import paired_log_loss

    truth = np.array([[0, 1]])
    a = np.array([[[0.5, 0.5, 0.0], [0.5, 0.5, 0.0]]])  # -ln .5 on both items
    b = np.array([[[1.0, 0.0, 0.0], [0.25, 0.75, 0.0]]])  # 0 and -ln .75
    out = paired_log_loss(a, b, truth, np.ones((1, 2), bool), [], min_items=1)
    assert out["difference"] == pytest.approx(np.log(2) - (-np.log(0.75)) / 2)
    assert out["ci"] is None
