"""No leakage: no agent's rendered context holds a target's wave-1 answer, its y-version or a near-duplicate."""

from __future__ import annotations

import pytest

from experiments.faithfulness.gss_benchmark import plan_gss_benchmark
from experiments.scoring.leakage import closed_set, exclusions, near_duplicates

# how a demographic profile renders the fields that repeat GSS items ("Degree: high school.")
FIELD_LABELS = {"sex": "Sex: ", "race": "Race: ", "degree": "Degree: ", "polviews": "Political views: ",
                "partyid": "Party: ", "relig": "Religion: "}


@pytest.fixture(scope="module")
def panel_2016():
    from surveys.loaders import load_gss_panel

    return load_gss_panel("2016-2020", waves=(1, 2))


@pytest.fixture(scope="module")
def gss():
    from surveys.instruments import load_instrument

    return load_instrument("gss")


def preview(agent, questions):
    render = getattr(agent, "context_preview", None)
    if render is not None:
        return render(questions)
    return agent.context(questions) if agent.source == "composite" else agent.context()  # pragma: no cover


def answer_line(question) -> str:
    return f"{question.text.strip()}\n  My answer:"


def test_the_near_duplicate_table_holds_the_known_pairs_and_is_symmetric():
    table = near_duplicates()
    for a, b in (("educ", "degree"), ("speduc", "spdeg")):
        assert b in table[a] and a in table[b]
    assert closed_set(["degree"]) >= {"degree", "educ"}
    assert exclusions(["educ"])["educ"] == {"degree"}


@pytest.mark.parametrize("target, determinant, accuracy", [("posslq", "marital", 0.83), ("born", "reg16", 0.95),
                                                          ("pres16", "partyid", 0.83)])
def test_one_way_determinants_are_in_the_table_and_hidden_both_ways(target, determinant, accuracy):
    """#23 item 5: a determinant one way (>= 0.8 and removing half the target's majority error) is excluded."""
    import csv

    from experiments.scoring.leakage import DATA, exclusions_for

    with open(DATA, encoding="utf-8") as fh:
        rows = {frozenset((r["item_a"], r["item_b"])): r for r in csv.DictReader(fh)}
    row = rows[frozenset((target, determinant))]
    # the direction that qualifies: the target predicted from its determinant
    forward = "a_from_b" if row["item_a"] == target else "b_from_a"
    gain = "a_gain" if row["item_a"] == target else "b_gain"
    backward = "b_from_a" if forward == "a_from_b" else "a_from_b"
    assert float(row[forward]) == pytest.approx(accuracy, abs=0.01)
    assert float(row[gain]) >= 0.5
    assert float(row[backward]) < 0.8  # only one way: the old both-ways rule missed it
    assert row["direction"] == forward
    assert determinant in exclusions_for([target]).hidden_for(target)  # predicting the target hides its determinant
    assert target in exclusions_for([determinant]).hidden_for(determinant)  # symmetric (conservative)
    assert determinant in closed_set([target])


def test_a_demographic_field_that_determines_a_target_is_dropped():
    from experiments.scoring.leakage import allowed_demographic_fields, exclusions_for

    assert "marital_status" not in allowed_demographic_fields(["age", "marital_status"], ["posslq"])
    assert exclusions_for(["pres16"], ["party", "age"]).dropped_fields == {"party": "partyid"}


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("items", [5, 20, 50])
def test_no_context_holds_a_target_or_its_near_duplicate(panel_2016, gss, seed, items):
    plan = plan_gss_benchmark(people=3, items=items, seed=seed, context_items=20, panel=panel_2016, gss=gss)
    targets = [gss.question(q) for q in plan.items]
    closed = closed_set(plan.items)
    # no two targets are near-duplicates; no context item is a target or a near-duplicate of one
    for item in plan.items:
        assert not near_duplicates().get(item, set()) & set(plan.items)
    assert not set(plan.context_items) & closed
    checked_positive = False
    for agent in plan.agents:
        person = plan.respondents[agent.id]
        if agent.source == "demographic":
            text = preview(agent, targets)
            for item in closed:
                if item in FIELD_LABELS:
                    assert FIELD_LABELS[item] not in text, (seed, items, agent.id, item)
            assert not {k for k in agent.demographics} & (closed | {"political_views"} if "polviews" in closed else closed)
            continue
        for question in targets:  # each call's context: the predicted item left out
            text = preview(agent, [question])
            forbidden = [gss.question(q) for q in ({question.id} | near_duplicates().get(question.id, set())) if q in {x.id for x in gss.questions}]
            for other in forbidden:
                assert answer_line(other) not in text, (seed, items, agent.id, question.id, other.id)
                y_text = other.meta.get("y_text")
                if y_text:
                    assert f"{str(y_text).strip()}\n  My answer:" not in text
            # positive control: a known, allowed answer is rendered the way we search for it
            allowed = [q for q in plan.context_items if panel_2016.value(person, q, 1) is not None]
            if allowed:
                assert answer_line(gss.question(allowed[0])) in text
                checked_positive = True
    assert checked_positive or items == 5


def test_demographic_fields_that_are_targets_are_left_out(panel_2016, gss):
    # find a seed whose targets include degree (the leak: "Degree: high school" in the prompt)
    for seed in range(60):
        plan = plan_gss_benchmark(people=3, items=20, seed=seed, context_items=0, panel=panel_2016, gss=gss,
                                  conditions=["demographic"])
        if "degree" in plan.items or "educ" in plan.items:
            break
    else:  # pragma: no cover
        pytest.skip("no seed drew degree")
    for agent in plan.agents:
        assert "degree" not in agent.demographics
        assert "Degree: " not in preview(agent, [])
