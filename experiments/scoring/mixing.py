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


# -- an honest population-informed condition (#23 item 3): failures stay failed, a weight interval, a placebo ----
def weight_interval(agent: np.ndarray, reference: np.ndarray, truth: np.ndarray, scored: np.ndarray, draws,
                    grid: np.ndarray = GRID, level: float = 0.95) -> dict:
    """The weight fitted on everyone (pooled) and its bootstrap interval.

    `draws` yields (people indices, item weights) as `stats.Bootstrap.draws` does (two-way: people and items
    resampled); each replicate refits the pooled weight on its draw. The weights that predict are the
    leave-one-out ones; this interval says how well the data pin the weight down."""
    idx = np.where(truth >= 0, truth, 0)[..., None]
    pa = np.take_along_axis(agent, idx, axis=2)[..., 0]
    pr = np.take_along_axis(reference, idx, axis=2)[..., 0]
    draws = list(draws)
    point = fit_weight(agent, reference, truth, scored, grid)
    if not draws:
        return {"fit": point, "ci": None, "replicates": 0}
    n = truth.shape[0]
    people_counts = np.stack([np.bincount(p, minlength=n) for p, _ in draws]).astype(float)  # R x n
    item_weights = np.stack([w for _, w in draws], axis=1)  # m x R
    totals = np.empty((len(grid), len(draws)))
    for g, w in enumerate(grid):
        loss = np.where(scored, -np.log(np.clip(w * pa + (1 - w) * pr, EPS, 1.0)), 0.0)  # n x m
        totals[g] = ((people_counts @ loss) * item_weights.T).sum(axis=1)
    fitted = grid[np.argmin(totals, axis=0)]
    alpha = (1 - level) / 2
    return {"fit": point, "ci": [float(np.quantile(fitted, alpha)), float(np.quantile(fitted, 1 - alpha))],
            "replicates": len(draws)}


def placebo_donors(valid: np.ndarray, seed: int = 0) -> np.ndarray:
    """(n, m) for each person and item, whose agent answer the placebo gives them (-1: nobody's).

    One seeded order of people, fixed for the run; on each item, each person with a valid agent answer takes
    the agent answer of the next person in that order who also has one (a cyclic shift, so a derangement:
    never their own). An item with fewer than two valid answers has no donor (-1)."""
    n, m = valid.shape
    order = np.random.default_rng(seed).permutation(n)
    donors = np.full((n, m), -1, dtype=int)
    for j in range(m):
        people = order[valid[order, j]]
        if len(people) >= 2:
            donors[people, j] = np.roll(people, -1)
    return donors


def placebo_agent(agent: np.ndarray, valid: np.ndarray, reference: np.ndarray, seed: int = 0) -> np.ndarray:
    """The agent's distributions handed to other people of the same item (see `placebo_donors`): it keeps
    everything the agent says about the item and the population, and nothing about the person. A cell with
    no donor gets the reference distribution (no information beyond the reference)."""
    donors = placebo_donors(valid, seed)
    cols = np.broadcast_to(np.arange(valid.shape[1]), valid.shape)
    out = agent[np.where(donors >= 0, donors, 0), cols]
    return np.where((donors >= 0)[..., None], out, reference)
