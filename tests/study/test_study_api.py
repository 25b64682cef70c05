"""The survey API: every question kind validated by the instrument's rules and saved as given, resume, a
reused answer, the retest opened by a test clock, token isolation, stop, withdrawal, privacy."""

from __future__ import annotations

import json
import logging

import pytest

from conftest import answer, finish_interview, good_value


def start(client, person):
    assert client.post("/api/session/consent", headers=person.headers, json={}).status_code == 200
    return client.get("/api/study/session", headers=person.headers).json()


def stored_lines(workspace, person):
    path = workspace.root / "studies" / "s1" / "answers" / f"{person.respondent}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def test_survey_of_every_kind_then_retest_after_the_delay(make_study, invite, client, clock, workspace):
    make_study()
    (person,) = invite()
    state = start(client, person)
    assert state["phase"] == "survey" and state["wave"] == 1 and state["position"] == 1 and state["total"] == 5
    kinds = []
    for salt in range(5):
        q = state["question"]
        kinds.append(q["kind"])
        if q["id"] == "dictator":  # the stakes as the instrument defines them
            assert q["unit"] == "USD" and q["min"] == 0 and q["max"] == 5 and "$5" in (q["stakes"] or "")
        reply = answer(client, person, state, good_value(q, salt))
        assert reply.status_code == 200, reply.text
        state = reply.json()
        assert state["saved"] is True and state["duplicate"] is False
    assert kinds == ["categorical", "ordinal", "numeric", "open", "numeric"]
    assert state["phase"] == "waiting" and state["retest_at"].startswith("2026-03-16T09:00")
    assert [r["wave"] for r in stored_lines(workspace, person)] == [1] * 5

    # Phase 2 before the delay: a clear refusal, nothing saved.
    early = client.post("/api/study/answer", headers=person.headers,
                        json={"instrument": "mini", "question": "color", "wave": 2, "value": "g"})
    assert early.status_code == 409 and early.json()["error"] == "retest_not_open"
    assert early.json()["retest_at"].startswith("2026-03-16")
    assert len(stored_lines(workspace, person)) == 5

    clock.advance(days=13, hours=23)
    assert client.get("/api/study/session", headers=person.headers).json()["phase"] == "waiting"
    clock.advance(hours=1)
    state = client.get("/api/study/session", headers=person.headers).json()
    assert state["phase"] == "retest" and state["wave"] == 2 and state["question"]["id"] == "color"
    for salt in range(5):
        state = answer(client, person, state, good_value(state["question"], salt + 1)).json()
    assert state["phase"] == "done" and state["answered"] == {"1": 5, "2": 5}
    rows = stored_lines(workspace, person)
    assert [r["wave"] for r in rows] == [1] * 5 + [2] * 5
    assert rows[0]["value"] == "r" and rows[5]["value"] == "g"
    assert rows[2]["value"] == 2 and isinstance(rows[2]["value"], int)  # canonical (integer question)
    path = workspace.root / "studies" / "s1" / "answers" / f"{person.respondent}.jsonl"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"


@pytest.mark.parametrize("question, value, code", [
    ("color", "purple", "invalid_answer"),      # unknown option
    ("color", None, "invalid_answer"),
    ("happy", "4", "invalid_answer"),
    ("sleep", 17, "invalid_answer"),            # out of range
    ("sleep", -1, "invalid_answer"),
    ("sleep", "7.5", "invalid_answer"),         # not a whole number
    ("sleep", "seven", "invalid_answer"),
    ("sleep", "", "invalid_answer"),
    ("sleep", True, "invalid_answer"),          # a JSON true is not the number 1
    ("happy", True, "invalid_answer"),
    ("color", ["r"], "invalid_answer"),
    ("note", "   ", "empty_answer"),
    ("note", "x" * 2001, "answer_too_long"),
    ("nosuch", "1", "unknown_question"),
])
def test_bad_answers_are_refused_and_nothing_is_saved(make_study, invite, client, workspace, question, value, code):
    make_study()
    (person,) = invite()
    start(client, person)
    reply = client.post("/api/study/answer", headers=person.headers,
                        json={"instrument": "mini", "question": question, "wave": 1, "value": value})
    assert reply.json()["error"] == code, reply.text
    assert reply.status_code in (400, 404, 413, 422)
    assert reply.json()["detail"]
    assert stored_lines(workspace, person) == []
    assert client.get("/api/study/session", headers=person.headers).json()["question"]["id"] == "color"


def test_numeric_message_names_the_range(make_study, invite, client):
    make_study()
    (person,) = invite()
    start(client, person)
    reply = client.post("/api/study/answer", headers=person.headers,
                        json={"instrument": "mini", "question": "sleep", "wave": 1, "value": 20})
    assert reply.json()["detail"] == "Please enter a number from 0 to 16 hours (a whole number)."


def test_reload_resumes_and_a_reused_answer_is_idempotent_or_409(make_study, invite, client, workspace):
    make_study()
    (person,) = invite()
    state = start(client, person)
    first = {"instrument": "mini", "question": "color", "wave": 1, "value": "b"}
    assert client.post("/api/study/answer", headers=person.headers, json=first).json()["duplicate"] is False
    state = client.get("/api/study/session", headers=person.headers).json()  # a reload
    assert state["question"]["id"] == "happy" and state["position"] == 2
    again = client.post("/api/study/answer", headers=person.headers, json=first)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    changed = client.post("/api/study/answer", headers=person.headers, json={**first, "value": "g"})
    assert changed.status_code == 409 and changed.json()["error"] == "already_answered"
    assert [r["value"] for r in stored_lines(workspace, person)] == ["b"]
    # Answers to another wave while wave 1 runs are refused.
    other = client.post("/api/study/answer", headers=person.headers,
                        json={"instrument": "mini", "question": "happy", "wave": 2, "value": "1"})
    assert other.status_code == 409
    assert len(stored_lines(workspace, person)) == 1


def test_a_torn_last_line_is_ignored_and_not_glued(make_study, invite, client, workspace):
    make_study()
    (person,) = invite()
    start(client, person)
    client.post("/api/study/answer", headers=person.headers, json={"instrument": "mini", "question": "color", "wave": 1, "value": "r"})
    path = workspace.root / "studies" / "s1" / "answers" / f"{person.respondent}.jsonl"
    with path.open("a") as handle:
        handle.write('{"wave": 1, "instrument": "mini", "question": "hap')  # a crash mid-write
    state = client.get("/api/study/session", headers=person.headers).json()
    assert state["question"]["id"] == "happy"
    assert answer(client, person, state, "2").status_code == 200
    assert [r["question"] for r in stored_lines_tolerant(path)] == ["color", "happy"]


def stored_lines_tolerant(path):
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def test_one_token_cannot_reach_another_respondents_answers(make_study, invite, client, workspace):
    make_study()
    alice, bob = invite(count=2)
    start(client, alice)
    start(client, bob)
    client.post("/api/study/answer", headers=alice.headers, json={"instrument": "mini", "question": "color", "wave": 1, "value": "r"})
    # Bob answering "the same" question writes only Bob's answers; no API takes a respondent id.
    client.post("/api/study/answer", headers=bob.headers, json={"instrument": "mini", "question": "color", "wave": 1, "value": "g"})
    assert [r["value"] for r in stored_lines(workspace, alice)] == ["r"]
    assert [r["value"] for r in stored_lines(workspace, bob)] == ["g"]
    bob_state = client.get("/api/study/session", headers=bob.headers).json()
    assert "respondent" not in bob_state and alice.respondent not in json.dumps(bob_state)
    for headers in ({}, {"Authorization": "Bearer " + "x" * 43}, {"Authorization": "Bearer " + alice.token[:-2]}):
        assert client.get("/api/study/session", headers=headers).status_code == 401
        assert client.post("/api/study/answer", headers=headers,
                           json={"instrument": "mini", "question": "happy", "wave": 1, "value": "1"}).status_code == 401
    # The operator view needs the operator token and shows progress, never answers.
    assert client.get("/api/operator/studies").status_code == 401
    op = {"Authorization": f"Bearer {client.app.state.operator_token}"}
    data = client.get("/api/operator/studies", headers=op).json()
    rows = {p["respondent"]: p for p in data["studies"][0]["participants"]}
    assert rows[alice.respondent]["answered"] == {"1": 1, "2": 0} and rows[alice.respondent]["phase"] == "survey"
    assert '"r"' not in json.dumps(data) and '"g"' not in json.dumps(data)


def test_a_respondent_in_no_study_and_an_expired_link(make_study, invite, client, app_factory, workspace, clock):
    make_study()
    registry = client.app.state.registry
    token, _ = registry.invite("plain")
    reply = client.get("/api/study/session", headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 404 and reply.json()["error"] == "not_in_study"
    (person,) = invite()
    registry.renew(person.respondent, days=1e-9)
    assert client.get("/api/study/session", headers=person.headers).json()["error"] == "link_expired"


def test_consent_first_and_stop_at_any_point(make_study, invite, client, workspace):
    make_study()
    (person,) = invite()
    state = client.get("/api/study/session", headers=person.headers).json()
    assert state["consented"] is False
    reply = client.post("/api/study/answer", headers=person.headers, json={"instrument": "mini", "question": "color", "wave": 1, "value": "r"})
    assert reply.status_code == 403 and reply.json()["error"] == "consent_required"
    start(client, person)
    client.post("/api/study/answer", headers=person.headers, json={"instrument": "mini", "question": "color", "wave": 1, "value": "r"})
    assert client.post("/api/study/stop", headers=person.headers, json={}).status_code == 400
    state = client.post("/api/study/stop", headers=person.headers, json={"confirm": True}).json()
    assert state["phase"] == "stopped" and "question" not in state
    reply = client.post("/api/study/answer", headers=person.headers, json={"instrument": "mini", "question": "happy", "wave": 1, "value": "1"})
    assert reply.status_code == 409 and reply.json()["error"] == "stopped"
    assert len(stored_lines(workspace, person)) == 1  # kept until they withdraw


def test_withdrawal_removes_study_answers(make_study, invite, client, workspace):
    make_study()
    (person,) = invite()
    start(client, person)
    client.post("/api/study/answer", headers=person.headers, json={"instrument": "mini", "question": "color", "wave": 1, "value": "r"})
    (other,) = invite()
    start(client, other)
    client.post("/api/study/answer", headers=other.headers, json={"instrument": "mini", "question": "color", "wave": 1, "value": "g"})
    from experiments.studies import export_study

    exported = {p.name: p for p in export_study("s1", workspace=workspace)}
    assert person.respondent in exported["responses.csv"].read_text()
    assert client.post("/api/session/withdraw", headers=person.headers, json={"confirm": True}).status_code == 200
    folder = workspace.root / "studies" / "s1"
    for name in ("responses.csv", "responses-mini.csv"):  # the study's own exports lose their rows, others stay
        text = exported[name].read_text()
        assert person.respondent not in text and other.respondent in text
        assert oct(exported[name].stat().st_mode & 0o777) == "0o600"
    assert not (folder / "answers" / f"{person.respondent}.jsonl").exists()
    assert not (folder / "participants" / f"{person.respondent}.json").exists()
    assert client.get("/api/study/session", headers=person.headers).status_code == 401


def test_no_answer_text_in_logs_at_info(make_study, invite, client, caplog):
    make_study()
    (person,) = invite()
    state = start(client, person)
    caplog.set_level(logging.INFO)
    for value in ("b", "3", 11, "my very private open answer"):
        state = answer(client, person, state, value).json()
    info = " ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    assert "private open answer" not in info
    assert "answer saved" in info


def test_interview_first_then_surveys_in_the_same_session(make_study, invite, client):
    make_study(interview=True)
    (person,) = invite()
    assert client.get("/api/study/session", headers=person.headers).json()["phase"] == "interview"
    client.post("/api/session/consent", headers=person.headers, json={})
    early = client.post("/api/study/answer", headers=person.headers, json={"instrument": "mini", "question": "color", "wave": 1, "value": "r"})
    assert early.status_code == 409 and early.json()["error"] == "interview_first"
    finish_interview(client, person)
    state = client.get("/api/study/session", headers=person.headers).json()
    assert state["phase"] == "survey" and state["interview_finished"] is True
    # The interview page carries the hand-off to /study; the study page and its files are served.
    page = client.get("/interview").text
    assert "/study/static/handoff.js" in page
    assert client.get("/study").status_code == 200
    assert client.get("/study/static/study.js").status_code == 200
    assert client.get("/study/static/..%2Fstore.py").status_code == 404
    assert client.get("/study/operator").status_code == 200


def test_concurrent_identical_answers_are_saved_once(make_study, invite, workspace):
    from concurrent.futures import ThreadPoolExecutor

    from interviewer.study.store import AnswerConflict, StudyStore

    study = make_study()
    (person,) = invite()
    stores = [StudyStore(workspace) for _ in range(2)]  # two stores: the file lock, not only the thread lock

    def submit(i: int):
        try:
            return stores[i % 2].save_answer(study, person.respondent, 1, "mini", "color", "r" if i % 3 else "g")
        except AnswerConflict:
            return "conflict"

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(submit, range(24)))
    assert results.count(True) == 1
    assert len(stored_lines(workspace, person)) == 1
    saved = stored_lines(workspace, person)[0]["value"]
    assert all(r is False for r, i in zip(results, range(24)) if r is not True and ("r" if i % 3 else "g") == saved)
