"""`simulacra study evaluate` on the real embedded model (SmolLM2, llama.cpp): a two-person study with short
typed interviews, the about_you instrument and two scored GSS items, both waves through the API (the retest
opened by the test clock). The report must hold a normalized-accuracy score for each of the paper's five
conditions: interview, combined, composite, demographic and persona agents. Kept tiny for CI (run it under
`flock /tmp/simulacra-model.lock`)."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from conftest import SCRIPT, Person, finish_interview

pytestmark = pytest.mark.embedded

STUDY = """\
id: s1
title: Embedded
interview: {script: script.yaml, required: true}
instruments:
  - about_you
  - {id: gss, questions: [natspac, natenvir]}
retest_days: 14
"""

ABOUT = [
    {"about_age": 34, "about_sex": "2", "about_race": "1", "about_degree": "4",
     "about_self": "I am a biologist in Seattle. I hike on weekends and care a lot about the environment."},
    {"about_age": 58, "about_sex": "1", "about_race": "2", "about_degree": "1",
     "about_self": "I drive a truck across the Midwest, have three grandchildren and go to church on Sundays."},
]
GSS = [  # wave 1, wave 2 (one retest change for the second person)
    ({"natspac": "1", "natenvir": "1"}, {"natspac": "1", "natenvir": "1"}),
    ({"natspac": "3", "natenvir": "2"}, {"natspac": "3", "natenvir": "3"}),
]
CONDITIONS = ("interview", "combined", "composite", "demographic", "persona")


def test_study_evaluate_on_the_embedded_model(tmp_path, workspace, client, clock):
    from experiments.cli import app
    from experiments.studies import create_study, invite_respondents

    (tmp_path / "script.yaml").write_text(SCRIPT)
    (tmp_path / "study.yaml").write_text(STUDY)
    create_study(tmp_path / "study.yaml", workspace=workspace)
    people = [Person(r, link.split("#", 1)[1])
              for r, link in invite_respondents("s1", 2, workspace=workspace, base_url="http://testserver")]
    for wave, phase in ((1, "survey"), (2, "retest")):
        if wave == 2:
            clock.advance(days=15)
        for index, person in enumerate(people):
            if wave == 1:
                finish_interview(client, person)
            values = {**ABOUT[index], **GSS[index][wave - 1]}
            state = client.get("/api/study/session", headers=person.headers).json()
            while state["phase"] == phase:
                q = state["question"]
                reply = client.post("/api/study/answer", headers=person.headers,
                                    json={"instrument": q["instrument"], "question": q["id"], "wave": wave,
                                          "value": values[q["id"]]})
                assert reply.status_code == 200, reply.text
                state = reply.json()
            assert state["phase"] == ("waiting" if wave == 1 else "done")

    out = CliRunner().invoke(app, ["study", "evaluate", "s1", "--min-items", "1", "--bootstrap", "20", "--no-reflections"])
    assert out.exit_code == 0, out.output
    metrics_path = re.search(r"metrics: (\S+)", out.output).group(1)
    metrics = json.loads(open(metrics_path, encoding="utf-8").read())
    assert metrics["families"].get("gss") == "survey" and "about_you" not in metrics["families"]
    for condition in CONDITIONS:
        block = metrics["conditions"][condition]["gss"]
        assert block["people"] == 2, (condition, block)
        assert block["normalized_accuracy"]["mean"] is not None, (condition, block)
    html = open(re.search(r"report: (\S+)", out.output).group(1), encoding="utf-8").read()
    assert "ormalized" in html
