"""A study an ethics board can approve (issue 26 item 9): consent and retest wording from the study file (the
default states the configured delay), an operator opening a retest early (CLI and API, logged), status phases
that match what the person has done, about_you asked once unless the study says otherwise, and `serve`
printing the study operator page."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from typer.testing import CliRunner

from conftest import answer, finish_interview, good_value, write_study

runner = CliRunner()

CONSENT = """\
consent:
  text: |
    Study 2026-17 was approved by the Ethics Board of Example University (ref. EB-4411).

    - You can stop at any moment.
    - Contact: ethics@example.org
  retest_invitation: "Round two opens on {retest_at} ({retest_delay} later). Board wording B-7."
"""

ABOUT_STUDY = """\
id: s1
title: About-you study
interview: {required: false}
instruments:
  - about_you
  - {id: gss, questions: [natspac]}
retest_days: 10
"""


def consent_and_state(client, person):
    assert client.post("/api/session/consent", headers=person.headers, json={}).status_code == 200
    return client.get("/api/study/session", headers=person.headers).json()


def answer_all(client, person, state, salt=0):
    while state.get("question"):
        reply = answer(client, person, state, good_value(state["question"], salt))
        assert reply.status_code == 200, reply.text
        state = reply.json()
    return state


def test_default_consent_states_the_configured_delay(make_study, invite, client):
    make_study(retest_days=3)
    (person,) = invite()
    state = client.get("/api/study/session", headers=person.headers).json()
    assert "once more 3 days later" in state["consent_text"]
    assert "two weeks" not in state["consent_text"]
    assert "about two weeks" not in client.get("/study").text  # no fixed wording left in the page either


@pytest.mark.parametrize("days, words", [(1, "1 day"), (0.5, "12 hours"), (21, "21 days")])
def test_retest_delay_in_words(days, words):
    from interviewer.study.model import retest_delay_text

    assert retest_delay_text(days) == words


def test_consent_and_retest_invitation_from_the_study_file(make_study, invite, client):
    make_study(retest_days=7, extra=CONSENT)
    (person,) = invite()
    state = client.get("/api/study/session", headers=person.headers).json()
    assert state["consent_text"].startswith("Study 2026-17 was approved by the Ethics Board")
    assert "ethics@example.org" in state["consent_text"]
    state = answer_all(client, person, consent_and_state(client, person))
    assert state["phase"] == "waiting"
    assert state["retest_invitation"] == "Round two opens on {retest_at} (7 days later). Board wording B-7."


def test_an_empty_consent_text_is_refused(tmp_path, workspace):
    from experiments.studies import create_study
    from interviewer.study.model import StudyError

    with pytest.raises(StudyError, match=r"consent.text"):
        create_study(write_study(tmp_path, extra="consent: {text: '   '}\n"), workspace=workspace)


def test_status_phases_follow_what_the_person_did(make_study, invite, client, clock):
    make_study(interview=True)
    (person,) = invite()
    op = {"Authorization": f"Bearer {client.app.state.operator_token}"}

    def status():
        rows = client.get("/api/operator/studies", headers=op).json()["studies"][0]["participants"]
        return rows[0]["status"]

    assert status() == "invited"
    client.post("/api/session/consent", headers=person.headers, json={})
    assert status() == "consented"
    client.post("/api/session/next", headers=person.headers)  # the interview has begun
    assert status() == "interview"
    finish_interview(client, person)
    state = client.get("/api/study/session", headers=person.headers).json()
    state = answer(client, person, state, good_value(state["question"])).json()
    assert status() == "survey"
    state = answer_all(client, person, state)
    assert status() == "waiting for retest"
    clock.advance(days=14, minutes=1)
    assert status() == "retest"
    answer_all(client, person, client.get("/api/study/session", headers=person.headers).json(), salt=1)
    assert status() == "done"

    out = runner.invoke(__import__("experiments.cli", fromlist=["app"]).app, ["study", "status", "s1", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["studies"][0]["participants"][0]["status"] in ("done", "retest")


def test_status_before_consent_is_invited_not_survey(make_study, invite):
    from experiments.cli import app

    make_study()
    invite()
    out = runner.invoke(app, ["study", "status", "s1"])
    assert out.exit_code == 0, out.output
    assert "invited" in out.output and "survey" not in out.output


def create_about_study(tmp_path, workspace, extra: str = ""):
    from experiments.studies import create_study

    path = tmp_path / "about.yaml"
    path.write_text(ABOUT_STUDY + extra)
    return create_study(path, workspace=workspace)[0]


def first_answers(client, person, state):
    seen = []
    while state.get("question"):
        seen.append(state["question"]["id"])
        q = state["question"]
        value = 40 if q["id"] == "about_age" else good_value(q)
        state = answer(client, person, state, value).json()
    return seen, state


def test_about_you_is_asked_once(tmp_path, workspace, invite, client, clock):
    create_about_study(tmp_path, workspace)
    (person,) = invite()
    wave_1, state = first_answers(client, person, consent_and_state(client, person))
    assert wave_1[:5] == ["about_age", "about_sex", "about_race", "about_degree", "about_self"]
    assert state["phase"] == "waiting"
    clock.advance(days=10, minutes=1)
    state = client.get("/api/study/session", headers=person.headers).json()
    assert state["phase"] == "retest" and state["total"] == 1 and state["totals"] == {"1": 6, "2": 1}
    wave_2, state = first_answers(client, person, state)
    assert wave_2 == ["natspac"]
    assert state["phase"] == "done" and state["answered"] == {"1": 6, "2": 1}
    # an about_you answer sent for wave 2 is refused: it is not asked again
    reply = client.post("/api/study/answer", headers=person.headers,
                        json={"instrument": "about_you", "question": "about_age", "wave": 2, "value": 41})
    assert reply.status_code == 409


def test_about_you_in_retest_when_the_study_says_so(tmp_path, workspace, invite, client, clock):
    create_about_study(tmp_path, workspace, "about_you_in_retest: true\n")
    (person,) = invite()
    _, state = first_answers(client, person, consent_and_state(client, person))
    clock.advance(days=10, minutes=1)
    wave_2, state = first_answers(client, person, client.get("/api/study/session", headers=person.headers).json())
    assert len(wave_2) == 6 and "about_self" in wave_2 and state["phase"] == "done"


def finish_round_1(client, person):
    return answer_all(client, person, consent_and_state(client, person))


def test_operator_opens_a_retest_early_by_the_api(make_study, invite, client, workspace):
    make_study(retest_days=14)
    alice, bob = invite(count=2)
    op = {"Authorization": f"Bearer {client.app.state.operator_token}"}
    assert finish_round_1(client, alice)["phase"] == "waiting"
    consent_and_state(client, bob)  # bob has not finished round 1
    url = "/api/operator/studies/s1/open-retest"
    assert client.post(url, json={"respondent": alice.respondent}).status_code == 401  # operator token needed
    refused = client.post(url, headers=op, json={"respondent": bob.respondent})
    assert refused.status_code == 409 and "has not finished round 1" in refused.json()["detail"]
    assert client.post(url, headers=op, json={"respondent": "nobody"}).status_code == 404
    assert client.post("/api/operator/studies/nosuch/open-retest", headers=op, json={}).status_code == 404
    reply = client.post(url, headers=op, json={"respondent": alice.respondent})
    assert reply.status_code == 200 and reply.json()["opened"] == [alice.respondent]
    state = client.get("/api/study/session", headers=alice.headers).json()  # the test clock has not moved
    assert state["phase"] == "retest" and state["wave"] == 2
    assert client.get("/api/study/session", headers=bob.headers).json()["phase"] == "survey"
    log = [json.loads(line) for line in (workspace.root / "studies" / "s1" / "log.jsonl").read_text().splitlines()]
    assert [(r["event"], r["respondent"], r["by"]) for r in log] == [("retest_opened", alice.respondent, "operator page")]
    assert oct((workspace.root / "studies" / "s1" / "log.jsonl").stat().st_mode & 0o777) == "0o600"
    rows = {p["respondent"]: p for p in client.get("/api/operator/studies", headers=op).json()["studies"][0]["participants"]}
    assert rows[alice.respondent]["retest_opened_at"] and rows[alice.respondent]["status"] == "retest"
    # a second opening changes nothing and logs nothing
    assert client.post(url, headers=op, json={"respondent": alice.respondent}).json()["opened"] == []
    assert len((workspace.root / "studies" / "s1" / "log.jsonl").read_text().splitlines()) == 1


def test_operator_opens_a_retest_early_by_the_cli(make_study, invite, client, clock, workspace):
    from experiments.cli import app

    clock.now = datetime.now(timezone.utc)  # the command uses the wall clock
    make_study(retest_days=14)
    alice, bob, carol = invite(count=3)
    finish_round_1(client, alice)
    finish_round_1(client, bob)
    out = runner.invoke(app, ["study", "open-retest", "s1", carol.respondent])
    assert out.exit_code == 1 and "has not finished round 1" in str(out.exception)  # one line from `main()`
    out = runner.invoke(app, ["study", "open-retest", "s1", alice.respondent])
    assert out.exit_code == 0, out.output
    assert f"retest open for {alice.respondent}" in out.output
    assert client.get("/api/study/session", headers=alice.headers).json()["phase"] == "retest"
    assert client.get("/api/study/session", headers=bob.headers).json()["phase"] == "waiting"
    out = runner.invoke(app, ["study", "open-retest", "s1"])  # everyone still waiting: bob
    assert out.exit_code == 0 and bob.respondent in out.output and alice.respondent not in out.output
    assert client.get("/api/study/session", headers=bob.headers).json()["phase"] == "retest"
    out = runner.invoke(app, ["study", "open-retest", "s1"])
    assert out.exit_code == 0 and "nobody is waiting" in out.output
    log = [json.loads(line) for line in (workspace.root / "studies" / "s1" / "log.jsonl").read_text().splitlines()]
    assert [(r["respondent"], r["by"]) for r in log] == [(alice.respondent, "cli"), (bob.respondent, "cli")]
    out = runner.invoke(app, ["study", "status", "s1", "--json"])
    rows = {p["respondent"]: p for p in json.loads(out.output)["studies"][0]["participants"]}
    assert rows[alice.respondent]["retest_opened_at"] and rows[carol.respondent]["retest_opened_at"] is None
    assert rows[alice.respondent]["status"] == "retest" and rows[carol.respondent]["status"] == "invited"

    # withdrawal removes the person's lines from the study log
    out = runner.invoke(app, ["withdraw", alice.respondent, "--yes"])
    assert out.exit_code == 0, out.output
    text = (workspace.root / "studies" / "s1" / "log.jsonl").read_text()
    assert alice.respondent not in text and bob.respondent in text


def test_serve_prints_the_study_operator_page_and_platform_links(make_study, workspace):
    from interviewer.web.cli import study_links

    make_study(extra="platform: {id_param: PROLIFIC_PID, completion_code: C0DE1}\n")
    links = dict(study_links(workspace, "http://127.0.0.1:8000", "TOKEN"))
    assert links["study operator:"] == "http://127.0.0.1:8000/study/operator#TOKEN"
    assert links["platform link for study s1:"] == "http://127.0.0.1:8000/study/join/s1?PROLIFIC_PID={{%PROLIFIC_PID%}}"


def test_the_interview_operator_page_links_the_study_operator_page(client):
    page = client.get("/operator").text
    assert "/study/static/operator-link.js" in page
    assert client.get("/study/static/operator-link.js").status_code == 200


def test_serve_output_names_the_study_operator_page(make_study, monkeypatch):
    import uvicorn

    from experiments.cli import app

    make_study(extra="platform: {id_param: PID}\n")
    started = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: started.append(kwargs))
    out = runner.invoke(app, ["serve", "--no-speech", "--no-warm", "--port", "8123"])
    assert out.exit_code == 0, out.output
    assert started and started[0]["port"] == 8123
    lines = out.output.splitlines()
    operator = [line for line in lines if line.startswith("study operator:")]
    assert operator and "http://127.0.0.1:8123/study/operator#" in operator[0]
    assert any("http://127.0.0.1:8123/study/join/s1?PID={{%PID%}}" in line for line in lines)
