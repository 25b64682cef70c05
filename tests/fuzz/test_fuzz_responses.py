"""Fuzz: human response files (surveys/loaders.py): wide and long response CSVs, and GSS panel files in the
long (2006) and wide (2016-2020) layouts, plain and .csv.gz (also with the compressed bytes damaged).
Seeds: the first rows of the real GSS panels, answers taken from them, and the tests' fixtures;
`simulacra responses load` on a few."""

from __future__ import annotations

import gzip
import io

import pandas as pd
from fuzz_helpers import (
    HUGE_DIGITS, assert_clean_exit, counted, fixture_text, fresh_dir, mutated_bytes, read_or_refuse, run_command,
    scaled, write,
)
from hypothesis import example, given, settings
from hypothesis import strategies as st

from surveys.instruments import load_instrument
from surveys.loaders import load_long_csv, load_panel_file, load_responses, load_wide_csv
from surveys.paths import shared_data_dir
from surveys.responses import COLUMNS, ResponseSet

GSS_DIR = shared_data_dir() / "gss"
ITEMS = ["natspac", "natenvir", "cappun", "happy", "abany"]


def _head(name: str, rows: int, columns: list[str]) -> pd.DataFrame:
    frame = pd.read_csv(GSS_DIR / name, dtype=str, keep_default_na=False, nrows=rows)
    return frame[[c for c in columns if c in frame.columns]]


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode("utf-8")


# The first real rows of both panels, cut to a few GSS items (plus ids, waves, samples, demographics).
PANEL_2006 = _head("gss_panel2006_3wave_long_park177.csv.gz", 9,
                   ["firstid", "wave", "year", "age", "sex", "race", "degree", *ITEMS, "natspacy", "natenviy"])
PANEL_2016 = _head("gss_panel2016_2020_park177.csv.gz", 8,
                   ["samptype", "yearid", "panstat", "age_1a", "age_1b", "sex_1a", "sex_1b"]
                   + [f"{item}_{wave}" for item in ITEMS for wave in ("1a", "1b", "2")])
PANEL_SEEDS = [_csv(PANEL_2006), _csv(PANEL_2016), fixture_text("faithfulness/test_panel_files.py", "LONG").encode(),
               fixture_text("faithfulness/test_panel_files.py", "WIDE").encode()]

# Answer files made from the same real answers (labels as the 2006 panel writes them), and the tests' fixtures.
_LONG_ROWS = PANEL_2006.melt(id_vars=["firstid", "wave"], value_vars=[c for c in ITEMS if c in PANEL_2006.columns],
                             var_name="question", value_name="value")
LONG_SEED = _csv(pd.DataFrame({"respondent": _LONG_ROWS["firstid"], "question": _LONG_ROWS["question"],
                               "wave": _LONG_ROWS["wave"].str.replace(".0", "", regex=False), "value": _LONG_ROWS["value"]}))
_WIDE = PANEL_2006[PANEL_2006["wave"].str.startswith("1")]
WIDE_SEED = _csv(pd.DataFrame({"respondent": _WIDE["firstid"], "demo_age": _WIDE["age"],
                               **{item: _WIDE[item] for item in ITEMS if item in _WIDE.columns}}))
CSV_SEEDS = [
    LONG_SEED, WIDE_SEED,
    b"respondent,demo_age,natspac,abany,happy\np1,34,1,yes,very happy\np2,61,too much,2.0,\np3,,maybe,9,3\n",
    b"respondent,dictator,prisoners_dilemma\na,2.5,Cooperate\nb,7,defect\n",
    b"respondent,question,wave,value\np1,bfi1,1,4\np1,bfi1,2,5\np1,demo_sex,1,female\np2,bfi2,,Agree strongly\n",
]


def _valid(responses: ResponseSet | None) -> None:
    """Every answer kept is a value of its question (an option code, a number in range, text)."""
    if responses is None:
        return
    assert list(responses.data.columns) == COLUMNS
    instrument = load_instrument(responses.instrument)
    for row in responses.data.drop_duplicates(["question", "value"]).itertuples():
        assert instrument.question(row.question).validate_value(row.value) == row.value


# -- wide and long CSVs ---------------------------------------------------------------------------------------------
@given(data=mutated_bytes(CSV_SEEDS), how=st.sampled_from(["guess", "wide-gss", "long-gss", "long-bfi44"]))
@example(data=b"respondent,natspac\np1,1\np2,2,3\n", how="wide-gss")  # found: pandas' message ends in a newline
@example(data=b'respondent,question,wave,value\np1,natspac,1,"1\n', how="guess")  # found: ParserError guessing the instrument
@example(data=b"respondent,question,wave,value\np1,natspac,1.0,1\n", how="long-gss")  # the wave field (#24)
@example(data=b"respondent,question,wave,value\np1,natspac," + HUGE_DIGITS.encode() + b",1\n", how="long-gss")
@counted
def test_mutated_response_csvs_load_or_refuse(tmp_path, data, how):
    path = write(fresh_dir(tmp_path) / "answers.csv", data)
    if how == "guess":
        call = lambda: load_responses(path)  # noqa: E731
    elif how == "wide-gss":
        call = lambda: load_wide_csv(path, "gss")  # noqa: E731
    else:
        call = lambda: load_long_csv(path, how.split("-")[1])  # noqa: E731
    _valid(read_or_refuse(call, ResponseSet))


@settings(max_examples=scaled(8))
@given(data=mutated_bytes(CSV_SEEDS, max_edits=2))
@counted
def test_responses_load_command_exits_cleanly(tmp_path, data):
    base = fresh_dir(tmp_path)
    path = write(base / "answers.csv", data)
    assert_clean_exit(*run_command(["responses", "load", str(path), "--summary"], base / "home"))


# -- GSS panel files, plain and gzip ------------------------------------------------------------------------------------
def _gzip(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as handle:
        handle.write(data)
    return buffer.getvalue()


GZIP_SEEDS = [_gzip(seed) for seed in PANEL_SEEDS[:2]]


@st.composite
def panel_files(draw) -> tuple[str, bytes]:
    """(suffix, bytes): a mutated panel as text, gzipped or not, or a gzipped panel whose compressed bytes are damaged."""
    how = draw(st.sampled_from(["plain", "gzip", "damaged-gzip"]))
    if how == "damaged-gzip":
        return ".csv.gz", draw(mutated_bytes(GZIP_SEEDS, 2))
    data = draw(mutated_bytes(PANEL_SEEDS))
    return (".csv.gz", _gzip(data)) if how == "gzip" else (".csv", data)


@given(file=panel_files())
@example(file=(".csv.gz", GZIP_SEEDS[0][:40]))  # a cut-off .gz (issue #24 finding 5: zlib.error / EOFError)
@example(file=(".csv", b"foo,bar\n1,2\n"))  # found: the layout help ended the message on eight more lines
@example(file=(".csv", b"firstid,wave,natspac\n1,1,1\n1,2,2,3\n"))  # found: pandas' message ends in a newline
@example(file=(".csv", b"firstid,wave,natspac\n1,1,1\n1,true,2\n"))  # the wave field (issue #24)
@example(file=(".csv", b"firstid,wave,natspac\n1,1,1\n1,1,2\n1,2,2\n"))  # one person twice in wave 1
@example(file=(".csv", b"firstid,wave,natspac\n1,1,1\n1,2,2\n1,2,3\n"))  # found: twice in wave 2 (pandas reindex error)
@example(file=(".csv", b"firstid,wave,natspac\n1,1,1\n1,1e309,2\n"))  # found: an infinite wave (IntCastingNaNError)
@example(file=(".csv", b"firstid,wave,natspac\n1,1,1\n1,99999999999999999999999,2\n"))  # found: OverflowError
@example(file=(".csv", b"yearid,samptype,natspac_1a,natspac_2\n1,1e309,1,2\n"))  # found: an infinite sample (OverflowError)
@example(file=(".csv", b"yearid,samptype,age_1a,natspac_1a,natspac_2\n1,2016,9e30,1,2\n"))  # found: TypeError casting to Int64
@counted
def test_mutated_panel_files_load_or_refuse(tmp_path, file):
    suffix, data = file
    path = write(fresh_dir(tmp_path) / f"panel{suffix}", data)
    _valid(read_or_refuse(lambda: load_panel_file(path), ResponseSet))


def test_the_panel_seeds_are_real_and_load():
    """The seeds themselves load (so the mutations start from valid files)."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        for index, seed in enumerate(PANEL_SEEDS):
            responses = load_panel_file(write(Path(folder) / f"p{index}.csv", seed))
            assert not responses.data.empty
        for index, seed in enumerate(GZIP_SEEDS):
            assert not load_panel_file(write(Path(folder) / f"g{index}.csv.gz", seed)).data.empty
        for index, seed in enumerate(CSV_SEEDS):
            assert not load_responses(write(Path(folder) / f"c{index}.csv", seed)).data.empty
