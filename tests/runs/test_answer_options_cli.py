"""`--scoring`, `--debias`, `--leave-out`, `--folds`: one parser for run, benchmark and experiment run, recorded in the manifest."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from experiments.cli import app
from experiments.runs.folder import RunFolder
from experiments.runs.options import answer_options
from simulacra.errors import SimulacraError


def test_no_words_means_the_agents_defaults():
    assert answer_options() is None


def test_words_become_answer_options():
    options = answer_options("logprobs", "permute", "kfold", 3)
    assert (options.scoring, options.debias, options.leave_out, options.folds) == ("logprobs", "permute", "kfold", 3)


@pytest.mark.parametrize(
    "words, message",
    [
        (("sample", None, None, None), "--scoring 'sample'"),
        (("logprobs", "shuffle", None, None), "--debias 'shuffle'"),
        (("generate", "permute", None, None), "use it with --scoring logprobs"),
        ((None, None, "half", None), "--leave-out 'half'"),
        ((None, None, "kfold", 1), "--folds 1"),
    ],
)
def test_bad_words_get_one_clear_error(words, message):
    with pytest.raises(SimulacraError, match=message.replace("(", r"\(")):
        answer_options(*words)


def test_benchmark_records_the_scoring_in_its_manifest(tmp_path):
    result = CliRunner().invoke(
        app,
        ["benchmark", "gss-panel", "--people", "2", "--items", "3", "--context-items", "2", "--scoring", "logprobs",
         "--debias", "calibrate", "--leave-out", "kfold", "--folds", "2", "--dry-run", "--json"],
    )
    assert result.exit_code == 0, result.output
    estimate = json.loads(result.output[result.output.index("{"):])
    folder = RunFolder.resolve(estimate["run_folder"] if "run_folder" in estimate else estimate["folder"])
    recorded = folder.manifest.settings["answer_options"]
    assert recorded["scoring"] == "logprobs" and recorded["debias"] == "calibrate"
    assert recorded["leave_out"] == "kfold" and recorded["folds"] == 2
