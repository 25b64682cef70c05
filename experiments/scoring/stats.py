"""Statistics of a condition over people x items, as a methods reviewer asks for them.

A condition is a `Cells` object: for each (person, item) whether it was asked, the predicted option (or
failed), the true answer (scored wave) and the retest answer (the person's other wave). From it:

- raw accuracy per person, then averaged over people (reported first);
- normalized accuracy two ways: the mean of per-person ratios accuracy / retest agreement (the paper's
  rule) and the ratio of means (mean accuracy / mean retest agreement over the same people);
- correlation per person (nominal items one-hot with 1/k weights, ordinal items evenly spaced on 0-1),
  averaged through Fisher z; normalized correlation = mean z(agent) / mean z(retest) (a ratio of Fisher-z
  means, not a mean of ratios, which explodes for people with a retest r near 0);
- people with fewer than `min_items` scored items are excluded and counted;
- failed answers scored both ways: as wrong (the headline) and excluded;
- confidence intervals from a two-way bootstrap: people and items resampled with replacement (seeded),
  each replicate recomputing every statistic from per-person sums weighted by how often an item was drawn;
- paired differences between two conditions on the same replicates (people and items), with intervals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from experiments.scoring.panel import PanelMatrix

R_CLIP = 0.999999
SCORING_MODES = ("failed_as_wrong", "failed_excluded")
HEADLINE_MODE = "failed_as_wrong"
STAT_KEYS = ("accuracy", "retest_agreement", "normalized_accuracy", "normalized_accuracy_ratio_of_means",
             "correlation", "retest_correlation", "normalized_correlation")


@dataclass
class Cells:
    """One condition's predictions on people x items (indices into a PanelMatrix)."""

    asked: np.ndarray  # (n, m) bool: the condition was asked this item for this person
    predicted: np.ndarray  # (n, m) int option index; -1 where nothing valid
    failed: np.ndarray  # (n, m) bool: asked, but the answer failed (invalid model output)
    truth: np.ndarray  # (n, m) int, -1 missing
    retest: np.ndarray  # (n, m) int, -1 missing
    ordinal: np.ndarray  # (m,) bool
    n_options: np.ndarray  # (m,) int

    @classmethod
    def from_panel(cls, panel: PanelMatrix, predicted: np.ndarray, asked: np.ndarray | None = None,
                   failed: np.ndarray | None = None) -> "Cells":
        shape = panel.truth.shape
        return cls(
            asked=np.ones(shape, bool) if asked is None else asked.astype(bool),
            predicted=predicted.astype(np.int16),
            failed=np.zeros(shape, bool) if failed is None else failed.astype(bool),
            truth=panel.truth, retest=panel.retest,
            ordinal=np.array([panel.questions[q].kind.value == "ordinal" for q in panel.items], bool),
            n_options=panel.n_options,
        )

    def scored(self, mode: str = HEADLINE_MODE) -> np.ndarray:
        """Cells that count: asked, a true answer and a retest answer, and (when excluding) not failed.

        A person with no retest answer at all is scored on raw accuracy over their true answers (their
        normalized scores are missing, not zero)."""
        no_retest = (self.retest < 0).all(axis=1, keepdims=True)
        base = self.asked & (self.truth >= 0) & ((self.retest >= 0) | no_retest)
        return base & (self.predicted >= 0) if mode == "failed_excluded" else base & ((self.predicted >= 0) | self.failed)


@dataclass
class PersonSums:
    """Per-person, per-item contributions; statistics are sums of these weighted by item draw counts."""

    scored: np.ndarray  # float (n, m)
    correct: np.ndarray
    agree: np.ndarray  # retest == truth
    retest_scored: np.ndarray  # scored cells with a retest answer
    corr_agent: np.ndarray  # (6, n, m): w, wx, wy, wxx, wyy, wxy over valid cells
    corr_retest: np.ndarray


def person_sums(cells: Cells, mode: str = HEADLINE_MODE) -> PersonSums:
    scored = cells.scored(mode)
    correct = scored & (cells.predicted == cells.truth)
    with_retest = scored & (cells.retest >= 0)
    agree = with_retest & (cells.retest == cells.truth)
    valid = scored & (cells.predicted >= 0)
    return PersonSums(scored.astype(float), correct.astype(float), agree.astype(float), with_retest.astype(float),
                      _corr_terms(cells, cells.predicted, valid), _corr_terms(cells, cells.retest, with_retest))


def _corr_terms(cells: Cells, x_idx: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Weighted-Pearson sufficient statistics of each cell (x = an answer, y = the true answer)."""
    k = np.maximum(cells.n_options, 2)[None, :].astype(float)
    ordinal = cells.ordinal[None, :]
    x_pos = np.where(x_idx >= 0, x_idx, 0) / (k - 1)
    y_pos = np.where(cells.truth >= 0, cells.truth, 0) / (k - 1)
    same = (x_idx == cells.truth).astype(float)
    # nominal: k one-hot variables of weight 1/k: sum w = 1, sum wx = sum wy = sum wxx = sum wyy = 1/k, sum wxy = same/k
    w = np.ones_like(x_pos)
    wx = np.where(ordinal, x_pos, 1 / k)
    wy = np.where(ordinal, y_pos, 1 / k)
    wxx = np.where(ordinal, x_pos**2, 1 / k)
    wyy = np.where(ordinal, y_pos**2, 1 / k)
    wxy = np.where(ordinal, x_pos * y_pos, same / k)
    terms = np.stack([w, wx, wy, wxx, wyy, wxy]).astype(float)
    return terms * mask[None, :, :]


def _pearson_from_sums(s: np.ndarray) -> np.ndarray:
    """r per person from summed terms (6, n); NaN where a side does not vary or nothing is scored."""
    w, wx, wy, wxx, wyy, wxy = s
    with np.errstate(invalid="ignore", divide="ignore"):
        mx, my = wx / w, wy / w
        vx, vy = wxx / w - mx**2, wyy / w - my**2
        cov = wxy / w - mx * my
        r = cov / np.sqrt(vx * vy)
    r[~((vx > 1e-12) & (vy > 1e-12) & (w > 0))] = np.nan
    return np.clip(r, -1, 1)


def fisher_z(r: np.ndarray) -> np.ndarray:
    return np.arctanh(np.clip(r, -R_CLIP, R_CLIP))


def statistics(sums: PersonSums, people: np.ndarray | None = None, item_weights: np.ndarray | None = None,
               min_items: int = 20) -> dict[str, float]:
    """Every statistic of one condition for a draw of people (indices, repeats allowed) and item weights."""
    n, m = sums.scored.shape
    people = np.arange(n) if people is None else people
    w = np.ones(m) if item_weights is None else item_weights
    scored = sums.scored[people] @ w
    keep = scored >= min_items
    out: dict[str, float] = {"people": float(keep.sum()), "excluded_people": float((~keep & (scored > 0)).sum()),
                             "items_per_person": float(scored[keep].mean()) if keep.any() else math.nan}
    if not keep.any():
        return out | {k: math.nan for k in STAT_KEYS}
    acc = (sums.correct[people] @ w)[keep] / scored[keep]
    retest_n = (sums.retest_scored[people] @ w)[keep]
    with np.errstate(invalid="ignore", divide="ignore"):
        ret = np.where(retest_n > 0, (sums.agree[people] @ w)[keep] / retest_n, np.nan)
    has = np.isfinite(ret)
    positive = has & (ret > 0)
    out["accuracy"] = float(acc.mean())
    out["retest_agreement"] = float(ret[has].mean()) if has.any() else math.nan
    out["normalized_accuracy"] = float((acc[positive] / ret[positive]).mean()) if positive.any() else math.nan
    out["normalized_accuracy_ratio_of_means"] = float(acc[has].mean() / ret[has].mean()) if has.any() and ret[has].mean() > 0 else math.nan
    out["people_with_retest"] = float(has.sum())
    r_agent = _pearson_from_sums(np.einsum("tnm,m->tn", sums.corr_agent[:, people], w)[:, keep])
    r_retest = _pearson_from_sums(np.einsum("tnm,m->tn", sums.corr_retest[:, people], w)[:, keep])
    za, zr = fisher_z(r_agent), fisher_z(r_retest)
    out["correlation"] = float(np.tanh(np.nanmean(za))) if np.isfinite(za).any() else math.nan
    out["retest_correlation"] = float(np.tanh(np.nanmean(zr))) if np.isfinite(zr).any() else math.nan
    both = np.isfinite(za) & np.isfinite(zr)
    zr_mean = zr[both].mean() if both.any() else math.nan
    out["normalized_correlation"] = float(za[both].mean() / zr_mean) if both.any() and zr_mean > 0 else math.nan
    return out


def person_table(sums: PersonSums, min_items: int = 20) -> dict[str, np.ndarray]:
    """Per-person accuracy, retest agreement, normalized accuracy, correlations and items (NaN below min_items)."""
    scored = sums.scored.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = sums.correct.sum(axis=1) / scored
        ret = sums.agree.sum(axis=1) / sums.retest_scored.sum(axis=1)
        norm = np.where(ret > 0, acc / ret, np.nan)
        r = _pearson_from_sums(sums.corr_agent.sum(axis=2))
        r_retest = _pearson_from_sums(sums.corr_retest.sum(axis=2))
        norm_r = np.where(r_retest > 0, fisher_z(r) / fisher_z(r_retest), np.nan)
    table = {"items": scored, "accuracy": acc, "retest_agreement": ret, "normalized_accuracy": norm,
             "correlation": r, "retest_correlation": r_retest, "normalized_correlation_z": norm_r}
    low = scored < min_items
    for key, a in table.items():
        if key != "items":
            a[low] = np.nan
    return table


@dataclass
class Bootstrap:
    """Shared two-way resamples (people and items), so paired differences use the same draws."""

    n_people: int
    n_items: int
    replicates: int = 1000
    seed: int = 0

    def draws(self):
        rng = np.random.default_rng(self.seed)
        for _ in range(self.replicates):
            people = rng.integers(0, self.n_people, self.n_people)
            items = np.bincount(rng.integers(0, self.n_items, self.n_items), minlength=self.n_items).astype(float)
            yield people, items


def _interval(values: list[float], level: float = 0.95) -> list[float] | None:
    data = np.asarray([v for v in values if v is not None and np.isfinite(v)], float)
    if len(data) < 2:
        return None
    alpha = (1 - level) / 2
    return [float(np.quantile(data, alpha)), float(np.quantile(data, 1 - alpha))]


def summarize(sums: PersonSums, boot: Bootstrap | None, min_items: int = 20) -> dict[str, Any]:
    """{stat: {"mean": value, "ci": [lo, hi] or None}} plus people counts."""
    point = statistics(sums, min_items=min_items)
    out: dict[str, Any] = {"people": int(point["people"]), "excluded_people": int(point["excluded_people"]),
                           "items_per_person": _none(point["items_per_person"])}
    reps: dict[str, list[float]] = {k: [] for k in STAT_KEYS}
    if boot is not None and boot.replicates > 0 and point["people"] >= 2:
        for people, items in boot.draws():
            stats = statistics(sums, people, items, min_items)
            for key in STAT_KEYS:
                reps[key].append(stats[key])
    for key in STAT_KEYS:
        out[key] = {"mean": _none(point[key]), "ci": _interval(reps[key]) if reps[key] else None}
    return out


def paired_difference(a: PersonSums, b: PersonSums, boot: Bootstrap | None, key: str = "normalized_accuracy",
                      min_items: int = 20) -> dict[str, Any]:
    """Statistic of a minus statistic of b on the same people and items, with a two-way bootstrap interval."""
    def diff(people=None, items=None) -> float:
        return statistics(a, people, items, min_items)[key] - statistics(b, people, items, min_items)[key]

    point = diff()
    reps = [diff(p, i) for p, i in boot.draws()] if boot is not None and boot.replicates > 0 else []
    return {"metric": key, "difference": _none(point), "ci": _interval(reps) if reps else None}


def _none(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


# -- parity and per-item tables ------------------------------------------------------------------------
def parity(scores: np.ndarray, groups: Sequence[Any], *, min_group: int = 30, boot_replicates: int = 1000,
           seed: int = 0) -> dict[str, Any]:
    """Best group's mean minus worst group's, over groups of at least `min_group` people, with a bootstrap
    interval over people (groups re-formed in each replicate; smaller groups are listed, not compared)."""
    scores = np.asarray(scores, float)
    labels = np.array([None if g is None or (isinstance(g, float) and math.isnan(g)) or str(g) in ("", "<NA>", "nan") else str(g) for g in groups], dtype=object)
    ok = np.isfinite(scores) & (labels != None)  # noqa: E711
    scores, labels = scores[ok], labels[ok]
    names, counts = np.unique(labels.astype(str), return_counts=True) if len(labels) else (np.array([]), np.array([]))
    sizes = {str(g): int(c) for g, c in zip(names, counts)}
    big = [g for g, c in sizes.items() if c >= min_group]
    means = {g: float(scores[labels == g].mean()) for g in big}
    out: dict[str, Any] = {"groups": means, "sizes": sizes, "min_group": min_group,
                           "too_small": sorted(g for g in sizes if g not in big), "best": None, "worst": None,
                           "difference": None, "ci": None}
    if len(big) < 2:
        return out
    best, worst = max(means, key=means.get), min(means, key=means.get)  # type: ignore[arg-type]
    out.update(best=best, worst=worst, difference=means[best] - means[worst])
    rng = np.random.default_rng(seed)
    reps = []
    for _ in range(boot_replicates):
        idx = rng.integers(0, len(scores), len(scores))
        s, l = scores[idx], labels[idx]
        gm = [s[l == g].mean() for g in big if (l == g).sum() > 0]
        if len(gm) >= 2:
            reps.append(max(gm) - min(gm))
    out["ci"] = _interval(reps)
    return out


def item_table(panel_items: Sequence[str], conditions: dict[str, Cells], min_people: int = 30) -> list[dict[str, Any]]:
    """Per item: people scored, retest agreement, each condition's accuracy; only items with >= min_people."""
    rows = []
    first = next(iter(conditions.values()), None)
    if first is None:
        return rows
    for j, item in enumerate(panel_items):
        row: dict[str, Any] = {"question": item}
        base = first.truth[:, j] >= 0
        for name, cells in conditions.items():
            scored = cells.scored()[:, j]
            row[f"{name}_people"] = int(scored.sum())
            row[f"{name}_accuracy"] = float((cells.predicted[scored, j] == cells.truth[scored, j]).mean()) if scored.sum() >= min_people else None
        pairs = base & (first.retest[:, j] >= 0) & first.asked[:, j]
        row["people"] = int(pairs.sum())
        if pairs.sum() < min_people:
            continue
        row["retest_agreement"] = float((first.retest[pairs, j] == first.truth[pairs, j]).mean())
        rows.append(row)
    return rows
