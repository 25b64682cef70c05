"""Random assignment of agents to conditions: seeded, balanced, independent of the order agents are listed.

The agent ids are sorted, shuffled with a generator seeded by (seed, study id), and dealt round-robin over
the conditions (themselves in a seeded order, so no condition always gets the spare agent). Group sizes
differ by at most one; the same seed, study and agents always give the same assignment.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Iterable, Sequence


def assign_conditions(agent_ids: Iterable[str], condition_ids: Sequence[str], *, seed: int, study_id: str) -> dict[str, str]:
    ids = sorted(set(agent_ids))
    if not condition_ids:
        raise ValueError("a study needs at least one condition")
    rng = random.Random(f"{seed}:{study_id}")
    rng.shuffle(ids)
    conditions = list(condition_ids)
    rng.shuffle(conditions)
    return {agent_id: conditions[index % len(conditions)] for index, agent_id in enumerate(ids)}


def group_sizes(assignment: dict[str, str], condition_ids: Sequence[str]) -> dict[str, int]:
    counts = Counter(assignment.values())
    return {condition: counts.get(condition, 0) for condition in condition_ids}
