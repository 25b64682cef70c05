"""End to end: a two-person study (interview by typing, surveys in both waves through the API, the retest
opened by the test clock) is exported in the long CSV format and evaluated with the scripted fake model:
agents built from the short transcripts and answers, run and scored, normalized by each person's retest."""

from __future__ import annotations

import asyncio
import json

import pandas as pd

from conftest import MINI, SCRIPT, Person, finish_interview
from simulacra.llm import LLM, FakeBackend

GSS_ITEMS = ["natspac", "natenvir", "natheal", "natcity"]
STUDY = f"""\
id: s1
title: Two people
interview: {{script: script.yaml, required: true}}
instruments:
  - mini.yaml
  - {{id: gss, questions: [{', '.join(GSS_ITEMS)}]}}
  - {{id: games, questions: [dictator]}}
retest_days: 14
"""

# Scripted human answers: wave 1 and the retest (one change each, so the retest agreement is below 1).
ANSWERS = {
    0: {1: {"color": "r", "happy": "1", "sleep": 7, "note": "fine", "natspac": "1", "natenvir": "1", "natheal": "2", "natcity": "3", "dictator": 2},
        2: {"color": "r", "happy": "2", "sleep": 8, "note": "still fine", "natspac": "1", "natenvir": "1", "natheal": "2", "natcity": "3", "dictator": 2.5}},
    1: {1: {"color": "g", "happy": "3", "sleep": 6, "note": "ok", "natspac": "2", "natenvir": "3", "natheal": "1", "natcity": "1", "dictator": 0},
        2: {"color": "g", "happy": "3", "sleep": 6, "note": "ok", "natspac": "3", "natenvir": "3", "natheal": "1", "natcity": "1", "dictator": 1}},
}


def instance_for(schema: dict):
    """The simplest JSON value valid under `schema` (what a grammar-constrained model could produce)."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object":
        return {k: instance_for(v) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        return [f"observation number {i + 1} about this person" for i in range(max(1, schema.get("minItems", 1)))]
    if kind == "integer":
        return int(schema.get("minimum", 0) or 0) + 1
    if kind == "number":
        return float(schema.get("minimum", 0) or 0)
    if "anyOf" in schema:
        return instance_for(schema["anyOf"][0])
    return "because of what they said"


def agent_reply(request):
    return "ok" if request.json_schema is None else json.dumps(instance_for(request.json_schema))


def test_two_person_study_exported_and_evaluated(tmp_path, workspace, client, clock, monkeypatch):
    from experiments.studies import create_study, evaluate_study, export_study, invite_respondents
    from surveys.loaders import load_responses

    (tmp_path / "mini.yaml").write_text(MINI)
    (tmp_path / "script.yaml").write_text(SCRIPT)
    (tmp_path / "study.yaml").write_text(STUDY)
    create_study(tmp_path / "study.yaml", workspace=workspace)
    people = invite_respondents("s1", 2, workspace=workspace, base_url="http://testserver")
    headers = [{"Authorization": "Bearer " + link.split("#", 1)[1]} for _r, link in people]
    ids = [r for r, _link in people]


    for index, (respondent, h) in enumerate(zip(ids, headers)):
        finish_interview(client, Person(respondent, h["Authorization"].split()[1]))
        state = client.get("/api/study/session", headers=h).json()
        while state["phase"] == "survey":
            q = state["question"]
            state = client.post("/api/study/answer", headers=h, json={"instrument": q["instrument"], "question": q["id"],
                                                                      "wave": 1, "value": ANSWERS[index][1][q["id"]]}).json()
        assert state["phase"] == "waiting"
    clock.advance(days=15)
    for index, h in enumerate(headers):
        state = client.get("/api/study/session", headers=h).json()
        assert state["phase"] == "retest"
        while state["phase"] == "retest":
            q = state["question"]
            state = client.post("/api/study/answer", headers=h, json={"instrument": q["instrument"], "question": q["id"],
                                                                      "wave": 2, "value": ANSWERS[index][2][q["id"]]}).json()
        assert state["phase"] == "done"

    # Export: the long CSV format, both waves, the right codes; the per-instrument file loads as a response set.
    paths = {p.name: p for p in export_study("s1", workspace=workspace)}
    frame = pd.read_csv(paths["responses.csv"], dtype=str)
    assert list(frame.columns) == ["respondent", "question", "wave", "value"]
    assert len(frame) == 2 * 2 * 9
    row = frame[(frame.respondent == ids[1]) & (frame.question == "natspac")]
    assert dict(zip(row.wave, row.value)) == {"1": "2", "2": "3"}
    assert oct(paths["responses.csv"].stat().st_mode & 0o777) == "0o600"
    gss = load_responses(paths["responses-gss.csv"])
    assert gss.instrument in ("gss", None) or gss.instrument
    assert not gss.unmapped and gss.waves == [1, 2] and set(gss.respondents) == set(ids)
    assert gss.value(ids[0], "natcity", 1) == "3"

    # Evaluate: agents from the short transcripts and answers, run with the shared run library, scored.
    llm = LLM(FakeBackend(default=agent_reply))
    folder, result, notes = asyncio.run(evaluate_study("s1", llm, workspace=workspace, bootstrap=20, min_items=1,
                                                       reflections=False))
    assert any("demographic" in n for n in notes)  # no demographics in these transcripts: said, not faked
    sources = {a.source for a in folder.manifest.agents}
    assert sources == {"interview", "combined", "composite"}
    assert {a.respondent for a in folder.manifest.agents} == set(ids)
    metrics = json.loads(result.metrics_path.read_text())
    assert result.html_path.is_file()
    text = json.dumps(metrics)
    assert "normalized" in text
    conditions = metrics["conditions"]
    for condition in ("interview", "combined", "composite"):
        block = conditions[condition]
        assert "gss" in block, block.keys()
        assert "normalized" in json.dumps(block["gss"]), block["gss"]
        # The fake model answers every choice with the first option ("1"): person 0 gets 2 of 4 right with a
        # retest agreement of 4/4, person 1 gets 2 of 4 with 3/4 -> normalized (0.5/1 + 0.5/0.75) / 2.
        assert block["gss"]["people"] == 2
        assert block["gss"]["retest_agreement"]["mean"] == 0.875
        assert abs(block["gss"]["normalized_accuracy"]["mean"] - (0.5 + 0.5 / 0.75) / 2) < 1e-9
    # `simulacra report RUN --truth <export>` reads the exported file.
    from typer.testing import CliRunner

    from experiments.cli import app

    out = CliRunner().invoke(app, ["report", folder.path.name, "--truth", str(paths["responses-gss.csv"]), "--bootstrap", "10"])
    assert out.exit_code == 0, out.output

    # `simulacra study evaluate` (the command) on the same study, with the scripted model in place of the configured one.
    import simulacra.llm

    monkeypatch.setattr(simulacra.llm, "open_llm", lambda *a, **k: LLM(FakeBackend(default=agent_reply)))
    monkeypatch.setattr(simulacra.llm, "describe_backend", lambda *a, **k: {"backend": "fake", "model": "scripted"})
    out = CliRunner().invoke(app, ["study", "evaluate", "s1", "--min-items", "1", "--bootstrap", "5", "--no-reflections",
                                   "--condition", "composite", "--condition", "interview"])
    assert out.exit_code == 0, out.output
    assert "report:" in out.output and "no demographics" not in out.output
