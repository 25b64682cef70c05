"""Behavioral experiments inside a study: conditions from the seeded balanced assignment at invitation, the
stimulus of the person's condition shown before the questions, answers saved and exported with the conditions."""

from __future__ import annotations

import pandas as pd

from conftest import write_study


def test_experiment_conditions_stimulus_and_export(tmp_path, workspace, client):
    from experiments.behavioral.assignment import group_sizes
    from experiments.behavioral.definition import load_study
    from experiments.studies import create_study, export_study, invite_respondents
    from interviewer.study.store import StudyStore

    path = write_study(tmp_path, extra="experiments: [ames_fiske_2015]\n")
    study, _ = create_study(path, workspace=workspace)
    assert study.instruments[-1].id == "ames_fiske_2015" and "ames_fiske_2015" in study.experiments
    rows = invite_respondents("s1", 4, workspace=workspace, base_url="http://testserver")
    store = StudyStore(workspace)
    assigned = {p.respondent: p.conditions["ames_fiske_2015"] for p in store.participants("s1")}
    definition = load_study("ames_fiske_2015")
    conditions = [c.id for c in definition.conditions]
    assert sorted(group_sizes(assigned, conditions).values()) == [2, 2]  # balanced
    # Reissuing a link keeps the condition; a second batch is balanced too.
    rows[0] = invite_respondents("s1", 0, workspace=workspace, respondents=[rows[0][0]])[0]  # (the old link stops)
    assert store.participant("s1", rows[0][0]).conditions["ames_fiske_2015"] == assigned[rows[0][0]]
    invite_respondents("s1", 2, workspace=workspace)
    later = {p.respondent: p.conditions["ames_fiske_2015"] for p in store.participants("s1") if p.respondent not in assigned}
    assert sorted(group_sizes(later, conditions).values()) == [1, 1]

    respondent, link = rows[0]
    headers = {"Authorization": "Bearer " + link.split("#", 1)[1]}
    client.post("/api/session/consent", headers=headers, json={})
    state = client.get("/api/study/session", headers=headers).json()
    for _ in range(5):  # the instruments first
        q = state["question"]
        assert q["stimulus"] is None
        value = q["options"][0]["code"] if q["options"] else (1 if q["kind"] == "numeric" else "text")
        state = client.post("/api/study/answer", headers=headers,
                            json={"instrument": q["instrument"], "question": q["id"], "wave": 1, "value": value}).json()
    q = state["question"]
    assert q["instrument"] == "ames_fiske_2015"
    condition = definition.condition(assigned[respondent])
    assert q["stimulus"] == definition.stimulus(definition.steps[0], condition)
    other = next(c for c in definition.conditions if c.id != condition.id)
    level_text = {f.id: f.level(other.levels[f.id]).text.strip() for f in definition.factors}
    assert all(text not in q["stimulus"] for text in level_text.values())  # only their own condition's text
    bad = client.post("/api/study/answer", headers=headers,
                      json={"instrument": q["instrument"], "question": q["id"], "wave": 1, "value": "nonsense"})
    assert bad.status_code == 422
    state = client.post("/api/study/answer", headers=headers,
                        json={"instrument": q["instrument"], "question": q["id"], "wave": 1, "value": "blame"}).json()
    assert state["phase"] == "waiting"

    paths = {p.name: p for p in export_study("s1", workspace=workspace)}
    frame = pd.read_csv(paths["conditions.csv"], dtype=str)
    assert len(frame) == 6 and set(frame.condition) <= set(conditions)
    answers = pd.read_csv(paths["responses.csv"], dtype=str)
    assert answers[(answers.respondent == respondent) & (answers.question == "task")].value.tolist() == ["blame"]
