"""References for a study that mean something (#23 item 7) and matched references on the study path (item 2).

A 3-person study with 6 GSS items, both waves, answered with known timestamps; the agents answer through a fake
model. Checked: the references are fitted on the GSS population (the majority reference predicts each item's
majority wave-1 answer of the shipped 2016-2020 panel, computed here independently, and beats the random floor),
the verdict says the study is too small to judge, the report states each person's retest interval, and each agent
condition's matched reference saw exactly its agents' fields (about_you) or known items."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from simulacra.llm import LLM, FakeBackend

ITEMS = ["natspac", "natenvir", "natheal", "cappun", "gunlaw", "grass"]
STUDY = f"""\
id: s3
title: Three people
interview: {{required: false}}
instruments:
  - about_you
  - {{id: gss, questions: [{', '.join(ITEMS)}]}}
retest_days: 14
"""
ABOUT = [
    {"about_age": 41, "about_sex": "2", "about_race": "1", "about_degree": "3", "about_self": "I teach school."},
    {"about_age": 63, "about_sex": "1", "about_race": "2", "about_degree": "1", "about_self": "I drive a bus."},
    {"about_age": 29, "about_sex": "2", "about_race": "3", "about_degree": "4", "about_self": "I write code."},
]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
RETEST = [timedelta(days=14), timedelta(minutes=3), timedelta(days=30)]  # each person's own retest interval


def fill(schema: dict):
    if "enum" in schema:
        return schema["enum"][-1]  # the last option: an agent that knows nothing of the person
    if schema.get("type") == "object":
        return {k: fill(v) for k, v in schema.get("properties", {}).items()}
    if schema.get("type") == "array":
        return [fill(schema.get("items", {}))]
    return "because"


def gss_majority() -> dict[str, str]:
    """Each item's most common wave-1 answer in the shipped 2016-2020 panel (computed here, not by the scorer)."""
    from surveys.loaders import load_gss_panel

    panel = load_gss_panel("2016-2020", "gss", waves=(1,))
    data = panel.data[panel.data["question"].isin(ITEMS)]
    return {item: Counter(str(v) for v in data.loc[data["question"] == item, "value"]).most_common(1)[0][0]
            for item in ITEMS}


def other_option(study, item: str, code: str) -> str:
    return next(o.code for o in study.instrument("gss").question(item).options if o.code != code)


@pytest.fixture
def study_run(tmp_path, workspace):
    return evaluate_three(tmp_path, workspace)


def evaluate_three(tmp_path, workspace, population=None):
    from experiments.studies import create_study, evaluate_study, invite_respondents
    from interviewer.study.store import StudyStore

    (tmp_path / "study.yaml").write_text(STUDY)
    study, _ = create_study(tmp_path / "study.yaml", workspace=workspace)
    people = [r for r, _ in invite_respondents("s3", 3, workspace=workspace, base_url="http://testserver")]
    store = StudyStore(workspace)
    majority = gss_majority()
    answers: dict[str, dict[str, str]] = {}
    for n, person in enumerate(people):
        # the GSS majority answer on four items, another answer on two (a different pair per person)
        own = {item: (other_option(study, item, code) if j in (2 * n, 2 * n + 1) else code)
               for j, (item, code) in enumerate(majority.items())}
        answers[person] = own
        for wave, when in ((1, T0), (2, T0 + RETEST[n])):
            sheet = {**ABOUT[n], **own} if wave == 1 else own
            for instrument, question in study.plan(person, wave):
                if question in sheet:
                    store.save_answer(study, person, wave, instrument, question, sheet[question], now=when)
        if n == 0:  # one person's waves marked complete (the others end at their last answer)
            store.mark_completed("s3", person, 1, T0)
            store.mark_completed("s3", person, 2, T0 + RETEST[0])
    backend = FakeBackend(default=lambda request: json.dumps(fill(request.json_schema or {})))
    folder, result, notes = asyncio.run(evaluate_study("s3", LLM(backend), workspace=workspace, bootstrap=50,
                                                       conditions=["composite", "demographic", "persona"],
                                                       population=population))
    return folder, result, notes, people, answers, majority


def test_a_three_person_study_learns_from_the_gss_population_and_says_it_is_too_small(study_run):
    folder, result, notes, people, answers, majority = study_run
    metrics = result.metrics
    truth = metrics["truth"]
    assert truth["people_in_truth"] == 3
    assert truth["population_people"] > 1000  # wave 1 of the GSS 2016-2020 panel
    assert truth["population"]["items"] == sorted(ITEMS)
    assert any("plus" in n and "never scored" in n for n in notes)
    # the population's people are never scored: only the three participants have per-person rows
    assert {row["respondent"] for row in metrics["per_person"]} == set(people)

    # the majority reference predicts the GSS majority: its accuracy is the share of answers equal to it (4 of 6)
    expected = sum(answers[p][i] == majority[i] for p in people for i in ITEMS) / (len(people) * len(ITEMS))
    assert expected == pytest.approx(4 / 6)
    block = metrics["conditions"]["majority"]["gss"]
    assert block["accuracy"]["mean"] == pytest.approx(expected)
    floor = metrics["conditions"]["random_floor"]["gss"]["accuracy"]["mean"]
    for reference in ("majority", "demographic_knn", "composite_knn", "logistic"):
        assert metrics["conditions"][reference]["gss"]["accuracy"]["mean"] > floor, reference

    # too few people and items: said in words, whatever the interval
    verdicts = {v["condition"]: v for v in metrics["verdicts"]}
    for condition in ("composite", "demographic"):
        assert verdicts[condition]["verdict"].startswith("too small to judge: 3 people and 6 items")
        assert verdicts[condition]["matched"]["verdict"].startswith("too small to judge")


def test_the_report_states_each_persons_retest_interval(study_run):
    folder, result, _notes, people, _answers, _majority = study_run
    truth = result.metrics["truth"]
    days = truth["retest_interval_days"]
    assert days == pytest.approx({p: r.total_seconds() / 86400 for p, r in zip(people, RETEST)})
    text = truth["retest_interval"]
    assert "from their wave timestamps" in text and "not stated" not in text
    assert "median 14.0 days" in text and "range 3 minutes to 30.0 days" in text
    assert "3 minutes" in result.html_path.read_text(encoding="utf-8")
    # the demographics reach the scorer: saved with the run's truth
    saved = (folder.path / "truth" / "demographics.csv").read_text(encoding="utf-8")
    assert saved.splitlines()[0].split(",")[:5] == ["respondent", "age", "sex", "race", "degree"]


def test_each_study_condition_has_a_matched_reference_that_sees_exactly_its_inputs(study_run):
    folder, result, _notes, _people, _answers, _majority = study_run
    metrics = result.metrics
    entries = folder.manifest.agents
    verdicts = {v["condition"]: v for v in metrics["verdicts"]}
    demographic = verdicts["demographic"]["matched"]
    fields = sorted({f for e in entries if e.source == "demographic" for f in e.inputs["demographic_fields"]})
    assert fields == ["age", "degree", "race", "sex"]  # the about_you fields the agents were given
    assert demographic["kind"] == "demographic_knn"
    assert demographic["fields"] == fields
    assert demographic["columns"] == {f: f for f in fields}  # the truth's demographics columns, GSS labels
    assert demographic["unavailable"] == []
    composite = verdicts["composite"]["matched"]
    known = sorted({i for e in entries if e.source == "composite" for i in e.inputs["known_items"]})
    assert known == sorted(ITEMS)
    assert composite["kind"] == "composite_knn" and composite["items"] == known
    assert "persona" in verdicts and "matched" in verdicts["persona"]
    assert verdicts["persona"]["matched"]["verdict"] == "no matched reference (free text)"
    assert metrics["conditions"]["demographic"]["gss"]["matched"]["saw"].startswith("demographic kNN on exactly")


def test_a_named_population_file_replaces_the_shipped_one(tmp_path, workspace):
    """`study evaluate --population FILE`: the references learn from the file's wave-1 answers, not the GSS."""
    from surveys.instruments import load_instrument

    gss = load_instrument("gss")
    second = {item: gss.question(item).options[1].code for item in ITEMS}  # everyone in the file: the 2nd option
    rows = [f"x{n},{item},1,{code}" for n in range(12) for item, code in second.items()]
    path = tmp_path / "population.csv"
    path.write_text("respondent,question,wave,value\n" + "\n".join(rows) + "\n")
    _folder, result, notes, people, answers, _majority = evaluate_three(tmp_path, workspace, population=str(path))
    truth = result.metrics["truth"]
    assert truth["population_people"] == 12
    assert any("plus 12 people" in n for n in notes)
    # majority of the other people: 12 population votes for the 2nd option outweigh the two other participants
    expected = sum(answers[p][i] == second[i] for p in people for i in ITEMS) / (len(people) * len(ITEMS))
    assert expected != pytest.approx(4 / 6)  # what the GSS majority would score: the two are told apart
    assert result.metrics["conditions"]["majority"]["gss"]["accuracy"]["mean"] == pytest.approx(expected)


def test_partial_bfi_traits_are_flagged():
    from experiments.scoring.evaluate import partial_traits
    from surveys.instruments import load_instrument

    bfi = load_instrument("bfi44")
    subset = bfi.model_copy(update={"questions": [q for q in bfi.questions if q.id in ("bfi1", "bfi2", "bfi7")]})
    notes = partial_traits(subset)
    assert any(n.startswith("bfi44 trait E: measured by 1 of its 8 items") for n in notes)
    assert any("trait A: measured by 2 of its 9 items" in n for n in notes)
    assert len(notes) == 2  # C, N, O not asked at all: no partial score to flag
    assert partial_traits(bfi) == []
