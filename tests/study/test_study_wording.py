"""A study participant reads the respondent-facing wording of every GSS item (issue #26 item 8): the survey page
(static, it shows `question.text` of /api/study/session) and the question of every step carry none of the GSS's
interviewer instructions, and each step's text is the derived wording, not the source's."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from conftest import answer, good_value
from interviewer.web.limits import RateLimits
from surveys.instruments import load_instrument

GSS = {q.id: q for q in load_instrument("gss").questions}
FORBIDDEN = [re.compile(p) for p in (
    r"\bREAD\b", r"\bCIRCLE\b", r"HAND CARD", r"\(ITEM", r"\bPROBE", r"\bASK\b", r"\bINTERVIEWER\b", r"\bCODE ",
    r"\bIF [A-Z]{2,}", r"\bRECORD\b", r"tell me the letter", r"\b[A-Z]{3,}\b(?:[ ,;:]+\b[A-Z]{2,}\b)+",
)]


def forbidden(text: str) -> list[str]:
    return [m.group(0) for p in FORBIDDEN for m in p.finditer(text)]


NO_LIMITS = RateLimits(address_burst=1e9, address_rate=1e9, token_burst=1e9, token_rate=1e9)  # 177 answers in a row


def test_every_gss_page_shows_the_respondent_wording(tmp_path, workspace, invite, app_factory):
    from experiments.studies import create_study

    path = tmp_path / "study.yaml"
    path.write_text("id: s1\ntitle: GSS wording\ninterview: {required: false}\ninstruments:\n  - {id: gss}\n", encoding="utf-8")
    create_study(path, workspace=workspace)
    (person,) = invite()
    with TestClient(app_factory(rate_limits=NO_LIMITS)) as client:
        walk(client, person)


def walk(client, person) -> None:
    page = client.get("/study")
    assert page.status_code == 200 and 'id="question-text"' in page.text and forbidden(page.text) == []
    assert client.post("/api/session/consent", headers=person.headers, json={}).status_code == 200
    state = client.get("/api/study/session", headers=person.headers).json()
    seen: dict[str, str] = {}
    while state.get("question"):
        q = state["question"]
        seen[q["id"]] = q["text"]
        assert forbidden(q["text"]) == [], (q["id"], q["text"])
        assert forbidden(" ".join(o["label"] for o in q["options"])) == [], q["id"]
        reply = answer(client, person, state, good_value(q))
        assert reply.status_code == 200, reply.text
        state = reply.json()
    assert set(seen) == set(GSS)
    for item, text in seen.items():
        assert text == GSS[item].text, item
    # the pages really differ from the source where the source has instructions
    assert "READ EACH STATEMENT" in GSS["abany"].source_text and seen["abany"].endswith("if the woman wants it for any reason?")
    assert seen["natspac"].endswith("about the right amount on space exploration program?")
