"""Fuzz: the web app's HTTP API (interviewer/web/app.py with the study routes of interviewer/study/web.py), from
its own OpenAPI schema with Schemathesis, in process (ASGI, no socket).

Properties: no 500 for any request, with or without valid tokens; every response conforms to the schema
(documented status code, content type and body); every token-protected route answers 401 to a request without
a token or with a wrong one. The interviewer model is scripted (FakeBackend); speech is off."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from fuzz_helpers import counted, fixture_text, note_success, scaled, weird_values
from hypothesis import given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_schema_conformance, status_code_conformance,
)

from interviewer.web.app import create_app
from interviewer.web.limits import RateLimits
from simulacra.llm import LLM, FakeBackend
from simulacra.workspace import Workspace

OPERATOR = "operator-token-for-fuzzing-0123456789"
PUBLIC = {("GET", "/api/health"), ("POST", "/api/study/join")}  # open by design: a liveness probe, the platform join
NO_LIMITS = RateLimits(address_burst=1e9, address_rate=1e9, token_burst=1e9, token_rate=1e9)


try:  # the study commands' library functions (experiments/study_cli.py re-exports them)
    from experiments.studies import create_study, invite_respondents
except ImportError:
    from experiments.study_cli import create_study, invite_respondents


def interviewer_reply(request) -> str:
    """The interviewer model, scripted: always move on; notes from answers."""
    if request.schema_name == "NotesUpdate":
        return json.dumps({"bullets": ["Said something."]})
    return json.dumps({"assessment": "Enough on this question.", "action": "move_on", "follow_up": ""})


class Api:
    """The app on a workspace with a study (the tests' mini survey) and people in several states."""

    def __init__(self, root: Path):
        from interviewer.script import parse_script

        self.workspace = Workspace(root / "workspace")
        (root / "mini.yaml").write_text(fixture_text("study/conftest.py", "MINI"), encoding="utf-8")
        script_text = fixture_text("study/conftest.py", "SCRIPT")
        (root / "study.yaml").write_text("id: s1\ntitle: Fuzz study\ninterview: {required: false}\ninstruments:\n"
                                         "  - mini.yaml\n  - {id: games, questions: [dictator]}\nretest_days: 14\n",
                                         encoding="utf-8")
        create_study(root / "study.yaml", workspace=self.workspace)
        script = parse_script(script_text, root / "script.yaml")
        self.app = create_app(self.workspace, llm=LLM(FakeBackend(default=interviewer_reply)), script=script,
                              stt=None, tts=None, operator_token=OPERATOR, rate_limits=NO_LIMITS)
        self.client = TestClient(self.app)
        self.client.__enter__()
        links = invite_respondents("s1", 3, workspace=self.workspace, base_url="http://testserver")
        self.tokens = {"study-new": links[0][1].split("#", 1)[1], "study-consented": links[1][1].split("#", 1)[1],
                       "operator": OPERATOR, "wrong": "not-a-token-" + "x" * 30}
        consent = self.client.post("/api/session/consent", json={"name": "Ana"}, headers=self.bearer("study-consented"))
        assert consent.status_code == 200, consent.text
        invited = self.client.post("/api/operator/sessions", json={"respondent": "talker"}, headers=self.bearer("operator"))
        assert invited.status_code == 200, invited.text
        self.tokens["interview"] = invited.json()["token"]
        assert self.client.post("/api/session/consent", json={}, headers=self.bearer("interview")).status_code == 200
        assert self.client.post("/api/session/next", headers=self.bearer("interview")).status_code == 200
        raw = self.app.openapi()
        raw["paths"] = {path: item for path, item in raw["paths"].items() if path.startswith("/api/")}  # pages are HTML
        self.schema = schemathesis.openapi.from_dict(raw)
        self.schema.app = self.app
        self.operations = [(method.upper(), path) for path, item in raw["paths"].items() for method in item]

    def journey(self, kind: str) -> None:
        """A person of its own for the answers test (the schema fuzzer may withdraw the others); a new one when
        the last has answered everything (`kind`: study or interview)."""
        if f"journey-{kind}" in self.tokens:
            return
        if kind == "study":
            link = invite_respondents("s1", 1, workspace=self.workspace, base_url="http://testserver")[0][1]
            self.tokens["journey-study"] = link.split("#", 1)[1]
        else:
            invited = self.client.post("/api/operator/sessions", json={}, headers=self.bearer("operator"))
            self.tokens["journey-interview"] = invited.json()["token"]
        assert self.client.post("/api/session/consent", json={}, headers=self.bearer(f"journey-{kind}")).status_code == 200
        if kind == "interview":
            assert self.client.post("/api/session/next", headers=self.bearer("journey-interview")).status_code == 200

    def bearer(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"} if who in self.tokens else {}

    def close(self) -> None:
        self.client.__exit__(None, None, None)


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    api = Api(tmp_path_factory.mktemp("fuzz-api"))
    yield api
    api.close()


def _check(api: Api, case, who: str) -> None:
    headers = api.bearer(who)
    response = case.call(headers=headers)
    assert response.status_code != 500, f"{case.method} {case.formatted_path}: 500 {response.text[:500]}"
    if response.status_code < 300:
        note_success()
    if response.status_code >= 500:  # an outage the app reports (503) or a feature that is off (501), as JSON
        kind = response.headers.get("content-type") or [""]
        assert (kind[0] if isinstance(kind, list) else kind).startswith("application/json"), response.text[:500]
    case.validate_response(response, checks=[status_code_conformance, content_type_conformance,
                                             response_schema_conformance], headers=headers)


OPERATOR_CALLER = st.sampled_from(["operator", "operator", "operator", "none", "wrong", "study-consented"])
RESPONDENT_CALLER = st.sampled_from(["study-new", "study-consented", "interview", "interview", "operator", "wrong"])


@settings(max_examples=scaled(150))
@given(data=st.data(), mode=st.sampled_from(["positive", "positive", "negative"]))
@counted
def test_api_requests_never_500_and_conform_to_the_schema(api, data, mode):
    case = data.draw(api.schema.as_strategy(generation_mode=schemathesis.GenerationMode(mode)))
    who = data.draw(OPERATOR_CALLER if case.path.startswith("/api/operator/") else RESPONDENT_CALLER)  # mostly the right token
    _check(api, case, who)


@settings(max_examples=scaled(80))
@given(data=st.data(), who=st.sampled_from(["none", "wrong", "malformed"]))
@counted
def test_token_protected_routes_answer_401_without_a_token(api, data, who):
    case = data.draw(api.schema.as_strategy())
    if (case.method.upper(), case.path) in PUBLIC:
        return
    headers = {"Authorization": "Basic dXNlcjpwYXNz"} if who == "malformed" else api.bearer(who)
    response = case.call(headers=headers)
    assert response.status_code == 401, f"{case.method} {case.formatted_path} without a token: {response.status_code} {response.text[:300]}"
    assert set(response.json()) >= {"error", "detail"}


def _sendable(value) -> bool:  # JSON has no nan or infinity (the client refuses to send them)
    try:
        json.dumps(value, allow_nan=False)
    except ValueError:
        return False
    return True


JSON_VALUES = st.one_of(weird_values().filter(_sendable), st.text(max_size=3000),
                        st.sampled_from(["r", "g", "1", "2", 3, 16, "16", " 7 ", 7.5, "", "  ", "x" * 2001]))


@settings(max_examples=scaled(60))
@given(value=JSON_VALUES, wave=st.sampled_from([1, 1, 1, 2, 0, -1, 2**63]), text=st.one_of(st.text(max_size=2100), weird_values().filter(_sendable)))
@counted
def test_answers_of_any_value_are_saved_or_refused_cleanly(api, value, wave, text):
    """Past the schema: the question asked now gets any JSON value (the study) or any text (the interview)."""
    api.journey("study")
    study = api.client.get("/api/study/session", headers=api.bearer("journey-study"))
    assert study.status_code == 200, study.text
    state = study.json()
    if not state.get("question"):  # done with round 1: the next example gets a new person
        api.tokens.pop("journey-study")
    else:
        body = {"instrument": state["question"]["instrument"], "question": state["question"]["id"], "wave": wave, "value": value}
        answer = api.client.post("/api/study/answer", json=body, headers=api.bearer("journey-study"))
        assert answer.status_code in (200, 400, 404, 409, 413, 422), f"{body!r}: {answer.status_code} {answer.text[:300]}"
        assert answer.status_code == 200 or set(answer.json()) >= {"error", "detail"}
        if answer.status_code == 200:
            note_success()
    api.journey("interview")
    pending = api.client.get("/api/session", headers=api.bearer("journey-interview")).json().get("pending")
    if not pending or not pending.get("expects_answer"):
        api.tokens.pop("journey-interview")
    else:
        body = {"text": text, "answer_to": pending["turn_index"]}
        reply = api.client.post("/api/session/answer/text", json=body, headers=api.bearer("journey-interview"))
        assert reply.status_code in (200, 400, 409, 413, 422), f"{body!r}: {reply.status_code} {reply.text[:300]}"
        if reply.status_code == 200:
            note_success()


def test_every_api_route_is_fuzzed(api):
    """The schema the fuzzers draw from names every API route of the app (none hidden from the fuzzer)."""
    def walk(routes):  # included routers are nested (FastAPI keeps them as one entry)
        for route in routes:
            nested = getattr(getattr(route, "original_router", None), "routes", None)
            yield from walk(nested) if nested is not None else [route]

    routes = {(method, route.path) for route in walk(api.app.routes) if getattr(route, "path", "").startswith("/api/")
              for method in getattr(route, "methods", set()) if method != "HEAD"}
    assert routes == set(api.operations)
    assert len(routes) >= 20 and re.search("/api/study/answer", " ".join(p for _, p in routes))
