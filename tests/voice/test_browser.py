"""A real browser interview: headless Chromium (Debian's) with a fake microphone playing a WAV made by the
offline voice goes through consent, a typed and a spoken turn; the transcript on disk holds the recognised words.
The interviewer model is scripted (FakeBackend) so the interview's path is fixed."""

from __future__ import annotations

import asyncio
import io
import re
import socket
import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from interviewer.engine import ACKNOWLEDGEMENTS
from interviewer.web.app import create_app
from simulacra.llm import LLM, FakeBackend
from simulacra.transcript import read_transcript
from conftest import FOLLOW_UP, interviewer_reply

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
SPOKEN = "I grew up in a small town in Ohio near the river."


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


def padded_wav(wav: bytes, lead_s: float = 0.4, tail_s: float = 1.2) -> tuple[bytes, float]:
    """The answer with silence around it (people pause before and after speaking)."""
    with wave.open(io.BytesIO(wav)) as source:
        rate, pcm = source.getframerate(), source.readframes(source.getnframes())
    silence = lambda s: np.zeros(int(rate * s), dtype=np.int16).tobytes()  # noqa: E731
    out = io.BytesIO()
    with wave.open(out, "wb") as sink:
        sink.setnchannels(1), sink.setsampwidth(2), sink.setframerate(rate)
        sink.writeframes(silence(lead_s) + pcm + silence(tail_s))
    return out.getvalue(), (len(pcm) / 2) / rate + lead_s + tail_s


def test_two_spoken_turns_in_a_real_browser(tmp_path, workspace, fake_llm, voice_script, offline_stt, offline_tts):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (the CI script installs it)")
    from playwright.sync_api import expect, sync_playwright

    wav, seconds = padded_wav(offline_tts.synthesize(SPOKEN))
    mic = tmp_path / "answer.wav"
    mic.write_bytes(wav)

    app = create_app(workspace, llm=fake_llm, script=voice_script, stt=offline_stt, tts=offline_tts, operator_token="op-" + "x" * 30)
    token, invitation = app.state.registry.invite("browser-1")

    with LiveServer(app) as base, sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={mic}",
                "--autoplay-policy=no-user-gesture-required",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            context = browser.new_context()
            context.grant_permissions(["microphone"], origin=base)
            page = context.new_page()
            page.goto(f"{base}/interview#{token}")

            # consent
            expect(page.get_by_role("heading", name="Before we begin")).to_be_visible()
            page.get_by_label("What should Isabella call you? (optional)").fill("Ada")
            page.get_by_label("I have read this information and agree to take part.").check()
            page.get_by_role("button", name="Start the interview").click()

            subtitles = page.locator("#subtitles")
            expect(subtitles).to_contain_text("Hi, Ada!", timeout=30_000)
            record = page.get_by_role("button", name="Start answering")

            def speak_one_answer() -> None:
                expect(record).to_be_enabled(timeout=30_000)
                record.click()
                stop = page.get_by_role("button", name="Stop and send answer")
                expect(stop).to_be_visible()
                page.wait_for_timeout(int(seconds * 1000) + 300)
                stop.click()

            # turn 1: answer the intro by typing (the fake microphone can only say one thing, and the
            # interviewer notices an answer repeated word for word)
            page.get_by_role("button", name="Type your answer instead").click()
            page.get_by_label("Your answer").fill("Sounds good, let's start.")
            page.get_by_role("button", name="Send typed answer").click()
            expect(subtitles).to_contain_text("story of your life", timeout=60_000)
            expect(page.locator("#saved")).to_contain_text("Saved")
            expect(page.locator("#progress")).to_contain_text("Question 1 of 3")

            # turn 2: answer the life-story question aloud; the scripted model follows up
            speak_one_answer()
            expect(page.locator("#heard")).to_contain_text("Ohio", timeout=60_000)
            expect(subtitles).to_have_text(FOLLOW_UP, timeout=60_000)
            expect(page.locator("#error")).to_be_hidden()
            page.screenshot(path=str(tmp_path / "interview.png"))
        finally:
            browser.close()

    transcript = read_transcript(workspace.transcripts / "browser-1.jsonl")
    answers = [t for t in transcript.turns if t.speaker == "respondent"]
    assert [a.question_id for a in answers] == ["intro", "q002"]
    assert answers[0].text == "Sounds good, let's start."
    spoken = answers[1]
    heard = set(spoken.text.lower().replace(",", " ").replace(".", " ").split())
    assert {"small", "town", "ohio", "river"} <= heard, spoken.text
    assert spoken.meta["duration_s"] > 2
    assert transcript.turns[-1].text == FOLLOW_UP
    assert transcript.meta["name"] == "Ada"


def test_withdrawal_from_the_respondents_page_and_the_operator_view(tmp_path, workspace, fake_llm, voice_script):
    """Typed answers (speech off), then the respondent withdraws from their page; the operator withdraws another."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (the CI script installs it)")
    from playwright.sync_api import expect, sync_playwright

    operator = "op-" + "y" * 30
    app = create_app(workspace, llm=fake_llm, script=voice_script, stt=None, tts=None, operator_token=operator)
    token, _ = app.state.registry.invite("browser-2")
    app.state.registry.invite("browser-3")
    (workspace.transcripts / "browser-3.jsonl").write_text('{"type": "header", "respondent": "browser-3"}\n')

    with LiveServer(app) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_context().new_page()
            page.on("dialog", lambda dialog: dialog.accept())  # "This cannot be undone" -> OK
            page.goto(f"{base}/interview#{token}")
            page.get_by_label("I have read this information and agree to take part.").check()
            page.get_by_role("button", name="Start the interview").click()
            expect(page.locator("#subtitles")).to_contain_text("Hi, friend!", timeout=30_000)
            page.get_by_label("Your answer").fill("I kept bees on the roof of a lighthouse.")
            page.get_by_role("button", name="Send typed answer").click()
            expect(page.locator("#subtitles")).to_contain_text("story of your life", timeout=30_000)
            assert "lighthouse" in (workspace.transcripts / "browser-2.jsonl").read_text()

            page.get_by_text("Withdraw from the study").click()
            page.get_by_role("button", name="Delete my interview and withdraw").click()
            expect(page.get_by_role("heading", name="Your interview is deleted")).to_be_visible(timeout=30_000)
            assert not (workspace.transcripts / "browser-2.jsonl").exists()

            op = browser.new_context().new_page()
            op.on("dialog", lambda dialog: dialog.accept())
            op.goto(f"{base}/operator#{operator}")
            button = op.get_by_role("button", name="Withdraw browser-3")
            expect(button).to_be_visible(timeout=30_000)
            button.click()
            expect(op.get_by_role("button", name="Withdraw browser-3")).to_have_count(0, timeout=30_000)
        finally:
            browser.close()
    assert not (workspace.transcripts / "browser-3.jsonl").exists()
    assert len((workspace.root / "withdrawals.jsonl").read_text().splitlines()) == 2


class SlowDecisions(FakeBackend):
    """The scripted interviewer model, taking `seconds` for each follow-up decision (like the embedded model)."""

    def __init__(self, seconds: float):
        super().__init__(default=interviewer_reply)
        self.seconds = seconds

    async def complete(self, request):
        if request.schema_name == "FollowUpDecision":
            await asyncio.sleep(self.seconds)
        return await super().complete(request)


def test_an_acknowledgement_plays_while_the_interviewer_decides(tmp_path, workspace, voice_script, offline_tts):
    """The model takes 3 s to decide: the page hears "I see." (or another short acknowledgement) at once, then
    the follow-up, and the answer controls come back only for the follow-up."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (the CI script installs it)")
    from playwright.sync_api import expect, sync_playwright

    app = create_app(workspace, llm=LLM(SlowDecisions(3.0)), script=voice_script, stt=None, tts=offline_tts,
                     operator_token="op-" + "w" * 30)
    token, _ = app.state.registry.invite("browser-4")
    with LiveServer(app) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required"])
        try:
            page = browser.new_context().new_page()
            page.goto(f"{base}/interview#{token}")
            page.get_by_label("I have read this information and agree to take part.").check()
            page.get_by_role("button", name="Start the interview").click()
            subtitles, send = page.locator("#subtitles"), page.get_by_role("button", name="Send typed answer")
            expect(subtitles).to_contain_text("Hi, friend!", timeout=30_000)
            page.get_by_label("Your answer").fill("Sounds good, let's start.")
            send.click()
            expect(subtitles).to_contain_text("story of your life", timeout=30_000)
            expect(send).to_be_enabled(timeout=30_000)
            page.get_by_label("Your answer").fill("I grew up in a small town in Ohio near the river, then taught school.")
            send.click()
            expect(subtitles).to_have_text(re.compile("^(" + "|".join(map(re.escape, ACKNOWLEDGEMENTS)) + ")$"), timeout=10_000)
            expect(send).to_be_disabled()  # an acknowledgement expects no answer
            expect(subtitles).to_have_text(FOLLOW_UP, timeout=60_000)
            expect(send).to_be_enabled(timeout=30_000)
            expect(page.locator("#error")).to_be_hidden()
        finally:
            browser.close()
    turns = read_transcript(workspace.transcripts / "browser-4.jsonl").turns
    assert [t.kind for t in turns] == ["intro", "answer", "scripted", "answer", "acknowledgement", "follow_up"]
    assert turns[-1].text == FOLLOW_UP and turns[-1].meta["decision"]["about_turn"] == 3
