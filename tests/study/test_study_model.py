"""Study files: validation with the file and field named, frozen instruments, seeded per-person order."""

from __future__ import annotations

import pytest

from conftest import MINI, write_study
from interviewer.study.model import StudyError, load_study_file


def test_study_file_is_validated_and_frozen(tmp_path, workspace):
    from experiments.studies import create_study

    study, folder = create_study(write_study(tmp_path), workspace=workspace)
    assert [i.id for i in study.instruments] == ["mini", "games"]
    assert [q.id for q in study.instruments[1].questions] == ["dictator"]
    assert study.spec.retest_days == 14 and study.spec.order == "fixed"
    assert oct((folder / "study.json").stat().st_mode & 0o777) == "0o600"
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    # The instrument file changing later does not change the stored study.
    (tmp_path / "mini.yaml").write_text(MINI.replace("Which colour", "What colour"), encoding="utf-8")
    from interviewer.study.store import StudyStore

    assert StudyStore(workspace).load("s1").question("mini", "color").text.startswith("Which colour")
    # The same file again is a no-op; a changed study with the same id is refused without --replace.
    create_study(write_study(tmp_path), workspace=workspace)
    with pytest.raises(StudyError, match="already exists"):
        create_study(write_study(tmp_path, retest_days=7), workspace=workspace)


@pytest.mark.parametrize("body, message", [
    ("id: s1\ninstruments: [nosuch]\n", r"instruments\[0\].*neither a shipped instrument"),
    ("id: s1\ninstruments: [{id: gss, questions: [natspac, nope]}]\n", r"instruments\[0\]\.questions\].*nope"),
    ("id: ../x\ninstruments: [gss]\n", r"\[id\].*not a valid study name"),
    ("id: s1\ninstruments: []\n", r"\[instruments\].*at least one"),
    ("id: s1\ninstrumnets: [gss]\n", r"instrumnets"),
    ("id: s1\ninstruments: [gss]\nretest_days: -1\n", r"retest_days"),
    ("id: s1\ninstruments: [gss]\norder: shuffled\n", r"\[order\]"),
    ("id: s1\ninstruments: [gss, gss]\n", r"listed twice"),
    ("id: s1\ninterview: {script: nosuch.yaml}\ninstruments: [gss]\n", r"interview\.script"),
    ("- just a list\n", r"mapping"),
])
def test_bad_study_files_name_file_and_field(tmp_path, body, message):
    path = tmp_path / "bad.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(StudyError, match=message) as info:
        load_study_file(path)
    assert str(path) in str(info.value)


def test_order_is_seeded_per_person(tmp_path):
    path = write_study(tmp_path, extra="order: random\nseed: 3\n")
    text = path.read_text().replace("  - mini.yaml\n", "  - {id: mini.yaml, shuffle: true}\n  - {id: bfi44, questions: [bfi1, bfi2, bfi3, bfi4]}\n")
    path.write_text(text)
    study = load_study_file(path)
    plans = {r: study.plan(r) for r in (f"p{i}" for i in range(12))}
    assert all(p == study.plan(r) for r, p in plans.items())  # stable
    assert len({tuple(p) for p in plans.values()}) > 1  # differs between people
    for plan in plans.values():
        assert sorted(plan) == sorted((i.id, q.id) for i in study.instruments for q in i.questions)
        # bfi44 items keep their order (not shuffled); instruments are contiguous blocks
        bfi = [q for i, q in plan if i == "bfi44"]
        assert bfi == ["bfi1", "bfi2", "bfi3", "bfi4"]
    assert len({tuple(q for i, q in p if i == "mini") for p in plans.values()}) > 1
    fixed = load_study_file(write_study(tmp_path))
    assert fixed.plan("a") == fixed.plan("b") == [("mini", "color"), ("mini", "happy"), ("mini", "sleep"),
                                                  ("mini", "note"), ("games", "dictator")]
