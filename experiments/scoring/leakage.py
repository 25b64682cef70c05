"""No leakage: what an agent or a reference predictor may never see when it predicts an item.

For each target item: its own wave-1 answer, its y-version (the loader merges y-versions into the base
item, and composite contexts leave out twin wordings), and its near-duplicates: item pairs that measure the
same thing in another coding (educ <-> degree) or where one item determines the other on the panel. The
table `experiments/scoring/data/near_duplicates.csv` is computed by `python -m experiments.faithfulness.near_duplicates` on the
2016-2020 panel and committed; the known same-quantity pairs are always included.

The rule (one direction is enough). For an ordered pair, among people who answered both in wave 1 (>= 100):
acc(a | b) = accuracy of predicting a by its most common answer given b's answer; maj(a) = accuracy of a's own
most common answer; gain(a | b) = (acc(a | b) - maj(a)) / (1 - maj(a)), the share of a's majority error that
b removes. b *determines* a when acc(a | b) >= 0.8 AND gain(a | b) >= 0.5. A pair is listed when either item
determines the other (the table's `direction` column says which way: e.g. `posslq` from `marital` 0.83,
`born` from `reg16` 0.95, `pres16` from `partyid` 0.83 are one-way). The exclusion is SYMMETRIC (the
conservative choice): when predicting either item of a listed pair, the other is hidden, whichever way the
determination runs. So predicting `posslq` hides `marital` (its determinant), and predicting `marital` hides
`posslq` too; a demographic field that repeats a target's near-duplicate (e.g. `marital` when `posslq` is
a target, `partyid` when `pres16` is) is dropped from demographic profiles.

Demographic fields that are target items (sex, race, degree) or near-duplicates of one are left out of
demographic profiles.
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path
from typing import Iterable

from experiments.runs.spec import Exclusions

DATA = Path(__file__).parent / "data" / "near_duplicates.csv"
# the same quantity in two codings (years of schooling vs highest degree), whatever the panel says
KNOWN_PAIRS = [("educ", "degree"), ("speduc", "spdeg"), ("paeduc", "padeg"), ("maeduc", "madeg")]
# demographic profile field -> the GSS item it repeats (one table for every path: the benchmark's profiles, a
# study's about_you fields, an interview agent's demographics; names are compared lower-case, spaces as '_')
DEMOGRAPHIC_FIELD_ITEMS = {
    "sex": "sex", "gender": "sex",
    "race": "race", "ethnicity": "race", "race_ethnicity": "race",
    "degree": "degree", "education": "degree", "highest_degree": "degree", "educ": "educ", "schooling": "educ",
    "age": "age",
    "political_views": "polviews", "politics": "polviews", "ideology": "polviews", "political_ideology": "polviews",
    "polviews": "polviews",
    "party": "partyid", "party_id": "partyid", "partyid": "partyid", "party_identification": "partyid",
    "partisanship": "partyid", "political_party": "partyid",
    "religion": "relig", "relig": "relig", "religious_preference": "relig", "religious_affiliation": "relig",
    "marital_status": "marital", "marital": "marital",
    "income": "income", "family_income": "income",
    "region": "region", "born": "born", "birthplace": "born",
}


@functools.lru_cache(maxsize=1)
def near_duplicate_pairs() -> tuple[tuple[str, str], ...]:
    pairs = set(KNOWN_PAIRS)
    if DATA.is_file():
        with open(DATA, encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                pairs.add((row["item_a"], row["item_b"]))
    return tuple(sorted(pairs))


def near_duplicates() -> dict[str, set[str]]:
    """item -> its near-duplicates, symmetric: a pair listed in one direction hides each item from the other."""
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


def field_item(field: str) -> str:
    """The GSS item a demographic field repeats (the field's own name when the table does not know it)."""
    key = "_".join(str(field).strip().lower().replace("-", " ").split())
    return DEMOGRAPHIC_FIELD_ITEMS.get(key, key)


def allowed_demographic_fields(fields: Iterable[str], targets: Iterable[str]) -> list[str]:
    """Demographic fields that repeat no target item (nor a near-duplicate of one)."""
    closed = closed_set(targets)
    return [f for f in fields if field_item(f) not in closed]


def exclusions_for(targets: Iterable[str], demographic_fields: Iterable[str] = ()) -> Exclusions:
    """What the run's predictors may never see, computed once from its targets (see the module docstring):
    for each target its near-duplicates; the demographic fields that repeat a target (or a near-duplicate of
    one), with the item they repeat. Recorded in the RunSpec and applied to every agent and reference."""
    targets = list(dict.fromkeys(targets))
    table = near_duplicates()
    closed = closed_set(targets)
    hidden = {t: sorted(table.get(t, set()) - {t}) for t in targets}
    dropped = {f: field_item(f) for f in demographic_fields if field_item(f) in closed}
    return Exclusions(hidden=hidden, dropped_fields=dropped)
