"""Headless Chromium (Debian's): a participant-platform link (?PROLIFIC_PID=...) with the study's own consent
wording; leaving and coming back through the same link resumes; the retest invitation and the completion code
are shown and the page returns to the platform's completion URL; the operator opens the retest early with the
button on the study operator page; the consent wording also reaches the interview page of a study with an
interview."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_study_browser import CHROMIUM, LiveServer

pytestmark = pytest.mark.browser

COMPLETE = "https://app.example.org/complete?cc=WAVE1"
EXTRA = f"""\
consent:
  text: |
    Study 2026-17, approved by the Ethics Board of Example University (EB-4411).

    - You can stop at any moment.
    - Questions: ethics@example.org
  retest_invitation: "Board-approved: please return on {{retest_at}}, {{retest_delay}} from now."
platform:
  id_param: PROLIFIC_PID
  completion_url: "{COMPLETE}"
  completion_code: WAVE1
  retest_completion_code: WAVE2
"""
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def launch(p):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (the CI script installs it)")
    return p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)


def test_platform_link_consent_resume_completion_and_operator_retest(make_study, app_factory, clock, workspace):
    from playwright.sync_api import expect, sync_playwright

    make_study(retest_days=14, extra=EXTRA)
    app = app_factory()
    token = app.state.operator_token
    with LiveServer(app) as base, sync_playwright() as p:
        browser = launch(p)
        try:
            link = f"{base}/study/join/s1?PROLIFIC_PID=5f1a2b3c4d5e6f7a8b9c0d1e&STUDY_ID=abc&SESSION_ID=xyz"
            context = browser.new_context(viewport={"width": 390, "height": 800})
            page = context.new_page()
            page.goto(link)
            page.wait_for_url(f"{base}/study#*", timeout=20_000)  # the platform id leaves the address
            assert "PROLIFIC_PID" not in page.url
            consent = page.locator("#consent-text")
            expect(consent).to_contain_text("approved by the Ethics Board of Example University", timeout=20_000)
            expect(consent.locator("li")).to_have_count(2)
            expect(consent).not_to_contain_text("two weeks")
            page.get_by_label("I have read this information and agree to take part.").check()
            page.get_by_role("button", name="Start").click()
            question = page.locator("#question-text")
            expect(question).to_contain_text("Which colour", timeout=20_000)
            page.get_by_label("Green").check()
            page.get_by_role("button", name="Save and continue").click()
            expect(question).to_contain_text("how happy")
            page.get_by_label("Pretty happy").check()
            page.get_by_role("button", name="Save and continue").click()
            expect(question).to_contain_text("hours do you sleep")
            context.close()  # the participant leaves

            # ... and comes back through the platform's link: the same participant, resumed
            context = browser.new_context(viewport={"width": 390, "height": 800})
            page = context.new_page()
            page.route("https://app.example.org/**", lambda route: route.fulfill(
                status=200, content_type="text/html", body="<title>Platform</title><h1>Submission complete</h1>"))
            page.goto(link)
            question = page.locator("#question-text")
            expect(question).to_contain_text("hours do you sleep", timeout=20_000)
            expect(page.locator("#progress")).to_contain_text("question 3 of 5")
            page.get_by_label("Your answer").fill("7")
            page.keyboard.press("Enter")
            expect(question).to_contain_text("Anything else")
            page.get_by_label("Your answer").fill("No.")
            page.get_by_role("button", name="Save and continue").click()
            expect(question).to_contain_text("$5")
            page.get_by_label("Your answer").fill("2")
            page.get_by_role("button", name="Save and continue").click()

            # the end of round 1: the study's retest wording, the completion code, then back to the platform
            waiting = page.locator("#waiting-screen")
            expect(waiting).to_contain_text("Board-approved: please return on", timeout=20_000)
            expect(waiting).to_contain_text("14 days from now")
            expect(waiting).not_to_contain_text("{retest_at}")
            expect(page.locator("#waiting-screen-code")).to_have_text("WAVE1")
            expect(page.locator("#waiting-screen-return")).to_have_attribute("href", COMPLETE)
            page.wait_for_url(COMPLETE, timeout=15_000)
            expect(page.get_by_role("heading", name="Submission complete")).to_be_visible()
            context.close()

            # the operator opens the retest early with the button (the test clock has not moved)
            operator = browser.new_page()
            operator.on("dialog", lambda dialog: dialog.accept())
            operator.goto(f"{base}/study/operator#{token}")
            expect(operator.locator("#studies")).to_contain_text("waiting for retest", timeout=20_000)
            expect(operator.locator("#studies")).to_contain_text("/study/join/s1?PROLIFIC_PID=")
            operator.get_by_role("button", name="Open retest now").click()
            expect(operator.locator("#notice")).to_contain_text("Retest opened", timeout=20_000)
            expect(operator.locator("#studies")).to_contain_text("opened early")
            expect(operator.get_by_role("button", name="Open retest now")).to_have_count(0)
            operator.close()

            # the participant comes back for round 2 through the platform link; the retest code at the end
            page = browser.new_context().new_page()
            page.route("https://app.example.org/**", lambda route: route.fulfill(status=200, body="ok"))
            page.goto(link)
            question = page.locator("#question-text")
            expect(page.locator("#progress")).to_contain_text("Second round", timeout=20_000)
            for asked, fill in (("Which colour", "Blue"), ("how happy", "Very happy"), ("hours do you sleep", "8"),
                                ("Anything else", "Same."), ("$5", "3")):
                expect(question).to_contain_text(asked, timeout=20_000)
                if fill in ("Blue", "Very happy"):
                    page.get_by_label(fill).check()
                else:
                    page.get_by_label("Your answer").fill(fill)
                page.get_by_role("button", name="Save and continue").click()
            expect(page.locator("#done-screen-code")).to_have_text("WAVE2", timeout=20_000)
        finally:
            browser.close()

    store = app.state.study_store
    (participant,) = store.participants("s1")
    assert participant.retest_opened_at is not None
    saved = store.answers("s1", participant.respondent)
    assert saved[(1, "mini", "color")] == "g" and saved[(1, "mini", "sleep")] == 7
    assert saved[(2, "mini", "color")] == "b" and saved[(2, "games", "dictator")] == 3


def test_custom_consent_text_on_the_interview_page(make_study, invite, app_factory):
    from playwright.sync_api import expect, sync_playwright

    make_study(interview=True, extra=EXTRA)
    (person,) = invite()
    app = app_factory()
    with LiveServer(app) as base, sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page()
            page.goto(f"{base}/study#{person.token}")
            page.wait_for_url(f"{base}/interview#*", timeout=20_000)
            consent = page.locator("#consent-screen .consent-text")
            expect(consent).to_contain_text("approved by the Ethics Board of Example University", timeout=20_000)
            expect(consent).not_to_contain_text("about two hours")
            expect(page.get_by_role("button", name="Start the interview")).to_be_visible()
        finally:
            browser.close()


def test_quota_full_page(tmp_path, workspace, app_factory):
    from playwright.sync_api import expect, sync_playwright

    from experiments.studies import create_study

    path = tmp_path / "quota.yaml"
    path.write_text("id: q1\ninterview: {required: false}\ninstruments:\n  - {id: about_you, questions: [about_sex]}\n"
                    "  - {id: gss, questions: [natspac]}\nplatform: {id_param: PID}\n"
                    "quotas: [{field: sex, cells: {female: 1, male: 0}}]\n")
    create_study(path, workspace=workspace)
    app = app_factory()
    with LiveServer(app) as base, sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page()
            page.goto(f"{base}/study/join/q1?PID=p1")
            page.get_by_label("I have read this information and agree to take part.").check(timeout=20_000)
            page.get_by_role("button", name="Start").click()
            page.get_by_label("male", exact=True).check(timeout=20_000)  # the male cell holds nobody
            page.get_by_role("button", name="Save and continue").click()
            expect(page.get_by_role("heading", name="This study is full")).to_be_visible(timeout=20_000)
            expect(page.locator("#question-text")).not_to_be_visible()
            page.reload()
            expect(page.get_by_role("heading", name="This study is full")).to_be_visible(timeout=20_000)
        finally:
            browser.close()
