"""Adaptive study instruments: the study file's `adaptive:` and `population:` (validation names the field), the
survey asking the selector's choices one at a time, saved with each answer so that a resumed session (a
restarted server too) continues the same order, the retest asking the same items, and the export saying which
items were chosen, where, with what expected gain, and which were not asked."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest

from conftest import answer

from interviewer.study import adaptive as runtime
from interviewer.study.model import StudyError

QUIZ = """\
id: quiz
title: Five views
questions:
""" + "".join(
    f"""  - id: v{i}
    text: View number {i}{' and a much longer wording that takes a while to read through' * (i == 4)}?
    kind: categorical
    options: [{{code: "a", label: Agree}}, {{code: "d", label: Disagree}}]
""" for i in range(1, 6))


def population_csv(folder: Path, people: int = 60, include: str | None = None) -> Path:
    """A long CSV of wave-1 answers: two kinds of people (v1-v3 agree together), v4 and v5 fixed by parity."""
    rows = []
    for n in range(people):
        person = include if include and n == 0 else f"p{n:03d}"
        kind = "a" if n % 2 else "d"
        for i in range(1, 6):
            value = kind if i <= 3 else ("a" if (n // 2) % 2 else "d")
            rows.append({"respondent": person, "question": f"v{i}", "wave": 1, "value": value})
    path = folder / "population.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def write_adaptive(folder: Path, adaptive: str = "{max_items: 3}", population: str = "population.csv",
                   extra_ref: str = "", extra: str = "", include: str | None = None) -> Path:
    (folder / "quiz.yaml").write_text(QUIZ, encoding="utf-8")
    population_csv(folder, include=include)
    path = folder / "study.yaml"
    pop = f", population: {population}" if population else ""
    path.write_text(f"id: ad1\ninterview: {{required: false}}\ninstruments:\n"
                    f"  - {{id: quiz.yaml, adaptive: {adaptive}{pop}{extra_ref}}}\nretest_days: 1\n{extra}",
                    encoding="utf-8")
    return path


@pytest.fixture
def adaptive_study(tmp_path, workspace):
    def make(**kwargs):
        from experiments.studies import create_study

        study, _folder = create_study(write_adaptive(tmp_path, **kwargs), workspace=workspace)
        return study

    return make


def consent(client, person) -> dict:
    assert client.post("/api/session/consent", headers=person.headers, json={}).status_code == 200
    return client.get("/api/study/session", headers=person.headers).json()


def answer_all(client, person, state, values: dict[str, str]) -> tuple[list[str], dict]:
    asked = []
    while state["phase"] in ("survey", "retest"):
        asked.append(state["question"]["id"])
        response = answer(client, person, state, values[state["question"]["id"]])
        assert response.status_code == 200, response.text
        state = response.json()
    return asked, state


# -- the study file ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, field, words", [
    ({"adaptive": "{}"}, "[instruments.0.adaptive]", "max_items or budget_minutes"),
    ({"adaptive": "{max_items: 0}"}, "[instruments.0.adaptive.max_items]", "greater than or equal to 1"),
    ({"adaptive": "{budget_minutes: -1}"}, "[instruments.0.adaptive.budget_minutes]", "greater than 0"),
    ({"adaptive": "{max_items: 2, retest: sometimes}"}, "[instruments.0.adaptive.retest]", "'same' or 'all'"),
    ({"population": ""}, "[instruments[0].population]", "needs a population"),
    ({"population": "nowhere.csv"}, "[instruments[0].population]", "neither a response set"),
    ({"extra_ref": ", shuffle: true"}, "[instruments[0].shuffle]", "chooses its own order"),
    ({"extra": "quotas:\n  - {field: v1, cells: {a: 5}}\n"}, "[quotas[0].field]", "adaptive instrument"),
])
def test_study_file_errors_name_the_field(tmp_path, kwargs, field, words):
    from experiments.studies import behavioral_experiment
    from interviewer.study.model import load_study_file

    with pytest.raises(StudyError) as caught:
        load_study_file(write_adaptive(tmp_path, **kwargs), behavioral_experiment)
    message = str(caught.value)
    assert field in message and words in message and "\n" not in message


def test_population_without_adaptive_and_open_questions_are_refused(tmp_path):
    from interviewer.study.model import load_study_file

    (tmp_path / "quiz.yaml").write_text(QUIZ, encoding="utf-8")
    population_csv(tmp_path)
    path = tmp_path / "s.yaml"
    path.write_text("id: ad2\ninterview: {required: false}\ninstruments:\n  - {id: quiz.yaml, population: population.csv}\n")
    with pytest.raises(StudyError, match=r"\[instruments\[0\]\.population\]: a population is read only by an adaptive"):
        load_study_file(path)
    path.write_text("id: ad2\ninterview: {required: false}\ninstruments:\n"
                    "  - {id: games, adaptive: {max_items: 2}, population: population.csv}\n")
    with pytest.raises(StudyError, match=r"\[instruments\[0\]\.adaptive\]: dictator, .* not choice questions"):
        load_study_file(path)


def test_the_population_is_frozen_into_the_study_folder(tmp_path, workspace, adaptive_study):
    study = adaptive_study()
    info = study.adaptive["quiz"]
    assert (info.max_items, info.budget_seconds, info.people, info.items) == (3, None, 60, 5)
    folder = workspace.root / "studies" / "ad1"
    frozen = pd.read_csv(gzip.open(folder / info.population_file), dtype=str)
    assert len(frozen) == 60 * 5 and set(frozen.columns) == {"respondent", "question", "value"}
    (tmp_path / "population.csv").unlink()  # the source may go: the study reads its own copy
    from interviewer.study.store import StudyStore

    loaded = StudyStore(workspace).load("ad1")
    assert len(runtime.population(folder, loaded, "quiz").data) == 300
    (folder / info.population_file).write_bytes(gzip.compress(b"respondent,question,value\nx,v1,a\n"))
    runtime._POPULATIONS.clear()
    with pytest.raises(StudyError, match="was changed after the study was created"):
        runtime.population(folder, loaded, "quiz")


# -- asking -------------------------------------------------------------------------------------------------
def test_adaptive_survey_asks_k_chosen_items_then_the_retest_the_same(adaptive_study, invite, client, clock, workspace):
    adaptive_study()
    (person,) = invite("ad1")
    state = consent(client, person)
    assert state["phase"] == "survey" and state["total"] == 3 and state["position"] == 1
    values = {f"v{i}": "a" for i in range(1, 6)}
    asked, state = answer_all(client, person, state, values)
    assert len(asked) == 3 and len(set(asked)) == 3
    assert state["phase"] == "waiting" and state["answered"]["1"] == 3
    # the first choice is the item that tells most about the rest: one of v1-v3 (they go together), never v4/v5
    assert asked[0] in {"v1", "v2", "v3"}
    # every answer line holds the choice that asked it and the next one
    lines = [json.loads(line) for line in (workspace.root / "studies" / "ad1" / "answers" / f"{person.respondent}.jsonl")
             .read_text().splitlines()]
    assert [line["adaptive"]["position"] for line in lines] == [1, 2, 3]
    assert [line["next"]["question"] for line in lines[:2]] == asked[1:]
    assert lines[2]["next"] is None and lines[2]["stop"] == "max_items"
    assert all(isinstance(line["adaptive"]["expected_gain"], float) for line in lines)
    # the retest asks the same three items in the same order
    clock.advance(days=1, minutes=1)
    state = client.get("/api/study/session", headers=person.headers).json()
    assert state["phase"] == "retest" and state["total"] == 3
    again, state = answer_all(client, person, state, values)
    assert again == asked and state["phase"] == "done"


def test_a_resumed_session_continues_the_saved_order(adaptive_study, invite, app_factory, workspace):
    from fastapi.testclient import TestClient

    adaptive_study(adaptive="{max_items: 4}")
    first, second = invite("ad1", 2)
    with TestClient(app_factory()) as client:
        state = consent(client, first)
        chosen = state["question"]["id"]
        state = answer(client, first, state, "a").json()
        pending = state["question"]["id"]
        # another item than the one chosen now is refused (the page reloads)
        other = next(f"v{i}" for i in range(1, 6) if f"v{i}" not in (chosen, pending))
        refused = client.post("/api/study/answer", headers=first.headers,
                              json={"instrument": "quiz", "question": other, "wave": 1, "value": "a"})
        assert refused.status_code == 409 and refused.json()["error"] == "not_chosen"
    # the same seed and answers choose the same order for another person
    with TestClient(app_factory()) as client:
        state = consent(client, second)
        assert state["question"]["id"] == chosen
        assert answer(client, second, state, "a").json()["question"]["id"] == pending
    # a restarted server (choices cleared) resumes with the choice saved with the last answer, even when the
    # selector would choose otherwise now: edit the saved `next` to another unasked item
    path = workspace.root / "studies" / "ad1" / "answers" / f"{first.respondent}.jsonl"
    line = json.loads(path.read_text())
    line["next"] = {**line["next"], "question": other}
    path.write_text(json.dumps(line) + "\n")
    runtime._SELECTORS.clear()
    with TestClient(app_factory()) as client:
        state = client.get("/api/study/session", headers=first.headers).json()
        assert state["question"]["id"] == other and state["position"] == 2
        saved = answer(client, first, state, "d")
        assert saved.status_code == 200
    line = json.loads(path.read_text().splitlines()[1])
    assert line["question"] == other and line["adaptive"]["position"] == 2


def test_a_time_budget_stops_before_an_item_that_does_not_fit(adaptive_study, invite, client, workspace):
    from surveys.adaptive import expected_seconds

    study = adaptive_study(adaptive="{budget_minutes: 0.12}")  # 7.2 seconds: two short items fit, not three
    seconds = {q.id: expected_seconds(q) for q in study.instrument("quiz").questions}
    assert 2 * seconds["v1"] <= 7.2 < 3 * seconds["v1"]
    assert seconds["v4"] > 7.2 - seconds["v1"]  # the long item does not fit after a short one
    (person,) = invite("ad1")
    asked, state = answer_all(client, person, consent(client, person), {f"v{i}": "d" for i in range(1, 6)})
    spent = sum(seconds[q] for q in asked)
    assert spent <= 7.2 and len(asked) == 2 and "v4" not in asked
    assert state["phase"] == "waiting"
    line = json.loads((workspace.root / "studies" / "ad1" / "answers" / f"{person.respondent}.jsonl").read_text().splitlines()[-1])
    assert line["stop"] == "budget"


def test_the_participant_is_never_in_the_population(adaptive_study, invite, workspace):
    from experiments.studies import invite_respondents
    from interviewer.study.store import StudyStore

    adaptive_study(include="resp-inside")
    invite_respondents("ad1", 0, workspace=workspace, respondents=["resp-inside"])
    store = StudyStore(workspace)
    study = store.load("ad1")
    folder = store.folder("ad1")
    assert runtime.selector(folder, study, "quiz", "resp-inside").n_people == 59
    assert runtime.selector(folder, study, "quiz", "someone-else").n_people == 60


def test_export_lists_the_chosen_items_with_gains_and_the_items_not_asked(adaptive_study, invite, client, workspace):
    from experiments.studies import export_study

    adaptive_study(adaptive="{max_items: 2}")
    (person,) = invite("ad1")
    asked, _state = answer_all(client, person, consent(client, person), {f"v{i}": "a" for i in range(1, 6)})
    paths = {p.name: p for p in export_study("ad1", workspace=workspace)}
    answers = pd.read_csv(paths["answers.csv"], dtype=str)
    assert list(answers["question"]) == sorted(asked, key=lambda q: int(q[1:]))  # instrument order
    by_question = answers.set_index("question")
    assert [by_question.loc[q, "adaptive_position"] for q in asked] == ["1", "2"]
    assert [by_question.loc[q, "position"] for q in asked] == ["1", "2"]
    assert set(answers["adaptive"]) == {"1"} and answers["expected_gain"].astype(float).gt(0).all()
    order = pd.read_csv(paths["item_order.csv"], dtype=str)
    assert list(order[order.wave == "1"]["question"]) == asked
    missing = pd.read_csv(paths["not_asked.csv"], dtype=str)
    assert sorted(missing["question"]) == sorted(set(f"v{i}" for i in range(1, 6)) - set(asked))
    assert set(missing["status"]) == {"not asked (max_items)"}


# -- study evaluate ------------------------------------------------------------------------------------------
def test_evaluate_checks_the_predictions_of_the_items_not_asked_against_the_retest(tmp_path, workspace, invite, client,
                                                                                    clock):
    """Hand-computed: 60 people; v1-v3 go together (36 'a', 24 'd'); v4 and v5 are 'a' for one person in three,
    independent of v1-v3. One participant is asked one item (max_items: 1) and answers 'd': the selector predicts
    'd' for the other two of v1-v3 (they go together) and 'd' for v4, v5 (two in three); the population's majority
    is 'a' for v1-v3 and 'd' for v4, v5. The retest (retest: all) answers 'd' to v1-v4 and 'a' to v5: the
    selector agrees on 3 of the 4 items not asked, the majority on 1 of 4."""
    import asyncio

    from test_study_e2e import agent_reply

    from experiments.studies import ADAPTIVE_REPORT, create_study, evaluate_study
    from simulacra.llm import LLM, FakeBackend

    path = write_adaptive(tmp_path, adaptive="{max_items: 1, retest: all}")
    rows = []
    for n in range(60):
        for i in range(1, 6):
            value = ("a" if n < 36 else "d") if i <= 3 else ("a" if n % 3 == 0 else "d")
            rows.append({"respondent": f"p{n:03d}", "question": f"v{i}", "wave": 1, "value": value})
    pd.DataFrame(rows).to_csv(tmp_path / "population.csv", index=False)
    create_study(path, workspace=workspace)
    (person,) = invite("ad1")
    asked, state = answer_all(client, person, consent(client, person), {f"v{i}": "d" for i in range(1, 6)})
    assert len(asked) == 1 and asked[0] in {"v1", "v2", "v3"} and state["phase"] == "waiting"
    clock.advance(days=1, minutes=1)
    state = client.get("/api/study/session", headers=person.headers).json()
    assert state["total"] == 5  # retest: all asks every item, the one asked first
    retest = {"v1": "d", "v2": "d", "v3": "d", "v4": "d", "v5": "a"}
    again, state = answer_all(client, person, state, retest)
    assert again[0] == asked[0] and sorted(again) == [f"v{i}" for i in range(1, 6)] and state["phase"] == "done"

    folder, result, notes = asyncio.run(evaluate_study("ad1", LLM(FakeBackend(default=agent_reply)), workspace=workspace,
                                                       conditions=["composite"], bootstrap=5, min_items=1))
    checked = json.loads((folder.path / ADAPTIVE_REPORT).read_text())["instruments"][0]
    assert (checked["people"], checked["predicted"], checked["checked"]) == (1, 4, 4)
    assert checked["agreement"] == pytest.approx(3 / 4) and checked["majority_agreement"] == pytest.approx(1 / 4)
    assert any("agree 0.75" in note and "majority answer: 0.25" in note for note in notes)
    # the agents are run and scored on the item asked only
    assert {q.id for i in folder.instruments() for q in i.questions} == {asked[0]}


def test_study_create_says_what_the_adaptive_instrument_does(tmp_path, workspace):
    from typer.testing import CliRunner

    from experiments.cli import app

    out = CliRunner().invoke(app, ["study", "create", str(write_adaptive(tmp_path, adaptive="{max_items: 3, budget_minutes: 2}"))])
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.split())
    assert ("quiz: adaptive, at most 3 items and 2 minutes of expected answering time, chosen among 5 items from the "
            "answers of 60 people of population.csv") in text


def test_withdrawal_removes_the_person_from_a_frozen_population(adaptive_study, workspace):
    from experiments.studies import invite_respondents
    from interviewer.study.store import StudyStore

    adaptive_study(include="resp-inside")  # the population (e.g. another study's answers) holds this person
    invite_respondents("ad1", 0, workspace=workspace, respondents=["resp-inside"])
    store = StudyStore(workspace)
    before = store.load("ad1").adaptive["quiz"]
    assert store.forget("resp-inside") >= 2
    study = store.load("ad1")
    after = study.adaptive["quiz"]
    assert (before.people, after.people) == (60, 59) and after.sha256 != before.sha256
    people = runtime.population(store.folder("ad1"), study, "quiz")  # the new digest matches the new copy
    assert "resp-inside" not in set(people.data["respondent"]) and len(people.data) == 59 * 5
