"""Headless Chromium (Debian's): an adaptive GSS instrument (`adaptive: {max_items: 3}`, choices learnt from the
shipped GSS panel's wave 1) asks one chosen item at a time; a reload mid-way resumes with the item chosen
before; after the third answer the survey ends (round 1 done); the export lists the three items asked, in the
order asked, each with its expected gain, and the items not asked."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from test_study_browser import CHROMIUM, LiveServer

pytestmark = pytest.mark.browser

ITEMS = ["happy", "natspac", "natenvir", "natheal", "natcity", "natdrug", "nateduc", "natrace", "natarms", "cappun",
         "gunlaw"]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def test_adaptive_instrument_in_a_real_browser(tmp_path, workspace, invite, app_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (the CI script installs it)")
    from playwright.sync_api import expect, sync_playwright

    from experiments.studies import create_study, export_study
    from surveys.instruments import load_instrument

    path = tmp_path / "adaptive.yaml"
    path.write_text("id: adaptive-gss\ntitle: Adaptive GSS\ninterview: {required: false}\ninstruments:\n"
                    f"  - {{id: gss, questions: [{', '.join(ITEMS)}], adaptive: {{max_items: 3}}}}\nretest_days: 14\n",
                    encoding="utf-8")
    study, _folder = create_study(path, workspace=workspace)
    assert study.adaptive["gss"].population == "gss-panel-2016-2020" and study.adaptive["gss"].people > 1000
    (person,) = invite("adaptive-gss")
    texts = {q.id: q.text for q in load_instrument("gss").questions if q.id in ITEMS}
    shown: list[str] = []

    def asked_now(page) -> str:
        text = page.locator("#question-text").inner_text().strip()
        found = [q for q, t in texts.items() if t.strip() == text]
        assert len(found) == 1, text
        return found[0]

    with LiveServer(app_factory()) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_context(viewport={"width": 390, "height": 800}).new_page()
            page.goto(f"{base}/study#{person.token}")
            page.get_by_label("I have read this information and agree to take part.").check()
            page.get_by_role("button", name="Start", exact=True).click()
            progress = page.locator("#progress")
            expect(progress).to_contain_text("question 1 of 3", timeout=20_000)
            shown.append(asked_now(page))
            page.locator("#opt-0").check()
            page.get_by_role("button", name="Save and continue").click()
            expect(progress).to_contain_text("question 2 of 3", timeout=20_000)
            shown.append(asked_now(page))
            assert shown[1] != shown[0]

            page.reload()  # resumes with the item chosen before the reload
            expect(progress).to_contain_text("question 2 of 3", timeout=20_000)
            assert asked_now(page) == shown[1]
            page.locator("#opt-1").check()
            page.keyboard.press("Enter")
            expect(progress).to_contain_text("question 3 of 3", timeout=20_000)
            shown.append(asked_now(page))
            page.locator("#opt-0").check()
            page.get_by_role("button", name="Save and continue").click()
            expect(page.locator("#waiting-screen")).to_be_visible(timeout=20_000)  # round 1 ends after 3 items
            expect(page.locator("#waiting-screen")).to_contain_text("not open yet")
        finally:
            browser.close()

    assert len(set(shown)) == 3
    paths = {p.name: p for p in export_study("adaptive-gss", workspace=workspace)}
    answers = pd.read_csv(paths["answers.csv"], dtype=str).sort_values("position")
    assert list(answers["question"]) == shown
    assert list(answers["adaptive"]) == ["1", "1", "1"] and list(answers["adaptive_position"]) == ["1", "2", "3"]
    assert answers["expected_gain"].astype(float).gt(0).all()
    not_asked = pd.read_csv(paths["not_asked.csv"], dtype=str)
    assert sorted(not_asked["question"]) == sorted(set(ITEMS) - set(shown))
    assert set(not_asked["status"]) == {"not asked (max_items)"}
