"""Compute the near-duplicate table: GSS item pairs where one item determines the other on the 2016-2020 panel.

    python -m experiments.faithfulness.near_duplicates [--threshold 0.8] [--min-gain 0.5]

For each ordered pair (a, b) of choice items, among people who answered both in wave 1 (at least 100):

- acc(a | b): the accuracy of predicting a by the most common a-answer given b's answer (the conditional mode);
- maj(a): the accuracy of predicting a by a's own most common answer among the same people;
- gain(a | b) = (acc(a | b) - maj(a)) / (1 - maj(a)): the share of a's majority error that knowing b removes.

b is a **determinant** of a when acc(a | b) >= `threshold` (0.8) AND gain(a | b) >= `min-gain` (0.5). A pair is
listed when either item determines the other: one direction is enough (so `posslq` from `marital`, `born` from
`reg16`, `pres16` from `partyid` are listed, not only items that predict each other both ways); the gain condition
keeps out items that nearly everyone answers the same way (a lopsided item is predicted above 0.8 by anything).
The `direction` column says which way(s) qualify ("a_from_b", "b_from_a" or "both"). The exclusion drawn from the
table is symmetric (see `experiments/scoring/leakage.py`). The known same-quantity pairs (educ/degree, ...) are
always listed. Writes experiments/scoring/data/near_duplicates.csv.
"""

from __future__ import annotations

import argparse
import csv
import itertools

import numpy as np

from surveys.instruments import load_instrument
from surveys.loaders import load_gss_panel

from experiments.scoring.leakage import DATA, KNOWN_PAIRS
from experiments.scoring.panel import PanelMatrix


def conditional_mode_accuracy(a: np.ndarray, b: np.ndarray, ka: int, kb: int) -> tuple[float, float, int]:
    """(accuracy of a from b, accuracy of a's own majority, pairs) over people who answered both."""
    both = (a >= 0) & (b >= 0)
    n = int(both.sum())
    if n == 0:
        return 0.0, 0.0, 0
    table = np.bincount(b[both].astype(int) * ka + a[both].astype(int), minlength=ka * kb).reshape(kb, ka)
    return float(table.max(axis=1).sum() / n), float(table.sum(axis=0).max() / n), n


def gain(accuracy: float, majority: float) -> float:
    """The share of the majority answer's error that a predictor removes (1 = all, 0 = none, < 0 worse)."""
    return (accuracy - majority) / max(1.0 - majority, 1e-9)


def compute(threshold: float = 0.8, min_gain: float = 0.5, min_pairs: int = 100) -> list[dict]:

    gss = load_instrument("gss")
    panel = PanelMatrix.from_responses(load_gss_panel("2016-2020", gss), gss.questions)
    k = panel.n_options
    rows = []
    for i, j in itertools.combinations(range(len(panel.items)), 2):
        a, b = panel.w1[:, i], panel.w1[:, j]
        a_from_b, a_major, n = conditional_mode_accuracy(a, b, k[i], k[j])
        if n < min_pairs:
            continue
        b_from_a, b_major, _ = conditional_mode_accuracy(b, a, k[j], k[i])
        a_gain, b_gain = gain(a_from_b, a_major), gain(b_from_a, b_major)
        a_determined = a_from_b >= threshold and a_gain >= min_gain
        b_determined = b_from_a >= threshold and b_gain >= min_gain
        if not (a_determined or b_determined):
            continue
        direction = "both" if a_determined and b_determined else "a_from_b" if a_determined else "b_from_a"
        rows.append({"item_a": panel.items[i], "item_b": panel.items[j], "direction": direction,
                     "a_from_b": round(a_from_b, 4), "b_from_a": round(b_from_a, 4), "a_majority": round(a_major, 4),
                     "b_majority": round(b_major, 4), "a_gain": round(a_gain, 4), "b_gain": round(b_gain, 4), "pairs": n,
                     "reason": ("predict each other" if direction == "both" else
                                f"{panel.items[j] if a_determined else panel.items[i]} determines "
                                f"{panel.items[i] if a_determined else panel.items[j]}") + " on the 2016-2020 panel"})
    listed = {(r["item_a"], r["item_b"]) for r in rows} | {(r["item_b"], r["item_a"]) for r in rows}
    for a, b in KNOWN_PAIRS:
        if (a, b) not in listed and a in panel.items and b in panel.items:
            i, j = panel.items.index(a), panel.items.index(b)
            a_from_b, a_major, n = conditional_mode_accuracy(panel.w1[:, i], panel.w1[:, j], k[i], k[j])
            b_from_a, b_major, _ = conditional_mode_accuracy(panel.w1[:, j], panel.w1[:, i], k[j], k[i])
            rows.append({"item_a": a, "item_b": b, "direction": "known", "a_from_b": round(a_from_b, 4),
                         "b_from_a": round(b_from_a, 4), "a_majority": round(a_major, 4), "b_majority": round(b_major, 4),
                         "a_gain": round(gain(a_from_b, a_major), 4), "b_gain": round(gain(b_from_a, b_major), 4),
                         "pairs": n, "reason": "the same quantity in two codings"})
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--min-gain", type=float, default=0.5)
    args = parser.parse_args(argv)
    rows = compute(args.threshold, args.min_gain)
    DATA.parent.mkdir(parents=True, exist_ok=True)
    with open(DATA, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["item_a", "item_b"])
        writer.writeheader()
        writer.writerows(rows)
    for row in rows:
        print(row)
    print(f"{len(rows)} pairs -> {DATA}")


if __name__ == "__main__":
    main()
