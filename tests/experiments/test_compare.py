"""Comparing runs: per-person pairing, differences and scipy paired tests."""

from __future__ import annotations

import json

import pytest
from scipy import stats

from experiments.reports.compare import compare_runs, paired_test
from experiments.scoring.evaluate import EvalSettings
from experiments.reports.report import write_report
from experiments.runs.spec import RunSpec
from experiments.runs.folder import RunFolder
from experiments.runs.runner import run_batch
from simulacra.errors import SimulacraError
from simulacra.llm import LLM, FakeBackend
from test_evaluate import AGENTS, MODEL, TRUTH, FixedAgent, survey_instrument


def test_paired_test_matches_scipy_and_hand_difference():
    a = [0.5, 0.6, 0.7, 0.8, 0.4]
    b = [0.6, 0.8, 0.7, 1.0, 0.5]
    result = paired_test(a, b)
    assert result["difference"] == pytest.approx((0.1 + 0.2 + 0 + 0.2 + 0.1) / 5)
    assert result["t_p"] == pytest.approx(stats.ttest_rel(b, a).pvalue)
    assert result["wilcoxon_p"] == pytest.approx(stats.wilcoxon(a, b, zero_method="wilcox").pvalue)
    assert paired_test([0.5, 0.5], [0.5, 0.5])["wilcoxon_p"] == 1.0
    assert paired_test([0.5], [0.7])["t_p"] is None


async def test_compare_two_runs_pairs_people_by_respondent(tmp_path):
    instrument = survey_instrument()
    first = RunFolder.open(RunSpec.build(AGENTS, [instrument], model=MODEL, label="first"), tmp_path / "runs")
    await run_batch(first, AGENTS, [instrument], LLM(FakeBackend()))
    write_report(first, TRUTH, EvalSettings(bootstrap=20))
    # a second "model" whose demographic agents get every choice item right
    better = [
        FixedAgent(id=a.id, source=a.source, respondent=a.respondent,
                   given={q: TRUTH.value(a.respondent, q) if TRUTH.value(a.respondent, q) is not None else v for q, v in a.given.items()})
        for a in AGENTS
    ]
    second = RunFolder.open(RunSpec.build(better, [instrument], model={"kind": "test", "model": "better"}, label="second"), tmp_path / "runs")
    await run_batch(second, better, [instrument], LLM(FakeBackend()))
    # the second run has no metrics.json and names no human answers: compare asks for --truth

    with pytest.raises(SimulacraError, match="--truth"):
        compare_runs([first, second], None, tmp_path / "cmp")
    write_report(second, TRUTH, EvalSettings(bootstrap=20))
    result, json_path, html_path = compare_runs([first, second], None, tmp_path / "cmp")
    test = next(t for t in result["paired_tests"] if t["condition"] == "demographic" and t["metric"] == "accuracy")
    # demographic accuracy per person: first .5, .75, .75 ; second 1, 1, 1
    assert test["n"] == 3
    assert test["mean_a"] == pytest.approx(2 / 3) and test["mean_b"] == pytest.approx(1.0)
    assert test["difference"] == pytest.approx(1 / 3)
    assert test["t_p"] == pytest.approx(stats.ttest_rel([1, 1, 1], [0.5, 0.75, 0.75]).pvalue)
    assert json.loads(json_path.read_text())["reference"] == first.path.name
    html = html_path.read_text()
    assert "Wilcoxon" in html and first.path.name in html and second.path.name in html
