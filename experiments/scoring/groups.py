"""Demographic groups for parity: the one age binning every scorer uses."""

from __future__ import annotations

import math
from typing import Any

AGE_BINS = [(18, 29), (30, 44), (45, 64), (65, 200)]


def age_group(value: Any) -> str | None:
    """An age (a number, or a string of one) as its bin ("18-29", "30-44", "45-64", "65+"); None for no age,
    one that is not a number (a label, "refused") or one outside the bins (under 18)."""
    try:
        age = float(value)
    except (TypeError, ValueError):
        return None
    if math.isnan(age):
        return None
    for low, high in AGE_BINS:
        if low <= age <= high:
            return f"{low}-{high}" if high < 200 else f"{low}+"
    return None
