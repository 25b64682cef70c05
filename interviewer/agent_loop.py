"""Interview an agent: the whole script with a generative agent answering, a closed loop.

It tests the interviewer without a person, and measures what an interview captures (interview an agent,
build a new agent from that transcript, compare the two). Each interviewer line is put to the agent as an
open question through the one `Agent.answer` interface; the last few exchanges go with it as `prior`
steps so follow-ups ("you mentioned ...") make sense to the agent.
"""

from __future__ import annotations

import logging
from typing import Callable

from simulacra.agent import Agent, PriorStep
from simulacra.llm import LLM
from surveys.model import AnswerStatus, Question, QuestionKind
from interviewer.engine import InterviewSession, Utterance

log = logging.getLogger(__name__)

OnTurn = Callable[[Utterance, str | None], None]


def _recent_exchanges(session: InterviewSession, count: int, chars: int = 600) -> list[PriorStep]:
    steps: list[PriorStep] = []
    turns = session.turns
    for asked, answered in zip(turns, turns[1:]):
        if asked.speaker == "interviewer" and answered.speaker == "respondent" and answered.text:
            steps.append(PriorStep(stimulus=f"Interviewer: {asked.text[-chars:]}", answer=answered.text[:chars]))
    return steps[-count:] if count > 0 else []


async def interview_agent(
    session: InterviewSession,
    agent: Agent,
    llm: LLM,
    *,
    context_exchanges: int = 3,
    on_turn: OnTurn | None = None,
) -> InterviewSession:
    """Run (or resume) `session` to its end with `agent` answering every question."""
    while True:
        utterance = await session.next_utterance()
        if utterance is None:
            break
        if not utterance.expects_answer:
            if on_turn:
                on_turn(utterance, None)
            continue
        question = Question(id=f"turn-{utterance.turn_index}", text=utterance.text, kind=QuestionKind.open, instrument="interview")
        answers = await agent.answer([question], llm=llm, prior=_recent_exchanges(session, context_exchanges))
        answer = answers[0] if answers else None
        meta: dict[str, object] = {"respondent_agent": agent.id}
        if answer is not None and answer.status == AnswerStatus.ok and isinstance(answer.value, str):
            text = answer.value
        else:
            text = ""
            meta["agent_status"] = "failed"
            meta["agent_error"] = (answer.error if answer is not None else "no answer returned") or "failed"
            log.warning("agent %s gave no valid answer at turn %d", agent.id, utterance.turn_index)
        await session.submit_answer(text, meta=meta)
        if on_turn:
            on_turn(utterance, text)
    return session
