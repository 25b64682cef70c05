"""Answers judged for adequacy, not only non-emptiness (issue #25): the real answers of the sample interview are
all adequate, the degenerate answers of a small model ("Saved" to 40 questions, echoes, "ok") are all flagged; a
person gets one rephrase and the turn is marked; a closed-loop interview of an agent that says "Saved" to
everything stops early with one clear line and a transcript `agents build` refuses without --force."""

from __future__ import annotations

import json
import re
from typing import Any, Sequence

import pytest
from typer.testing import CliRunner

from interviewer.agent_loop import interview_agent
from interviewer.engine import InterviewSession
from interviewer.script import shorten
from interviewer.validation import ADEQUACY_CHECKS, check_answer, question_kind
from simulacra.agent import Agent
from simulacra.transcript import UnusableTranscriptError, check_usable, read_transcript
from surveys.model import Answer, AnswerStatus

from interview_fakes import InterviewerModel


def scripted_questions(script) -> list[tuple[Any, float]]:
    """(question, its budget over the script's average question budget), in asking order."""
    questions = [q for _, q in script.items() if q.kind == "question" and q.budget_s > 0]
    mean = sum(q.budget_s for q in questions) / len(questions)
    return [(q, q.budget_s / mean) for q in questions]


def sample_exchanges() -> list[tuple[str, str]]:
    """(interviewer line, answer) of the genagents sample person's real interview (empty answers left out)."""
    from surveys.paths import shared_data_dir

    try:
        path = shared_data_dir() / "genagents_sample" / "single_agent_memory_nodes.json"
    except Exception:  # no shared data folder here
        pytest.skip("the shared data folder is not here")
    if not path.is_file():
        pytest.skip("the shared genagents sample is not here")
    pairs = []
    for node in json.loads(path.read_text(encoding="utf-8"))[1:]:
        question, _, rest = node["content"].partition("\n\n")
        answer = rest.split(": ", 1)[-1].strip()
        if answer:
            pairs.append((question.removeprefix("Interviewer: "), answer))
    return pairs


# -- the checks ---------------------------------------------------------------------------------------------------
def test_every_real_answer_of_the_sample_interview_is_adequate(default_script):
    """Judged as the engine judges them: against the line asked, its budget share when it is a scripted question of
    the paper's script, every earlier answer and everything the interviewer said before."""
    shares = {q.text: share for q, share in scripted_questions(default_script)}
    pairs = sample_exchanges()
    earlier: list[str] = []
    said: list[str] = []
    flagged = []
    for line, answer in pairs:
        result = check_answer(answer, question=line, earlier_answers=earlier, budget_share=shares.get(line, 1.0),
                              interviewer_lines=said)
        if not result.ok:
            flagged.append((answer, result.explain()))
        earlier.append(answer)
        said.append(line)
    assert len(pairs) > 90 and sum(line in shares for line, _ in pairs) >= 40
    assert flagged == []


@pytest.mark.parametrize("reply", ["Saved", "Saved.", "saved", "Ok.", "okay", "Got it.", "No comment.", "Thanks!"])
def test_a_bare_acknowledgement_to_each_of_40_questions_is_flagged(default_script, reply):
    earlier: list[str] = []
    passed = []
    for question, share in scripted_questions(default_script)[:40]:
        for agent in (False, True):
            result = check_answer(reply, question=question.text, earlier_answers=earlier, budget_share=share, agent=agent)
            if result.ok or not set(result.problems) & set(ADEQUACY_CHECKS):
                passed.append(question.id)
        earlier.append(reply)
    assert passed == []


@pytest.mark.parametrize("reply", ["Sure.", "Yes.", "Fine.", "Yeah, sure."])
def test_yes_sure_or_fine_answer_a_yes_no_question_not_a_question_asking_for_a_fact_or_a_story(reply):
    story = "To start, I would like to begin with a big question: tell me the story of your life."
    assert "acknowledgement" in check_answer(reply, question=story, budget_share=9.6).problems
    assert "acknowledgement" in check_answer(reply, question="How would you describe your political views?").problems
    assert check_answer(reply, question="Are you enrolled in school?").ok
    assert "acknowledgement" in check_answer(reply, question="What city and state were you born in?").problems


def test_echoes_of_the_interviewers_own_words_are_flagged(default_script):
    questions = scripted_questions(default_script)[:40]
    for question, share in questions:
        said_back = max(re.split(r"(?<=[.?!])\s+", question.text), key=len)  # the line's longest sentence, said back
        result = check_answer(said_back, question=question.text, budget_share=share, agent=True)
        assert "echo" in result.problems, (question.id, said_back, result.explain())
    intro = default_script.blocks[0].questions[0].text
    parrot = "You will know when you have passed a checkpoint by a flash of green light."
    result = check_answer(parrot, question="How would you describe your political views?", interviewer_lines=[intro])
    assert "echo" in result.problems
    # the respondent's own words, quoted back by the interviewer, are still theirs
    quoted = "You said you moved to Boston from Korea at twelve. How did that change things for you?"
    assert check_answer("I moved to Boston from Korea.", question="Tell me the story of your life.", line=quoted,
                        earlier_answers=["I was born in Korea and I moved to Boston from Korea at twelve."]).ok


def test_the_same_short_answer_to_different_questions_is_flagged():
    open_qs = ["Tell me about your neighborhood.", "How would you describe your political views?"]
    assert check_answer("My childhood home.", question=open_qs[0]).ok
    assert "same_short" in check_answer("My childhood home.", question=open_qs[1], earlier_answers=["My childhood home."]).problems
    facts = ["What city and state were you born in?", "What city did you live in at 16?", "Where do you live now?"]
    assert check_answer("Dayton, Ohio.", question=facts[1], earlier_answers=["Dayton, Ohio."]).ok  # twice can be true
    assert "same_short" in check_answer("Dayton, Ohio.", question=facts[2], earlier_answers=["Dayton, Ohio."] * 2).problems
    assert check_answer("No.", question="Do you vote?", earlier_answers=["No."] * 5).ok  # yes/no questions: never
    assert check_answer("I don't know.", question=open_qs[1], earlier_answers=["I don't know."]).ok


def test_length_is_judged_against_the_questions_kind_and_budget():
    story = "To start, I would like to begin with a big question: tell me the story of your life."
    assert "too_short" in check_answer("Ohio.", question=story, budget_share=9.6).problems
    assert "too_short" in check_answer("Born, raised.", question=story, budget_share=9.6).problems
    assert check_answer("Born in Ohio.", question=story, budget_share=9.6).ok
    assert "too_short" in check_answer("Nothing.", question=story, budget_share=9.6).problems  # the big asks
    neighbours = "Tell me about the people who live with you right now."
    assert "too_short" in check_answer("Boston.", question=neighbours, budget_share=1.2).problems
    assert check_answer("None, fortunately.", question=neighbours, budget_share=1.2).ok  # a negative answers it
    assert check_answer("Alone.", question=neighbours, budget_share=0.5).ok  # a small question takes a word
    assert check_answer("Seoul.", question="What city and state were you born in?", budget_share=0.4).ok


@pytest.mark.parametrize(
    "line, kind",
    [
        ("To start, I would like to begin with a big question: tell me the story of your life.", "open"),
        ("Some people say they vote in every election, some tell us they don't vote at all. How about you?", "open"),
        ("Have you ever served on active duty in the U.S. Armed Forces, Reserves, or National Guard?", "closed"),
        ("In the past week, did you work for pay (even for 1 hour) at a job or business?", "closed"),
        ("That sounds like a hard story. Did you move after that?", "closed"),
        ("What city and state were you born in?", "short"),
        ("For our records, we also need your date of birth. Could you please provide that?", "short"),
    ],
)
def test_question_kinds(line, kind):
    assert question_kind(line) == kind


# -- a person ------------------------------------------------------------------------------------------------------
async def test_a_person_saying_ok_gets_one_rephrase_then_the_interview_moves_on_and_the_turns_are_marked(small_script, store, clock):
    model = InterviewerModel(lambda prompt: "move_on")
    session = InterviewSession.open(small_script, "okay", model.llm, store, clock)
    await session.next_utterance()
    await session.submit_answer("Sounds good.")  # to the intro: not judged
    await session.next_utterance()
    clock.advance(5)
    await session.submit_answer("Ok.")
    rephrase = await session.next_utterance()
    decision = session.turns[-1].meta["decision"]
    assert rephrase.kind == "follow_up" and decision["action"] == "rephrase" and decision["reason"] == "answer_acknowledgement"
    clock.advance(5)
    await session.submit_answer("Okay.")
    moved = await session.next_utterance()
    assert moved.question_id == "q003" and session.turns[-1].meta["decision"]["reason"] == "not_answered"
    clock.advance(5)
    await session.submit_answer("Yes, when I left the farm for the city at eighteen.")
    turns = read_transcript(store.path("okay")).turns  # the marks are saved with the turns
    answers = [t for t in turns if t.speaker == "respondent"]
    assert [a.adequacy for a in answers] == [None, "non_answer", "non_answer", "adequate"]
    assert answers[1].meta["answer_check"]["problems"][0] == "acknowledgement"
    assert model.decision_prompts() != []  # the adequate answer went to the model for a follow-up decision


# -- the closed loop ------------------------------------------------------------------------------------------------
class SavedAgent(Agent):
    """Says "Saved" to everything (the embedded model's degenerate loop in issue #25); records its calls."""

    calls: list[dict[str, Any]] = []

    async def answer(self, questions: Sequence, *, llm, options=None, prior=(), stimulus=None) -> list[Answer]:
        self.calls.append({"question": questions[0].text, "prior": list(prior), "stimulus": stimulus})
        return [Answer(question_id=questions[0].id, value="Saved", status=AnswerStatus.ok, raw="Saved")]

    async def prepare(self, questions, *, llm, options):
        return lambda group: ""

    def context_preview(self, questions, **kwargs) -> str:
        return ""


async def test_a_closed_loop_of_saved_stops_after_ten_answers_with_one_line_and_a_marked_transcript(default_script, store, clock):
    script = shorten(default_script, 2)
    model = InterviewerModel(lambda prompt: "move_on")
    agent = SavedAgent(id="saver", source="persona", name="Sam", calls=[])
    session = InterviewSession.open(script, "agent-saver", model.llm, store, clock, name="Sam")
    await interview_agent(session, agent, model.llm)
    answers = [t for t in session.turns if t.speaker == "respondent"]
    assert session.finished and session.ended == "unusable"
    assert len(answers) == 11 and answers[0].meta["agent_status"] == "not_asked"  # the intro, then ten questions
    assert [a.adequacy for a in answers[1:]] == ["non_answer"] * 10
    assert len(agent.calls) == 20 and all(c["stimulus"] for c in agent.calls[1::2])  # one re-ask per question
    assert all(step.answer != "Saved" for call in agent.calls for step in call["prior"])  # never shown back to it
    assert not any("Saved" in call["question"] for call in agent.calls)  # nor the intro's checkpoint text
    line = session.unusable_reason
    assert line.startswith("10 of 10 answers were not answers") and "\n" not in line
    assert line.count("'Saved' to ") == 2 and "tell me the story of your life" in line
    assert line.endswith(f"this agent cannot be interviewed on {model.llm.model}")
    transcript = read_transcript(store.path("agent-saver"))
    assert transcript.meta["unusable"] is True and transcript.meta["unusable_reason"] == line
    with pytest.raises(UnusableTranscriptError, match="--force"):
        check_usable(transcript)
    assert await session.next_utterance() is None
    reopened = InterviewSession.open(script, "agent-saver", model.llm, store, clock)  # resuming does not restart it
    assert reopened.finished and reopened.unusable_reason == line


async def test_a_closed_loop_with_adequate_answers_is_not_stopped(small_script, store, clock):
    from test_follow_up_checks import ScriptedAgent

    model = InterviewerModel(lambda prompt: "move_on")
    agent = ScriptedAgent(id="ok", source="persona", name="Ada", replies=[
        "I grew up on a farm near Dayton, Ohio, with two brothers.", "Yes, when I left the farm at eighteen for Columbus.",
        "My family matters most to me, and my faith."], calls=[])
    session = InterviewSession.open(small_script, "agent-ok", model.llm, store, clock, name="Ada")
    await interview_agent(session, agent, model.llm, stop_after=1)
    assert session.ended == "completed" and session.unusable_reason is None
    check_usable(read_transcript(store.path("agent-ok")))


def test_the_interview_command_stops_with_one_line_and_agents_build_refuses_it_without_force(
    default_script, monkeypatch, isolated_workspace, tmp_path
):
    import typer

    from interviewer.agent_loop import AgentNotInterviewable
    from interviewer.session_cli import register
    from interviewer.storage import TranscriptStore
    from simulacra.agents.bank import AgentBank
    from simulacra.agents.cli import agents_app
    from simulacra.llm import LLM, FakeBackend

    model = InterviewerModel(lambda prompt: "move_on")
    opened = []
    monkeypatch.setattr("simulacra.llm.open_llm", lambda *a, **k: opened.append(k.get("role")) or model.llm)
    monkeypatch.setattr("interviewer.validation.embedding_similarity", lambda *a, **k: None)
    load = AgentBank.load
    monkeypatch.setattr(AgentBank, "load", lambda self, agent_id: SavedAgent(id=agent_id, source="persona", name="Sam", calls=[]))
    app = typer.Typer()
    app.callback()(lambda: None)
    register(app)
    result = CliRunner().invoke(app, ["interview", "--respondent-agent", "saver", "--max-minutes", "2"])
    assert isinstance(result.exception, AgentNotInterviewable), result.output
    message = str(result.exception)
    assert "10 of 10 answers were not answers" in message and "cannot be interviewed on fake-model" in message
    assert "marked unusable" in message and "\n" not in message
    path = TranscriptStore().path("agent-saver")

    opened.clear()
    refused = CliRunner().invoke(agents_app, ["build", str(path), "--no-reflections"])
    assert isinstance(refused.exception, UnusableTranscriptError) and "--force" in str(refused.exception)
    assert opened == []  # refused before any model was opened
    monkeypatch.setattr("simulacra.llm.open_llm", lambda *a, **k: LLM(FakeBackend(default="{}")))
    forced = CliRunner().invoke(agents_app, ["build", str(path), "--no-reflections", "--force", "--agents", str(tmp_path / "bank")])
    assert forced.exit_code == 0, forced.output + repr(forced.exception)
    assert load(AgentBank(tmp_path / "bank"), "agent-saver").source == "interview"


# -- decided by rule, without the model (issue #25 item 5: voice latency) -----------------------------------------------
CLOSED_SCRIPT = """\
id: closed
blocks:
  - id: intro
    questions:
      - {id: intro, kind: intro, budget_s: 0, text: "Hi, {name}! Let's get started!"}
  - id: household
    questions:
      - {id: q1, budget_s: 60, text: "Do you have any children?"}
      - {id: q2, budget_s: 60, text: "Tell me about your children."}
  - id: neighborhood
    questions:
      - {id: q3, budget_s: 10, text: "Tell me about your neighborhood."}
  - id: closing
    questions:
      - {id: closing, kind: closing, budget_s: 0, text: "Thank you, {name}!"}
"""


async def test_the_model_is_not_asked_where_the_rule_is_certain(tmp_path, store, clock):
    from interviewer.script import parse_script

    script = parse_script(CLOSED_SCRIPT, tmp_path / "closed.yaml")
    model = InterviewerModel(lambda prompt: "follow_up" if "asked on this question: 0." in prompt else "move_on")
    session = InterviewSession.open(script, "rule", model.llm, store, clock)
    await session.next_utterance()
    await session.submit_answer("Hello.")
    await session.next_utterance()  # q1: a yes/no question
    clock.advance(5)
    await session.submit_answer("Yes, two daughters, both in high school now.")
    q2 = await session.next_utterance()
    assert q2.question_id == "q2" and session.turns[-1].meta["decision"]["reason"] == "closed_answered"
    assert model.decision_prompts() == []  # an adequate answer to a yes/no question: moved on by rule
    clock.advance(10)
    await session.submit_answer("They are twins; one loves chess and the other plays the cello in the school band.")
    follow = await session.next_utterance()  # an open question with time left: the model decides
    assert follow.kind == "follow_up" and len(model.decision_prompts()) == 1
    clock.advance(10)
    await session.submit_answer("Chess club meets on Tuesdays, and she won a regional game last spring.")
    q3 = await session.next_utterance()
    assert q3.question_id == "q3" and len(model.decision_prompts()) == 2
    clock.advance(30)  # q3's 10 s budget, the last of its block, is used up
    await session.submit_answer("Quiet streets, old trees, and a bakery on the corner that opens at six.")
    closing = await session.next_utterance()
    assert closing.kind == "closing" and session.turns[-1].meta["decision"]["reason"] == "time"
    assert len(model.decision_prompts()) == 2  # no budget left: moved on by rule


async def test_a_yes_to_a_yes_no_follow_up_is_not_sent_to_the_model_either(small_script, store, clock):
    model = InterviewerModel(lambda prompt: "follow_up", follow_ups=["Did your family stay on the farm after that?"] * 3)
    session = InterviewSession.open(small_script, "yesno", model.llm, store, clock)
    await session.next_utterance()
    await session.submit_answer("Sounds good.")
    await session.next_utterance()
    clock.advance(5)
    await session.submit_answer("I grew up on a farm near Dayton and moved to Columbus at eighteen.")
    follow = await session.next_utterance()
    assert follow.text == "Did your family stay on the farm after that?" and len(model.decision_prompts()) == 1
    clock.advance(5)
    await session.submit_answer("Yes, they did.")
    nxt = await session.next_utterance()
    assert nxt.question_id == "q003" and session.turns[-1].meta["decision"]["reason"] == "closed_answered"
    assert len(model.decision_prompts()) == 1
