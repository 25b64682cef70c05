"""Same numbers through the one pipeline (issue #22): the benchmark's and the demo's plans, answered by a scripted
model whose answer depends on the whole prompt (so any change in what an agent is shown changes the answers), give
field by field the metrics of tests/data/same_numbers_respondent_wording.json. Its fields are those simulacra computed
before RunSpec/run/score existed (made by the old open_run -> execute_run -> write_report path at commit ee3ecb3, which
the pipeline matched exactly); their values were regenerated when the GSS questions got respondent-facing wording
(issue #26 item 8: every prompt changed, so the scripted answers did). Fields added since are not compared; a
deliberate change of a compared figure (a methods change) must regenerate the file and say so:
`SAME_NUMBERS_REGENERATE=1 .venv/bin/pytest -q tests/experiments/test_same_numbers.py -p no:cacheprovider` rewrites
the compared fields (only those) from the current code, then the test compares as usual."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from experiments.faithfulness.gss_benchmark import plan_gss_benchmark
from experiments.pipeline import EvalSettings, report, run
from simulacra.llm import LLM, FakeBackend

FIXTURE_PATH = Path(__file__).parents[1] / "data" / "same_numbers_respondent_wording.json"
FIXTURE = json.loads(FIXTURE_PATH.read_text())
PLANS = {"benchmark": (4, 6, 20), "demo": (3, 8, 6)}  # people, items, context items (the commands' defaults)


def reply(request) -> str:
    text = "\n".join(m["content"] for m in request.messages)
    out = {}
    for key, sub in (request.json_schema or {}).get("properties", {}).items():
        options = sub.get("properties", {}).get("answer", {}).get("enum") or [""]
        out[key] = {"reasoning": "r", "answer": options[int(hashlib.sha256((text + key).encode()).hexdigest(), 16) % len(options)]}
    return json.dumps(out)


def compared(expected, actual):
    """`actual` cut to the fields `expected` has (the fields of the old path)."""
    if isinstance(expected, dict):
        return {key: compared(value, actual[key]) for key, value in expected.items()}
    if isinstance(expected, list):
        return [compared(e, a) for e, a in zip(expected, actual)]
    return actual


def close(expected, actual, path=""):
    if isinstance(expected, dict):
        assert isinstance(actual, dict), path
        for key, value in expected.items():
            assert key in actual, f"{path}/{key} is missing"
            close(value, actual[key], f"{path}/{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), path
        for i, (e, a) in enumerate(zip(expected, actual)):
            close(e, a, f"{path}[{i}]")
    elif isinstance(expected, float):
        assert actual == pytest.approx(expected, abs=1e-12), path
    else:
        assert actual == expected, path


@pytest.mark.parametrize("name", sorted(PLANS))
def test_the_pipeline_gives_the_numbers_of_the_old_path(name, isolated_workspace):
    people, items, context = PLANS[name]
    plan = plan_gss_benchmark("2016-2020", people=people, items=items, seed=0, context_items=context, group_size=1)
    outcome = run(plan.spec(model={"model": "fake"}, batch_size=5), llm=LLM(FakeBackend(default=reply)))
    metrics = report(outcome.folder, None, EvalSettings(bootstrap=200, seed=0)).metrics
    expected = FIXTURE[name]
    if os.environ.get("SAME_NUMBERS_REGENERATE"):  # see the module docstring
        stored = json.loads(FIXTURE_PATH.read_text())
        stored[name] = {key: compared(expected[key], metrics[key]) for key in ("answers", "conditions", "per_item")}
        FIXTURE_PATH.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")
        expected = stored[name]
    close(expected["answers"], metrics["answers"], "answers")
    close(expected["conditions"], metrics["conditions"], "conditions")
    close(expected["per_item"], metrics["per_item"], "per_item")
