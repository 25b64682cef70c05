"""Hand-computed fixtures: log-loss, Brier, SimBench's 1 - TV/TV_uniform, and the population-informed mixture."""

from __future__ import annotations

import math

import numpy as np
import pytest

from experiments.scoring.distributions import EPS, brier_per_person, log_loss_per_person, population_tv, tv_score
from experiments.scoring.mixing import fit_weight, fit_weights_leave_one_out, population_informed


def test_log_loss_and_brier_by_hand():
    proba = np.array([[[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]]])  # one person, two 3-option items
    truth = np.array([[0, 2]])
    scored = np.ones((1, 2), bool)
    assert log_loss_per_person(proba, truth, scored)[0] == pytest.approx((-math.log(0.5) - math.log(0.5)) / 2)
    # Brier: item 0 (.5-1)^2 + .5^2 + 0 = .5 ; item 1 .04 + .09 + .25 = .38 -> mean .44
    assert brier_per_person(proba, truth, scored)[0] == pytest.approx((0.5 + 0.38) / 2)
    # a zero probability on the true answer is clipped, not infinite
    assert log_loss_per_person(proba, np.array([[2, 2]]), scored)[0] == pytest.approx((-math.log(EPS) - math.log(0.5)) / 2)
    # unscored cells are left out; nobody scored -> NaN
    assert log_loss_per_person(proba, truth, np.array([[True, False]]))[0] == pytest.approx(-math.log(0.5))
    assert math.isnan(brier_per_person(proba, truth, np.zeros((1, 2), bool))[0])


def test_tv_score_simbench_normalisation():
    human = np.array([0.6, 0.3, 0.1])
    # TV(uniform, human) = .5 * (|1/3-.6| + |1/3-.3| + |1/3-.1|) = .5 * (.2667 + .0333 + .2333) = .26667
    assert tv_score(human, human) == pytest.approx(1.0)
    assert tv_score(np.full(3, 1 / 3), human) == pytest.approx(0.0)
    model = np.array([0.5, 0.5, 0.0])  # TV = .5 * (.1 + .2 + .1) = .2
    assert tv_score(model, human) == pytest.approx(1 - 0.2 / (0.8 / 3))
    assert tv_score(np.full(2, 0.5), np.full(2, 0.5)) is None  # uniform humans: undefined
    # population level: the model's mean distribution over people vs the people's answers
    proba = np.array([[[1.0, 0.0]], [[0.0, 1.0]], [[0.5, 0.5]], [[0.5, 0.5]]])
    truth = np.array([[0], [0], [0], [1]])  # humans .75 / .25 ; model mean .5 / .5 = uniform -> 0
    out = population_tv(proba, truth, np.ones((4, 1), bool), np.array([2]), ["q"])
    assert out["per_item"]["q"] == pytest.approx(0.0) and out["mean"] == pytest.approx(0.0)


def synthetic(weight: float, n: int = 400, m: int = 30, k: int = 3, seed: int = 0):
    """Truth drawn from w * agent + (1 - w) * reference, both random distributions."""
    rng = np.random.default_rng(seed)
    agent = rng.dirichlet(np.ones(k) * 0.5, size=(n, m))
    reference = rng.dirichlet(np.ones(k) * 0.5, size=(n, m))
    mix = weight * agent + (1 - weight) * reference
    cum = mix.cumsum(axis=2)
    u = rng.random((n, m, 1))
    truth = (u > cum).sum(axis=2)
    return agent, reference, truth


@pytest.mark.parametrize("weight", [0.2, 0.7])
def test_a_fitted_weight_recovers_a_known_one(weight):
    agent, reference, truth = synthetic(weight)
    scored = np.ones(truth.shape, bool)
    assert fit_weight(agent, reference, truth, scored) == pytest.approx(weight, abs=0.06)
    weights = fit_weights_leave_one_out(agent, reference, truth, scored)
    assert np.all(np.abs(weights - weight) < 0.08)


def test_a_persons_answers_never_enter_their_own_weight():
    agent, reference, truth = synthetic(0.5, n=60, m=20)
    scored = np.ones(truth.shape, bool)
    before = fit_weights_leave_one_out(agent, reference, truth, scored)
    changed = truth.copy()
    changed[7] = np.argmax(agent[7], axis=1)  # person 7 now answers exactly what the agent says
    after = fit_weights_leave_one_out(agent, reference, changed, scored)
    assert after[7] == before[7]  # their own weight is fitted on the others only
    # everyone else's weight is fitted WITH person 7, who now follows the agent: each of them moves toward the agent
    moved = np.delete(after, 7) - np.delete(before, 7)
    assert np.all(moved > 0)
    mixture = population_informed(agent, reference, truth, scored)
    w = mixture.weights[3]
    assert np.allclose(mixture.proba[3], w * agent[3] + (1 - w) * reference[3])


def test_weight_zero_when_the_agent_is_noise():
    agent, reference, truth = synthetic(0.0, n=300, m=30, seed=3)
    assert fit_weight(agent, reference, truth, np.ones(truth.shape, bool)) <= 0.05
