"""Population-informed condition (#13 item 3): an agent's option distribution mixed with a reference one.

    p_mix = w * p_agent + (1 - w) * p_reference

The weight w is fitted by minimising log-loss on OTHER respondents only: for each person, the weight is
the grid point that minimises the summed log-loss over every other person's scored items (leave one person
out), so the person's own answers never enter the weight that predicts them. The reference distribution is
itself computed without the person (see `references`). A fitted weight of 0 says the agent adds nothing
the population does not already know.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from experiments.scoring.distributions import EPS

GRID = np.linspace(0.0, 1.0, 101)


@dataclass
class Mixture:
    weights: np.ndarray  # (n,) the weight used for each person (fitted without them)
    proba: np.ndarray  # (n, m, K) the mixed distributions

    @property
    def mean_weight(self) -> float:
        return float(np.nanmean(self.weights)) if len(self.weights) else float("nan")


def _losses(agent: np.ndarray, reference: np.ndarray, truth: np.ndarray, scored: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """(len(grid), n) summed log-loss of each person's scored items under each weight."""
    idx = np.where(truth >= 0, truth, 0)[..., None]
    pa = np.take_along_axis(agent, idx, axis=2)[..., 0]
    pr = np.take_along_axis(reference, idx, axis=2)[..., 0]
    out = np.empty((len(grid), truth.shape[0]))
    for g, w in enumerate(grid):
        loss = -np.log(np.clip(w * pa + (1 - w) * pr, EPS, 1.0))
        out[g] = np.where(scored, loss, 0.0).sum(axis=1)
    return out


def fit_weights_leave_one_out(agent: np.ndarray, reference: np.ndarray, truth: np.ndarray, scored: np.ndarray,
                              grid: np.ndarray = GRID) -> np.ndarray:
    """(n,) for each person, the weight minimising the log-loss of everyone else (never their own answers)."""
    losses = _losses(agent, reference, truth, scored, grid)
    total = losses.sum(axis=1, keepdims=True)
    others = total - losses  # grid x n: everyone's loss except person i
    return grid[np.argmin(others, axis=0)]


def fit_weight(agent: np.ndarray, reference: np.ndarray, truth: np.ndarray, scored: np.ndarray, grid: np.ndarray = GRID) -> float:
    """One weight for a set of people (e.g. a training fold)."""
    return float(grid[np.argmin(_losses(agent, reference, truth, scored, grid).sum(axis=1))])


def population_informed(agent: np.ndarray, reference: np.ndarray, truth: np.ndarray, scored: np.ndarray,
                        grid: np.ndarray = GRID) -> Mixture:
    weights = fit_weights_leave_one_out(agent, reference, truth, scored, grid)
    mixed = weights[:, None, None] * agent + (1 - weights[:, None, None]) * reference
    return Mixture(weights, mixed)
