"""Study definitions: the five shipped studies, their published effects, and clear errors for bad files."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from experiments.behavioral.definition import (
    BUILTIN_DIR,
    StudyNotFound,
    load_studies,
    load_study,
    load_study_file,
    parse_study,
    study_files,
)
from simulacra.errors import DataFileError
from surveys.paths import shared_data_dir

PAPER_NAMES = {
    "ames_fiske_2015": "Ames & Fiske 2015",
    "cooney_2016": "Cooney et al. 2016",
    "halevy_halali_2015": "Halevy & Halali 2015",
    "rai_2017": "Rai et al. 2017",
    "schilke_2015": "Schilke et al. 2015",
}
TESTS = {"ames_fiske_2015": "chi_square", "schilke_2015": "chi_square", "cooney_2016": "anova_interaction",
         "halevy_halali_2015": "t_test", "rai_2017": "t_test"}


def _paper_rows() -> dict[str, dict[str, str]]:
    path = shared_data_dir() / "paper_park2024" / "replication_studies.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        return {row["study"]: row for row in csv.DictReader(handle)}


def test_the_five_studies_load_with_the_papers_tests_and_published_effects():
    studies = {s.id: s for s in load_studies(["all"])}
    assert set(PAPER_NAMES) <= set(studies)
    rows = _paper_rows()
    for study_id, paper_name in PAPER_NAMES.items():
        study, row = studies[study_id], rows[paper_name]
        assert study.analysis.test == TESTS[study_id]
        assert study.published.d == pytest.approx(float(row["human_cohens_d"]))
        assert study.published.replicated == (row["humans_replicated"] == "yes")
        assert study.published.significant == row["human_p"].startswith("***")
        assert study.published.agents_d["interview"] == pytest.approx(float(row["agent_interview_d"]))
        assert study.published.agents_d["demographic"] == pytest.approx(float(row["agent_demog_d"]))
        assert study.published.agents_d["persona"] == pytest.approx(float(row["agent_persona_d"]))
        assert study.reconstructed, f"{study_id} must say which details are reconstructed"
        assert study.citation.split(",")[0].split()[-1] in row["citation"]


def test_each_condition_shows_its_own_stimulus():
    for study in load_studies(["all"]):
        for step in study.steps:
            shown = {study.stimulus(step, c) for c in study.conditions}
            if any("{" + f.id + "}" in step.stimulus for f in study.factors):
                assert len(shown) == len(study.conditions), (study.id, step.id)
            for text in shown:
                assert "{" not in text and text.strip()


def test_cooney_is_a_two_by_two_with_an_interaction_contrast():
    study = load_study("cooney_2016")
    assert study.design == "2 x 2 between-subjects"
    assert sorted(c.id for c in study.conditions) == sorted(study.analysis.contrast)
    assert sum(study.analysis.contrast.values()) == 0


def test_halevy_is_multi_step_with_the_outcome_in_the_second_step():
    study = load_study("halevy_halali_2015")
    assert [s.id for s in study.steps] == ["recall", "ratings"]
    assert study.outcome.id == "benefit"


def _schilke_text() -> str:
    return (BUILTIN_DIR / "schilke_2015.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new", "field", "words"),
    [
        ("higher: low_power", "higher: medium_power", "analysis.higher", "two levels of power"),
        ('event: ["yes"]', 'event: ["maybe"]', "analysis.event", "'maybe' is not an option"),
        ("{power}", "{powr}", "steps.0.stimulus", "placeholder {powr}"),
        ("kind: categorical", "kind: sorta", "steps.0.questions.0.kind", "categorical"),
        ("  test: chi_square", "  test: chi_square\n  tails: 1", "analysis.tails", "Extra inputs"),
        ("test: chi_square", "test: t_test", "analysis.outcome", "numeric or ordinal"),
    ],
)
def test_bad_definitions_name_the_file_line_and_field(old, new, field, words):
    text = _schilke_text()
    assert old in text
    broken = text.replace(old, new, 1)
    with pytest.raises(DataFileError) as caught:
        parse_study(broken, "my_study.yaml")
    message = str(caught.value)
    assert caught.value.field == field and words in message and message.startswith("my_study.yaml:")
    # the line points at the field that is wrong
    wrong_line = broken.splitlines()[caught.value.line - 1]
    assert field.split(".")[-1] in wrong_line or new.strip().split(":")[0] in wrong_line


def test_invalid_yaml_and_unknown_studies_are_clear_errors(tmp_path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("id: x\nfactors: [\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="broken.yaml:.*not valid YAML"):
        load_study_file(bad)
    with pytest.raises(StudyNotFound, match="schilke_2015"):
        load_study("no_such_study")


def test_users_add_their_own_study_in_the_workspace(isolated_workspace):
    folder = Path(isolated_workspace) / "studies"
    folder.mkdir(parents=True)
    mine = _schilke_text().replace("id: schilke_2015", "id: my_trust_study")
    (folder / "my_trust_study.yaml").write_text(mine, encoding="utf-8")
    assert "my_trust_study" in study_files()
    assert load_study("my_trust_study").id == "my_trust_study"
    (folder / "misnamed.yaml").write_text(mine, encoding="utf-8")
    with pytest.raises(DataFileError, match="its id is 'my_trust_study'"):
        load_study("misnamed")
