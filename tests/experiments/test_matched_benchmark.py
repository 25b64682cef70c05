"""Matched references on the benchmark path (#23 item 2): plan -> spec -> pipeline.run with a scripted fake model ->
score; each agent condition's matched reference sees exactly its agents' inputs (demographic fields, political views,
party and religion included as the panel's wave-1 codes; the composite agents' known items minus what the run hides
per target), and both verdicts are printed."""

from __future__ import annotations

import io
import json

from rich.console import Console

from experiments.faithfulness.gss_benchmark import plan_gss_benchmark
from experiments.pipeline import run, score
from experiments.reports.report import print_verdicts
from experiments.runs.folder import load_saved_truth
from experiments.scoring.evaluate import _feature_questions
from experiments.scoring.matched import matched_predictor, plan_matched
from experiments.scoring.panel import PanelMatrix
from experiments.scoring.references import CompositeKNN, DemographicKNN
from simulacra.llm import LLM, FakeBackend


def fill(schema: dict):
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {k: fill(v) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        return [fill(schema.get("items", {}))]
    return "because"


def test_benchmark_matched_references_see_exactly_the_agents_inputs(isolated_workspace):
    plan = plan_gss_benchmark(people=3, items=8, seed=2, context_items=12)
    spec = plan.spec(model={"model": "fake"}, batch_size=4)
    outcome = run(spec, llm=LLM(FakeBackend(default=lambda r: json.dumps(fill(r.json_schema or {})))))
    metrics = score(outcome.folder).model_dump(mode="json")
    verdicts = {v["condition"]: v for v in metrics["verdicts"]}

    demographic_agents = [a for a in spec.live_agents if a.id.startswith("dem-")]
    fields = sorted({f for a in demographic_agents for f in a.demographics})
    assert {"political_views", "party", "religion"} <= set(fields)  # what the demographic agents were told
    matched = verdicts["demographic"]["matched"]
    assert matched["fields"] == fields
    assert matched["unavailable"] == []
    expected_columns = {"political_views": "polviews", "party": "partyid", "religion": "relig"}
    assert {f: matched["columns"][f] for f in expected_columns} == expected_columns
    assert all(matched["columns"][f] == f for f in fields if f not in expected_columns)

    composite_agents = [a for a in spec.live_agents if a.id.startswith("comp-")]
    known = sorted({i for a in composite_agents for i in a.known_answers})
    matched = verdicts["composite"]["matched"]
    assert matched["items"] == known and matched["missing_items"] == []
    hidden = {t: sorted(set(items) & set(known)) for t, items in spec.exclusions.hidden.items()}
    assert matched["hidden"] == {t: v for t, v in hidden.items() if v}

    # the predictors themselves, rebuilt from the run folder as the scorer does
    responses = load_saved_truth(outcome.folder)
    panel = PanelMatrix.from_responses(responses, _feature_questions(plan.instrument, responses))
    by_condition = {}
    for e in outcome.folder.manifest.agents:
        by_condition.setdefault(e.source, []).append(e)
    plans = plan_matched(by_condition, panel, spec.exclusions.hidden)
    demographic = matched_predictor(plans["demographic"], panel, plan.items, {})
    assert isinstance(demographic, DemographicKNN)
    assert set(demographic.fields) == {expected_columns.get(f, f) for f in fields}
    assert {"polviews", "partyid", "relig"} <= set(panel.demographics.columns)  # their wave-1 codes, kept with the truth
    composite = matched_predictor(plans["composite"], panel, plan.items, {})
    assert isinstance(composite, CompositeKNN)
    for target in plan.items:
        usable = set(panel.items) - composite.excluded(target)
        assert usable == set(known) - {target} - set(spec.exclusions.hidden.get(target, []))

    # both verdicts printed, the matched one saying what it saw
    buffer = io.StringIO()
    print_verdicts(metrics, Console(file=buffer, width=400))
    text = buffer.getvalue()
    assert "(matched reference" in text and "the matched reference saw demographic kNN on exactly the agents' fields" in text
    assert "(best reference" in text
