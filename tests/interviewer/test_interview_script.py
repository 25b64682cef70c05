"""Script loading: the paper's default script, the YAML format, line-numbered errors, shortening."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from interviewer.script import available_scripts, load_script, parse_duration, parse_script, select_blocks, shorten
from simulacra.errors import DataFileError
from surveys.paths import shared_data_dir


def test_default_script_is_the_papers_table7(default_script):
    rows = list(csv.DictReader(open(shared_data_dir() / "paper_park2024" / "interview_script_table7.csv", encoding="utf-8")))
    items = list(default_script.items())
    assert len(items) == len(rows) == 111
    assert default_script.question_count == 109
    assert default_script.total_budget_s == 7130
    assert items[0][1].kind == "intro" and items[-1][1].kind == "closing"
    for (block, question), row in zip(items, rows):
        assert question.budget_s == float(row["time_limit_sec"])
        assert block.id.startswith(row["block_label"])
        assert " ".join(row["script_text"].split()).replace("<participant's name>", "{name}") == question.text
    # a label that comes back later in the table starts a new block with its own id
    ids = [b.id for b in default_script.blocks]
    assert len(ids) == len(set(ids)) and "finances_2" in ids
    assert "default" in available_scripts()


def test_committed_default_script_is_current():
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, str(repo / "scripts" / "build_interview_script.py"), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _error(text: str, tmp_path) -> DataFileError:
    path = tmp_path / "mine.yaml"
    with pytest.raises(DataFileError) as info:
        parse_script(text, path)
    return info.value


GOOD = """\
id: mine
title: Mine
blocks:
  - id: b1
    questions:
      - id: a
        text: How are you?
        budget_s: 30
      - id: b
        text: What do you do?
        budget_s: 2m
"""


def test_a_user_script_loads_with_defaults_filled(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(GOOD.replace("      - id: b\n        text:", "      - text:"), encoding="utf-8")
    script = load_script(str(path))
    assert [q.id for _, q in script.items()] == ["a", "b1-2"]
    assert script.blocks[0].label == "B1" and script.total_budget_s == 150


def test_missing_budget_names_its_line(tmp_path):
    error = _error(GOOD.replace("        budget_s: 2m\n", ""), tmp_path)
    assert error.line == 9 and "budget_s" in str(error) and "mine.yaml:9" in str(error)  # the question missing it


def test_misspelt_field_names_its_line(tmp_path):
    error = _error(GOOD.replace("budget_s: 2m", "budget: 2m"), tmp_path)
    assert error.line == 11 and "unknown field 'budget'" in str(error)


def test_bad_budget_and_negative_budget_name_their_line(tmp_path):
    assert _error(GOOD.replace("budget_s: 30", "budget_s: soon"), tmp_path).line == 8
    assert _error(GOOD.replace("budget_s: 30", "budget_s: -5"), tmp_path).line == 8


def test_duplicate_question_id_names_the_second(tmp_path):
    error = _error(GOOD.replace("- id: b\n", "- id: a\n"), tmp_path)
    assert error.line == 9 and "appears twice" in str(error)


def test_yaml_syntax_error_names_its_line(tmp_path):
    error = _error(GOOD.replace("text: What do you do?", "text: [What do you do?"), tmp_path)
    assert error.line is not None and error.line >= 10


def test_closing_must_be_last(tmp_path):
    error = _error(GOOD.replace("        text: How are you?\n", "        kind: closing\n        text: Bye\n"), tmp_path)
    assert error.line == 6 and "closing" in str(error)


def test_unknown_script_name_lists_the_packaged_ones():
    with pytest.raises(DataFileError, match="default"):
        load_script("nonexistent")


def test_durations():
    assert parse_duration("1m30s") == 90 and parse_duration("90") == 90 and parse_duration(45) == 45
    assert parse_duration("1h") == 3600
    with pytest.raises(ValueError):
        parse_duration("a while")


def test_shorten_scales_every_budget_by_one_factor(default_script):
    short = shorten(default_script, 30)
    assert abs(short.total_budget_s - 1800) < 1
    pairs = [(a.budget_s, b.budget_s) for (_, a), (_, b) in zip(default_script.items(), short.items())]
    assert all(abs(s - o * 1800 / 7130) < 0.01 for o, s in pairs)
    assert [q.id for _, q in short.items()] == [q.id for _, q in default_script.items()]
    assert default_script.total_budget_s == 7130  # the original is untouched
    assert shorten(default_script, 500).total_budget_s == 7130  # already short enough


def test_select_blocks_keeps_intro_and_closing(default_script):
    chosen = select_blocks(default_script, ["hopes_values"])
    assert [b.id for b in chosen.blocks] == ["intro", "hopes_values", "closing"]
    with pytest.raises(DataFileError, match="unknown block"):
        select_blocks(default_script, ["nope"])
