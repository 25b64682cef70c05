"""Interview an agent: the whole script with a generative agent answering, a closed loop.

It tests the interviewer without a person, and measures what an interview captures (interview an agent,
build a new agent from that transcript, compare the two). Each interviewer line is put to the agent as an
open question through the one `Agent.answer` interface; the last few exchanges go with it as `prior`
steps so follow-ups ("you mentioned ...") make sense to the agent.

An agent's utterance is checked like a person's answer, and more strictly (`InterviewSession.judge_answer`, i.e.
`interviewer.validation.check_answer` with `agent=True`): not empty, not a repeat of its earlier answers, adequate
to what was asked (no bare "ok"/"saved", no echo of the interviewer's words, not too short for an open question,
not the same short reply to other questions), not talk about the interview or as an assistant, in the first
person, no loops, about the question. One that fails is asked for once more (a new sampling round, with a
reminder of what went wrong); the second reply is submitted whatever it is, with both verdicts in the answer's
`meta["agent_check"]`; still failing, the turn is marked `adequacy="non_answer"` and the interview moves on.

The agent hears what a respondent would hear. The intro is not a question: the agent is not asked it (it would
answer the intro's instructions, e.g. the checkpoint message "Saved.", and carry that on); an empty answer is
recorded (`meta["agent_status"] = "not_asked"`). The recent exchanges given as `prior` leave out its non-answers,
so a degenerate reply is not shown back to it as an example to follow.

Garbage is refused. Once `stop_after` answers were judged and more than `stop_share` of them were non-answers,
the interview stops: the transcript gets a `status` line marking it unusable (`InterviewSession.mark_unusable`;
`simulacra agents build` refuses it without --force) and `session.unusable_reason` holds one line saying how many
answers were non-answers, two examples and "this agent cannot be interviewed on <model>".

Warm context: every call asks one question with the agent's context first and the changing parts (the
recent exchanges, the question) last, so the embedded backend's prefix cache keeps the agent's context warm
between turns; `reasoning=False` by default, since a spoken answer needs no separate reasoning field.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

from simulacra.agent import Agent, AnswerOptions, PriorStep
from simulacra.llm import LLM
from surveys.model import Answer, AnswerStatus, Question, QuestionKind
from interviewer.engine import InterviewSession, Utterance
from interviewer.errors import InterviewError
from interviewer.validation import Verdict

log = logging.getLogger(__name__)

OnTurn = Callable[[Utterance, str | None], None]

RETRY_NOTE = (
    "Your last reply did not answer the interviewer ({problems}). Answer the interviewer's question itself, "
    "speaking as yourself in the first person, in a few sentences, and do not repeat what you said before."
)
_PROBLEM_WORDS = {
    "empty": "it said nothing", "repeat": "it repeated an earlier answer", "off_topic": "it was about something else",
    "acknowledgement": "it only acknowledged the question", "too_short": "it was too short for the question",
    "echo": "it said the interviewer's words back", "same_short": "it was the same short reply as before",
    "meta": "it talked about the interview", "first_person": "it was not about yourself as 'I'",
    "loop": "it repeated itself",
}


class AgentNotInterviewable(InterviewError):
    """A closed-loop interview stopped because most of the agent's answers were non-answers."""


def _recent_exchanges(session: InterviewSession, count: int, chars: int = 600) -> list[PriorStep]:
    """The last `count` exchanges, leaving out the intro and the agent's non-answers (shown back to a small
    model, "Saved." becomes the pattern it continues)."""
    steps: list[PriorStep] = []
    turns = session.turns
    for asked, answered in zip(turns, turns[1:]):
        if asked.speaker != "interviewer" or answered.speaker != "respondent" or not answered.text:
            continue
        if asked.kind == "intro" or answered.adequacy == "non_answer":
            continue
        steps.append(PriorStep(stimulus=f"Interviewer: {asked.text[-chars:]}", answer=answered.text[:chars]))
    return steps[-count:] if count > 0 else []


def non_answer_share(session: InterviewSession) -> tuple[int, int]:
    """(non-answers, answers judged) so far in `session`."""
    judged = [t for t in session.turns if t.speaker == "respondent" and t.adequacy is not None]
    return sum(1 for t in judged if t.adequacy == "non_answer"), len(judged)


def stop_line(session: InterviewSession, model: str) -> str:
    """One line: how many answers were non-answers, two examples, and that the agent cannot be interviewed."""
    turns = session.turns
    examples: list[str] = []
    for index, turn in enumerate(turns):
        if turn.speaker == "respondent" and turn.adequacy == "non_answer" and len(examples) < 2:
            asked = next((t.text for t in reversed(turns[:index]) if t.speaker == "interviewer"), "")
            said = " ".join(turn.text.split())
            said = said if len(said) <= 40 else said[:39] + "…"
            line = " ".join(asked.split())
            line = line if len(line) <= 90 else line[:89] + "…"
            examples.append(f"{said!r} to {line!r}" if said else f"nothing to {line!r}")
    bad, judged = non_answer_share(session)
    return (f"{bad} of {judged} answers were not answers (e.g. {'; '.join(examples)}): "
            f"this agent cannot be interviewed on {model}")


def _options(retry_round: int, reasoning: bool) -> AnswerOptions:
    """`AnswerOptions` for one open interview question."""
    return AnswerOptions(batch_size=1, reasoning=reasoning, retry_round=retry_round)


async def _ask(agent: Agent, question: Question, llm: LLM, prior: list[PriorStep], *, retry_round: int,
               reasoning: bool, stimulus: str | None) -> Answer | None:
    answers = await agent.answer([question], llm=llm, prior=prior, stimulus=stimulus,
                                 options=_options(retry_round, reasoning))
    return answers[0] if answers else None


def _text(answer: Answer | None) -> str:
    if answer is not None and answer.status == AnswerStatus.ok and isinstance(answer.value, str):
        return answer.value.strip()
    return ""


def check_agent_answer(session: InterviewSession, utterance: Utterance, text: str) -> Verdict | None:
    """The engine's answer check on the line now waiting, held to an agent's stricter standard (None when the
    line is not judged)."""
    return session.judge_answer(text, agent=True)


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
    stop_after: int = 10,
    stop_share: float = 0.5,
) -> InterviewSession:
    """Run (or resume) `session` to its end with `agent` answering every question (`llm`: the agents' model;
    the session has its own, the interviewer's). `max_turns` stops after that many answers (the intro is not
    one; the session stays resumable). Once at least `stop_after` answers were judged and more than
    `stop_share` of them were non-answers, the interview stops and the transcript is marked unusable
    (`session.unusable_reason` says why; `stop_after=0` never stops)."""
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
        if utterance.kind == "intro":  # not a question: the agent is not asked to answer the intro's instructions
            await session.submit_answer("", meta={"respondent_agent": agent.id, "agent_status": "not_asked"})
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
        verdict = check_agent_answer(session, utterance, text)
        if verdict is not None:
            check = {"problems": verdict.problems, "detail": verdict.explain()[:300]}
            for round_no in range(1, regenerate + 1):
                if verdict.ok:
                    break
                log.info("agent %s answer refused at turn %d (%s); asking again", agent.id, utterance.turn_index, verdict.problems)
                check.setdefault("first_text", text[:300])
                note = RETRY_NOTE.format(problems="; ".join(_PROBLEM_WORDS.get(p, p) for p in verdict.problems))
                retry = await _ask(agent, question, llm, prior, retry_round=round_no, reasoning=reasoning, stimulus=note)
                if _text(retry) or not text:
                    answer, text = retry, _text(retry)
                verdict = check_agent_answer(session, utterance, text) or verdict
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
        bad, judged = non_answer_share(session)
        if stop_after > 0 and judged >= stop_after and bad > stop_share * judged and not session.finished:
            log.warning("agent %s: %d of %d answers were non-answers; the interview stops, transcript marked unusable",
                        agent.id, bad, judged)
            session.mark_unusable(stop_line(session, llm.model))
            break
    return session
