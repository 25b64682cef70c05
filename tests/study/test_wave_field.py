"""The study API's `wave` is a JSON integer, 1 or 2: `true`, "1" and 1.0 are refused (#24, lower findings),
nothing is saved for them, and the integer is still accepted."""

from __future__ import annotations

import pytest

from conftest import answer


@pytest.mark.parametrize("wave", [True, "1", 1.0, "1.0", None])
def test_a_wave_that_is_not_an_integer_is_refused(make_study, invite, client, workspace, wave):
    make_study()
    (person,) = invite()
    assert client.post("/api/session/consent", headers=person.headers, json={}).status_code == 200
    state = client.get("/api/study/session", headers=person.headers).json()
    question = state["question"]
    value = question["options"][0]["code"] if question["options"] else "an answer"
    reply = client.post("/api/study/answer", headers=person.headers,
                        json={"instrument": question["instrument"], "question": question["id"], "wave": wave, "value": value})
    assert reply.status_code == 422, reply.text
    assert not (workspace.root / "studies" / "s1" / "answers" / f"{person.respondent}.jsonl").exists()
    assert answer(client, person, state, value).status_code == 200  # the integer 1 is taken
