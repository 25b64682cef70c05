"""The session engine with a fake clock and a scripted fake model: verbatim script, follow-up decisions,
budgets per question and block, declines, notes and bounded prompts, resume after a crash."""

from __future__ import annotations

import pytest

from interviewer.clock import FakeClock, SpeakingRateClock
from interviewer.engine import EngineSettings, InterviewSession, is_decline
from interviewer.errors import SessionStateError
from simulacra.llm import LLM, FakeBackend
from simulacra.transcript import read_transcript

from interview_fakes import InterviewerModel

ALWAYS = lambda prompt: "follow_up"  # noqa: E731
NEVER = lambda prompt: "move_on"  # noqa: E731


async def answer_all(session: InterviewSession, clock: FakeClock, seconds: float = 20.0, text=None) -> None:
    while (utterance := await session.next_utterance()) is not None:
        if utterance.expects_answer:
            clock.advance(seconds)
            await session.submit_answer(text(utterance) if text else f"Answer to turn {utterance.turn_index}.")


def scripted_spans(session: InterviewSession) -> dict[str, float]:
    """Seconds each script line took: from its scripted turn to the next scripted turn."""
    starts = [(t.question_id, t.started_at) for t in session.turns if t.kind in ("intro", "scripted", "closing")]
    return {qid: nxt - start for (qid, start), (_, nxt) in zip(starts, starts[1:])}


async def test_script_lines_are_asked_verbatim_and_a_pending_line_is_not_saved_twice(small_script, model, store, clock):
    session = InterviewSession.open(small_script, "ada", model.llm, store, clock)
    first, again = await session.next_utterance(), await session.next_utterance()
    assert first == again and first.kind == "intro" and first.turn_index == 0
    assert first.text == "Hi, Ada! My name is Isabella. Let's get started!"
    assert len(store.load("ada").turns) == 1
    await session.submit_answer("Sounds good.")
    assert model.backend.requests == []  # the intro has no budget: no follow-up decision
    question = await session.next_utterance()
    assert question.kind == "scripted" and question.text == small_script.blocks[1].questions[0].text
    # a page reload in another process: the same line comes back, nothing is saved again
    reopened = InterviewSession.open(small_script, "ada", model.llm, store, clock)
    assert await reopened.next_utterance() == question
    assert [t.index for t in store.load("ada").turns] == [0, 1, 2]


async def test_follow_up_and_move_on_are_honoured_and_recorded(small_script, store, clock):
    model = InterviewerModel()  # one follow-up per question, then move on
    session = InterviewSession.open(small_script, "bo", model.llm, store, clock)
    await answer_all(session, clock, seconds=10)
    turns = read_transcript(store.path("bo")).turns
    kinds = [(t.kind, t.question_id) for t in turns if t.speaker == "interviewer"]
    assert kinds == [
        ("intro", "intro"), ("scripted", "q002"), ("follow_up", "q002"), ("scripted", "q003"),
        ("follow_up", "q003"), ("scripted", "q110"), ("follow_up", "q110"), ("closing", "closing"),
    ]
    follow_up = next(t for t in turns if t.kind == "follow_up")
    decision = follow_up.meta["decision"]
    assert decision["action"] == "follow_up" and decision["about_turn"] == follow_up.index - 1
    assert decision["assessment"].startswith("The answer covers") and follow_up.text == decision["follow_up"]
    moved = next(t for t in turns if t.question_id == "q003" and t.kind == "scripted")
    assert moved.meta["decision"]["action"] == "move_on" and moved.meta["decision"]["reason"] == "objective_met"
    assert session.finished and await session.next_utterance() is None
    assert session.progress.question_number == 3 and session.progress.total_questions == 3
    # the prompt carried the objective, the question and the time left
    prompt = model.decision_prompts()[0]
    assert "Learn the main chapters of the person's life." in prompt and "about 110 seconds for this question" in prompt


async def test_a_question_never_runs_far_past_its_budget(small_script, store, clock):
    model = InterviewerModel(ALWAYS)
    session = InterviewSession.open(small_script, "cy", model.llm, store, clock)
    await answer_all(session, clock, seconds=25)
    spans = scripted_spans(session)
    follow_ups = [t for t in session.turns if t.kind == "follow_up" and t.question_id == "q002"]
    assert spans["q002"] == 125 and len(follow_ups) == 4  # 120 s budget: 5 answers of 25 s, the last one over
    next_line = next(t for t in session.turns if t.question_id == "q003" and t.kind == "scripted")
    assert next_line.meta["decision"]["reason"] == "time"
    for _, question in small_script.items():
        if question.kind == "question":
            assert spans[question.id] <= session.allowance(session._position_of[question.id]) + 25


async def test_unused_time_carries_to_later_questions_of_the_block_only(small_script, store, clock):
    model = InterviewerModel(NEVER)
    session = InterviewSession.open(small_script, "di", model.llm, store, clock)
    await answer_all(session, clock, seconds=10)
    scripted = {t.question_id: t for t in session.turns if t.kind in ("scripted", "closing")}
    assert scripted["q002"].meta["carry_s"] == 0
    assert scripted["q003"].meta["carry_s"] == 110  # q002 used 10 of its 120 s
    assert scripted["q110"].meta["carry_s"] == 0  # a new block starts from its own budgets
    assert scripted["q110"].meta["previous_block_unused_s"] == 180 - 20  # recorded, not silently lost


async def test_block_budget_holds_when_an_early_question_overruns(small_script, store, clock):
    model = InterviewerModel(ALWAYS)
    session = InterviewSession.open(small_script, "ed", model.llm, store, clock)
    await answer_all(session, clock, seconds=25)
    spans = scripted_spans(session)
    block_budget = small_script.blocks[1].budget_s
    assert spans["q002"] + spans["q003"] <= block_budget + 25
    q003 = next(t for t in session.turns if t.question_id == "q003" and t.kind == "scripted")
    assert q003.meta["carry_s"] == -5  # q002's overrun is paid back inside the block


async def test_a_declined_question_is_not_pushed(small_script, store, clock):
    model = InterviewerModel(ALWAYS)
    session = InterviewSession.open(small_script, "fa", model.llm, store, clock)
    await session.next_utterance()
    await session.submit_answer("ok")
    await session.next_utterance()
    clock.advance(5)
    await session.submit_answer("I'd rather not talk about that, it's private.")
    assert model.decision_prompts() == []
    nxt = await session.next_utterance()
    assert nxt.question_id == "q003" and nxt.kind == "scripted"
    decision = session.turns[-1].meta["decision"]
    assert decision["action"] == "move_on" and decision["reason"] == "declined"


def test_decline_detection():
    assert is_decline("I'd rather not say.") and is_decline("Pass") and is_decline("I don't want to talk about it")
    assert not is_decline("I grew up in Ohio with my two brothers.")
    long_story = "I would rather not have moved, honestly, but " + "we had to go where the work was " * 5
    assert not is_decline(long_story)


async def test_an_invalid_model_reply_moves_on_instead_of_stopping(small_script, store, clock):
    llm = LLM(FakeBackend(default="this is not json"))
    session = InterviewSession.open(small_script, "gu", llm, store, clock)
    await answer_all(session, clock)
    assert session.finished
    scripted = [t for t in session.turns if t.kind == "scripted" and "decision" in t.meta]
    assert any(t.meta["decision"]["reason"] == "model_error" for t in scripted)


async def test_notes_refresh_and_prompts_stay_bounded_in_a_very_long_session(default_script, store, clock):
    model = InterviewerModel(ALWAYS)
    # the same story every time would be a repeated answer (rephrased, then moved on): answer checks off here
    settings = EngineSettings(notes_every=4, check_answers=False)
    session = InterviewSession.open(default_script, "long", model.llm, store, clock, settings=settings)
    story = "I remember the years in Dayton, the plant closing, and raising my kids while working nights. " * 20
    await answer_all(session, clock, seconds=30, text=lambda u: f"[{u.turn_index}] {story}")
    transcript_chars = sum(len(t.text) for t in session.turns)
    answers = sum(1 for t in session.turns if t.speaker == "respondent")
    assert transcript_chars > 300_000 and answers > 200
    decisions, notes = model.decision_prompts(), model.notes_prompts()
    assert max(map(len, decisions)) < 13_000  # 5,000 characters of conversation + capped notes + the question
    assert max(map(len, notes)) < 14_000
    assert len(notes) >= answers // 4 - 1
    assert session.notes.updated_at_turn > len(session.turns) - 10
    assert len(session.notes.bullets) <= 20 and all(len(b) <= 120 for b in session.notes.bullets)
    assert store.load_notes("long") == session.notes
    late = decisions[-1]
    assert all(f"- {bullet}" in late for bullet in session.notes.bullets[-3:])  # the notes reach the prompt
    assert len(decisions[-1]) - len(decisions[len(decisions) // 2]) < 2_000  # no growth with length


async def test_a_killed_session_resumes_at_the_next_turn_with_nothing_lost_or_repeated(small_script, tmp_path):
    from interviewer.storage import TranscriptStore

    reference_store, store = TranscriptStore(tmp_path / "ref"), TranscriptStore(tmp_path / "run")
    reference_clock, clock = FakeClock(), FakeClock()
    reference = InterviewSession.open(small_script, "p", InterviewerModel().llm, reference_store, reference_clock)
    await answer_all(reference, reference_clock)

    model = InterviewerModel()
    crash = {"now": False}
    policy = model.policy

    def crashing(prompt):
        if crash["now"]:
            raise RuntimeError("process killed")
        return policy(prompt)

    model.policy = crashing

    def reopen():
        return InterviewSession.open(small_script, "p", model.llm, store, clock)

    session = reopen()
    await session.next_utterance()  # killed while the intro is on screen
    session = reopen()
    utterance = await session.next_utterance()
    assert utterance.turn_index == 0
    clock.advance(20)
    await session.submit_answer(f"Answer to turn {utterance.turn_index}.")
    utterance = await session.next_utterance()  # q002
    clock.advance(20)
    await session.submit_answer(f"Answer to turn {utterance.turn_index}.")  # decided: follow up
    calls = len(model.backend.requests)
    session = reopen()  # killed after the decision was saved: it is not asked again
    utterance = await session.next_utterance()
    assert utterance.kind == "follow_up" and len(model.backend.requests) == calls
    crash["now"] = True
    clock.advance(20)
    with pytest.raises(RuntimeError):  # killed after the answer was saved, before the decision
        await session.submit_answer(f"Answer to turn {utterance.turn_index}.")
    crash["now"] = False
    session = reopen()
    assert session.turns[-1].text == f"Answer to turn {utterance.turn_index}."
    await answer_all(session, clock)

    def view(s):
        return [(t.index, t.speaker, t.kind, t.question_id, t.text, t.started_at) for t in read_transcript(s.store.path("p")).turns]

    assert view(session) == view(reference)  # same turns, same times: nothing lost, nothing repeated
    assert store.load_notes("p") == reference_store.load_notes("p")


async def test_skip_moves_to_the_next_question_and_survives_a_restart(small_script, store, clock):
    model = InterviewerModel(ALWAYS)
    session = InterviewSession.open(small_script, "sk", model.llm, store, clock)
    await session.next_utterance()
    await session.submit_answer("ok")
    assert (await session.next_utterance()).question_id == "q002"
    session.skip()
    session = InterviewSession.open(small_script, "sk", model.llm, store, clock)
    nxt = await session.next_utterance()
    assert nxt.question_id == "q003" and nxt.kind == "scripted"
    assert session.turns[-1].meta["decision"]["action"] == "skip"
    clock.advance(10)
    await session.submit_answer("A long story about a crossroads.")  # the model wants a follow-up ...
    session.skip()  # ... but the respondent skips it
    assert (await session.next_utterance()).question_id == "q110"


async def test_end_pause_and_state_errors(small_script, default_script, store, clock):
    model = InterviewerModel(NEVER)
    session = InterviewSession.open(small_script, "en", model.llm, store, clock)
    with pytest.raises(SessionStateError, match="next_utterance"):
        await session.submit_answer("too early")
    await session.next_utterance()
    clock.advance(10)
    session.pause()
    clock.advance(600)  # a break does not count
    session.resume()
    assert session.elapsed() == 10
    with pytest.raises(SessionStateError, match="script 'small'"):
        InterviewSession.open(default_script, "en", model.llm, store, clock)
    session.end()
    assert session.finished and await session.next_utterance() is None
    assert InterviewSession.open(small_script, "en", model.llm, store, clock).finished
    with pytest.raises(SessionStateError, match="finished"):
        await session.submit_answer("late")


async def test_closing_line_expects_no_answer(small_script, store, clock):
    model = InterviewerModel(NEVER)
    session = InterviewSession.open(small_script, "cl", model.llm, store, clock)
    seen = []
    while (u := await session.next_utterance()) is not None:
        seen.append(u)
        if u.expects_answer:
            await session.submit_answer("Yes.")
    assert seen[-1].kind == "closing" and not seen[-1].expects_answer
    assert seen[-1].text == "That was the last question. Thank you so much for your time, Cl!"
    assert session.ended == "completed"


async def test_speaking_rate_clock_paces_typed_sessions(small_script, store):
    clock = SpeakingRateClock(words_per_minute=150, turn_gap_s=1.0)
    clock.spoken("word " * 150)
    assert clock.now() == 61.0
    clock.spoken("anything", duration_s=4.0)  # a known duration wins over the estimate
    assert clock.now() == 66.0
    model = InterviewerModel(NEVER)
    session = InterviewSession.open(small_script, "sr", model.llm, store, SpeakingRateClock())
    await session.next_utterance()
    await session.submit_answer("yes " * 300)  # two minutes of speech
    answer = session.turns[-1]
    assert answer.ended_at - answer.started_at == pytest.approx(121.0)


async def test_replies_with_raw_line_breaks_are_accepted_and_invalid_ones_repaired_once(small_script, store, clock):
    replies = iter([
        '{"assessment": "The story\nis partial.", "action": "follow_up", "follow_up": ""}',  # invalid: empty follow-up
        '{"assessment": "The story\nis partial.", "action": "follow_up", "follow_up": "Where did you\ngrow up?"}',
    ])
    backend = FakeBackend(default=lambda request: next(replies))
    session = InterviewSession.open(small_script, "nl", LLM(backend), store, clock)
    await session.next_utterance()
    await session.submit_answer("ok")
    await session.next_utterance()
    clock.advance(10)
    await session.submit_answer("I was born in 1970 and grew up poor.")
    follow_up = await session.next_utterance()
    assert follow_up.kind == "follow_up" and follow_up.text == "Where did you grow up?"
    repair = backend.requests[-1].messages[-1]["content"]  # an empty follow-up fails the checks: asked again
    assert "cannot be said" in repair and "question_shape: is empty" in repair
