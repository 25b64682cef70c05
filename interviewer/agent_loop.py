"""Interview an agent: the whole script with a generative agent answering, a closed loop.

It tests the interviewer without a person, and measures what an interview captures (interview an agent,
build a new agent from that transcript, compare the two). Each interviewer line is put to the agent as an
open question through the one `Agent.answer` interface; the last few exchanges go with it as `prior`
steps so follow-ups ("you mentioned ...") make sense to the agent.

An agent's utterance is checked like a person's answer, and more strictly (`interviewer.validation.check_answer`
with `agent=True`): not empty, not a repeat of its earlier answers, not talk about the interview or as an
assistant, in the first person, no loops, about the question. One that fails is asked for once more (a new
sampling round, with a reminder of what went wrong); the second reply is submitted whatever it is, with both
verdicts in the answer's `meta["agent_check"]`, and the engine then treats it as it would a person's non-answer.

Warm context: every call asks one question with the agent's context first and the changing parts (the
recent exchanges, the question) last, so the embedded backend's prefix cache keeps the agent's context warm
between turns; `reasoning=False` by default, since a spoken answer needs no separate reasoning field.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

from simulacra.agent import Agent, PriorStep
from simulacra.llm import LLM
from surveys.model import Answer, AnswerStatus, Question, QuestionKind
from interviewer.engine import InterviewSession, Utterance
from interviewer.validation import Verdict, check_answer

log = logging.getLogger(__name__)

OnTurn = Callable[[Utterance, str | None], None]

RETRY_NOTE = (
    "Your last reply did not answer the interviewer ({problems}). Answer the interviewer's question itself, "
    "speaking as yourself in the first person, in a few sentences, and do not repeat what you said before."
)


def _recent_exchanges(session: InterviewSession, count: int, chars: int = 600) -> list[PriorStep]:
    steps: list[PriorStep] = []
    turns = session.turns
    for asked, answered in zip(turns, turns[1:]):
        if asked.speaker == "interviewer" and answered.speaker == "respondent" and answered.text:
            steps.append(PriorStep(stimulus=f"Interviewer: {asked.text[-chars:]}", answer=answered.text[:chars]))
    return steps[-count:] if count > 0 else []


def _options(retry_round: int, reasoning: bool) -> Any:
    """`AnswerOptions` for one open interview question (None when the agent interface predates them)."""
    try:
        from simulacra.agent import AnswerOptions  # type: ignore[attr-defined]
    except ImportError:
        return None
    return AnswerOptions(batch_size=1, reasoning=reasoning, retry_round=retry_round)


async def _ask(agent: Agent, question: Question, llm: LLM, prior: list[PriorStep], *, retry_round: int,
               reasoning: bool, stimulus: str | None) -> Answer | None:
    options = _options(retry_round, reasoning)
    kwargs: dict[str, Any] = {"llm": llm, "prior": prior, "stimulus": stimulus}
    if options is not None:
        kwargs["options"] = options
    answers = await agent.answer([question], **kwargs)
    return answers[0] if answers else None


def _text(answer: Answer | None) -> str:
    if answer is not None and answer.status == AnswerStatus.ok and isinstance(answer.value, str):
        return answer.value.strip()
    return ""


def check_agent_answer(session: InterviewSession, utterance: Utterance, text: str) -> Verdict:
    """The engine's answer check, held to an agent's stricter standard."""
    block, question = session.current_item()
    earlier = [t.text for t in session.turns if t.speaker == "respondent" and t.text]
    asked = [t.text for t in session.turns if t.speaker == "interviewer" and t.question_id == question.id]
    return check_answer(
        text,
        question=utterance.text,
        objective=question.objective or question.text,
        block=block.label or block.id,
        earlier_answers=earlier,
        asked=asked,
        agent=True,
        name=session.name,
        settings=session.settings.validation,
        similarity_fn=session.similarity_fn,
    )


async def interview_agent(
    session: InterviewSession,
    agent: Agent,
    llm: LLM,
    *,
    context_exchanges: int = 3,
    on_turn: OnTurn | None = None,
    regenerate: int = 1,
    reasoning: bool = False,
    max_turns: int | None = None,
) -> InterviewSession:
    """Run (or resume) `session` to its end with `agent` answering every question (`llm`: the agents' model;
    the session has its own, the interviewer's). `max_turns` stops after that many answers (the session stays
    resumable)."""
    answered = 0
    while True:
        if max_turns is not None and answered >= max_turns:
            break
        utterance = await session.next_utterance()
        if utterance is None:
            break
        if not utterance.expects_answer:
            if on_turn:
                on_turn(utterance, None)
            continue
        question = Question(id=f"turn-{utterance.turn_index}", text=utterance.text, kind=QuestionKind.open, instrument="interview")
        prior = _recent_exchanges(session, context_exchanges)
        meta: dict[str, Any] = {"respondent_agent": agent.id}
        started = time.perf_counter()
        answer = await _ask(agent, question, llm, prior, retry_round=0, reasoning=reasoning, stimulus=None)
        text = _text(answer)
        check: dict[str, Any] = {}
        if utterance.kind != "intro":
            verdict = check_agent_answer(session, utterance, text)
            check = {"problems": verdict.problems, "detail": verdict.explain()[:300]}
            for round_no in range(1, regenerate + 1):
                if verdict.ok:
                    break
                log.info("agent %s answer refused at turn %d (%s); asking again", agent.id, utterance.turn_index, verdict.problems)
                check.setdefault("first_text", text[:300])
                note = RETRY_NOTE.format(problems=", ".join(verdict.problems))
                retry = await _ask(agent, question, llm, prior, retry_round=round_no, reasoning=reasoning, stimulus=note)
                if _text(retry) or not text:
                    answer, text = retry, _text(retry)
                verdict = check_agent_answer(session, utterance, text)
                check.setdefault("first_problems", check["problems"])
                check.update(problems=verdict.problems, detail=verdict.explain()[:300], regenerated=round_no)
            meta["agent_check"] = check
        meta["agent_s"] = round(time.perf_counter() - started, 3)
        if not text:
            meta["agent_status"] = "failed"
            meta["agent_error"] = (answer.error if answer is not None else "no answer returned") or "failed"
            log.warning("agent %s gave no valid answer at turn %d", agent.id, utterance.turn_index)
        await session.submit_answer(text, meta=meta)
        answered += 1
        if on_turn:
            on_turn(utterance, text)
    return session
