"""The checks on follow-ups and answers (interviewer.validation): the verbatim failures of issue #14 and each
failure shape are refused; the real follow-ups of the paper's interviewer and real answers pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from interviewer.validation import NEUTRAL_PROBES, check_answer, check_follow_up, pick_probe

DATA = Path(__file__).parent / "data"
REAL = json.loads((DATA / "real_follow_ups.json").read_text(encoding="utf-8"))["follow_ups"]

HEALTH_Q = "Now we'd like to learn more about your health. First, tell me all about your health."
HEALTH_A = "I'm mostly healthy. I run twice a week, but my back hurts after long days at the desk."

# The two follow-ups a live SmolLM2 session spoke to a person (issue #14), verbatim.
ISSUE_LOOP = (
    "You can now continue the interview with me. I'm here to answer your questions. I'm ready to do that. "
    "I'm ready to answer your questions. I'm ready to answer your questions."
)
ISSUE_PROMPT = (
    "2-3 sentences, step by step: what the last answer told you, whether the objective was achieved, and what "
    "is still missing or worth exploring."
)


def verdict(text, **kw):
    kw.setdefault("question", HEALTH_Q)
    kw.setdefault("answer", HEALTH_A)
    kw.setdefault("block", "Health")
    return check_follow_up(text, **kw)


def test_the_two_verbatim_failures_of_the_issue_are_refused():
    loop = verdict(ISSUE_LOOP)
    assert not loop.ok and {"right_party", "no_loop", "question_shape"} <= set(loop.problems)
    prompt = verdict(ISSUE_PROMPT)
    assert not prompt.ok and {"no_prompt_text", "question_shape"} <= set(prompt.problems)
    assert "step by step" in prompt.explain()


@pytest.mark.parametrize("item", REAL, ids=[str(r["node_id"]) for r in REAL])
def test_real_follow_ups_of_the_papers_interviewer_pass(item):
    result = check_follow_up(
        item["follow_up"], question=item["question"], answer=item["answer"], block=item["block"], earlier=item["earlier"]
    )
    assert result.ok, result.explain()


def test_there_are_enough_real_follow_ups():
    assert len(REAL) >= 15


@pytest.mark.parametrize(
    "text, problem",
    [
        ("Tell me more about your back.", "question_shape"),  # not a question
        ("Why?", "question_shape"),  # too short to say anything
        ("How is your back? " * 3, "question_shape"),  # three questions at once
        ("Does your back " + "really " * 70 + "hurt?", "question_shape"),  # too long to say
        ("How does your back feel?\nAnd your knees?", "question_shape"),  # several lines
        ("What is your favourite pizza topping in Naples?", "on_topic"),
        ("First, tell me all about your health?", "not_repeat"),
        ("How often do you run? How often do you run?", "no_loop"),
        ("How often do you run run run?", "no_loop"),
        ('{"follow_up": "How often do you run?"}', "no_prompt_text"),
        ("Assessment: the objective is achieved. How often do you run?", "no_prompt_text"),
        ("In 2-3 sentences, how often do you run?", "no_prompt_text"),
        ("Could you explain, step by step, how you run?", "no_prompt_text"),
        ("Interviewer: How often do you run?", "no_prompt_text"),
        ("Does the interviewee run every week?", "no_prompt_text"),
        ("As an AI, I have no back, but how often do you run?", "right_party"),
        ("I'm here to answer your questions. How often do you run?", "right_party"),
        ("Would you like to continue the interview with me about running?", "right_party"),
        ("That's a great question! How often do you run?", "right_party"),
    ],
)
def test_each_failure_shape_is_refused(text, problem):
    earlier = [HEALTH_Q, "Do you have any pets?"]
    result = verdict(text, earlier=earlier)
    assert problem in result.problems, (text, result.explain())


@pytest.mark.parametrize(
    "text",
    [
        "How often do you run these days?",
        "Thank you for sharing that. What do you think causes the back pain?",
        "It sounds like the desk work is hard on you. Have you talked to a doctor about your back?",
        "Could you tell me more about that?",
        "What was that like for you?",
    ],
)
def test_good_follow_ups_pass(text):
    result = verdict(text, earlier=[HEALTH_Q])
    assert result.ok, result.explain()


def test_a_repeat_is_judged_on_wording_not_just_identity():
    earlier = ["How often do you go running during a normal week?"]
    assert "not_repeat" in verdict("How often do you go running in a normal week?", earlier=earlier).problems
    assert verdict("What got you started running?", earlier=earlier).ok


def test_an_embedding_similarity_can_rescue_a_follow_up_with_no_shared_word():
    text = "Have you seen a physiotherapist about it?"
    assert "on_topic" in verdict(text).problems
    assert verdict(text, similarity_fn=lambda a, b: 0.6).ok


def test_probes_are_curated_good_questions_and_not_said_twice_in_a_row():
    for probe in NEUTRAL_PROBES:
        assert verdict(probe).ok, probe
    first = pick_probe([], question=HEALTH_Q, answer=HEALTH_A)
    second = pick_probe([first], question=HEALTH_Q, answer=HEALTH_A)
    assert first and second and first != second
    assert pick_probe(list(NEUTRAL_PROBES), question=HEALTH_Q) is None


# -- answers ------------------------------------------------------------------------------------------------------
ISSUE_AGENT_ANSWER = "This interview will also include your thoughts on the topic of your life experiences."


def test_the_issue_agents_answer_is_refused_and_its_repeat_noticed():
    vaccines = "What are your trusted sources of information about the vaccine?"
    first = check_answer(ISSUE_AGENT_ANSWER, question=vaccines, agent=True)
    assert "meta" in first.problems
    again = check_answer(ISSUE_AGENT_ANSWER, question="What religion do you identify with?", earlier_answers=[ISSUE_AGENT_ANSWER])
    assert "repeat" in again.problems


@pytest.mark.parametrize("text", ["", "   ", "...", "Um... uh.", "hmm"])
def test_saying_nothing_is_noticed(text):
    assert "empty" in check_answer(text, question=HEALTH_Q).problems


@pytest.mark.parametrize("text", ["None.", "No.", "Yes, two daughters.", "Not really."])
def test_short_real_answers_are_answers(text):
    assert check_answer(text, question="Do you have children?", agent=True).ok


def test_off_topic_is_judged_with_a_similarity_function_only():
    text = "The weather on Saturday will be sunny with light winds from the northwest and mild temperatures."
    assert check_answer(text, question=HEALTH_Q).ok  # words alone cannot tell: never rephrase a person on a guess
    assert "off_topic" in check_answer(text, question=HEALTH_Q, similarity_fn=lambda a, b: 0.05).problems
    assert check_answer(text, question=HEALTH_Q, similarity_fn=lambda a, b: 0.5).ok


def test_an_agent_must_answer_as_itself():
    third = "The person grew up in a small town and works as a nurse, and she values her family above all."
    assert "first_person" in check_answer(third, question="Tell me about your life.", agent=True).problems
    assert "first_person" in check_answer("Maria is a nurse who grew up in Ohio.", question="Tell me about your life.",
                                          agent=True, name="Maria Lopez").problems
    assert check_answer(third, question="Tell me about your life.").ok  # a person is not held to this
    assert check_answer("I grew up in a small town, and I work as a nurse.", question="Tell me about your life.", agent=True).ok
    looping = "I like my job. " * 4
    assert "loop" in check_answer(looping, question="Tell me about your work.", agent=True).problems
    assistant = "I'm here to help. How can I assist you with your questions today?"
    assert "meta" in check_answer(assistant, question="Tell me about your work.", agent=True).problems


def test_real_answers_of_the_sample_interview_are_answers():
    """The genagents sample person's real answers (from the memory nodes) pass the checks of a person."""
    from surveys.paths import shared_data_dir

    try:
        path = shared_data_dir() / "genagents_sample" / "single_agent_memory_nodes.json"
    except Exception:  # no shared data folder here
        pytest.skip("the shared data folder is not here")
    if not path.is_file():
        pytest.skip("the shared genagents sample is not here")
    earlier: list[str] = []
    refused = []
    for node in json.loads(path.read_text(encoding="utf-8"))[1:]:
        question, _, rest = node["content"].partition("\n\n")
        answer = rest.split(": ", 1)[-1].strip()
        if not answer:
            continue
        result = check_answer(answer, question=question.removeprefix("Interviewer: "), earlier_answers=earlier)
        if not result.ok:
            refused.append(result.explain())
        earlier.append(answer)
    assert len(earlier) > 90 and refused == []


def test_the_offline_embedding_similarity_tells_related_from_unrelated():
    from interviewer.validation import embedding_similarity

    cosine = embedding_similarity()
    if cosine is None:
        pytest.skip("no embedder installed")
    related = cosine("I was born in Korea and moved to Boston when I was twelve.", "Tell me the story of your life.")
    unrelated = cosine(ISSUE_AGENT_ANSWER, "What are your trusted sources of information about the vaccine?")
    assert related > 0.2 > 0.1 > unrelated


def test_a_short_answer_said_twice_is_not_a_repeat():
    assert check_answer("I don't know.", question="Do you vote?", earlier_answers=["I don't know."]).ok
    story = "I grew up on a farm near Dayton and moved to Columbus for college."
    assert "repeat" in check_answer(story, question="Do you vote?", earlier_answers=[story]).problems
