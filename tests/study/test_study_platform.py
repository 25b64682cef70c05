"""Participant platforms (issue 26 item 6): a study link carrying an external participant id, one participant
per id (a second visit resumes), the completion code/URL at the end, quotas by an about_you field with a
"this study is full" answer, the id mapping in its own 0600 file, exported only on request, removed by
withdrawal; external ids pass the name rule."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import answer, good_value, write_study

runner = CliRunner()

PLATFORM = ("platform: {id_param: PROLIFIC_PID, completion_url: 'https://app.example.org/complete?cc=WAVE1',\n"
            "           completion_code: WAVE1, retest_completion_code: WAVE2}\n")

QUOTA_STUDY = """\
id: q1
title: Quota study
interview: {required: false}
instruments:
  - {id: about_you, questions: [about_sex, about_self]}
  - {id: gss, questions: [natspac]}
platform: {id_param: PID, completion_code: DONE1}
quotas:
  - {field: sex, cells: {female: 1, male: 1}}
retest_days: 14
"""


def join(client, pid: str | None, study: str = "s1", param: str = "PROLIFIC_PID", extra: str = "&STUDY_ID=abc"):
    query = f"?{param}={pid}{extra}" if pid is not None else f"?{extra.lstrip('&')}"
    return client.post("/api/study/join", json={"study": study, "query": query})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_one_participant_per_external_id_and_a_second_visit_resumes(make_study, client, workspace, clock):
    make_study(extra=PLATFORM)
    assert client.get("/study/join/s1").status_code == 200  # the page the platform opens
    first = join(client, "5f1a2b3c4d5e6f7a8b9c0d1e")
    assert first.status_code == 200, first.text
    token = first.json()["token"]
    assert first.json()["next"] == "/study"
    client.post("/api/session/consent", headers=bearer(token), json={})
    state = client.get("/api/study/session", headers=bearer(token)).json()
    state = answer(client, type("P", (), {"headers": bearer(token)})(), state, good_value(state["question"])).json()
    assert state["answered"]["1"] == 1

    again = join(client, "5f1a2b3c4d5e6f7a8b9c0d1e")  # the same platform id: the same person, resumed
    token_2 = again.json()["token"]
    assert token_2 != token
    assert client.get("/api/study/session", headers=bearer(token)).status_code == 401  # the old token is revoked
    state = client.get("/api/study/session", headers=bearer(token_2)).json()
    assert state["consented"] is True and state["answered"]["1"] == 1 and state["position"] == 2

    other = join(client, "another-person-77").json()["token"]
    participants = client.app.state.study_store.participants("s1")
    assert len(participants) == 2
    folder = workspace.root / "studies" / "s1"
    mapping = json.loads((folder / "external_ids.json").read_text())["ids"]
    assert sorted(mapping) == ["5f1a2b3c4d5e6f7a8b9c0d1e", "another-person-77"]
    assert mapping["5f1a2b3c4d5e6f7a8b9c0d1e"] != mapping["another-person-77"]
    assert oct((folder / "external_ids.json").stat().st_mode & 0o777) == "0o600"
    # the platform id is nowhere else: not in the invitation, the participant file or the answers
    for path in (workspace.root).rglob("*"):
        if path.is_file() and path.name != "external_ids.json":
            assert b"5f1a2b3c4d5e6f7a8b9c0d1e" not in path.read_bytes(), path
    assert other


def test_completion_code_and_url_at_the_end_of_each_wave(make_study, client, clock):
    make_study(extra=PLATFORM)
    token = join(client, "pid-1").json()["token"]
    person = type("P", (), {"headers": bearer(token)})()
    client.post("/api/session/consent", headers=person.headers, json={})
    state = client.get("/api/study/session", headers=person.headers).json()
    assert "completion" not in state
    while state.get("question"):
        state = answer(client, person, state, good_value(state["question"])).json()
    assert state["phase"] == "waiting"
    assert state["completion"] == {"url": "https://app.example.org/complete?cc=WAVE1", "code": "WAVE1"}
    clock.advance(days=14, minutes=1)
    token = join(client, "pid-1").json()["token"]  # back through the platform for the retest
    person = type("P", (), {"headers": bearer(token)})()
    state = client.get("/api/study/session", headers=person.headers).json()
    assert state["phase"] == "retest"
    while state.get("question"):
        state = answer(client, person, state, good_value(state["question"], 1)).json()
    assert state["phase"] == "done"
    assert state["completion"] == {"url": "https://app.example.org/complete?cc=WAVE1", "code": "WAVE2"}


def test_invited_participants_get_no_completion_code(make_study, invite, client):
    make_study(extra=PLATFORM)
    (person,) = invite()
    client.post("/api/session/consent", headers=person.headers, json={})
    state = client.get("/api/study/session", headers=person.headers).json()
    while state.get("question"):
        state = answer(client, person, state, good_value(state["question"])).json()
    assert state["phase"] == "waiting" and "completion" not in state


@pytest.mark.parametrize("pid", ["../../etc/passwd", "..", ".hidden", "a/b", "x" * 129, "a%00b", "<script>"])
def test_external_ids_pass_the_name_rule(make_study, client, workspace, pid):
    make_study(extra=PLATFORM)
    from urllib.parse import quote

    reply = join(client, quote(pid, safe=""))
    assert reply.status_code == 422 and reply.json()["error"] == "bad_participant_id"
    assert client.app.state.study_store.participants("s1") == []
    assert not (workspace.root / "studies" / "s1" / "external_ids.json").exists()


def test_join_needs_the_id_and_a_platform_study(make_study, client):
    make_study()  # no platform
    reply = join(client, "pid-1")
    assert reply.status_code == 404 and reply.json()["error"] == "no_platform"
    assert join(client, "pid-1", study="nosuch").json()["error"] == "no_study"


def test_join_without_the_id_parameter(make_study, client):
    make_study(extra=PLATFORM)
    for query in ("?STUDY_ID=abc", "?PROLIFIC_PID=", "?PROLIFIC_PID=a&PROLIFIC_PID=b", "?prolific_pid=a"):
        reply = client.post("/api/study/join", json={"study": "s1", "query": query})
        assert reply.status_code == 400 and reply.json()["error"] == "no_participant_id", query
        assert "PROLIFIC_PID" in reply.json()["detail"]


@pytest.mark.parametrize("platform, field", [
    ("platform: {id_param: 'a b'}", "platform.id_param"),
    ("platform: {completion_url: 'javascript:alert(1)'}", "platform.completion_url"),
    ("platform: {completion_code: '=HYPERLINK(1)'}", "platform.completion_code"),
    ("quotas: [{field: nosuch, cells: {a: 1}}]", "quotas[0].field"),
    ("quotas: [{field: color, cells: {purple: 1}}]", "quotas[0].cells"),
    ("quotas: [{field: sleep, cells: {'1': 1}}]", "quotas[0].field"),
])
def test_bad_platform_and_quota_settings_name_the_field(tmp_path, workspace, platform, field):
    from experiments.studies import create_study
    from interviewer.study.model import StudyError

    with pytest.raises(StudyError) as info:
        create_study(write_study(tmp_path, extra=platform + "\n"), workspace=workspace)
    assert field in str(info.value) and "study.yaml" in str(info.value)


def make_quota_study(tmp_path, workspace):
    from experiments.studies import create_study

    path = tmp_path / "quota.yaml"
    path.write_text(QUOTA_STUDY)
    return create_study(path, workspace=workspace)[0]


def start_quota(client, pid):
    reply = join(client, pid, study="q1", param="PID", extra="")
    if reply.status_code != 200:
        return None, reply
    person = type("P", (), {"headers": bearer(reply.json()["token"])})()
    client.post("/api/session/consent", headers=person.headers, json={})
    return person, client.get("/api/study/session", headers=person.headers).json()


def test_quota_cells_fill_and_newcomers_get_the_full_page(tmp_path, workspace, client):
    study = make_quota_study(tmp_path, workspace)
    assert study.quotas[0].question == "about_sex" and study.quotas[0].cells == {"2": 1, "1": 1}
    woman, state = start_quota(client, "w1")
    assert state["question"]["id"] == "about_sex"
    state = answer(client, woman, state, "2").json()
    assert state["saved"] is True and state["question"]["id"] == "about_self"

    second, state = start_quota(client, "w2")
    state = answer(client, second, state, "2").json()  # the female cell is full
    assert state["phase"] == "full" and state["saved"] is False and "question" not in state
    store = client.app.state.study_store
    second_id = json.loads((workspace.root / "studies" / "q1" / "external_ids.json").read_text())["ids"]["w2"]
    assert store.answers("q1", second_id) == {}  # the answer that met a full cell is not kept
    assert store.participant("q1", second_id).screened_out == "quota_full"
    again = client.get("/api/study/session", headers=second.headers).json()
    assert again["phase"] == "full"  # a second visit does not let them try another answer
    refused = client.post("/api/study/answer", headers=second.headers,
                          json={"instrument": "about_you", "question": "about_sex", "wave": 1, "value": "1"})
    assert refused.status_code == 409 and "all the participants it needs" in refused.json()["detail"]
    assert start_quota(client, "w2")[1]["phase"] == "full"

    man, state = start_quota(client, "m1")
    assert answer(client, man, state, "1").json()["saved"] is True
    # every cell full: a newcomer is told at once, before any question
    person, reply = start_quota(client, "m2")
    assert person is None and reply.status_code == 409 and reply.json()["error"] == "study_full"
    assert "all the participants it needs" in reply.json()["detail"]
    # people already in still come back
    assert start_quota(client, "w1")[1]["phase"] == "survey"
    op = {"Authorization": f"Bearer {client.app.state.operator_token}"}
    data = client.get("/api/operator/studies", headers=op).json()["studies"][0]
    assert data["quotas"] == [{"question": "about_sex", "cells": {"2": 1, "1": 1}, "taken": {"2": 1, "1": 1}}]
    assert sorted(p["status"] for p in data["participants"]) == ["full (quota)", "survey", "survey"]
    assert data["platform_link"] == "/study/join/q1?PID={{%PID%}}"


def test_the_mapping_is_exported_only_on_request_and_removed_by_withdrawal(make_study, client, workspace):
    from experiments.cli import app

    make_study(extra=PLATFORM)
    token = join(client, "pid-withdraws").json()["token"]
    stays = join(client, "pid-stays").json()["token"]
    for t in (token, stays):
        client.post("/api/session/consent", headers=bearer(t), json={})
        client.post("/api/study/answer", headers=bearer(t), json={"instrument": "mini", "question": "color", "wave": 1, "value": "r"})
    target = workspace.root.parent / "out"
    out = runner.invoke(app, ["study", "export", "s1", "--out", str(target)])
    assert out.exit_code == 0, out.output
    assert not (target / "external_ids.csv").exists()
    assert not any("pid-withdraws" in p.read_text(errors="ignore") for p in target.rglob("*") if p.is_file())
    out = runner.invoke(app, ["study", "export", "s1", "--with-external-ids"])
    assert out.exit_code == 0, out.output
    path = workspace.root / "studies" / "s1" / "export" / "external_ids.csv"
    frame = pd.read_csv(path, dtype=str)
    assert sorted(frame["external_id"]) == ["pid-stays", "pid-withdraws"]
    assert oct(path.stat().st_mode & 0o777) == "0o600"

    assert client.post("/api/session/withdraw", headers=bearer(token), json={"confirm": True}).status_code == 200
    mapping = json.loads((workspace.root / "studies" / "s1" / "external_ids.json").read_text())["ids"]
    assert list(mapping) == ["pid-stays"]
    assert "pid-withdraws" not in path.read_text()  # the study's own export loses the row too
    # the same platform id coming back after withdrawal is a new participant with nothing of the old one
    again = join(client, "pid-withdraws").json()["token"]
    state = client.get("/api/study/session", headers=bearer(again)).json()
    assert state["consented"] is False and state["answered"] == {"1": 0, "2": 0}
