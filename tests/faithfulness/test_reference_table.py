"""`simulacra benchmark gss-panel --references-only`: the reference table with no model, in seconds."""

from __future__ import annotations

import json

from typer.testing import CliRunner


def test_references_only_prints_the_table_and_writes_markdown(tmp_path):
    from experiments.cli import app

    out = tmp_path / "table.md"
    args = ["benchmark", "gss-panel", "--references-only", "--people", "150", "--items", "12", "--bootstrap", "20",
            "--min-items", "5", "--markdown", str(out)]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "220"})
    assert result.exit_code == 0, result.output
    for label in ("majority of other people", "demographic kNN", "composite kNN", "logistic regression per item", "random floor"):
        assert label in result.output
    assert "retest interval" in result.output and "2016 sample" in result.output
    text = out.read_text()
    assert text.startswith("Reference conditions on gss-panel-2016-2020 (same-wave): 150 people x 12 items")


def test_references_only_json_and_cross_wave():
    from experiments.cli import app

    args = ["benchmark", "gss-panel", "--condition", "stats", "--people", "120", "--items", "10", "--bootstrap", "0",
            "--min-items", "5", "--design", "cross-wave", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output[result.output.index("{"):])
    assert data["design"] == "cross-wave" and data["people"] == 120 and data["items"] == 10
    majority = data["conditions"]["majority"]
    assert majority["accuracy"]["mean"] is not None and majority["normalized_accuracy_paper"]["mean"] is not None
    assert majority["people"] + majority["excluded_people"] <= 120


def test_a_panel_file_that_does_not_fit_is_a_clear_error(tmp_path):
    from experiments.cli import app

    bad = tmp_path / "bad.csv"
    bad.write_text("firstid,natspac\n1,1\n", encoding="utf-8")
    from simulacra.errors import SimulacraError

    result = CliRunner().invoke(app, ["benchmark", "gss-panel", "--references-only", "--panel-file", str(bad)])
    assert result.exit_code != 0
    # a SimulacraError (the root command prints it without a traceback), naming the file and what is missing
    assert isinstance(result.exception, SimulacraError)
    assert "neither layout" in str(result.exception) and str(bad) in str(result.exception)


# The full-panel figures (2016-2020 panel, all 1,823 re-interviewed people x 148 items, same-wave, seed 0,
# min-items 20), as printed by `simulacra benchmark gss-panel --references-only` (experiments/faithfulness/README.md).
# Point estimates are deterministic with the seed. They move when the near-duplicate table
# (experiments/scoring/data/near_duplicates.csv) or a reference predictor changes: rerun the command and update.
# Columns: accuracy, norm. by own retest (mean of ratios), (ratio of means), norm. (paper 2-wk),
# correlation (Fisher z, r clipped at (n-1)/n), norm. corr. (mean of per-person ratios), (ratio of mean r).
PINNED = {
    "majority": (0.570, 0.816, 0.809, 0.715, 0.454, 0.702, 0.687),
    "demographic_knn": (0.587, 0.840, 0.833, 0.736, 0.483, 0.753, 0.731),
    "composite_knn": (0.638, 0.912, 0.905, 0.800, 0.572, 0.888, 0.866),
    "logistic": (0.661, 0.945, 0.938, 0.829, 0.612, 0.956, 0.928),
    "random_floor": (0.345, 0.496, 0.490, 0.433, None, None, None),
}
PINNED_KEYS = ("accuracy", "normalized_accuracy", "normalized_accuracy_ratio_of_means", "normalized_accuracy_paper",
               "correlation", "normalized_correlation", "normalized_correlation_ratio_of_means")


def _check_pinned(table, names):
    import pytest

    assert table.people == 1823 and table.items == 148
    for name in names:
        block = table.conditions[name]
        assert block["people"] == 1823 and block["excluded_people"] == 0, name
        assert block["retest_agreement"]["mean"] == pytest.approx(0.7045, abs=6e-5), name  # the loader's 0.7045
        for key, expected in zip(PINNED_KEYS, PINNED[name]):
            got = block[key]["mean"] if key in block else None
            if expected is None:
                assert got is None, (name, key)
            else:
                assert got == pytest.approx(expected, abs=6e-4), (name, key, got)


def test_full_panel_reference_figures_are_pinned():
    """The majority, kNN references and the random floor on the whole panel (about a minute)."""
    from experiments.faithfulness.reference_table import reference_table

    table = reference_table(bootstrap=0, references=["majority", "demographic_knn", "composite_knn"])
    _check_pinned(table, ["majority", "demographic_knn", "composite_knn", "random_floor"])


def test_full_panel_logistic_reference_is_pinned():
    """The cross-fitted logistic regressions on the whole panel (a few minutes on two cores)."""
    from experiments.faithfulness.reference_table import reference_table

    _check_pinned(reference_table(bootstrap=0, references=["logistic"]), ["logistic"])
