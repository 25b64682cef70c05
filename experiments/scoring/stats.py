"""Statistics of a condition over people x items, as a methods reviewer asks for them.

A condition is a `Cells` object: for each (person, item) whether it was asked, the predicted option (or
failed), the true answer (scored wave) and the retest answer (the person's other wave). From it:

- raw accuracy per person, then averaged over people (reported first);
- normalized accuracy by the person's OWN retest, two ways: the mean of per-person ratios accuracy / retest
  agreement (the paper's rule; people whose retest agreement is 0 are left out) and the ratio of means (mean
  accuracy / mean retest agreement over the same people);
- normalized accuracy by the PAPER's 2-week consistency (`normalized_accuracy_paper`, for items whose question
  meta carries `paper.item_2week_consistency`, i.e. GSS items): per person, the number of correct answers over
  the person's scored items that have a paper consistency, divided by the sum of those items' consistencies
  (= the person's accuracy on those items / the mean paper consistency of those items), then averaged over
  people. The denominator is what a Park et al. participant would agree with themselves over two weeks on
  the same items, so the figure is on the paper's scale (its 0.85); `paper_consistency` is that denominator
  averaged over people. Never mixed with the own-retest figures;
- correlation per person (nominal items one-hot with 1/k weights, ordinal items evenly spaced on 0-1),
  averaged through Fisher z with a finite-sample clip: r is clipped at +-(n-1)/n before z, n = the number of
  items the person's correlation is over (so r = 1 counts as (n-1)/n, not as 0.999999, z = 7.25);
- normalized correlation two ways: the paper's mean of per-person ratios r(agent) / r(retest), people whose
  retest r is undefined (their answers or their agent's do not vary) or <= 0 excluded and counted
  (`correlation_excluded_people`); and the ratio of mean correlations (mean r(agent) / mean r(retest), plain
  means over the people with both defined), which needs no guard and no z;
- the spread of the per-person ratios (SD, quartiles, min, max) per condition;
- people with fewer than `min_items` scored items are excluded and counted;
- failed answers scored both ways: as wrong (the headline) and excluded;
- confidence intervals from a two-way bootstrap: people and items resampled with replacement (seeded),
  each replicate recomputing every statistic from per-person sums weighted by how often an item was drawn;
- paired differences between two conditions on the same replicates (people and items), with intervals;
- demographic parity differences (best group minus worst group) with a two-way bootstrap, an interval for
  the gap between the two groups named on the point estimate (it can cover 0), the upward bias of the
  re-formed best-minus-worst, and a permutation test of no group difference (p-value and null interval).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from experiments.scoring.panel import PanelMatrix

SCORING_MODES = ("failed_as_wrong", "failed_excluded")
HEADLINE_MODE = "failed_as_wrong"
PAPER_KEYS = ("normalized_accuracy_paper", "paper_consistency")
STAT_KEYS = ("accuracy", "retest_agreement", "normalized_accuracy", "normalized_accuracy_ratio_of_means",
             *PAPER_KEYS, "correlation", "retest_correlation", "normalized_correlation",
             "normalized_correlation_ratio_of_means")
SPREAD_KEYS = ("normalized_accuracy", "normalized_accuracy_paper", "normalized_correlation")
PARITY_PERMUTATIONS = 1000


def paper_consistency(panel: PanelMatrix) -> np.ndarray:
    """(m,) the paper's per-item 2-week consistency from each question's meta (`paper.item_2week_consistency`);
    NaN for items without it (non-GSS items)."""
    out = np.full(len(panel.items), np.nan)
    for j, item in enumerate(panel.items):
        value = ((panel.questions[item].meta or {}).get("paper") or {}).get("item_2week_consistency")
        try:
            out[j] = float(value) if value is not None else np.nan
        except (TypeError, ValueError):
            out[j] = np.nan
    out[~(out > 0)] = np.nan
    return out


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
    paper: np.ndarray | None = None  # (m,) the paper's 2-week item consistency, NaN where it has none

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
            paper=paper_consistency(panel),
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
    paper: np.ndarray | None = None  # (m,) the paper's 2-week item consistency, NaN where it has none

    def rows(self, idx: np.ndarray) -> "PersonSums":
        """The same sums for a subset of people."""
        return PersonSums(self.scored[idx], self.correct[idx], self.agree[idx], self.retest_scored[idx],
                          self.corr_agent[:, idx], self.corr_retest[:, idx], self.paper)

    @property
    def has_paper(self) -> bool:
        return self.paper is not None and bool(np.isfinite(self.paper).any())


def person_sums(cells: Cells, mode: str = HEADLINE_MODE) -> PersonSums:
    scored = cells.scored(mode)
    correct = scored & (cells.predicted == cells.truth)
    with_retest = scored & (cells.retest >= 0)
    agree = with_retest & (cells.retest == cells.truth)
    valid = scored & (cells.predicted >= 0)
    return PersonSums(scored.astype(float), correct.astype(float), agree.astype(float), with_retest.astype(float),
                      _corr_terms(cells, cells.predicted, valid), _corr_terms(cells, cells.retest, with_retest),
                      cells.paper)


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


def fisher_z(r: np.ndarray, n: np.ndarray | float) -> np.ndarray:
    """atanh(r) with r clipped at +-(n-1)/n, n = the number of items (values) the correlation is over: the
    finite-sample stand-in for r = 1 (whose z is infinite). NaN stays NaN."""
    n = np.asarray(n, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        bound = np.where(n > 1, (n - 1) / n, 0.0)
        return np.arctanh(np.clip(r, -bound, bound))


def person_values(sums: PersonSums, people: np.ndarray | None = None, item_weights: np.ndarray | None = None,
                  min_items: int = 20, correlations: bool = True) -> dict[str, np.ndarray]:
    """Per drawn person: items, accuracy, retest agreement, both normalized accuracies, correlations and the
    per-person correlation ratio; NaN for people below `min_items` (`keep` says who is kept)."""
    n, m = sums.scored.shape
    people = np.arange(n) if people is None else people
    w = np.ones(m) if item_weights is None else item_weights
    scored = sums.scored[people] @ w
    keep = scored >= min_items
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = (sums.correct[people] @ w) / scored
        retest_n = sums.retest_scored[people] @ w
        ret = np.where(retest_n > 0, (sums.agree[people] @ w) / np.where(retest_n > 0, retest_n, 1), np.nan)
        norm = np.where(ret > 0, acc / np.where(ret > 0, ret, 1), np.nan)
        out = {"items": scored, "keep": keep, "accuracy": acc, "retest_agreement": ret, "normalized_accuracy": norm}
        if correlations:
            ta = np.einsum("tnm,m->tn", sums.corr_agent[:, people], w)
            tr = np.einsum("tnm,m->tn", sums.corr_retest[:, people], w)
            r, rr = _pearson_from_sums(ta), _pearson_from_sums(tr)
            out |= {"correlation": r, "correlation_n": ta[0], "retest_correlation": rr, "retest_correlation_n": tr[0],
                    "normalized_correlation": np.where(rr > 0, r / np.where(rr > 0, rr, 1), np.nan)}
        if sums.has_paper:
            has = np.isfinite(sums.paper)
            w_paper = w * has
            expected = sums.scored[people] @ (w * np.where(has, sums.paper, 0.0))  # sum of the items' consistencies
            paper_n = sums.scored[people] @ w_paper
            out["normalized_accuracy_paper"] = np.where(expected > 0, (sums.correct[people] @ w_paper) / np.where(expected > 0, expected, 1), np.nan)
            out["paper_consistency"] = np.where(paper_n > 0, expected / np.where(paper_n > 0, paper_n, 1), np.nan)
    for key, a in out.items():
        if key not in ("items", "keep"):
            a[~keep] = np.nan
    return out


def _mean(a: np.ndarray) -> float:
    a = a[np.isfinite(a)]
    return float(a.mean()) if len(a) else math.nan


def statistics(sums: PersonSums, people: np.ndarray | None = None, item_weights: np.ndarray | None = None,
               min_items: int = 20) -> dict[str, float]:
    """Every statistic of one condition for a draw of people (indices, repeats allowed) and item weights."""
    v = person_values(sums, people, item_weights, min_items)
    keep, scored = v["keep"], v["items"]
    out: dict[str, float] = {"people": float(keep.sum()), "excluded_people": float((~keep & (scored > 0)).sum()),
                             "items_per_person": float(scored[keep].mean()) if keep.any() else math.nan}
    if not keep.any():
        return out | {k: math.nan for k in STAT_KEYS} | {"people_with_retest": 0.0, "correlation_people": 0.0,
                                                         "correlation_excluded_people": 0.0}
    acc, ret = v["accuracy"][keep], v["retest_agreement"][keep]
    has = np.isfinite(ret)
    out["accuracy"] = float(acc.mean())
    out["retest_agreement"] = float(ret[has].mean()) if has.any() else math.nan
    out["normalized_accuracy"] = _mean(v["normalized_accuracy"][keep])
    out["normalized_accuracy_ratio_of_means"] = float(acc[has].mean() / ret[has].mean()) if has.any() and ret[has].mean() > 0 else math.nan
    out["people_with_retest"] = float(has.sum())
    for key in PAPER_KEYS:
        out[key] = _mean(v[key][keep]) if key in v else math.nan
    r, rr = v["correlation"][keep], v["retest_correlation"][keep]
    za, zr = fisher_z(r, v["correlation_n"][keep]), fisher_z(rr, v["retest_correlation_n"][keep])
    out["correlation"] = float(np.tanh(np.nanmean(za))) if np.isfinite(za).any() else math.nan
    out["retest_correlation"] = float(np.tanh(np.nanmean(zr))) if np.isfinite(zr).any() else math.nan
    ratios = v["normalized_correlation"][keep]
    out["normalized_correlation"] = _mean(ratios)
    out["correlation_people"] = float(np.isfinite(ratios).sum())
    out["correlation_excluded_people"] = float((~np.isfinite(ratios)).sum())
    both = np.isfinite(r) & np.isfinite(rr)
    out["normalized_correlation_ratio_of_means"] = (float(r[both].mean() / rr[both].mean())
                                                    if both.any() and rr[both].mean() > 0 else math.nan)
    return out


def person_table(sums: PersonSums, min_items: int = 20) -> dict[str, np.ndarray]:
    """Per-person items, accuracy, retest agreement, normalized accuracies, correlations and the per-person
    correlation ratio (NaN below min_items)."""
    v = person_values(sums, min_items=min_items)
    keys = ["items", "accuracy", "retest_agreement", "normalized_accuracy", "normalized_accuracy_paper",
            "correlation", "retest_correlation", "normalized_correlation"]
    return {k: v[k] for k in keys if k in v}


def spread(values: np.ndarray) -> dict[str, Any]:
    """SD (n - 1), quartiles, min and max of per-person values (finite ones); None when there are none."""
    a = np.asarray(values, float)
    a = a[np.isfinite(a)]
    if not len(a):
        return {"people": 0, "sd": None, "q25": None, "median": None, "q75": None, "min": None, "max": None}
    q25, med, q75 = np.quantile(a, [0.25, 0.5, 0.75])
    return {"people": int(len(a)), "sd": float(a.std(ddof=1)) if len(a) > 1 else None, "q25": float(q25),
            "median": float(med), "q75": float(q75), "min": float(a.min()), "max": float(a.max())}


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
    """{stat: {"mean": value, "ci": [lo, hi] or None}} plus people counts and the spread of per-person ratios.

    The paper-consistency keys are present only when some item has the paper's 2-week consistency."""
    point = statistics(sums, min_items=min_items)
    keys = [k for k in STAT_KEYS if sums.has_paper or k not in PAPER_KEYS]
    out: dict[str, Any] = {"people": int(point["people"]), "excluded_people": int(point["excluded_people"]),
                           "items_per_person": _none(point["items_per_person"]),
                           "correlation_people": int(point["correlation_people"]),
                           "correlation_excluded_people": int(point["correlation_excluded_people"])}
    reps: dict[str, list[float]] = {k: [] for k in keys}
    if boot is not None and boot.replicates > 0 and point["people"] >= 2:
        for people, items in boot.draws():
            stats = statistics(sums, people, items, min_items)
            for key in keys:
                reps[key].append(stats[key])
    for key in keys:
        out[key] = {"mean": _none(point[key]), "ci": _interval(reps[key]) if reps[key] else None}
    values = person_values(sums, min_items=min_items)
    out["spread"] = {k: spread(values[k]) for k in SPREAD_KEYS if k in values}
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
def _label(g: Any) -> str | None:
    if g is None or (isinstance(g, float) and math.isnan(g)) or str(g) in ("", "<NA>", "nan", "None"):
        return None
    return str(g)


def _group_means(scores: np.ndarray, codes: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    ok = np.isfinite(scores) & (codes >= 0)
    counts = np.bincount(codes[ok], minlength=n_groups)
    totals = np.bincount(codes[ok], weights=scores[ok], minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, totals / np.maximum(counts, 1), np.nan), counts


def _parity_core(scores: np.ndarray, groups: Sequence[Any], replicates: list[tuple[np.ndarray, np.ndarray]], *,
                 min_group: int, permutations: int, seed: int, bootstrap: str) -> dict[str, Any]:
    labels = [_label(g) for g in groups]
    valid = np.isfinite(scores) & np.array([g is not None for g in labels], bool)
    names = sorted({g for g, ok in zip(labels, valid) if ok})
    index = {g: i for i, g in enumerate(names)}
    codes = np.array([index[g] if ok else -1 for g, ok in zip(labels, valid)], dtype=int)
    means_all, counts = _group_means(scores, codes, len(names))
    sizes = {g: int(counts[i]) for i, g in enumerate(names)}
    big = np.array([counts[i] >= min_group for i in range(len(names))], bool)
    out: dict[str, Any] = {"groups": {g: float(means_all[i]) for i, g in enumerate(names) if big[i]}, "sizes": sizes,
                           "min_group": min_group, "too_small": [g for i, g in enumerate(names) if not big[i]],
                           "best": None, "worst": None, "difference": None, "ci": None, "ci_fixed_groups": None,
                           "bootstrap_bias": None, "bootstrap": bootstrap, "permutation": None}
    if big.sum() < 2:
        return out
    means = np.where(big, means_all, np.nan)
    best, worst = int(np.nanargmax(means)), int(np.nanargmin(means))
    point = float(means[best] - means[worst])
    out.update(best=names[best], worst=names[worst], difference=point)
    reformed, fixed = [], []
    for people, values in replicates:
        gm, _ = _group_means(values, codes[people], len(names))
        gm = np.where(big, gm, np.nan)
        if np.isfinite(gm).sum() >= 2:
            reformed.append(float(np.nanmax(gm) - np.nanmin(gm)))
        if np.isfinite(gm[best]) and np.isfinite(gm[worst]):
            fixed.append(float(gm[best] - gm[worst]))
    out["ci"] = _interval(reformed)
    out["ci_fixed_groups"] = _interval(fixed)
    out["bootstrap_bias"] = float(np.mean(reformed) - point) if reformed else None
    if permutations > 0:
        rng = np.random.default_rng(seed)
        kept = np.flatnonzero(codes >= 0)
        null = np.empty(permutations)
        for p in range(permutations):
            shuffled = codes.copy()
            shuffled[kept] = rng.permutation(codes[kept])
            gm, _ = _group_means(scores, shuffled, len(names))
            gm = gm[big]
            null[p] = np.nanmax(gm) - np.nanmin(gm)
        out["permutation"] = {"p_value": float((1 + (null >= point - 1e-12).sum()) / (1 + permutations)),
                              "null_interval": _interval(list(null)), "null_mean": float(null.mean()),
                              "permutations": permutations}
    return out


def parity(scores: np.ndarray, groups: Sequence[Any], *, min_group: int = 30, boot_replicates: int = 1000,
           seed: int = 0, permutations: int = PARITY_PERMUTATIONS) -> dict[str, Any]:
    """Best group's mean minus worst group's, over groups of at least `min_group` people (smaller groups are
    listed, not compared), from per-person scores only: bootstrap over people (see `parity_two_way` for the
    people x items version), and a permutation test of no group difference.

    - `ci`: the re-formed best-minus-worst in each replicate (biased upward: it never covers 0; the bias,
      mean of the replicates minus the point estimate, is `bootstrap_bias`);
    - `ci_fixed_groups`: the gap between the two groups named on the point estimate (it can cover 0);
    - `permutation`: group labels shuffled among people `permutations` times; `p_value` = (1 + #null >=
      observed) / (1 + permutations); `null_interval` the 95% range of best-minus-worst with no group difference.
    """
    scores = np.asarray(scores, float)
    rng = np.random.default_rng(seed)
    replicates = []
    for _ in range(boot_replicates):
        idx = rng.integers(0, len(scores), len(scores))
        replicates.append((idx, scores[idx]))
    return _parity_core(scores, groups, replicates, min_group=min_group, permutations=permutations, seed=seed,
                        bootstrap="people")


def parity_two_way(sums: PersonSums, fields: dict[str, Sequence[Any]], boot: Bootstrap | None, *,
                   key: str = "normalized_accuracy", min_items: int = 20, min_group: int = 30,
                   permutations: int = PARITY_PERMUTATIONS, seed: int = 0) -> dict[str, dict[str, Any]]:
    """`parity` for each field (labels aligned with the people of `sums`), the per-person `key` recomputed in
    every two-way bootstrap replicate (people and items resampled, the same draws for every field)."""
    corr = "correlation" in key
    scores = person_values(sums, min_items=min_items, correlations=corr)[key]
    replicates = []
    if boot is not None and boot.replicates > 0:
        for people, items in boot.draws():
            replicates.append((people, person_values(sums, people, items, min_items, correlations=corr)[key]))
    return {name: _parity_core(scores, labels, replicates, min_group=min_group, permutations=permutations,
                               seed=seed, bootstrap="two-way: people and items") for name, labels in fields.items()}


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
