"""Issue #25 item 3: the interviewer's model offers a few candidate follow-ups in one reply (`follow_ups`); each is
checked and the first that passes is said, with no regenerate round trip; a formulaic opening ("Thank you for
sharing your life story.") and questions piled on top are taken off (`trim_follow_up`) before the checks, so the
checks judge what is said; a reply whose candidates all fail ends in the curated probe as before."""

from __future__ import annotations

import json
from typing import Iterable

import pytest

from interviewer.clock import FakeClock
from interviewer.engine import EngineSettings, FollowUpDecision, InterviewSession, decision_schema, trim_follow_up
from interviewer.storage import TranscriptStore
from interviewer.validation import NEUTRAL_PROBES, check_follow_up
from simulacra.llm import open_llm
from simulacra.llm.types import ChatRequest

from interview_fakes import InterviewerModel, assert_follow_ups_pass
from test_validation import ISSUE_LOOP, ISSUE_PROMPT

LIFE_STORY = "To start, I would like to begin with a big question: tell me the story of your life."
ANSWER = "I grew up on a farm near Dayton, Ohio, with two brothers, and later I became a nurse in Cincinnati."


class CandidateModel(InterviewerModel):
    """The interviewer's model replying in the candidates format: `replies` are the `follow_ups` lists given, one a
    decision call (the first decision on each question proposes; later ones move on)."""

    def __init__(self, replies: Iterable[list[str]]):
        super().__init__()
        self.replies = iter(replies)

    def reply(self, request: ChatRequest) -> str:
        if request.schema_name != "FollowUpDecision":
            return super().reply(request)
        prompt = "\n".join(m["content"] for m in request.messages[:2])
        if "asked on this question: 0." not in prompt:
            return json.dumps({"assessment": "The objective is met for now.", "action": "move_on", "follow_ups": []})
        return json.dumps({"assessment": "The answer names a farm and a job; the middle years are missing.",
                           "action": "follow_up", "follow_ups": next(self.replies)})


async def decide_after_life_story(model: CandidateModel, script, store, clock, respondent: str):
    """Intro answered, the life story asked and answered; returns (session, the next line said, its decision)."""
    session = InterviewSession.open(script, respondent, model.llm, store, clock)
    await session.next_utterance()
    await session.submit_answer("Sounds good.")
    await session.next_utterance()
    clock.advance(10)
    await session.submit_answer(ANSWER)
    said = await session.next_utterance()
    return session, said, session.turns[-1].meta["decision"]


def decision_calls(model: InterviewerModel) -> int:
    return sum(1 for r in model.backend.requests if r.schema_name == "FollowUpDecision")


async def test_the_first_candidate_that_passes_the_checks_is_said_in_one_model_call(small_script, store, clock):
    good = "What made you decide to become a nurse in Cincinnati?"
    model = CandidateModel([[ISSUE_PROMPT, good, "Who were your two brothers?"]])
    session, said, decision = await decide_after_life_story(model, small_script, store, clock, "cand")
    assert said.kind == "follow_up" and said.text == good
    assert decision["reason"] == "model" and decision["source"] == "model" and decision["follow_up"] == good
    # every candidate is checked and recorded, in order; the first one failed the checks
    assert [p["text"] for p in decision["proposals"]] == [ISSUE_PROMPT, good, "Who were your two brothers?"]
    assert [p["ok"] for p in decision["proposals"]] == [False, True, True]
    assert "no_prompt_text" in decision["proposals"][0]["problems"]
    assert decision_calls(model) == 1  # no regenerate round trip
    # the model was asked for candidates, within a token budget that fits them all
    request = next(r for r in model.backend.requests if r.schema_name == "FollowUpDecision")
    assert request.json_schema["properties"]["follow_ups"]["maxItems"] == 3
    assert request.max_tokens >= (400 + 3 * 250) // 2


async def test_a_formulaic_opening_is_taken_off_and_the_question_left_is_said(small_script, store, clock):
    text = "Thank you for sharing your life story. What was a normal day like on the farm near Dayton?"
    model = CandidateModel([[text]])
    session, said, decision = await decide_after_life_story(model, small_script, store, clock, "open")
    assert said.text == "What was a normal day like on the farm near Dayton?"
    proposal = decision["proposals"][0]
    assert proposal["ok"] and proposal["text"] == said.text
    assert proposal["trimmed"] == "Thank you for sharing your life story."
    assert "Thank you" not in said.text


def test_the_issues_repeated_opening_fails_as_proposed_and_passes_once_taken_off():
    # Qwen2.5-1.5B's two refused follow-ups in the last measurement: the same opening each time
    earlier = [LIFE_STORY, "Thank you for sharing your life story. Could you please tell me more about your time in the Army?"]
    proposed = "Thank you for sharing your life story. Could you tell me more about your brothers?"
    raw = check_follow_up(proposed, question=LIFE_STORY, answer=ANSWER, earlier=earlier)
    assert not raw.ok and raw.problems == ["not_repeat"]
    text, trimmed = trim_follow_up(proposed)
    assert trimmed == "Thank you for sharing your life story."
    assert check_follow_up(text, question=LIFE_STORY, answer=ANSWER, earlier=earlier).ok


def test_what_is_trimmed_and_what_is_left_alone():
    three = ("What did you learn about making pizza with your dog? How did you feel about the recipe? "
             "What was your experience with the ingredients?")
    assert trim_follow_up(three) == ("What did you learn about making pizza with your dog?",
                                     "How did you feel about the recipe? / What was your experience with the ingredients?")
    tail = "Could you elaborate on the ingredients of the dough? I'm curious about the exact quantities."
    assert trim_follow_up(tail) == ("Could you elaborate on the ingredients of the dough?", "I'm curious about the exact quantities.")
    assert trim_follow_up("Thanks for that, what did your father do on the farm?") == (
        "What did your father do on the farm?", "Thanks for that,")
    assert trim_follow_up("That's fascinating! Thanks. Who taught you to milk cows?") == (
        "Who taught you to milk cows?", "That's fascinating! / Thanks.")
    # left alone: two questions, an acknowledgement with content, a question that starts like praise, nothing to ask
    for same in ("Could you tell me more about the farm? How did you overcome that?",
                 "You mentioned the farm. What was a normal day like?",
                 "How interesting is your job, would you say?",
                 "Thank you for sharing.",
                 ""):
        assert trim_follow_up(same) == (same, "")


async def test_a_reply_with_no_passing_candidate_falls_back_to_the_curated_probe(small_script, store, clock):
    model = CandidateModel([[ISSUE_PROMPT, ISSUE_LOOP, "Tell me about it."]])
    session, said, decision = await decide_after_life_story(model, small_script, store, clock, "none")
    assert said.kind == "follow_up" and said.text in NEUTRAL_PROBES
    assert decision["reason"] == "probe" and decision["source"] == "probe"
    assert len(decision["proposals"]) == 3 and not any(p["ok"] for p in decision["proposals"])
    assert decision_calls(model) == 1  # several candidates, all refused: the safe move at once


async def test_a_single_failing_candidate_is_still_asked_for_again_once(small_script, store, clock):
    good = "What made you decide to become a nurse in Cincinnati?"
    model = CandidateModel([[ISSUE_PROMPT]])
    model.replies = iter([[ISSUE_PROMPT], [good]])
    session, said, decision = await decide_after_life_story(model, small_script, store, clock, "single")
    assert said.text == good and decision["source"] == "regenerated"
    assert [p["ok"] for p in decision["proposals"]] == [False, True] and decision_calls(model) == 2
    regenerate = [r for r in model.backend.requests if r.schema_name == "FollowUpDecision"][-1].messages[-1]["content"]
    assert "cannot be said" in regenerate and "no_prompt_text" in regenerate


def test_the_reply_model_reads_candidates_and_the_older_single_follow_up():
    new = FollowUpDecision.model_validate({"assessment": "x" * 12, "action": "follow_up",
                                          "follow_ups": ["Who taught you?", " Who  taught you? ", "", "Where?"]})
    assert new.candidates() == ["Who taught you?", "Where?"]
    old = FollowUpDecision.model_validate({"assessment": "x" * 12, "action": "follow_up", "follow_up": "Who taught you?"})
    assert old.candidates() == ["Who taught you?"]
    schema = decision_schema(EngineSettings(candidates=2))
    assert schema["required"] == ["assessment", "action", "follow_ups"] and schema["properties"]["follow_ups"]["maxItems"] == 2


@pytest.mark.embedded
async def test_the_embedded_model_replies_with_candidates_and_only_a_passing_one_is_said(small_script, tmp_path):
    """End to end on the real embedded model (under the model lock): one decision after a real-looking answer."""
    llm = open_llm(role="interviewer")
    settings = EngineSettings(assessment_chars=200, follow_up_chars=150)
    session = InterviewSession.open(small_script, "cand-e2e", llm, TranscriptStore(tmp_path / "t"), FakeClock(),
                                    name="Ada", settings=settings)
    try:
        await session.next_utterance()
        await session.submit_answer("Sounds good.")
        await session.next_utterance()
        await session.submit_answer(ANSWER)
        said = await session.next_utterance()
    finally:
        await llm.aclose()
    decision = session.turns[-1].meta["decision"]
    assert decision["reason"] in {"model", "probe", "failed_checks", "objective_met", "model_error"}
    proposals = decision.get("proposals", [])
    assert len(proposals) <= 3
    if decision["reason"] == "model":  # the first candidate that passed the checks was said, as the checks saw it
        assert said.kind == "follow_up" and said.text == next(p["text"] for p in proposals if p["ok"])
    if decision["reason"] in ("probe", "failed_checks"):  # offered, all refused
        assert proposals and not any(p["ok"] for p in proposals)
    assert_follow_ups_pass(session.turns, small_script, "Ada")
