"""Deciding in the background (the voice settings, issue #25): a rule decides at once, the model's decision and the
notes run while the interviewer already speaks, a slow decision gets a neutral acknowledgement said first, and the
transcript keeps exactly what was said, in order, with the same decisions as a session that waits."""

from __future__ import annotations

import asyncio

from interviewer.clock import FakeClock
from interviewer.engine import ACKNOWLEDGEMENTS, EngineSettings, InterviewSession
from simulacra.transcript import read_transcript

from interview_fakes import InterviewerModel

VOICE = EngineSettings(decide_in_background=True, acknowledge_after_s=0.05)
LIFE_STORY = "I was born in Ohio, grew up near the river, became a teacher and raised two daughters there."


def hold(model: InterviewerModel, *schemas: str) -> asyncio.Event:
    """Hold the model's calls of these kinds (FollowUpDecision, NotesUpdate...) until the event is set."""
    gate = asyncio.Event()
    complete = model.backend.complete

    async def held(request):
        if request.schema_name in schemas:
            await gate.wait()
        return await complete(request)

    model.backend.complete = held  # type: ignore[method-assign]
    return gate


def slow(model: InterviewerModel, seconds: float) -> None:
    complete = model.backend.complete

    async def slowed(request):
        await asyncio.sleep(seconds)
        return await complete(request)

    model.backend.complete = slowed  # type: ignore[method-assign]


def waiting_decisions(model: InterviewerModel) -> int:
    return sum(1 for r in model.backend.requests if r.schema_name == "FollowUpDecision")


async def to_life_story(session: InterviewSession) -> None:
    intro = await session.next_utterance()
    assert intro.kind == "intro"
    await session.submit_answer("Sounds good.")
    question = await session.next_utterance()
    assert question.kind == "scripted" and question.question_id == "q002"


async def test_an_acknowledgement_is_said_before_a_slow_decision_and_the_transcript_keeps_the_order(small_script, store, clock):
    model = InterviewerModel()  # one follow-up per question
    gate = hold(model, "FollowUpDecision")
    session = InterviewSession.open(small_script, "ada", model.llm, store, clock, settings=VOICE)
    await to_life_story(session)
    assert model.backend.requests == []  # the intro's answer was decided by rule: no model call, no acknowledgement

    await session.submit_answer(LIFE_STORY)  # returns once the answer is saved; the model decides meanwhile
    first = await session.next_utterance()
    assert first.kind == "acknowledgement" and first.text in ACKNOWLEDGEMENTS and not first.expects_answer
    assert session.busy and not gate.is_set()  # the decision is still being made ...
    on_disk = read_transcript(store.path("ada")).turns
    assert [t.kind for t in on_disk][-2:] == ["answer", "acknowledgement"]  # ... and the acknowledgement is saved
    assert on_disk[-1].meta["acknowledges"] == on_disk[-2].index and session.pending is None

    gate.set()
    follow_up = await session.next_utterance()
    assert follow_up.kind == "follow_up" and follow_up.expects_answer and not session.busy
    turns = read_transcript(store.path("ada")).turns
    assert [(t.speaker, t.kind) for t in turns] == [
        ("interviewer", "intro"), ("respondent", "answer"), ("interviewer", "scripted"), ("respondent", "answer"),
        ("interviewer", "acknowledgement"), ("interviewer", "follow_up"),
    ]
    decision = turns[-1].meta["decision"]
    assert decision["about_turn"] == 3 and decision["reason"] == "model" and turns[-1].text == decision["follow_up"]
    assert first.text not in model.decision_prompts()[0]  # the model never sees the acknowledgement
    conversation = model.decision_prompts()[0].split("Most recent part of the conversation:")[1]
    assert "Let's get started!" not in conversation and "Interviewee: Sounds good." in conversation  # no intro text
    assert await session.next_utterance() == follow_up  # waiting for its answer: the same line again


async def test_a_fast_decision_needs_no_acknowledgement(small_script, store, clock):
    model = InterviewerModel()
    session = InterviewSession.open(small_script, "bo", model.llm, store, clock,
                                    settings=EngineSettings(decide_in_background=True, acknowledge_after_s=5.0))
    await to_life_story(session)
    await session.submit_answer(LIFE_STORY)
    line = await session.next_utterance()
    assert line.kind == "follow_up" and all(t.kind != "acknowledgement" for t in session.turns)


async def test_rule_decisions_speak_at_once_while_the_notes_are_refreshed_in_the_background(small_script, store, clock):
    model = InterviewerModel(lambda prompt: "move_on")
    gate = hold(model, "NotesUpdate")
    settings = EngineSettings(decide_in_background=True, acknowledge_after_s=0.0, notes_every=2, min_follow_up_s=30)
    session = InterviewSession.open(small_script, "cy", model.llm, store, clock, settings=settings)
    await to_life_story(session)
    clock.advance(100)  # 20 s of q002's 120 s left: "no time left" decides, not the model
    await session.submit_answer(LIFE_STORY)  # the second answer: notes are due
    line = await session.next_utterance()
    assert line.kind == "scripted" and line.question_id == "q003"  # said while the notes refresh is held
    assert session.busy and waiting_decisions(model) == 0 and session.notes.updated_at_turn == -1
    assert session.turns[line.turn_index].meta["decision"]["reason"] == "time"
    gate.set()
    while session.busy:
        await asyncio.sleep(0.01)
    notes = store.load("cy").notes
    assert notes.updated_at_turn == 3  # up to the answer it was due after, not the line said since
    assert "Interviewee: " + LIFE_STORY in model.notes_prompts()[0]
    assert small_script.blocks[1].questions[1].text not in model.notes_prompts()[0]


async def test_the_voice_settings_say_the_same_lines_and_decisions_as_a_session_that_waits(small_script, tmp_path):
    from interviewer.storage import TranscriptStore

    answers = [
        "Sounds good, let's start.", LIFE_STORY, "My father worked at the steel mill and my mother was a nurse in town.",
        "Moving to Chicago for college was the crossroads; I studied accounting there.",
        "Losing my job in two thousand nine sent me back to school, and I met my wife there.",
        "Family matters most to me, and being honest with people.", "My daughters, and the garden we keep together.",
    ]

    def answer(number: int) -> str:
        return answers[number % len(answers)]

    async def interview(settings: EngineSettings, delay: float) -> tuple[list, list]:
        model = InterviewerModel()  # a follow-up on each question, then move on
        if delay:
            slow(model, delay)
        store, clock = TranscriptStore(tmp_path / f"t{delay}"), FakeClock()
        session = InterviewSession.open(small_script, "dee", model.llm, store, clock, settings=settings)
        answered = 0
        while (utterance := await session.next_utterance()) is not None:
            if utterance.expects_answer:
                clock.advance(10)
                await session.submit_answer(answer(answered))
                answered += 1
        turns = read_transcript(store.path("dee")).turns
        return turns, model.decision_prompts() + model.notes_prompts()

    waited, waited_prompts = await interview(EngineSettings(notes_every=2), 0.0)
    voiced, voiced_prompts = await interview(EngineSettings(notes_every=2, decide_in_background=True, acknowledge_after_s=0.0), 0.02)

    def lines(turns):
        return [(t.speaker, t.kind, t.text) for t in turns if t.kind != "acknowledgement"]

    def decisions(turns):  # about_turn as the answer's words (acknowledgements shift turn numbers)
        return [{**{k: v for k, v in t.meta["decision"].items() if k != "model_s"}, "about_turn": turns[t.meta["decision"]["about_turn"]].text}
                for t in turns if "decision" in t.meta]

    assert lines(voiced) == lines(waited) and decisions(voiced) == decisions(waited)
    assert sorted(voiced_prompts) == sorted(waited_prompts)  # the model saw exactly the same prompts
    acknowledged = [t for t in voiced if t.kind == "acknowledgement"]
    model_decided = [t for t in waited if (t.meta.get("decision") or {}).get("reason") in ("model", "objective_met")]
    assert len(acknowledged) == len(model_decided) == 6  # one before each model decision, none before a rule's
    for ack in acknowledged:  # each right after the answer it acknowledges, the decided line right after it
        assert voiced[ack.index - 1].speaker == "respondent" and ack.meta["acknowledges"] == ack.index - 1
        assert voiced[ack.index + 1].meta["decision"]["about_turn"] == ack.index - 1


async def test_a_skip_while_the_model_decides_drops_the_decision(small_script, store, clock):
    model = InterviewerModel()
    hold(model, "FollowUpDecision")  # never released
    session = InterviewSession.open(small_script, "eve", model.llm, store, clock, settings=VOICE)
    await to_life_story(session)
    await session.submit_answer(LIFE_STORY)
    assert (await session.next_utterance()).kind == "acknowledgement"
    session.skip()
    line = await session.next_utterance()
    assert line.question_id == "q003" and session.turns[line.turn_index].meta["decision"]["action"] == "skip"
    await asyncio.sleep(0.01)  # the cancelled decision ends at its next step
    assert not session.busy and waiting_decisions(model) == 0  # it never reached the model


async def test_a_session_killed_after_the_acknowledgement_decides_again_on_resume(small_script, store, clock):
    model = InterviewerModel()
    hold(model, "FollowUpDecision")  # the first process dies before its model answers
    session = InterviewSession.open(small_script, "flo", model.llm, store, clock, settings=VOICE)
    await to_life_story(session)
    await session.submit_answer(LIFE_STORY)
    ack = await session.next_utterance()
    await session.close()  # stops the background work; nothing more is written by this session
    assert not session.busy and store.load_state("flo")["decision"] is None

    fresh = InterviewerModel()
    resumed = InterviewSession.open(small_script, "flo", fresh.llm, store, clock, settings=VOICE)
    line = await resumed.next_utterance()  # no second acknowledgement: one was said for this answer
    assert line.kind == "follow_up" and line.turn_index == ack.turn_index + 1
    assert resumed.turns[-1].meta["decision"]["about_turn"] == ack.turn_index - 1
    assert ack.text not in fresh.decision_prompts()[0].split("Most recent part of the conversation:")[1]
    assert [t.kind for t in read_transcript(store.path("flo")).turns].count("acknowledgement") == 1
