"""BFI and games on the scoring engine: profiles as people x items arrays, the survey engine's two-way bootstrap.

A person's profile is a few scores (BFI: 5 trait means of keyed items; games: 5 game responses on 0-1). The
metrics (Park et al. 2024, SM 5): MAE and Pearson r over the profile against the person's scored wave, the
person's retest r (other wave vs scored wave), and normalized correlation two ways: the paper's mean of
per-person ratios r / r_retest (people whose retest r is undefined, e.g. a profile that does not vary, or <= 0
are excluded and counted) and the ratio of mean correlations over the people with both. Mean correlations are
plain means over people (with 5 values a Fisher z of r near 1 would be decided by its clip).

Why arrays: the same `stats.Bootstrap` draws (people indices, item draw counts) as the survey engine, one
matrix product per replicate instead of dictionaries per person. In a replicate an item drawn c times weighs c
in its score's mean; a score with no drawn item is left out (BFI: 44 items -> 5 traits; games: each game is its
own score).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from surveys.model import Instrument
from surveys.scoring import scale_game

from experiments.scoring.stats import Bootstrap, _interval

PROFILE_KEYS = ("mae", "retest_mae", "correlation", "retest_correlation", "normalized_correlation",
                "normalized_correlation_ratio_of_means")
_TINY = 1e-15  # a profile whose variance is below this does not vary (its r is undefined)


@dataclass
class ProfileData:
    """One person's item-level values on the profile's scale (BFI: each item keyed, 6 - x when reverse-keyed;
    games: each game's response on 0-1): the agent's, the person's scored wave and their retest wave."""

    agent: dict[str, float]
    human: dict[str, float]
    retest: dict[str, float]


def profile_groups(instrument: Instrument, family: str) -> dict[str, str]:
    """item -> the score it counts toward: its BFI trait, or (games) the game itself."""
    if family == "bfi":
        return {qid: trait for trait, key in instrument.scoring.get("traits", {}).items() for qid in key["items"]}
    return {q.id: q.id for q in instrument.questions}


def profile_values(instrument: Instrument, family: str, answers: Mapping[str, Any]) -> dict[str, float]:
    """Item-level values of an answer sheet (invalid or unscalable answers left out)."""
    out: dict[str, float] = {}
    if family == "bfi":
        for key in instrument.scoring.get("traits", {}).values():
            reverse = set(key.get("reverse", []))
            for qid in key["items"]:
                raw = answers.get(qid)
                if raw is None or (isinstance(raw, float) and math.isnan(raw)):
                    continue
                try:
                    value = int(instrument.question(qid).validate_value(raw))
                except (ValueError, KeyError, TypeError):
                    continue
                out[qid] = float(6 - value if qid in reverse else value)
        return out
    for question in instrument.questions:
        if answers.get(question.id) is None:
            continue
        try:
            out[question.id] = float(scale_game(question, answers[question.id]))
        except (ValueError, TypeError):
            continue
    return out


@dataclass
class ProfileCells:
    """People x items values (NaN where missing) of one condition, and which score each item counts toward."""

    agent: np.ndarray  # (n, m)
    human: np.ndarray  # (n, m) the scored wave
    retest: np.ndarray  # (n, m) the other wave
    membership: np.ndarray  # (m, g) 1 where item j counts toward score g

    @classmethod
    def from_people(cls, people: Sequence[ProfileData], groups: Mapping[str, str]) -> "ProfileCells":
        items = sorted(groups)  # the item order fixes the bootstrap's item draws
        scores = sorted(set(groups.values()))
        membership = np.zeros((len(items), len(scores)))
        for j, item in enumerate(items):
            membership[j, scores.index(groups[item])] = 1.0

        def table(side: str) -> np.ndarray:
            out = np.full((len(people), len(items)), np.nan)
            for i, person in enumerate(people):
                values = getattr(person, side)
                for j, item in enumerate(items):
                    if item in values:
                        out[i, j] = values[item]
            return out

        return cls(table("agent"), table("human"), table("retest"), membership)


def _scores(values: np.ndarray, weights: np.ndarray, membership: np.ndarray) -> np.ndarray:
    """(n, g) each score's weighted mean over its present items; NaN where none is present (or drawn)."""
    present = np.isfinite(values)
    total = (np.where(present, values, 0.0) * weights) @ membership
    count = (present * weights) @ membership
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.where(count > 0, count, 1.0), np.nan)


def _pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r per row over the columns both have; NaN with fewer than two or when a side does not vary."""
    both = np.isfinite(x) & np.isfinite(y)
    k = both.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = np.where(both, x, 0.0).sum(axis=1) / k
        my = np.where(both, y, 0.0).sum(axis=1) / k
        dx = np.where(both, x - mx[:, None], 0.0)
        dy = np.where(both, y - my[:, None], 0.0)
        vx, vy = (dx**2).sum(axis=1) / k, (dy**2).sum(axis=1) / k
        r = (dx * dy).sum(axis=1) / k / np.sqrt(vx * vy)
    r[~((k >= 2) & (vx > _TINY) & (vy > _TINY))] = np.nan
    return np.clip(r, -1.0, 1.0)


def _mae_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    both = np.isfinite(x) & np.isfinite(y)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(both.any(axis=1), np.where(both, np.abs(x - y), 0.0).sum(axis=1) / both.sum(axis=1), np.nan)


def profile_person_values(cells: ProfileCells, people: np.ndarray | None = None,
                          item_weights: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per drawn person: scores compared, MAE, r, retest MAE and r, the per-person ratio (retest r > 0 only)."""
    n, m = cells.agent.shape
    people = np.arange(n) if people is None else people
    w = np.ones(m) if item_weights is None else item_weights
    agent, human, retest = (_scores(a[people], w, cells.membership) for a in (cells.agent, cells.human, cells.retest))
    has_retest = np.isfinite(retest).any(axis=1)
    r, rr = _pearson_rows(agent, human), _pearson_rows(retest, human)
    rr[~has_retest] = np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(rr > 0, r / np.where(rr > 0, rr, 1.0), np.nan)
    retest_mae = _mae_rows(retest, human)
    retest_mae[~has_retest] = np.nan
    return {"scores": (np.isfinite(agent) & np.isfinite(human)).sum(axis=1).astype(float), "mae": _mae_rows(agent, human),
            "retest_mae": retest_mae, "correlation": r, "retest_correlation": rr, "normalized_correlation": ratio,
            "has_retest": has_retest}


def _mean(a: np.ndarray) -> float:
    a = a[np.isfinite(a)]
    return float(a.mean()) if len(a) else math.nan


def profile_statistics(cells: ProfileCells, people: np.ndarray | None = None,
                       item_weights: np.ndarray | None = None) -> dict[str, float]:
    """Means over (drawn) people, both normalized correlations and the exclusion counts."""
    v = profile_person_values(cells, people, item_weights)
    out = {key: _mean(v[key]) for key in ("mae", "retest_mae", "correlation", "retest_correlation", "normalized_correlation")}
    both = np.isfinite(v["correlation"]) & np.isfinite(v["retest_correlation"])
    denominator = float(v["retest_correlation"][both].mean()) if both.any() else math.nan
    out["normalized_correlation_ratio_of_means"] = (float(v["correlation"][both].mean()) / denominator
                                                    if both.any() and denominator > 0 else math.nan)
    out["people_with_retest"] = float(v["has_retest"].sum())
    out["correlation_excluded_people"] = float((v["has_retest"] & ~np.isfinite(v["normalized_correlation"])).sum())
    return out


def profile_summary(people: Sequence[ProfileData], groups: Mapping[str, str], *, n_boot: int = 1000,
                    seed: int = 0) -> dict[str, Any]:
    """{key: {"mean", "ci", "n"}} over people, intervals from the engine's two-way bootstrap (`stats.Bootstrap`:
    people and items resampled with replacement)."""
    if not people:
        return {"people": 0}
    cells = ProfileCells.from_people(people, groups)
    point = profile_statistics(cells)
    values = profile_person_values(cells)
    reps: dict[str, list[float]] = {key: [] for key in PROFILE_KEYS}
    if n_boot > 0 and len(people) >= 2:
        for drawn, item_weights in Bootstrap(len(people), cells.membership.shape[0], n_boot, seed).draws():
            stats = profile_statistics(cells, drawn, item_weights)
            for key in PROFILE_KEYS:
                reps[key].append(stats[key])
    with_both = int((np.isfinite(values["correlation"]) & np.isfinite(values["retest_correlation"])).sum())
    out: dict[str, Any] = {"people": len(people), "bootstrap": "two-way: people and items",
                           "people_with_retest": int(point["people_with_retest"]),
                           "correlation_excluded_people": int(point["correlation_excluded_people"])}
    for key in PROFILE_KEYS:
        if not math.isfinite(point[key]):
            continue
        n = with_both if key == "normalized_correlation_ratio_of_means" else int(np.isfinite(values[key]).sum())
        out[key] = {"mean": point[key], "ci": _interval(reps[key]), "n": n}
    out["items_per_person"] = float(values["scores"].mean())
    return out
