"""An adaptive GSS instrument end to end on the real embedded model (SmolLM2, llama.cpp): two people are asked
two items each, chosen from the shipped GSS panel's wave 1; the retest (`retest: all`) asks every item;
`simulacra study evaluate` runs composite agents on the items asked and scores them, and checks the selector's
predictions of the items not asked against the retest answers (adaptive.json, one line of notes). Kept tiny
for CI (run it under `flock /tmp/simulacra-model.lock`)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import Person

pytestmark = pytest.mark.embedded

ITEMS = ["natspac", "natenvir", "natheal", "natcity", "natdrug", "nateduc"]
STUDY = f"""\
id: adaptive-embedded
interview: {{required: false}}
instruments:
  - {{id: gss, questions: [{', '.join(ITEMS)}], adaptive: {{max_items: 2, retest: all}}}}
retest_days: 14
"""
ANSWERS = [{item: "1" for item in ITEMS}, {item: "3" for item in ITEMS}]  # too little, about right, too much


def test_adaptive_study_evaluated_on_the_embedded_model(tmp_path, workspace, client, clock):
    from experiments.cli import app
    from experiments.studies import ADAPTIVE_REPORT, create_study, invite_respondents

    (tmp_path / "study.yaml").write_text(STUDY)
    create_study(tmp_path / "study.yaml", workspace=workspace)
    people = [Person(r, link.split("#", 1)[1])
              for r, link in invite_respondents("adaptive-embedded", 2, workspace=workspace, base_url="http://testserver")]
    asked: dict[int, list[str]] = {0: [], 1: []}
    for wave, phase in ((1, "survey"), (2, "retest")):
        if wave == 2:
            clock.advance(days=15)
        for index, person in enumerate(people):
            if wave == 1:
                assert client.post("/api/session/consent", headers=person.headers, json={}).status_code == 200
            state = client.get("/api/study/session", headers=person.headers).json()
            while state["phase"] == phase:
                q = state["question"]
                if wave == 1:
                    asked[index].append(q["id"])
                reply = client.post("/api/study/answer", headers=person.headers,
                                    json={"instrument": "gss", "question": q["id"], "wave": wave,
                                          "value": ANSWERS[index][q["id"]]})
                assert reply.status_code == 200, reply.text
                state = reply.json()
            assert state["phase"] == ("waiting" if wave == 1 else "done")
    assert all(len(items) == 2 for items in asked.values())

    out = CliRunner().invoke(app, ["study", "evaluate", "adaptive-embedded", "--condition", "composite",
                                   "--min-items", "1", "--bootstrap", "20", "--no-reflections"])
    assert out.exit_code == 0, out.output
    metrics_path = Path(re.search(r"metrics: (\S+)", out.output).group(1))
    metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    block = metrics["conditions"]["composite"]["gss"]
    assert block["people"] == 2 and block["normalized_accuracy"]["mean"] is not None, block
    checked = json.loads((metrics_path.parent / ADAPTIVE_REPORT).read_text())["instruments"][0]
    assert (checked["people"], checked["predicted"], checked["checked"]) == (2, 8, 8)
    assert 0 <= checked["agreement"] <= 1 and 0 <= checked["majority_agreement"] <= 1
    assert "adaptive gss: 8 person-items not asked were predicted" in " ".join(out.output.split())
