"""Transports over the engine: an agent as respondent, the terminal text session, the `interview` command."""

from __future__ import annotations

import io
from typing import Literal, Sequence

import typer
from rich.console import Console
from typer.testing import CliRunner

from interviewer.agent_loop import interview_agent
from interviewer.clock import FakeClock, SpeakingRateClock
from interviewer.engine import InterviewSession
from interviewer.errors import InterviewError, RespondentIdError
from interviewer.session_cli import register
from interviewer.storage import TranscriptStore
from interviewer.text_session import run_text_session
from simulacra.agent import Agent, PriorStep
from simulacra.transcript import read_transcript
from surveys.model import Answer, AnswerStatus, Question, QuestionKind

from interview_fakes import InterviewerModel


class NotebookAgent(Agent):
    """A stand-in agent: answers from a fixed life, and keeps what it was asked."""

    source: Literal["persona"] = "persona"
    asked: list[tuple[str, QuestionKind, int]] = []
    fail_on: str | None = None

    async def answer(self, questions: Sequence[Question], *, llm, options=None, prior: Sequence[PriorStep] = (), stimulus=None) -> list[Answer]:
        out = []
        for question in questions:
            self.asked.append((question.text, question.kind, len(prior)))
            if self.fail_on and self.fail_on in question.text:
                out.append(Answer(question_id=question.id, status=AnswerStatus.failed, error="no valid JSON"))
            else:
                out.append(Answer(question_id=question.id, value=f"I grew up in Toledo; about '{question.text[:25]}': it mattered."))
        return out

    async def prepare(self, questions, *, llm, options):
        return lambda group: ""

    def context_preview(self, questions, **kwargs) -> str:
        return ""


async def test_an_agent_answers_every_interviewer_line(small_script, store):
    model = InterviewerModel()
    agent = NotebookAgent(id="toledo", name="Sam", fail_on="value the most")
    session = InterviewSession.open(small_script, "agent-toledo", model.llm, store, SpeakingRateClock(), name=agent.name)
    await interview_agent(session, agent, model.llm)
    assert session.finished
    transcript = read_transcript(store.path("agent-toledo"))
    answers = [t for t in transcript.turns if t.speaker == "respondent"]
    asked = [t for t in transcript.turns if t.speaker == "interviewer" and t.kind != "closing"]
    assert len(answers) == len(asked)
    said = [text for text, _, _ in agent.asked]
    # every line but the intro (not a question: the agent is not asked it) goes to the agent; a failure is asked again once
    assert asked[0].kind == "intro" and answers[0].text == "" and answers[0].meta["agent_status"] == "not_asked"
    assert [t for i, t in enumerate(said) if i == 0 or t != said[i - 1]] == [t.text for t in asked[1:]]
    assert len(said) > len(asked) - 1
    assert all(kind == QuestionKind.open for _, kind, _ in agent.asked)
    assert agent.asked[0][2] == 0 and max(n for _, _, n in agent.asked) == 3  # recent exchanges go along as prior
    assert answers[1].text.startswith("I grew up in Toledo") and answers[1].meta["respondent_agent"] == "toledo"
    failed = [t for t in answers if t.meta.get("agent_status") == "failed"]
    assert failed and failed[0].text == ""  # recorded as a failure, the interview goes on
    assert transcript.turns[0].text.startswith("Hi, Sam!")
    assert transcript.turns[-1].kind == "closing"


async def test_text_session_commands_and_resume(small_script, store):
    model = InterviewerModel()
    clock = FakeClock()
    inputs = iter(["Sounds good.", "/help", "", "I was born in Ohio and moved a lot.", "/skip", "/pause", "", "Yes, leaving home.", "/quit"])
    out = io.StringIO()
    console = Console(file=out, width=120)
    session = InterviewSession.open(small_script, "typed", model.llm, store, clock)
    assert await run_text_session(session, console, lambda prompt: next(inputs)) == "quit"
    text = out.getvalue()
    assert "Commands: /pause" in text and "Paused" in text and "(skipped)" in text and "resume" in text
    turns = store.load("typed").turns
    q003 = [t for t in turns if t.question_id == "q003"]
    assert [t.kind for t in q003] == ["scripted", "answer", "follow_up"]  # after /skip came q003, then a follow-up
    follow_up_q002 = [t for t in turns if t.question_id == "q002" and t.kind == "follow_up"]
    assert len(follow_up_q002) == 1 and turns.index(follow_up_q002[0]) + 1 < len(turns)
    assert turns[turns.index(follow_up_q002[0]) + 1].kind == "scripted"  # skipped: no answer recorded for it

    more = iter(["It was the move to Denver.", "Family, above all.", "Nothing more."])
    session = InterviewSession.open(small_script, "typed", model.llm, store, clock)
    out2 = io.StringIO()
    assert await run_text_session(session, Console(file=out2, width=120), lambda prompt: next(more)) == "finished"
    assert "Resuming" in out2.getvalue()
    resumed = store.load("typed").turns
    assert resumed[len(turns)].text == "It was the move to Denver."  # the pending follow-up was answered, not re-asked
    assert [t.index for t in resumed] == list(range(len(resumed)))
    assert resumed[-1].kind == "closing"


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:  # a group, so the command keeps its name
        pass

    register(app)
    return app


def test_interview_command_needs_a_respondent_with_a_safe_id(tmp_path):
    runner = CliRunner()
    result = runner.invoke(_app(), ["interview"])
    assert isinstance(result.exception, InterviewError) and "--respondent" in str(result.exception)
    result = runner.invoke(_app(), ["interview", "--respondent", "../etc"])
    assert isinstance(result.exception, RespondentIdError)


def test_interview_command_with_an_agent_respondent(small_script_path, monkeypatch, isolated_workspace):
    from simulacra.agents.bank import AgentBank
    from simulacra.agents.baselines import PersonaAgent

    models = {"interviewer": InterviewerModel(), "agents": InterviewerModel()}  # one model per role
    roles = []

    def open_llm(*a, role="agents", **k):
        roles.append(role)
        return models[role].llm

    monkeypatch.setattr("simulacra.llm.open_llm", open_llm)
    made = []
    monkeypatch.setattr("interviewer.validation.embedding_similarity", lambda *a, **k: made.append(1) or (lambda x, y: 0.5))
    AgentBank().save(PersonaAgent(id="lake", name="Robin", persona="I grew up near Lake Erie and teach school."))
    runner = CliRunner()
    result = runner.invoke(_app(), ["interview", "--respondent-agent", "lake", "--script", str(small_script_path), "--max-minutes", "2"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "Finished" in result.output
    # the interviewer's decisions went to the interviewer's model, the agent's answers to the agents' model
    assert sorted(roles) == ["agents", "interviewer"]
    interviewer_calls = {r.schema_name for r in models["interviewer"].backend.requests}
    agent_calls = {r.schema_name for r in models["agents"].backend.requests}
    assert "BatchReply" not in interviewer_calls and agent_calls == {"BatchReply"}
    assert made  # the topic checks get the embedding similarity (--embeddings is the default)
    transcript = read_transcript(TranscriptStore().path("agent-lake"))
    assert transcript.meta["respondent_agent"] == "lake" and transcript.meta["name"] == "Robin"
    assert [t.text for t in transcript.turns if t.speaker == "respondent"][1].startswith("I grew up near the lake")
    again = runner.invoke(_app(), ["interview", "--respondent-agent", "lake", "--script", str(small_script_path)])
    assert again.exit_code == 0 and "already finished" in again.output


def test_typed_interview_command_reads_the_terminal(small_script_path, monkeypatch):
    model = InterviewerModel(lambda prompt: "move_on")
    roles = []
    monkeypatch.setattr("simulacra.llm.open_llm", lambda *a, **k: roles.append(k.get("role")) or model.llm)
    result = CliRunner().invoke(
        _app(), ["interview", "--respondent", "kim", "--script", str(small_script_path), "--no-embeddings"],
        input="Hello!\nMy life began in Reno.\nA crossroads, yes.\nMy kids.\n",
    )
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "Finished" in result.output and "simulacra agents build" in result.output
    assert roles == ["interviewer"]
    turns = read_transcript(TranscriptStore().path("kim")).turns
    assert [t.text for t in turns if t.speaker == "respondent"] == ["Hello!", "My life began in Reno.", "A crossroads, yes.", "My kids."]
