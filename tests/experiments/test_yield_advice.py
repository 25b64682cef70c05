"""`simulacra interview-yield --advise RUN`: a script's blocks ranked by yield per minute (accuracy gain of the
block's agent over the no-interview baseline / the block's time budget), from a hand-made yield.json."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from experiments.cli import app
from simulacra.errors import SimulacraError

SCRIPT = """\
id: advice-test
title: Four blocks
blocks:
  - id: intro
    questions:
      - {id: intro, kind: intro, budget_s: 0, text: "Hi, {name}!"}
  - id: story
    questions:
      - {id: q1, budget_s: 480, text: "Tell me the story of your life."}
      - {id: q2, budget_s: 120, text: "What mattered most?"}
  - id: views
    questions:
      - {id: q3, budget_s: 120, text: "What do you think of the news?"}
  - id: chores
    questions:
      - {id: q4, budget_s: 60, text: "Who does the dishes?"}
  - id: hopes
    questions:
      - {id: q5, budget_s: 300, text: "What do you hope for?"}
  - id: closing
    questions:
      - {id: closing, kind: closing, budget_s: 0, text: "Thank you, {name}!"}
"""


def yield_report(**extra) -> dict:
    return {
        "report": "interview-yield", "version": 2, "run": "y1", "panel": "2016-2020", "seed": 0,
        "people": ["a", "b"], "targets": ["t1", "t2", "t3"], "person_items": 6, "script": "advice-test",
        "blocks": ["story", "views", "chores"], "turns": 6, "lengths": [],
        "conditions": [
            {"condition": "twin", "accuracy": 0.80},
            {"condition": "interview", "accuracy": 0.60},
            {"condition": "interview:block:story", "accuracy": 0.55},   # +0.10 over 0.45 in 10 min: 0.010/min
            {"condition": "interview:block:views", "accuracy": 0.50},   # +0.05 in 2 min: 0.025/min
            {"condition": "interview:block:chores", "accuracy": 0.40},  # -0.05 in 1 min: -0.050/min
        ],
        "references": {"majority": 0.45, "composite_knn": 0.52},
        **extra,
    }


@pytest.fixture
def run(tmp_path):
    (tmp_path / "script.yaml").write_text(SCRIPT)
    folder = tmp_path / "y1"
    folder.mkdir()
    (folder / "yield.json").write_text(json.dumps(yield_report()))
    return folder, tmp_path / "script.yaml"


def test_blocks_ranked_by_gain_per_minute(run):
    from experiments.yield_advice import advise, load_advice_script, read_yield

    folder, script_path = run
    report, _path = read_yield(folder)
    name, base, rows = advise(report, load_advice_script(report, str(script_path)))
    assert (name, base) == ("majority", 0.45)
    assert [r.block for r in rows] == ["views", "story", "chores", "hopes"]
    per_minute = {r.block: r.per_minute for r in rows}
    assert per_minute["views"] == pytest.approx(0.05 / 2)
    assert per_minute["story"] == pytest.approx(0.10 / 10)
    assert per_minute["chores"] == pytest.approx(-0.05 / 1)
    assert per_minute["hopes"] is None and rows[-1].minutes == 5

    # a no-interview condition in the run is the baseline; --baseline picks another
    with_none = yield_report()
    with_none["conditions"].append({"condition": "no-interview", "accuracy": 0.50})
    name, base, rows = advise(with_none, load_advice_script(report, str(script_path)))
    assert (name, base) == ("no-interview", 0.50)
    assert {r.block: round(r.gain, 6) for r in rows if r.gain is not None} == {"story": 0.05, "views": 0.0, "chores": -0.1}
    name, _base, rows = advise(report, load_advice_script(report, str(script_path)), baseline="composite_knn")
    assert name == "composite_knn" and rows[0].block == "story"
    with pytest.raises(SimulacraError, match="no nowhere accuracy"):
        advise(report, load_advice_script(report, str(script_path)), baseline="nowhere")


def test_the_command_prints_the_advice_in_80_columns(run):
    folder, script_path = run
    out = CliRunner().invoke(app, ["interview-yield", "--advise", str(folder), "--script", str(script_path)],
                             env={"COLUMNS": "80"}, terminal_width=80)
    assert out.exit_code == 0, out.output
    text = out.output
    assert max(len(line) for line in text.splitlines()) <= 80
    assert text.index("views") < text.index("story") < text.index("chores")
    assert "+0.025" in text and "+0.010" in text and "-0.050" in text
    assert "Keep first: views (+0.05 in 2 min), story (+0.10 in 10 min)." in " ".join(text.split())
    assert "Cut or shorten first: chores" in text and "Not measured (no advice): hopes" in text
    assert "6 person-items" in " ".join(text.split()) and "no interval" in text


def test_a_run_of_another_script_or_without_yield_is_refused(run, tmp_path):
    folder, _script_path = run
    out = CliRunner().invoke(app, ["interview-yield", "--advise", str(folder), "--script", "default"])
    assert isinstance(out.exception, SimulacraError) and "does not have" in str(out.exception)  # one line, no traceback
    out = CliRunner().invoke(app, ["interview-yield", "--advise", str(tmp_path / "nothing-here")])
    assert isinstance(out.exception, SimulacraError) and "no run" in str(out.exception)
