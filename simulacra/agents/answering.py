"""Answering survey questions from an agent's context: the one loop every kind of agent answers through.

`Agent.answer` calls `answer_questions(agent, ...)`; the agent only says which questions share a context
(`context_groups`) and what that context is (`prepare` returns a function). Each group's questions are
asked in batches of `batch_size` (generation) or one by one (option scoring).

Prompts are prefix-stable: the agent's context (persona, memories or transcript, expert notes) and the
fixed task come first, the questions last, so llama.cpp reuses the warm prefix between calls (and
endpoint-side prompt caches do the same).

Output is schema-constrained per question kind: choice questions get an enum of the option labels shown
(never an option that does not exist), numbers a number with the range (the sign is kept: values are
parsed as JSON numbers, never by stripping characters), open questions text. Short reasoning comes
before the answer. Replies are validated against the questions, repaired and retried by `LLM.structured`.

Failure taxonomy: what stays invalid after repair and retries becomes `Answer(status=failed, raw, error,
attempts)`. Every other exception (endpoint gone, request rejected, no logprobs on this endpoint, memory
store, embedder, prompt too long, a bug) propagates: the caller stops with everything so far saved.

`scoring="logprobs"` scores choice options by next-token log-probabilities over option letters (one
forward pass per question, fills `Answer.probabilities`); numeric and open items are still generated.
`debias="permute"` averages the option distribution over the cyclic permutations of the option order;
`debias="calibrate"` divides by the distribution the model gives a content-free question ("N/A") in the
same context and renormalises (contextual calibration).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import string
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Sequence

from pydantic import BaseModel, RootModel, ValidationError

from simulacra.agents.options import AnswerOptions, PriorStep
from simulacra.errors import StructuredOutputError
from simulacra.llm import LLM, extract_json
from simulacra.prompts import prompt_hash, render_prompt
from surveys.model import Answer, AnswerAttempt, AnswerStatus, AnswerValidationError, Question, QuestionKind

if TYPE_CHECKING:
    from simulacra.agents.base import Agent

__all__ = ["AnswerOptions", "answer_questions", "render_text", "choice_values", "format_question"]

log = logging.getLogger(__name__)

PROMPTS = Path(__file__).parent / "prompts"
REASONING_CHARS = 120  # grammar cost grows with maxLength on llama.cpp: keep it short
OPEN_ANSWER_CHARS = 300
LETTERS = string.ascii_uppercase


def render_text(name: str, **variables: object) -> str:
    """A fragment template (one message) filled in, as plain text."""
    return render_prompt(PROMPTS / name, **variables)[0]["content"]


class ItemReply(BaseModel):
    reasoning: str = ""
    answer: Any = None


class BatchReply(RootModel[dict[str, ItemReply]]):
    pass


def choice_values(question: Question) -> list[str]:
    """What the model picks from: the option labels when they are distinct, else the codes."""
    labels = [o.label.strip() for o in question.options]
    if all(labels) and len({l.casefold() for l in labels}) == len(labels):
        return labels
    return [o.code for o in question.options]


def _number_text(value: float | None) -> str:
    return "?" if value is None else f"{value:g}"


def format_question(key: str, question: Question, with_letters: bool = False) -> str:
    lines = [f"{key}. {question.text.strip()}"]
    if question.is_choice:
        values = choice_values(question)
        if with_letters:
            lines += [f"{LETTERS[i]}) {v}" for i, v in enumerate(values)]
        else:
            lines.append("Options: " + " | ".join(values))
    elif question.kind == QuestionKind.numeric:
        whole = " (a whole number)" if question.integer else ""
        unit = f" {question.unit}" if question.unit else ""
        lines.append(f"Answer with a number from {_number_text(question.min)} to {_number_text(question.max)}{unit}{whole}.")
    else:
        lines.append("Answer in your own words.")
    return "\n".join(lines)


def format_prior(prior: Sequence[PriorStep], stimulus: str | None) -> str:
    parts: list[str] = []
    if prior:
        steps = []
        for step in prior:
            line = f"- You were shown: {step.stimulus.strip()}"
            if step.question:
                line += f"\n  You were asked: {step.question.strip()}"
            if step.answer is not None:
                line += f"\n  You answered: {step.answer.strip()}"
            steps.append(line)
        parts.append(render_text("context_prior.txt", steps="\n".join(steps)))
    if stimulus:
        parts.append(f"You are now shown this:\n{stimulus.strip()}")
    return ("\n" + "\n\n".join(parts) + "\n") if parts else ""


def item_schema(question: Question, reasoning: bool = True) -> dict[str, Any]:
    if question.is_choice:
        answer: dict[str, Any] = {"type": "string", "enum": choice_values(question)}
    elif question.kind == QuestionKind.numeric:
        answer = {"type": "integer" if question.integer else "number", "minimum": question.min, "maximum": question.max}
    else:
        answer = {"type": "string", "maxLength": OPEN_ANSWER_CHARS}
    properties: dict[str, Any] = {}
    if reasoning:
        properties["reasoning"] = {"type": "string", "maxLength": REASONING_CHARS}
    properties["answer"] = answer
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


def batch_schema(keys: Sequence[str], questions: Sequence[Question], reasoning: bool = True) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {k: item_schema(q, reasoning) for k, q in zip(keys, questions)},
        "required": list(keys),
        "additionalProperties": False,
    }


def canonical_value(question: Question, value: Any) -> Any:
    """The stored value for a model's answer: an option code, a number in range, or text.

    Choice answers may come as a label (what the schema asks for) or as a code (servers without schema
    support); anything else is rejected with a message the model can act on.
    """
    if question.is_choice:
        if isinstance(value, str):
            code = question.code_for_label(value)
            if code is not None:
                return code
        try:
            return question.validate_value(value)
        except AnswerValidationError:
            raise AnswerValidationError(
                f"{value!r} is not one of the options ({' | '.join(choice_values(question))})"
            ) from None
    if question.kind == QuestionKind.numeric and isinstance(value, str):
        value = value.strip().replace(",", "")
    if question.kind == QuestionKind.open and value is not None and not isinstance(value, str):
        value = str(value)
    return question.validate_value(value)


def _checker(keys: Sequence[str], questions: Sequence[Question]) -> Callable[[BatchReply], None]:
    def check(reply: BatchReply) -> None:
        problems = []
        for key, question in zip(keys, questions):
            item = reply.root.get(key)
            if item is None:
                problems.append(f"{key}: missing")
                continue
            try:
                canonical_value(question, item.answer)
            except AnswerValidationError as exc:
                problems.append(f"{key}: {exc}")
        if problems:
            raise ValueError("; ".join(problems))

    return check


def _to_answer(question: Question, item: ItemReply) -> Answer:
    return Answer(
        question_id=question.id,
        value=canonical_value(question, item.answer),
        reasoning=item.reasoning.strip(),
        raw=item.model_dump_json(),
    )


def _attempt(record: Any, retry_round: int) -> AnswerAttempt:
    """An earlier attempt as the LLM layer reports it (an object or dict with raw/error), as stored."""
    if isinstance(record, AnswerAttempt):
        return record
    get = record.get if isinstance(record, dict) else (lambda key, default=None: getattr(record, key, default))
    error = get("error", None)
    if error is None and get("problems", None):
        error = "; ".join(map(str, get("problems")))
    return AnswerAttempt(
        raw=str(get("raw", "") or ""),
        error=None if error is None else str(error),
        round=int(get("round", retry_round) or 0),
        at=float(get("at", 0.0) or 0.0),
    )


def _attempts_of(source: Any, retry_round: int) -> list[AnswerAttempt]:
    """The attempts before the final one: a Structured reply's `history` (the invalid replies before the
    valid one), or a StructuredOutputError's `attempts` without its last (that one is the answer's raw/error)."""
    if isinstance(source, StructuredOutputError):
        records = list(getattr(source, "attempts", []) or [])[:-1]
    else:
        records = list(getattr(source, "history", []) or [])
    return [_attempt(r, retry_round) for r in records]


def _salvage(keys: Sequence[str], questions: Sequence[Question], raw: str, error: str) -> list[Answer]:
    """After retries ran out: keep the items that are valid, mark the rest failed."""
    try:
        parsed = extract_json(raw)
    except ValueError:
        parsed = None
    answers = []
    for key, question in zip(keys, questions):
        item = parsed.get(key) if isinstance(parsed, dict) else None
        try:
            answers.append(_to_answer(question, ItemReply.model_validate(item)))
        except (ValidationError, AnswerValidationError, ValueError, TypeError) as exc:  # this item is invalid
            detail = str(exc) if item is not None else "missing from the reply"
            answers.append(
                Answer(question_id=question.id, raw=raw, status=AnswerStatus.failed, error=f"{error} ({key}: {detail})"[:2000])
            )
    return answers


async def _answer_batch(
    llm: LLM, context: str, questions: Sequence[Question], prior_text: str, options: AnswerOptions
) -> list[Answer]:
    keys = [f"Q{i + 1}" for i in range(len(questions))]
    messages = render_prompt(
        PROMPTS / "answer.txt",
        context=context,
        prior=prior_text,
        questions="\n\n".join(format_question(k, q) for k, q in zip(keys, questions)),
        keys=", ".join(keys),
    )
    digest = prompt_hash(messages)
    schema = batch_schema(keys, questions, options.reasoning)
    # room for the worst case the grammar allows (a looping small model spends a token per character)
    per_item = 60 + (REASONING_CHARS if options.reasoning else 0)
    per_item += sum(OPEN_ANSWER_CHARS for q in questions if q.kind == QuestionKind.open) // max(1, len(questions))
    try:
        reply = await llm.structured(
            messages,
            BatchReply,
            validate=_checker(keys, questions),
            json_schema=schema,
            max_tokens=min(4096, 32 + per_item * len(questions)),
            attempts=options.max_attempts,
            retry_round=options.retry_round,
        )
    except StructuredOutputError as exc:  # invalid model output after repair and retries: failed answers
        log.info("answers stayed invalid after retries: %s", exc)
        attempts = _attempts_of(exc, options.retry_round)
        answers = _salvage(keys, questions, exc.raw, str(exc))
        for answer in answers:
            answer.prompt_hash = digest
            answer.attempts = list(attempts)
        return answers
    attempts = _attempts_of(reply, options.retry_round)
    answers = [_to_answer(q, reply.value.root[k]) for k, q in zip(keys, questions)]
    for answer in answers:
        answer.prompt_hash = digest
        answer.attempts = list(attempts)
    return answers


# -- option scoring -----------------------------------------------------------------------------------------
def _logprob_messages(context: str, question: Question, prior_text: str, values: Sequence[str]) -> list[dict[str, str]]:
    lines = [f"Q1. {question.text.strip()}"] + [f"{LETTERS[i]}) {v}" for i, v in enumerate(values)]
    return render_prompt(PROMPTS / "answer_logprobs.txt", context=context, prior=prior_text, question="\n".join(lines))


def _softmax(logprobs: dict[str, float], letters: Sequence[str]) -> list[float]:
    """Probabilities over `letters` (renormalised among them); a missing letter counts as impossible."""
    values = [logprobs.get(letter, -math.inf) for letter in letters]
    top = max(values)
    if top == -math.inf:
        return [1.0 / len(letters)] * len(letters)
    weights = [math.exp(v - top) for v in values]
    total = sum(weights)
    return [w / total for w in weights]


class _Calibration:
    """Content-free distributions ("N/A" in place of the question and its options), one model call per
    distinct prompt (agent context, prior steps, option count), shared by concurrent questions."""

    def __init__(self) -> None:
        self._cache: dict[str, asyncio.Task[list[float]]] = {}

    async def distribution(self, llm: LLM, context: str, prior_text: str, count: int) -> list[float]:
        blank = Question(id="content-free", text="N/A", kind=QuestionKind.categorical,
                         options=[{"code": str(i), "label": "N/A"} for i in range(count)])
        messages = _logprob_messages(context, blank, prior_text, ["N/A"] * count)
        key = prompt_hash(messages)
        if key not in self._cache:
            letters = list(LETTERS[:count])

            async def ask() -> list[float]:
                return _softmax(await llm.option_logprobs(messages, letters), letters)

            self._cache[key] = asyncio.ensure_future(ask())
        return await self._cache[key]


async def _answer_by_logprobs(
    llm: LLM,
    context: str,
    question: Question,
    prior_text: str,
    options: AnswerOptions,
    calibration: _Calibration,
) -> Answer:
    """Distribution over the options from next-letter log-probabilities, debiased as `options.debias` says.

    permute: for shift s = 0..k-1 the options are shown in the order values[(j + s) % k]; the letter at
    position j scores option (j + s) % k; the k un-permuted distributions are averaged.
    calibrate: p(option) / p_content_free(option), renormalised.
    """
    values = choice_values(question)
    k = len(values)
    letters = list(LETTERS[:k])
    shifts = range(k) if options.debias == "permute" else range(1)
    averaged = [0.0] * k
    raws: list[dict[str, float]] = []
    digest = None
    for shift in shifts:
        order = [(j + shift) % k for j in range(k)]  # position j shows option order[j]
        messages = _logprob_messages(context, question, prior_text, [values[i] for i in order])
        if digest is None:
            digest = prompt_hash(messages)
        logprobs = await llm.option_logprobs(messages, letters)
        raws.append(logprobs)
        shown = _softmax(logprobs, letters)
        for position, option_index in enumerate(order):
            averaged[option_index] += shown[position] / len(shifts)
    if options.debias == "calibrate":
        free = await calibration.distribution(llm, context, prior_text, k)
        adjusted = [p / max(f, 1e-12) for p, f in zip(averaged, free)]
        total = sum(adjusted)
        averaged = [a / total for a in adjusted] if total > 0 else averaged
    probabilities = {question.options[i].code: averaged[i] for i in range(k)}
    best = max(probabilities, key=probabilities.get)  # first option wins a tie
    raw: Any = raws[0] if len(raws) == 1 else raws
    return Answer(
        question_id=question.id,
        value=best,
        raw=json.dumps(raw),
        probabilities=probabilities,
        prompt_hash=digest,
    )


# -- the loop -----------------------------------------------------------------------------------------------
async def answer_questions(
    agent: "Agent",
    questions: Sequence[Question],
    *,
    llm: LLM,
    options: AnswerOptions | None = None,
    prior: Sequence[PriorStep] = (),
    stimulus: str | None = None,
) -> list[Answer]:
    """One Answer per question, in order, for any agent (see the module docstring).

    Contexts are built in group order before any model call of that group; batches run one after another
    on a local model (its warm prefix is the agent's context) and concurrently against an endpoint
    (bounded by the LLM's concurrency).
    """
    options = options or AnswerOptions()
    questions = list(questions)
    if not questions:
        return []
    prior_text = format_prior(prior, stimulus)
    context_of = await agent.prepare(questions, llm=llm, options=options)
    calibration = _Calibration()
    jobs: list[tuple[list[Question], Callable[[], Awaitable[list[Answer]]]]] = []
    for group in agent.context_groups(questions, options):
        if not group:
            continue
        context = context_of(group)
        if options.scoring == "logprobs":
            scored = [q for q in group if q.is_choice]
            rest = [q for q in group if not q.is_choice]
        else:
            scored, rest = [], list(group)
        for question in scored:
            async def score(question=question, context=context) -> list[Answer]:
                return [await _answer_by_logprobs(llm, context, question, prior_text, options, calibration)]

            jobs.append(([question], score))
        for start in range(0, len(rest), options.batch_size):
            batch = rest[start : start + options.batch_size]

            async def generate(batch=batch, context=context) -> list[Answer]:
                return await _answer_batch(llm, context, batch, prior_text, options)

            jobs.append((batch, generate))

    if llm.keeps_prefix_warm:
        outcomes = [await job() for _, job in jobs]
    else:
        outcomes = await asyncio.gather(*(job() for _, job in jobs))
    by_id: dict[str, Answer] = {}
    for (batch, _), answers in zip(jobs, outcomes):
        for question, answer in zip(batch, answers):
            by_id[question.id] = answer
    missing = [q.id for q in questions if q.id not in by_id]
    if missing:
        raise AssertionError(f"agent {agent.id}: context groups left out questions {missing}")
    return [by_id[q.id] for q in questions]
