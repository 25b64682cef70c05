"""No leakage on the study path (issue #22 item 4): `study evaluate` builds composite and demographic agents from a
study's own answers; with near-duplicate items among the scored ones (abany, abpoor, abnomore) and a demographic
field that is a scored item (sex), every prompt the run really sent is searched (tests/experiments/leak_check.py)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from simulacra.llm import LLM, FakeBackend

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experiments"))
from leak_check import leaks  # noqa: E402

STUDY = """\
id: s1
title: Leak check
interview: {required: false}
instruments:
  - about_you
  - {id: gss, questions: [abany, abpoor, abnomore, natspac, natenvir, sex]}
retest_days: 14
"""
ANSWERS = {
    1: {"about_age": 41, "about_sex": "2", "about_race": "1", "about_degree": "3", "about_self": "I teach school.",
        "abany": "1", "abpoor": "1", "abnomore": "2", "natspac": "3", "natenvir": "1", "sex": "2"},
    2: {"abany": "1", "abpoor": "2", "abnomore": "2", "natspac": "3", "natenvir": "1", "sex": "2"},
}


def fill(schema: dict):
    if "enum" in schema:
        return schema["enum"][0]
    if schema.get("type") == "object":
        return {k: fill(v) for k, v in schema.get("properties", {}).items()}
    if schema.get("type") == "array":
        return [fill(schema.get("items", {}))]
    return "because"


def test_study_evaluate_sends_no_target_or_near_duplicate_answer(tmp_path, workspace):
    from experiments.studies import create_study, evaluate_study, invite_respondents
    from interviewer.study.store import StudyStore

    (tmp_path / "study.yaml").write_text(STUDY)
    study, _ = create_study(tmp_path / "study.yaml", workspace=workspace)
    people = [r for r, _ in invite_respondents("s1", 2, workspace=workspace, base_url="http://testserver")]
    store = StudyStore(workspace)
    for person in people:
        for wave, answers in ANSWERS.items():
            for instrument, question in study.plan(person, wave):
                if question in answers:
                    store.save_answer(study, person, wave, instrument, question, answers[question])
    backend = FakeBackend(default=lambda request: json.dumps(fill(request.json_schema or {})))
    folder, _result, notes = asyncio.run(evaluate_study("s1", LLM(backend), workspace=workspace, bootstrap=5,
                                                        conditions=["composite", "demographic", "persona"]))
    exclusions = folder.manifest.exclusions
    assert set(exclusions["hidden"]["abpoor"]) >= {"abany", "abnomore"}
    assert exclusions["dropped_fields"] == {"sex": "sex"}
    questions = {q.id: q for q in study.instrument("gss").questions}
    targets = list(questions)
    assert leaks(backend.requests, questions, exclusions["hidden"], targets) == []
    composite = [r for r in backend.requests if "How I answered other questions" in r.messages[-1]["content"]]
    assert composite, "the composite agents' prompts were not seen"
