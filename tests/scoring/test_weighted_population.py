"""Survey weights (#26 item 7): the population-level figures (the majority reference, 1 - TV/TV_uniform) are
weighted by a named weight column; individual accuracy is not. Hand-computed fixture below, then the pipeline:
the weight column is recorded in the run (RunSpec -> manifest) so `score(folder)` weights the same way on every
re-scoring, and a run without a weight column keeps its figures.

The fixture: four people, weights (wtssall) 1, 1, 2, 4 -> scaled to mean 1: 0.5, 0.5, 1, 2 (total 4).

  item x (options 1, 2, 3)  answers  A 1, B 1, C 2, D 3
      unweighted shares  (2, 1, 1) / 4 = (.5, .25, .25)           majority: option 1
      weighted shares    (.5+.5, 1, 2) / 4 = (.25, .25, .5)         majority: option 3
  item y (options 1, 2)     answers  A 2, B 1, C 1, D 1
      unweighted shares  (.75, .25); weighted (.5+1+2, .5) / 4 = (.875, .125)

Majority reference, weighted, leave-one-out (the person's own weight taken out; + 0.5 smoothing per option):
  x, A (answer 1, weight .5): votes (1-.5, 1, 2) + .5 = (1, 1.5, 2.5) / 5   = (.2, .3, .5)      -> option 3
  x, C (answer 2, weight 1):  votes (1, 1-1, 2) + .5 = (1.5, .5, 2.5) / 4.5 = (1/3, 1/9, 5/9)  -> option 3
  x, D (answer 3, weight 2):  votes (1, 1, 2-2) + .5 = (1.5, 1.5, .5) / 3.5 = (3/7, 3/7, 1/7)  -> option 1 (tie: first)
  unweighted, x, A: votes (2-1, 1, 1) + .5 = (1.5, 1.5, 1.5) / 4.5 = uniform                   -> option 1 (tie: first)
  y, A (answer 2, weight .5): votes (3.5, .5-.5) + .5 = (4, .5) / 4.5

Distribution alignment 1 - TV(model, human) / TV(uniform, human), model = the (weighted) mean of per-person
distributions:
  x: everyone's model distribution (.5, .25, .25)
     unweighted: human (.5, .25, .25): TV 0 -> 1
     weighted:   human (.25, .25, .5): TV(model) = .5 (.25 + 0 + .25) = .25; TV(uniform) = .5 (1/12 + 1/12 + 1/6) = 1/6
                 -> 1 - .25 / (1/6) = -0.5
  y: model A (0, 1), B (.5, .5), C (1, 0), D (1, 0)
     unweighted: model mean (.625, .375), human (.75, .25): TV .125, TV(uniform) .25 -> 0.5
     weighted:   model (.5*0 + .5*.5 + 1 + 2, .5*1 + .5*.5) / 4 = (.8125, .1875), human (.875, .125):
                 TV .0625, TV(uniform) .375 -> 1 - 1/6 = 5/6
  mean over items: unweighted (1 + .5) / 2 = 0.75; weighted (-.5 + 5/6) / 2 = 1/6
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from experiments.faithfulness.gss_benchmark import plan_gss_benchmark
from experiments.pipeline import EvalSettings, report, run, score
from experiments.runs.folder import RunFolder
from experiments.scoring.distributions import population_tv
from experiments.scoring.panel import PanelMatrix
from experiments.scoring.references import Majority
from experiments.scoring.score import apply_weights, weighting_note
from simulacra.llm import LLM, FakeBackend
from surveys.model import Option, Question, QuestionKind
from surveys.responses import ResponseSet, WeightError

PEOPLE = ["A", "B", "C", "D"]
X = {"A": "1", "B": "1", "C": "2", "D": "3"}
Y = {"A": "2", "B": "1", "C": "1", "D": "1"}


def question(qid: str, k: int) -> Question:
    return Question(id=qid, text=qid, kind=QuestionKind.categorical,
                    options=[Option(code=str(i + 1), label=f"o{i + 1}") for i in range(k)])


QUESTIONS = [question("x", 3), question("y", 2)]


def responses(weights=("1", "1", "2", "4")) -> ResponseSet:
    records = [(p, q, wave, answers[p]) for p in PEOPLE for q, answers in (("x", X), ("y", Y)) for wave in (1, 2)]
    demo = pd.DataFrame({"wtssall": list(weights)}, index=pd.Index(PEOPLE, name="respondent"))
    return ResponseSet.from_records("fixture", records, demographics=demo)


def matrix(weighted: bool = True, **kwargs) -> PanelMatrix:
    rs = responses(**kwargs)
    return PanelMatrix.from_responses(rs.with_weights("wtssall") if weighted else rs, QUESTIONS)


def test_weights_reach_the_panel_scaled_to_mean_one():
    panel = matrix()
    assert panel.people.tolist() == PEOPLE
    assert panel.weights.tolist() == pytest.approx([0.5, 0.5, 1.0, 2.0])
    assert panel.weight_column == "wtssall"
    assert panel.subset(people=["C", "D"]).weights.tolist() == pytest.approx([1.0, 2.0])
    assert matrix(weighted=False).weights is None


def test_weighted_majority_by_hand():
    proba = Majority().predict_proba(matrix(), ["x", "y"])
    assert proba[0, 0, :3] == pytest.approx([0.2, 0.3, 0.5])  # A on x
    assert proba[1, 0, :3] == pytest.approx([0.2, 0.3, 0.5])  # B on x (same answer, same weight)
    assert proba[2, 0, :3] == pytest.approx([1 / 3, 1 / 9, 5 / 9])  # C on x
    assert proba[3, 0, :3] == pytest.approx([3 / 7, 3 / 7, 1 / 7])  # D on x
    assert proba[0, 1, :2] == pytest.approx([4 / 4.5, 0.5 / 4.5])  # A on y
    # options are indices: x's option 3 is index 2
    assert Majority().predict(matrix(), ["x"])[:, 0].tolist() == [2, 2, 2, 0]


def test_unweighted_majority_is_unchanged():
    unweighted = Majority().predict_proba(matrix(weighted=False), ["x", "y"])
    assert unweighted[0, 0, :3] == pytest.approx([1 / 3, 1 / 3, 1 / 3])  # A on x: others (1, 1, 1) + .5
    assert Majority().predict(matrix(weighted=False), ["x"])[:, 0].tolist() == [0, 0, 0, 0]
    # a weighted panel read with weighted=False gives exactly the unweighted figures (the logistic fallback's use)
    assert np.array_equal(Majority(weighted=False).predict_proba(matrix(), ["x", "y"]), unweighted)


def test_a_person_without_a_weight_counts_for_nothing_but_is_still_predicted():
    panel = matrix(weights=("1", "1", "2", ""))  # D has no weight: scaled over A, B, C (mean 4/3)
    assert panel.weights.tolist() == pytest.approx([0.75, 0.75, 1.5, 0.0])
    proba = Majority().predict_proba(panel, ["x"])
    # D is predicted from A, B, C: votes (1.5, 1.5, 0) + .5 -> (2, 2, .5) / 4.5
    assert proba[3, 0, :3] == pytest.approx([2 / 4.5, 2 / 4.5, 0.5 / 4.5])
    # A: B and C vote (.75, 1.5, 0); D's answer 3 is not counted: (1.25, 2, .5) / 3.75
    assert proba[0, 0, :3] == pytest.approx([1.25 / 3.75, 2 / 3.75, 0.5 / 3.75])


def model_proba() -> np.ndarray:
    proba = np.zeros((4, 2, 3))
    proba[:, 0, :3] = [0.5, 0.25, 0.25]
    proba[:, 1, :2] = [[0, 1], [0.5, 0.5], [1, 0], [1, 0]]
    return proba


def test_weighted_distribution_alignment_by_hand():
    panel = matrix()
    scored = np.ones((4, 2), bool)
    weighted = population_tv(model_proba(), panel.truth, scored, panel.n_options, panel.items, weights=panel.weights)
    assert weighted["per_item"]["x"] == pytest.approx(-0.5)
    assert weighted["per_item"]["y"] == pytest.approx(5 / 6)
    assert weighted["mean"] == pytest.approx(1 / 6)
    unweighted = population_tv(model_proba(), panel.truth, scored, panel.n_options, panel.items)
    assert unweighted["per_item"] == pytest.approx({"x": 1.0, "y": 0.5})
    assert unweighted["mean"] == pytest.approx(0.75)
    raw = population_tv(model_proba(), panel.truth, scored, panel.n_options, panel.items, weights=np.array([1, 1, 2, 4.0]))
    assert raw["per_item"] == pytest.approx(weighted["per_item"])  # the scale of the weights does not matter
    # all-equal weights are the unweighted figure
    ones = population_tv(model_proba(), panel.truth, scored, panel.n_options, panel.items, weights=np.ones(4))
    assert ones["per_item"] == pytest.approx(unweighted["per_item"])


def test_the_weighting_is_said_in_words_and_a_missing_column_is_one_line():
    rs = responses()
    assert weighting_note(rs).startswith("unweighted")
    note = weighting_note(apply_weights(rs, "wtssall"))
    assert note.startswith("population figures weighted by wtssall") and "individual accuracy unweighted" in note
    with pytest.raises(WeightError, match="wtssnr"):
        apply_weights(rs, "wtssnr")


# -- the pipeline: the weight column travels in the run --------------------------------------------------------
def reply(request) -> str:
    """A scripted model: each answer a hash of the whole prompt (as in tests/experiments/test_same_numbers.py)."""
    text = "\n".join(m["content"] for m in request.messages)
    out = {}
    for key, sub in (request.json_schema or {}).get("properties", {}).items():
        options = sub.get("properties", {}).get("answer", {}).get("enum") or [""]
        out[key] = {"reasoning": "r", "answer": options[int(hashlib.sha256((text + key).encode()).hexdigest(), 16) % len(options)]}
    return json.dumps(out)


def _block(metrics, condition):
    return metrics["conditions"][condition]["gss"]


def test_benchmark_weights_travel_through_the_run_folder(isolated_workspace):
    llm = LLM(FakeBackend(default=reply))
    settings = EvalSettings(bootstrap=50, seed=0, min_items=3)
    plain = plan_gss_benchmark("2016-2020", people=4, items=6, seed=0, context_items=6, group_size=1)
    outcome = run(plain.spec(model={"model": "fake"}, batch_size=5), llm=llm)
    before = report(outcome.folder, None, settings).metrics
    assert before["truth"]["weights"] is None and before["truth"]["weighting"].startswith("unweighted")

    weighted = plan_gss_benchmark("2016-2020", people=4, items=6, seed=0, context_items=6, group_size=1, weights="wtssall")
    assert [a.id for a in weighted.agents] == [a.id for a in plain.agents]
    spec = weighted.spec(model={"model": "fake"}, batch_size=5)
    assert spec.truth is not None and spec.truth.weights == "wtssall"
    again = run(spec, llm=llm)
    assert again.folder.path == outcome.folder.path  # nobody's agent changed: the same run, nothing asked again
    assert RunFolder(again.folder.path).manifest.extra["weights"] == "wtssall"
    after = report(again.folder, None, settings).metrics
    assert after["truth"]["weights"] == "wtssall"
    assert after["truth"]["weighting"].startswith("population figures weighted by wtssall")
    assert "individual accuracy unweighted" in after["truth"]["weighting"]
    # individual figures of the agents: unweighted, identical
    for condition in ("demographic", "composite"):
        for key in ("accuracy", "normalized_accuracy", "retest_agreement"):
            assert _block(after, condition)[key]["mean"] == _block(before, condition)[key]["mean"]
        assert _block(after, condition)["distribution"]["log_loss"] == _block(before, condition)["distribution"]["log_loss"]
    # the population figure of every condition is weighted (the 4 people's wtssall differ)
    for condition in ("demographic", "composite", "majority"):
        assert _block(after, condition)["distribution"]["population_tv_score"] != pytest.approx(
            _block(before, condition)["distribution"]["population_tv_score"], abs=1e-9)
        assert _block(after, condition)["distribution"]["population_weighted_by"] == "wtssall"
    # re-scoring the folder alone gives the same figures
    rescored = score(again.folder, None, settings).as_dict()
    assert rescored["conditions"] == after["conditions"]
    # the unweighted spec again: the run forgets the weights and gives the first figures back
    run(plain.spec(model={"model": "fake"}, batch_size=5), llm=llm)
    assert "weights" not in RunFolder(outcome.folder.path).manifest.extra
    assert score(outcome.folder, None, settings).as_dict()["conditions"] == before["conditions"]


def test_weighted_majority_on_the_real_panel_uses_wave_one_weights():
    """On the 2016-2020 panel the weighted majority differs from the unweighted one only through the weights: the
    same people's counts, each vote its wave-1 wtssall (checked against a direct weighted count)."""
    from surveys.instruments import load_instrument
    from surveys.loaders import load_gss_panel

    gss = load_instrument("gss")
    panel = load_gss_panel("2016-2020", gss, weights="wtssall")
    item = "natspac" if "natspac" in panel.questions else panel.questions[0]
    matrix_ = PanelMatrix.from_responses(panel, [q for q in gss.questions if q.id == item])
    proba = Majority().predict_proba(matrix_, [item], rows=np.array([0]))[0, 0]
    labels = matrix_.truth[:, 0]
    weights = panel.weights().reindex(matrix_.people).to_numpy(dtype=float)
    keep = (labels >= 0) & np.isfinite(weights)
    keep[0] = False  # leave-one-out: person 0 is predicted
    scale = np.nanmean(np.where(weights > 0, weights, np.nan))
    k = len(matrix_.questions[item].options)
    counts = np.array([weights[keep & (labels == o)].sum() for o in range(k)]) / scale + 0.5
    assert proba[:k] == pytest.approx(counts / counts.sum())


def _references(*extra: str) -> dict:
    from typer.testing import CliRunner

    from experiments.cli import app

    args = ["benchmark", "gss-panel", "--references-only", "--people", "300", "--items", "12", "--bootstrap", "0",
            "--min-items", "5", "--json", *extra]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_references_only_with_weights_changes_the_population_figures_only():
    from rich.console import Console

    from experiments.faithfulness.reference_table import ReferenceTable, print_reference_table

    plain, weighted = _references(), _references("--weights", "wtssall")
    assert plain["weights"] is None and plain["weighting"].startswith("unweighted")
    assert weighted["weights"] == "wtssall"
    assert weighted["weighting"].startswith("population figures weighted by wtssall")
    assert (weighted["people"], weighted["items"]) == (plain["people"], plain["items"])
    for name in ("demographic_knn", "composite_knn", "logistic", "random_floor"):  # individual models: unweighted
        assert weighted["conditions"][name]["accuracy"] == plain["conditions"][name]["accuracy"], name
        assert weighted["conditions"][name]["distribution"]["log_loss"] == plain["conditions"][name]["distribution"]["log_loss"], name
    # the majority reference and every population figure are weighted
    assert weighted["conditions"]["majority"]["distribution"]["log_loss"] != plain["conditions"]["majority"]["distribution"]["log_loss"]
    for name in ("majority", "composite_knn"):
        assert (weighted["conditions"][name]["distribution"]["population_tv_score"]
                != plain["conditions"][name]["distribution"]["population_tv_score"]), name
    console = Console(width=80, record=True)
    print_reference_table(ReferenceTable(**weighted), console)
    text = " ".join(console.export_text().split())
    assert "weights: population figures weighted by wtssall" in text and "individual accuracy unweighted" in text


@pytest.mark.embedded
def test_weighted_benchmark_on_the_embedded_model(isolated_workspace):
    """The weight column on a real model's run: said in the terminal and the HTML report; rerun unweighted, the same
    run folder (no answer asked again) gives the same individual accuracy and an unweighted population figure."""
    from typer.testing import CliRunner

    from experiments.cli import app

    args = ["benchmark", "gss-panel", "--people", "2", "--items", "4", "--condition", "demographic", "--context-items", "4",
            "--batch-size", "4", "--bootstrap", "50", "--seed", "1", "--min-items", "1"]
    weighted = CliRunner().invoke(app, [*args, "--weights", "wtssall"], env={"COLUMNS": "200"})
    assert weighted.exit_code == 0, weighted.output
    assert "weights: population figures weighted by wtssall" in weighted.output
    assert "individual accuracy unweighted" in weighted.output
    run_dir = next((isolated_workspace / "runs").iterdir())
    assert "population figures weighted by wtssall" in (run_dir / "report.html").read_text()
    first = json.loads((run_dir / "metrics.json").read_text())
    assert first["truth"]["weights"] == "wtssall"
    dem = first["conditions"]["demographic"]["gss"]
    assert dem["no_valid_answers"] is False and dem["distribution"]["population_weighted_by"] == "wtssall"

    plain = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert plain.exit_code == 0, plain.output
    assert [p.name for p in (isolated_workspace / "runs").iterdir()] == [run_dir.name]
    second = json.loads((run_dir / "metrics.json").read_text())
    assert second["answers"] == first["answers"]
    assert second["truth"]["weights"] is None and "weights: unweighted" in plain.output
    assert second["conditions"]["demographic"]["gss"]["accuracy"] == dem["accuracy"]
    assert "population_weighted_by" not in second["conditions"]["demographic"]["gss"]["distribution"]


def test_a_named_panel_is_weighted_on_scoring_and_weights_need_human_answers():
    from simulacra.errors import SimulacraError
    from surveys.loaders import load_responses

    from experiments.runs.spec import RunSpec

    plain = load_responses("gss-panel-2016-2020")
    weighted = apply_weights(plain, "wtssall")  # what `simulacra run --truth gss-panel-2016-2020 --weights wtssall` scores with
    assert weighted.weight_column == "wtssall" and weighted.respondents == plain.respondents
    assert weighted.weights().notna().all() and (weighted.weights() > 0).all()
    assert weighted.data.equals(plain.data)  # the same answers: only the weights are added
    with pytest.raises(SimulacraError, match="--weights wtssall: the run names no human answers"):
        RunSpec.build([], [], weights="wtssall")
