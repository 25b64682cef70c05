"""metrics.json blocks are typed: a block that is not what reports read fails when written, the JSON keeps its
shape (nothing unset written as null, unknown fields kept), and load_metrics refuses other schema versions."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from experiments.scoring.results import SCHEMA_VERSION, ConditionBlock, Metrics, load_metrics
from simulacra.errors import SimulacraError


def metrics(block: dict) -> dict:
    return {"schema_version": SCHEMA_VERSION, "run": {"id": "r1"},
            "truth": {"name": "t", "people_in_truth": 2, "wave": 1, "retest_wave": 2},
            "answers": {"total": 4, "ok": 4, "failed": 0}, "families": {"gss": "survey"},
            "conditions": {"demographic": {"gss": block}},
            "verdicts": [{"condition": "demographic", "verdict": "worse than the best reference", "difference": -0.2,
                          "ci": [-0.4, -0.1], "metric": "normalized_accuracy", "reference": "logistic"}]}


BLOCK = {"kind": "agent", "people": 2, "accuracy": {"mean": 0.5, "ci": [0.25, 0.75]},
         "by_sample": {"2016": {"people": 1, "accuracy": {"mean": 0.5, "ci": None}}},
         "distribution": {"tv_distance": {"mean": 0.1}}}  # a field the model does not name: kept as it is


def test_blocks_are_typed_and_read_like_mappings():
    m = Metrics.model_validate(metrics(BLOCK))
    block = m.conditions["demographic"]["gss"]
    assert isinstance(block, ConditionBlock)
    assert block.accuracy is not None and block.accuracy.ci == [0.25, 0.75]
    assert block["people"] == 2 and block.by_sample is not None and block.by_sample["2016"].people == 1
    assert block.get("normalized_accuracy") is None and "normalized_accuracy" not in block
    with pytest.raises(KeyError):
        block["normalized_accuracy"]
    assert m.verdicts[0].reference == "logistic"


def test_the_json_keeps_its_shape():
    data = metrics(BLOCK)
    dumped = Metrics.model_validate(data).model_dump(mode="json")
    assert dumped["conditions"] == data["conditions"] and dumped["verdicts"] == data["verdicts"]


@pytest.mark.parametrize("bad", [{"people": "two"}, {"accuracy": {"mean": "high"}}, {"accuracy": {"ci": "wide"}},
                                 {"by_sample": {"2016": {"people": [1]}}}])
def test_a_malformed_block_fails_when_written(bad):
    with pytest.raises(ValidationError):
        Metrics.model_validate(metrics({**BLOCK, **bad}))


def test_load_metrics_refuses_another_schema_version(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({**metrics(BLOCK), "schema_version": SCHEMA_VERSION + 1}))
    with pytest.raises(SimulacraError, match=f"schema version {SCHEMA_VERSION + 1}"):
        load_metrics(path)
    path.write_text(json.dumps(metrics(BLOCK)))
    assert load_metrics(path)["conditions"]["demographic"]["gss"]["accuracy"]["mean"] == 0.5
