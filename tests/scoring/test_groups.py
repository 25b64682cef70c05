"""One age binning for parity (experiments/scoring/groups.py), used by both scorers."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from experiments.scoring import evaluate, survey
from experiments.scoring.groups import age_group


@pytest.mark.parametrize("value, expected", [
    (18, "18-29"), (29, "18-29"), (30, "30-44"), ("44", "30-44"), (45.0, "45-64"),
    (64, "45-64"), (65, "65+"), ("89", "65+"), (17, None), (None, None), ("", None), (math.nan, None),
    ("89 or older", None), ("refused", None),
])
def test_age_group(value, expected):
    assert age_group(value) == expected


def test_both_scorers_use_the_one_binning():
    assert not hasattr(evaluate, "_age_group") and not hasattr(survey, "_age_group")
    assert survey.age_group is age_group and evaluate.age_group is age_group


def test_a_non_numeric_age_is_no_group_in_parity():
    table = pd.DataFrame({"age": ["23", "refused", 70, None], "sex": ["f", "m", "f", "m"]},
                         index=["p1", "p2", "p3", "p4"])
    groups = evaluate.demographic_groups(table, ["p1", "p2", "p3", "p4"], ["age"])
    assert groups["age"] == {"p1": "18-29", "p3": "65+"}
