"""`study export` (issue 26 item 4 for studies, issue 24 item 2): each answer's time, the item order each person
saw (a shuffled BFI differs per person), each wave's completion time and each person's retest interval; every
CSV the study writes escapes cells that begin with = + - @ tab or CR (read back from disk)."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest

from conftest import Person

TRICKY = """\
id: tricky
title: Tricky options
questions:
  - id: pick
    text: Pick one.
    kind: categorical
    options: [{code: "@x", label: "=cmd|' /C calc'!A0"}, {code: "-1", label: "-1+2"}, {code: "ok", label: Fine}]
  - id: words
    text: Say something.
    kind: open
"""

STUDY = """\
id: ex1
title: Export study
interview: {required: false}
instruments:
  - tricky.yaml
  - {id: bfi44, questions: [bfi1, bfi2, bfi3, bfi4, bfi5], shuffle: true}
retest_days: 14
"""

FORMULAS = ['=HYPERLINK("http://evil.example/?x","click")', "+SUM(1,2)", "-2+3+cmd|' /C calc'!A0", "@SUM(1)"]


@pytest.mark.parametrize("value, expected", [
    ("=1+1", "'=1+1"), ("+1+1", "'+1+1"), ("-1+1", "'-1+1"), ("@x", "'@x"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("-3", "-3"), ("+2.5", "+2.5"), ("1e-3", "1e-3"), ("plain", "plain"), (-3, -3), ("", ""), ("a=b", "a=b"),
])
def test_escape_cell(value, expected):
    from interviewer.study.export import escape_cell

    assert escape_cell(value) == expected


def build(tmp_path, workspace):
    from experiments.studies import create_study

    (tmp_path / "tricky.yaml").write_text(TRICKY)
    (tmp_path / "study.yaml").write_text(STUDY)
    return create_study(tmp_path / "study.yaml", workspace=workspace)[0]


def people(workspace, count):
    from experiments.studies import invite_respondents

    rows = invite_respondents("ex1", count, workspace=workspace, base_url="http://testserver")
    return [Person(r, link.split("#", 1)[1]) for r, link in rows]


def run_wave(client, person, clock, values, times):
    """Answer every question of the wave now asked, 90 seconds apart; record when each was answered."""
    state = client.get("/api/study/session", headers=person.headers).json()
    wave = state["wave"]
    while state.get("question"):
        clock.advance(seconds=90)
        q = state["question"]
        value = values.get(q["id"]) if q["id"] in values else (q["options"][0]["code"] if q["options"] else "fine")
        reply = client.post("/api/study/answer", headers=person.headers,
                            json={"instrument": q["instrument"], "question": q["id"], "wave": wave, "value": value})
        assert reply.status_code == 200, reply.text
        times[(person.respondent, wave, q["id"])] = clock.now.isoformat(timespec="seconds")
        state = reply.json()
    return state


def test_export_carries_times_order_completion_and_retest_interval(tmp_path, workspace, client, clock):
    from experiments.studies import export_study

    study = build(tmp_path, workspace)
    alice, bob = people(workspace, 2)
    times: dict = {}
    for person in (alice, bob):
        client.post("/api/session/consent", headers=person.headers, json={})
    run_wave(client, alice, clock, {"pick": "@x", "words": FORMULAS[0]}, times)
    run_wave(client, bob, clock, {"pick": "-1", "words": FORMULAS[1]}, times)
    clock.advance(days=15)
    run_wave(client, alice, clock, {"pick": "ok", "words": FORMULAS[2]}, times)
    clock.advance(days=2)
    run_wave(client, bob, clock, {"pick": "@x", "words": FORMULAS[3]}, times)

    paths = {p.name: p for p in export_study("ex1", workspace=workspace)}
    read = {name: pd.read_csv(path, dtype=str, keep_default_na=False) for name, path in paths.items() if name.endswith(".csv")}

    # each answer's time, position and label
    answers = read["answers.csv"]
    assert len(answers) == 2 * 2 * 7
    for row in answers.itertuples():
        assert row.answered_at == times[(row.respondent, int(row.wave), row.question)]
    # the order each person saw: the BFI items are shuffled per person, the same in both waves
    order = read["item_order.csv"]
    for person in (alice, bob):
        for wave in (1, 2):
            rows = order[(order.respondent == person.respondent) & (order.wave == str(wave))]
            assert list(zip(rows.instrument, rows.question)) == study.plan(person.respondent, wave)
            assert list(rows.position) == [str(i) for i in range(1, 8)]
            mine = answers[(answers.respondent == person.respondent) & (answers.wave == str(wave))]
            by_time = mine.sort_values("answered_at")
            assert list(by_time.position) == [str(i) for i in range(1, 8)]  # asked in the order exported
    bfi = [lambda p: [q for i, q in study.plan(p.respondent) if i == "bfi44"]][0]
    assert bfi(alice) != bfi(bob)  # the seeded shuffle differs between these two people (else the test is weak)

    # each wave's completion time and the retest interval
    part = read["participants.csv"].set_index("respondent")
    for person in (alice, bob):
        done_1 = max(t for (r, w, _q), t in times.items() if r == person.respondent and w == 1)
        done_2 = max(t for (r, w, _q), t in times.items() if r == person.respondent and w == 2)
        start_1 = min(t for (r, w, _q), t in times.items() if r == person.respondent and w == 1)
        row = part.loc[person.respondent]
        assert row.wave1_completed_at == done_1 and row.wave2_completed_at == done_2
        assert row.wave1_started_at == start_1
        assert float(row.wave1_minutes) == pytest.approx(6 * 1.5)  # 7 answers 90 s apart
        days = (datetime.fromisoformat(done_2) - datetime.fromisoformat(done_1)).total_seconds() / 86400
        assert float(row.retest_interval_days) == pytest.approx(days, abs=1e-4)
        assert row.status == "done" and row.consented_at.startswith("20")
    assert float(part.loc[bob.respondent].retest_interval_days) > float(part.loc[alice.respondent].retest_interval_days)

    # labels beside the codes
    pick = answers[(answers.question == "pick") & (answers.respondent == alice.respondent) & (answers.wave == "2")]
    assert list(pick.label) == ["Fine"]
    # SPSS and Stata: one row per person and wave, question text and options as labels, completion time and
    # retest interval beside the answers
    import pyreadstat

    for name, reader in (("responses.sav", pyreadstat.read_sav), ("responses.dta", pyreadstat.read_dta)):
        frame, meta = reader(str(paths[name]))
        assert oct(paths[name].stat().st_mode & 0o777) == "0o600"
        assert len(frame) == 4 and set(frame.respondent) == {alice.respondent, bob.respondent}
        labels = dict(zip(meta.column_names, meta.column_labels))
        assert labels["pick"] == "Pick one." and labels["bfi1"].startswith(study.question("bfi44", "bfi1").text[:40])
        assert "Fine" in meta.variable_value_labels["pick"].values()
        row = frame[(frame.respondent == bob.respondent) & (frame.wave == 2)].iloc[0]
        assert float(row.retest_interval_days) == pytest.approx(float(part.loc[bob.respondent].retest_interval_days))
        assert row.wave_completed_at == part.loc[bob.respondent].wave2_completed_at
    assert "responses_codebook.csv" in paths and "responses_long.csv" in paths

    # the truth files keep exactly the long format `report --truth` reads
    assert list(read["responses-bfi44.csv"].columns) == ["respondent", "question", "wave", "value"]
    assert list(read["responses.csv"].columns) == ["respondent", "question", "wave", "value"]

    # withdrawal removes the study's SPSS/Stata exports that hold the person (export again to rewrite them)
    assert client.post("/api/session/withdraw", headers=alice.headers, json={"confirm": True}).status_code == 200
    assert not paths["responses.sav"].exists() and not paths["responses.dta"].exists()
    assert paths["answers.csv"].exists() and alice.respondent not in paths["answers.csv"].read_text()


def test_every_csv_the_study_writes_is_escaped(tmp_path, workspace, client, clock):
    from experiments.studies import export_study

    build(tmp_path, workspace)
    alice, bob = people(workspace, 2)
    for person, pick, words in ((alice, "@x", FORMULAS[0]), (bob, "-1", FORMULAS[2])):
        client.post("/api/session/consent", headers=person.headers, json={})
        run_wave(client, person, clock, {"pick": pick, "words": words}, {})

    written = export_study("ex1", workspace=workspace)
    csvs = [p for p in written if p.suffix == ".csv"]
    assert {p.name for p in csvs} >= {"responses.csv", "responses-tricky.csv", "responses-bfi44.csv", "answers.csv",
                                      "item_order.csv", "participants.csv"}

    def cells(path):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        return [str(c) for c in frame.columns] + [v for column in frame.columns for v in frame[column]]

    def dangerous(value: str) -> bool:
        try:
            float(value)
            return False  # a plain number is not a formula
        except ValueError:
            return value[:1] in ("=", "+", "-", "@", "\t", "\r")

    def check_all():
        for path in csvs:
            assert oct(path.stat().st_mode & 0o777) == "0o600", path
            bad = [v for v in cells(path) if dangerous(v)]
            assert not bad, (path.name, bad)

    check_all()
    everything = {v for path in csvs for v in cells(path)}
    assert "'" + FORMULAS[0] in everything and "'" + FORMULAS[2] in everything  # the answer is kept, escaped
    assert "'@x" in everything and "'=cmd|' /C calc'!A0" in everything  # option codes and labels too
    assert "-1" in everything  # a plain number stays a number
    long = pd.read_csv(workspace.root / "studies" / "ex1" / "export" / "responses.csv", dtype=str)
    assert set(long[long.question == "words"].value) == {"'" + FORMULAS[0], "'" + FORMULAS[2]}

    # withdrawal rewrites the study's own exports without the person: still escaped
    assert client.post("/api/session/withdraw", headers=alice.headers, json={"confirm": True}).status_code == 200
    check_all()
    assert not any(alice.respondent in v for path in csvs for v in cells(path))
    assert any(bob.respondent in v for v in cells(csvs[0]))


def test_export_with_no_answers_writes_headers_only(tmp_path, workspace):
    from experiments.studies import export_study

    build(tmp_path, workspace)
    paths = {p.name: p for p in export_study("ex1", workspace=workspace)}
    assert paths["responses.csv"].read_text().strip() == "respondent,question,wave,value"
    assert pd.read_csv(paths["participants.csv"]).empty


def test_withdrawal_removes_only_the_labelled_exports_that_hold_the_person(tmp_path):
    import pyreadstat

    from interviewer.study.platform import forget_in_study_files

    root = tmp_path / "studies"
    for study, people in (("a1", ["r-1", "r-2"]), ("b1", ["r-2"])):
        (root / study / "export").mkdir(parents=True)
        frame = pd.DataFrame({"respondent": people, "wave": [1] * len(people), "x": [1.0] * len(people)})
        pyreadstat.write_sav(frame, str(root / study / "export" / "responses.sav"))
        pyreadstat.write_dta(frame, str(root / study / "export" / "responses.dta"))
    assert forget_in_study_files(root, "r-1") == 2
    assert not (root / "a1" / "export" / "responses.sav").exists() and not (root / "a1" / "export" / "responses.dta").exists()
    assert (root / "b1" / "export" / "responses.sav").exists() and (root / "b1" / "export" / "responses.dta").exists()
