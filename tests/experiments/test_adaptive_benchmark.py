"""`simulacra benchmark gss-panel --adaptive K`: a small real-panel run through the command (a run folder with
metrics.json and a report; every K, condition and predictor with intervals; the paired adaptive - random)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from experiments.cli import app


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    home = tmp_path_factory.mktemp("adaptive") / "simulacra-data"
    mp = pytest.MonkeyPatch()
    mp.setenv("SIMULACRA_HOME", str(home))
    mp.setenv("COLUMNS", "80")
    try:
        result = CliRunner().invoke(app, ["benchmark", "gss-panel", "--adaptive", "2,4", "--items", "12", "--min-items", "4",
                                          "--bootstrap", "30", "--seed", "3"])
    finally:
        mp.undo()
    return result, home


def test_the_command_prints_the_curve_and_writes_a_run_folder(small_run):
    result, home = small_run
    assert result.exit_code == 0, result.output
    out = result.output
    flat = " ".join(out.split())  # tables wrap to 80 columns (or print as plain lines when piped)
    for words in ("adaptive - best fixed K: K=2", "all other items known (ceiling", "estimated minutes", "report:",
                  "metrics:", "halves, logistic regression", "unasked, composite kNN"):
        assert words in flat
    # 80 columns, except a path, which is never cut
    wide = [line for line in out.splitlines() if len(line) > 80 and not any(len(w) > 60 and "/" in w for w in line.split())]
    assert not wide, wide
    folders = [p for p in (home / "runs").iterdir() if (p / "manifest.json").is_file()]
    assert len(folders) == 1
    folder = folders[0]
    assert (folder / "report.html").is_file() and (folder / "report.md").is_file()
    metrics = json.loads((folder / "metrics.json").read_text())
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["extra"]["benchmark"] == "gss-panel-adaptive" and manifest["agents"] == []
    assert metrics["kind"] == "adaptive" and metrics["items"] == 12 and metrics["people"] > 1000
    keys = {(r["design"], r["k"], r["condition"], r["predictor"]) for r in metrics["curve"]}
    assert keys == {(d, k, c, p) for d in ("halves", "unasked") for k in (2, 4) for c in ("adaptive", "random", "fixed")
                    for p in ("logistic", "composite_knn", "majority")}
    for row in metrics["curve"]:
        stat = row["normalized_accuracy"]
        assert 0.3 < stat["mean"] < 1.5 and stat["ci"][0] < stat["ci"][1]
        assert row["minutes"] > 0
    for name in ("logistic", "composite_knn"):
        assert 0.3 < metrics["ceiling"][name]["normalized_accuracy"]["mean"] < 1.5


def test_the_halves_design_scores_every_condition_on_the_same_cells(small_run):
    """The majority of the other people ignores the K answers: on the halves design (the same cells for every
    condition) its adaptive - random difference is exactly 0; on the unasked design it is the item-set effect."""
    result, home = small_run
    folder = next(p for p in (home / "runs").iterdir() if (p / "metrics.json").is_file())
    metrics = json.loads((folder / "metrics.json").read_text())
    paired = {(r["design"], r["k"], r["predictor"], r["b"]): r for r in metrics["paired"]}
    assert len(paired) == 2 * 2 * 3 * 2
    for k in (2, 4):
        assert paired[("halves", k, "majority", "random")]["difference"] == 0.0
        for name in ("logistic", "composite_knn"):
            row = paired[("halves", k, name, "random")]
            assert row["ci"] is not None and row["ci"][0] < row["ci"][1] and abs(row["difference"]) < 0.2
    items_per_person = {(r["design"], r["condition"], r["k"]): r["items_per_person"] for r in metrics["curve"]
                        if r["predictor"] == "majority"}
    assert items_per_person[("halves", "adaptive", 2)] == items_per_person[("halves", "random", 2)]
    # minutes grow with K (the K asked items' reading and answering time)
    minutes = metrics["minutes"]["halves"]["adaptive"]
    assert minutes["4"] > minutes["2"] > 0
