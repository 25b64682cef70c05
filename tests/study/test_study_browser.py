"""A real browser study: headless Chromium (Debian's) goes through consent and a short typed interview, is
handed on to the surveys, answers a question of every kind by keyboard and clicks (a bad number first),
reloads mid-survey and resumes at the first unanswered question; the test clock opens the retest on the same
link; the export holds both waves with the right codes."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """uvicorn in a background thread on a loopback port; stops when the test ends."""

    def __init__(self, app):
        import uvicorn

        self.port = _free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.time() + 30
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.05)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def test_study_in_a_real_browser(tmp_path, workspace, make_study, invite, app_factory, clock):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (the CI script installs it)")
    from playwright.sync_api import expect, sync_playwright

    from experiments.studies import export_study

    make_study(interview=True)
    (person,) = invite()
    app = app_factory()

    with LiveServer(app) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                          "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_context(viewport={"width": 390, "height": 800}).new_page()  # a phone's width
            page.goto(f"{base}/study#{person.token}")

            # The study link starts with the interview (consent, typed answers), then hands over to the surveys.
            expect(page.get_by_role("heading", name="Before we begin")).to_be_visible(timeout=20_000)
            page.get_by_label("I have read this information and agree to take part.").check()
            page.get_by_role("button", name="Start the interview").click()
            box = page.locator("#typed-answer")
            for asked, text in (("get started", "Hello, sounds good."), ("story of your life", "I grew up in a small town and became a teacher."),
                                ("value the most", "My family and honesty.")):
                expect(page.locator("#subtitles")).to_contain_text(asked, timeout=20_000)
                expect(page.get_by_role("button", name="Send typed answer")).to_be_enabled(timeout=20_000)
                box.fill(text)
                page.get_by_role("button", name="Send typed answer").click()
            page.wait_for_url(f"{base}/study#*", timeout=20_000)  # handed over when the interview is finished

            question = page.locator("#question-text")
            progress = page.locator("#progress")
            expect(question).to_contain_text("Which colour", timeout=20_000)
            expect(progress).to_contain_text("question 1 of 5")

            # categorical, by keyboard: Tab to the options, arrow to the second, Enter submits the form
            page.locator("#question-text").focus()
            page.keyboard.press("Tab")
            page.keyboard.press("ArrowDown")
            expect(page.get_by_label("Green")).to_be_checked()
            page.keyboard.press("Enter")
            expect(question).to_contain_text("how happy")

            # ordinal, by click
            page.get_by_label("Pretty happy").click()
            page.get_by_role("button", name="Save and continue").click()
            expect(question).to_contain_text("hours do you sleep")

            # numeric: out of range first (a clear error, nothing saved), then by keyboard
            number = page.get_by_label("Your answer")
            number.fill("20")
            page.get_by_role("button", name="Save and continue").click()
            expect(page.locator("#error")).to_contain_text("from 0 to 16 hours")
            expect(question).to_contain_text("hours do you sleep")

            # a reload mid-survey resumes at the first unanswered question
            page.reload()
            expect(question).to_contain_text("hours do you sleep", timeout=20_000)
            expect(progress).to_contain_text("question 3 of 5")
            page.get_by_label("Your answer").fill("7")
            page.keyboard.press("Enter")
            expect(question).to_contain_text("Anything else")

            # open
            page.get_by_label("Your answer").fill("Nothing more, thanks.")
            page.get_by_role("button", name="Save and continue").click()

            # the economic game shows its stakes
            expect(question).to_contain_text("$5")
            expect(page.locator("#stakes")).to_contain_text("endowment $5")
            page.get_by_label("Your answer").fill("2.5")
            page.get_by_role("button", name="Save and continue").click()
            expect(page.get_by_role("heading", name="Thank you — see you again soon")).to_be_visible()

            # the same link before the delay: not yet
            page.reload()
            expect(page.locator("#waiting-screen")).to_contain_text("not open yet", timeout=20_000)

            # the test clock opens the retest on the same link: the same questions, no interview
            clock.advance(days=14, minutes=1)
            page.reload()
            expect(progress).to_contain_text("Second round", timeout=20_000)
            expect(question).to_contain_text("Which colour")
            page.get_by_label("Blue").check()
            page.get_by_role("button", name="Save and continue").click()
            expect(question).to_contain_text("how happy")
            page.get_by_label("Very happy").check()
            page.keyboard.press("Enter")
            expect(question).to_contain_text("hours do you sleep")
            page.get_by_label("Your answer").fill("8")
            page.keyboard.press("Enter")
            expect(question).to_contain_text("Anything else")
            page.get_by_label("Your answer").fill("Same as before.")
            page.get_by_role("button", name="Save and continue").click()
            expect(question).to_contain_text("$5")
            page.get_by_label("Your answer").fill("3")
            page.get_by_role("button", name="Save and continue").click()
            expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
            expect(page.locator("#done-screen")).to_be_visible()
        finally:
            browser.close()

    paths = {p.name: p for p in export_study("s1", workspace=workspace)}
    frame = pd.read_csv(paths["responses.csv"], dtype=str)
    got = {(row.question, row.wave): row.value for row in frame.itertuples()}
    assert got == {
        ("color", "1"): "g", ("happy", "1"): "2", ("sleep", "1"): "7", ("note", "1"): "Nothing more, thanks.", ("dictator", "1"): "2.5",
        ("color", "2"): "b", ("happy", "2"): "1", ("sleep", "2"): "8", ("note", "2"): "Same as before.", ("dictator", "2"): "3.0",
    }
