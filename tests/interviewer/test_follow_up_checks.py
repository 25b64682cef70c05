"""The engine with the checks (issue #14): a refused follow-up is regenerated once, then replaced by a curated
probe or moving on, and the decision records why; an answer that is not an answer gets one rephrase, then the
interview moves on; an agent respondent's non-answers are asked for again once. The engine never says a
follow-up that fails the checks."""

from __future__ import annotations

import itertools
import random
from typing import Any, Sequence

import pytest

from interviewer import engine as engine_module
from interviewer.agent_loop import interview_agent
from interviewer.engine import Decision, EngineSettings, InterviewSession
from interviewer.validation import NEUTRAL_PROBES
from simulacra.agent import Agent
from surveys.model import Answer, AnswerStatus

from interview_fakes import InterviewerModel, assert_follow_ups_pass
from test_validation import ISSUE_AGENT_ANSWER, ISSUE_LOOP, ISSUE_PROMPT

FOLLOW_ONCE = lambda prompt: "follow_up" if "asked on this question: 0." in prompt else "move_on"  # noqa: E731


async def start(session: InterviewSession, clock, answer: str = "I grew up on a farm near Dayton, Ohio.") -> None:
    """Intro answered, the first question (q002, life story) asked and answered."""
    await session.next_utterance()
    await session.submit_answer("Sounds good.")
    await session.next_utterance()
    clock.advance(10)
    await session.submit_answer(answer)


def follow_up_turns(session: InterviewSession):
    return [t for t in session.turns if t.kind == "follow_up"]


async def test_the_issues_two_follow_ups_are_never_spoken_a_probe_is(small_script, store, clock):
    model = InterviewerModel(FOLLOW_ONCE, follow_ups=[ISSUE_LOOP, ISSUE_PROMPT])
    session = InterviewSession.open(small_script, "iss", model.llm, store, clock)
    await start(session, clock)
    said = await session.next_utterance()
    assert said.kind == "follow_up" and said.text in NEUTRAL_PROBES
    decision = Decision.model_validate(session.turns[-1].meta["decision"])
    assert decision.schema_version == 1 and decision.action == "follow_up"
    assert decision.reason == "probe" and decision.source == "probe"
    assert [p.text for p in decision.proposals] == [ISSUE_LOOP, ISSUE_PROMPT]
    assert not any(p.ok for p in decision.proposals)
    assert "right_party" in decision.proposals[0].problems and "no_prompt_text" in decision.proposals[1].problems
    # the regeneration told the model what was wrong
    regenerate = model.backend.requests[-1].messages[-1]["content"]
    assert "cannot be said" in regenerate and "right_party" in regenerate
    assert len(model.decision_prompts()) == 2  # asked, regenerated once, then the safe move


async def test_a_refused_follow_up_is_regenerated_once(small_script, store, clock):
    good = "You grew up on a farm; what was a normal day there like?"
    model = InterviewerModel(FOLLOW_ONCE, follow_ups=["As an AI, I cannot grow up. Ask me anything.", good])
    session = InterviewSession.open(small_script, "reg", model.llm, store, clock)
    await start(session, clock)
    said = await session.next_utterance()
    assert said.text == good
    decision = session.turns[-1].meta["decision"]
    assert decision["reason"] == "model" and decision["source"] == "regenerated"
    assert [p["ok"] for p in decision["proposals"]] == [False, True]
    assert decision["model_s"] >= 0


async def test_with_no_probe_left_the_interview_moves_on(small_script, store, clock, monkeypatch):
    monkeypatch.setattr(engine_module, "pick_probe", lambda *a, **k: None)
    model = InterviewerModel(FOLLOW_ONCE, follow_ups=[ISSUE_PROMPT, ISSUE_PROMPT])
    session = InterviewSession.open(small_script, "nop", model.llm, store, clock)
    await start(session, clock)
    said = await session.next_utterance()
    assert said.kind == "scripted" and said.question_id == "q003"
    decision = session.turns[-1].meta["decision"]
    assert decision["action"] == "move_on" and decision["reason"] == "failed_checks" and len(decision["proposals"]) == 2


async def test_a_good_follow_up_is_said_as_proposed(small_script, store, clock):
    text = "What was it like growing up on that farm near Dayton?"
    model = InterviewerModel(FOLLOW_ONCE, follow_ups=[text])
    session = InterviewSession.open(small_script, "ok", model.llm, store, clock)
    await start(session, clock)
    assert (await session.next_utterance()).text == text
    decision = session.turns[-1].meta["decision"]
    assert decision["source"] == "model" and decision["proposals"][0]["ok"] and len(model.decision_prompts()) == 1


BAD = [
    ISSUE_LOOP, ISSUE_PROMPT, "", "Tell me more.", '{"action": "follow_up"}', "What is your favourite pizza topping?",
    "As an AI language model, I am ready to answer your questions?", "Why? Why? Why? Why?",
    "To start, I would like to begin with a big question: tell me the story of your life.",
]
GOOD = [
    "What was a normal day like on the farm?", "How old were you when you left Dayton?",
    "Who did you look up to while growing up there?", "Could you tell me more about that?",
]


@pytest.mark.parametrize("seed", range(4))
async def test_the_engine_never_speaks_a_follow_up_that_fails_the_checks(default_script, store, clock, seed):
    rng = random.Random(seed)
    proposals = (rng.choice(BAD + GOOD) for _ in itertools.count())
    model = InterviewerModel(lambda prompt: "follow_up", follow_ups=proposals)
    settings = EngineSettings(notes_every=1000)
    session = InterviewSession.open(default_script, f"prop{seed}", model.llm, store, clock, settings=settings)
    answers = ["I grew up on a farm near Dayton, Ohio.", "My father worked nights at the plant.", "We moved to Columbus in 1988."]
    spoken = 0
    while (u := await session.next_utterance()) is not None and spoken < 60:
        spoken += u.kind == "follow_up"
        if u.expects_answer:
            clock.advance(15)
            await session.submit_answer(f"{rng.choice(answers)} That was in year {u.turn_index}.")
    assert spoken >= 10
    assert assert_follow_ups_pass(session.turns, default_script, session.name) >= 10


# -- answers that are not answers -------------------------------------------------------------------------------
async def test_an_empty_answer_gets_one_rephrase_then_the_interview_moves_on(small_script, store, clock):
    model = InterviewerModel(FOLLOW_ONCE)
    session = InterviewSession.open(small_script, "emp", model.llm, store, clock)
    await start(session, clock, answer="")
    rephrase = await session.next_utterance()
    decision = session.turns[-1].meta["decision"]
    assert rephrase.kind == "follow_up" and decision["action"] == "rephrase" and decision["reason"] == "answer_empty"
    assert decision["answer_problems"] == ["empty"] and rephrase.text == "In other words, what would you say about story of your life?"
    assert decision["source"] == "model"
    clock.advance(5)
    await session.submit_answer("...")
    nxt = await session.next_utterance()
    decision = session.turns[-1].meta["decision"]
    assert nxt.question_id == "q003" and decision["action"] == "move_on" and decision["reason"] == "not_answered"
    assert model.decision_prompts() == []  # the model was not asked for follow-ups on a non-answer


async def test_a_repeated_answer_is_noticed_and_a_bad_rephrase_replaced_by_a_curated_one(small_script, store, clock):
    model = InterviewerModel(FOLLOW_ONCE, rephrases=["I'm ready to answer your questions."])
    session = InterviewSession.open(small_script, "rep", model.llm, store, clock, settings=EngineSettings())
    story = "I grew up on a farm near Dayton and moved to Columbus for college."
    await start(session, clock, answer=story)
    follow = await session.next_utterance()  # a follow-up on the life story
    assert follow.kind == "follow_up"
    clock.advance(5)
    await session.submit_answer("My sister still lives near the farm with her kids.")
    q003 = await session.next_utterance()
    assert q003.question_id == "q003"
    clock.advance(5)
    await session.submit_answer(story)  # the same answer again, to another question
    rephrase = await session.next_utterance()
    decision = session.turns[-1].meta["decision"]
    assert decision["reason"] == "answer_repeat" and decision["source"] == "curated"
    assert rephrase.text.endswith(q003.text) and "told me that" in rephrase.text
    assert decision["proposals"][0]["ok"] is False


async def test_checks_can_be_switched_off(small_script, store, clock):
    model = InterviewerModel(lambda prompt: "move_on")
    session = InterviewSession.open(small_script, "off", model.llm, store, clock, settings=EngineSettings(check_answers=False))
    await start(session, clock, answer="")
    assert (await session.next_utterance()).question_id == "q003"


# -- an agent respondent --------------------------------------------------------------------------------------------
class ScriptedAgent(Agent):
    """Answers from a list, and records how it was asked."""

    replies: list[str] = []
    calls: list[dict[str, Any]] = []

    async def answer(self, questions: Sequence, *, llm, options=None, prior=(), stimulus=None) -> list[Answer]:
        self.calls.append({"question": questions[0].text, "options": options, "stimulus": stimulus, "prior": list(prior)})
        text = self.replies.pop(0) if self.replies else "I grew up on a farm near Dayton, Ohio."
        return [Answer(question_id=questions[0].id, value=text, status=AnswerStatus.ok, raw=text)]

    async def prepare(self, questions, *, llm, options):
        return lambda group: ""

    def context_preview(self, questions, **kwargs) -> str:
        return ""


async def test_an_agents_non_answer_is_asked_for_again_once_then_marked(small_script, store, clock):
    story = "I grew up on a farm near Dayton, Ohio, with two brothers."
    agent = ScriptedAgent(
        id="a1", source="persona", name="Ada",
        replies=[ISSUE_AGENT_ANSWER, story, story, story, "My family matters most to me, and my faith."],
    )
    agent.calls = []
    model = InterviewerModel(lambda prompt: "move_on")
    session = InterviewSession.open(small_script, "agent-a1", model.llm, store, clock, name="Ada")
    await interview_agent(session, agent, model.llm, max_turns=3)
    answers = [t for t in session.turns if t.speaker == "respondent"]
    intro = answers[0]  # the intro is not a question: the agent is not asked it
    assert intro.text == "" and intro.meta["agent_status"] == "not_asked" and intro.adequacy is None
    assert agent.calls[0]["question"].startswith("To start")
    first = answers[1]  # the life story: the meta answer, then a good one
    assert first.text.startswith("I grew up") and first.meta["agent_check"]["first_problems"] == ["meta"]
    assert first.meta["agent_check"]["first_text"] == ISSUE_AGENT_ANSWER
    assert first.meta["agent_check"]["problems"] == [] and first.meta["agent_check"]["regenerated"] == 1
    assert first.adequacy == "adequate"
    retry = agent.calls[1]
    assert retry["stimulus"] and "did not answer" in retry["stimulus"] and "talked about the interview" in retry["stimulus"]
    if retry["options"] is not None:
        assert retry["options"].retry_round == 1
    second = answers[2]  # q003: the same story twice: still a repeat after the one re-ask, so marked and moved on
    assert second.meta["agent_check"]["problems"] == ["repeat"] and second.adequacy == "non_answer"
    following = session.turns[session.turns.index(second) + 1]
    decision = following.meta["decision"]
    assert decision["action"] == "move_on" and decision["reason"] == "not_answered" and following.question_id == "q110"
    assert not [t for t in session.turns if t.kind == "follow_up"]  # no second re-ask by the engine
    assert answers[3].adequacy == "adequate"
    assert all("agent_s" in a.meta for a in answers[1:])
