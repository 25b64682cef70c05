"""No leakage: what an agent or a reference predictor may never see when it predicts an item.

For each target item: its own wave-1 answer, its y-version (the loader merges y-versions into the base
item, and composite contexts leave out twin wordings), and its near-duplicates: item pairs that measure the
same thing in another coding (educ <-> degree) or predict each other almost perfectly on the panel. The
table `experiments/scoring/data/near_duplicates.csv` is computed by `python -m experiments.faithfulness.near_duplicates` on the
2016-2020 panel and committed; the known same-quantity pairs are always included.

Demographic fields that are target items (sex, race, degree) or near-duplicates of one are left out of
demographic profiles.
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path
from typing import Iterable

DATA = Path(__file__).parent / "data" / "near_duplicates.csv"
# the same quantity in two codings (years of schooling vs highest degree), whatever the panel says
KNOWN_PAIRS = [("educ", "degree"), ("speduc", "spdeg"), ("paeduc", "padeg"), ("maeduc", "madeg")]
# demographic profile field -> the GSS item it repeats
DEMOGRAPHIC_FIELD_ITEMS = {"sex": "sex", "race": "race", "degree": "degree", "age": "age"}


@functools.lru_cache(maxsize=1)
def near_duplicate_pairs() -> tuple[tuple[str, str], ...]:
    pairs = set(KNOWN_PAIRS)
    if DATA.is_file():
        with open(DATA, encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                pairs.add((row["item_a"], row["item_b"]))
    return tuple(sorted(pairs))


def near_duplicates() -> dict[str, set[str]]:
    """item -> its near-duplicates (symmetric)."""
    out: dict[str, set[str]] = {}
    for a, b in near_duplicate_pairs():
        out.setdefault(a, set()).add(b)
        out.setdefault(b, set()).add(a)
    return out


def exclusions(items: Iterable[str]) -> dict[str, set[str]]:
    """For each item, the other items never used to predict it (its near-duplicates)."""
    table = near_duplicates()
    return {item: set(table.get(item, set())) for item in items}


def closed_set(targets: Iterable[str]) -> set[str]:
    """The targets and all their near-duplicates: items no agent context may hold."""
    table = near_duplicates()
    out = set(targets)
    for item in list(out):
        out |= table.get(item, set())
    return out


def allowed_demographic_fields(fields: Iterable[str], targets: Iterable[str]) -> list[str]:
    """Demographic fields that repeat no target item (nor a near-duplicate of one)."""
    closed = closed_set(targets)
    return [f for f in fields if DEMOGRAPHIC_FIELD_ITEMS.get(f, f) not in closed]
