"""`--panel-file`: GSS panel extracts in the long (2006-style) and wide (2016-2020-style) layouts."""

from __future__ import annotations

import pytest

from surveys.errors import DataFileError
from surveys.loaders import load_panel_file

LONG = """firstid,wave,age,sex,race,degree,natspac,cappun
1,1,34,Female,White,High School,Too Little,Favor
1,2,36,Female,White,High School,About Right,Favor
2,1,61,Male,Black,Bachelor,Too Much,Oppose
2,2,63,Male,Black,Bachelor,Too Much,Favor
"""

WIDE = """yearid,samptype,panstat,age_1a,age_1b,sex_1a,sex_1b,natspac_1a,natspac_1b,natspac_2,cappun_1a,cappun_1b,cappun_2
20160001,2016,1,47,,1,,1,,2,1,,1
20180002,2018,1,,52,,2,,3,3,,2,2
20160003,2016,2,30,,1,,1,,,1,,
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_long_layout_like_the_2006_panel(tmp_path):
    rs = load_panel_file(write(tmp_path, "long.csv", LONG))
    assert rs.value("1", "natspac", 1) == "1" and rs.value("1", "natspac", 2) == "2"
    assert rs.value("2", "cappun", 1) == "2" and rs.value("2", "cappun", 2) == "1"
    assert set(rs.waves) == {1, 2}
    assert rs.demographics.loc["2", "sex"] == "male"


def test_wide_layout_like_the_2016_2020_panel(tmp_path):
    rs = load_panel_file(write(tmp_path, "wide.csv", WIDE))
    assert sorted(rs.respondents) == ["20160001", "20180002"]  # panstat 2 dropped
    assert rs.value("20160001", "natspac", 1) == "1" and rs.value("20160001", "natspac", 2) == "2"
    assert rs.value("20180002", "natspac", 1) == "3"  # the 2018 sample's first interview is _1b
    assert rs.demographics.loc["20180002", "sample"] == 2018


@pytest.mark.parametrize("text, message", [
    ("firstid,natspac\n1,1\n", "neither layout"),
    ("person,wave,natspac\n1,1,1\n1,2,1\n", "no id column"),
    ("firstid,wave,foo\n1,1,1\n1,2,1\n", "no column names a variable"),
    ("firstid,wave,natspac\n1,1,1\n", "waves 1 and a retest"),
    ("yearid,foo_1a,foo_2\n1,1,1\n", "no variable of instrument gss"),
    ("natspac_1a,natspac_2\n1,1\n", "no id column"),
])
def test_a_file_that_does_not_fit_says_what_is_missing(tmp_path, text, message):
    with pytest.raises(DataFileError, match=message):
        load_panel_file(write(tmp_path, "bad.csv", text))


def test_the_benchmark_and_the_reference_table_take_a_panel_file(tmp_path):
    from experiments.faithfulness.gss_benchmark import plan_gss_benchmark
    from surveys.paths import shared_data_dir

    path = shared_data_dir() / "gss/gss_panel2006_3wave_long_park177.csv.gz"
    plan = plan_gss_benchmark(people=2, items=3, seed=0, context_items=0, panel_file=str(path), conditions=["demographic"])
    assert len(plan.agents) == 2 and plan.truth.name.startswith("panel-file-")
