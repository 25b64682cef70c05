"""Random assignment: balanced, reproducible with a seed, independent of the order agents are listed."""

from __future__ import annotations

import pytest

from experiments.behavioral.assignment import assign_conditions, group_sizes


@pytest.mark.parametrize("n_agents", [1, 7, 10, 13, 100])
@pytest.mark.parametrize("conditions", [["a", "b"], ["a+x", "a+y", "b+x", "b+y"]])
def test_groups_differ_by_at_most_one(n_agents, conditions):
    agents = [f"agent-{i}" for i in range(n_agents)]
    assignment = assign_conditions(agents, conditions, seed=3, study_id="s")
    assert set(assignment) == set(agents)
    sizes = group_sizes(assignment, conditions)
    assert sum(sizes.values()) == n_agents
    assert max(sizes.values()) - min(sizes.values()) <= 1


def test_same_seed_same_assignment_whatever_the_order():
    agents = [f"agent-{i}" for i in range(40)]
    first = assign_conditions(agents, ["a", "b"], seed=7, study_id="schilke_2015")
    again = assign_conditions(list(reversed(agents)), ["a", "b"], seed=7, study_id="schilke_2015")
    assert first == again


def test_seed_and_study_change_the_assignment():
    agents = [f"agent-{i}" for i in range(40)]
    base = assign_conditions(agents, ["a", "b"], seed=7, study_id="s1")
    assert assign_conditions(agents, ["a", "b"], seed=8, study_id="s1") != base
    assert assign_conditions(agents, ["a", "b"], seed=7, study_id="s2") != base


def test_the_spare_agent_does_not_always_go_to_the_first_condition():
    agents = [f"agent-{i}" for i in range(5)]
    bigger = {max(group_sizes(assign_conditions(agents, ["a", "b"], seed=s, study_id="s"), ["a", "b"]).items(),
                  key=lambda kv: kv[1])[0] for s in range(20)}
    assert bigger == {"a", "b"}
