"""Answering survey questions from an agent's context, shared by every kind of agent.

Prompts are prefix-stable: the agent's context (persona, memories or transcript, expert notes) and the
fixed task come first, the questions last, so llama.cpp reuses the warm prefix between calls (and
endpoint-side prompt caches do the same). Several questions go in one call (`batch_size`).

Output is schema-constrained per question kind: choice questions get an enum of the option labels shown
(never an option that does not exist), numbers a number with the range (the sign is kept: values are
parsed as JSON numbers, never by stripping characters), open questions text. Short reasoning comes
before the answer. Replies are validated against the questions, repaired and retried by `LLM.structured`;
what stays invalid becomes `Answer(status=failed, raw=..., error=...)`, never an exception.

`scoring="logprobs"` scores choice options by next-token log-probabilities over option letters instead
(one forward pass per question, fills `Answer.probabilities`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import string
from pathlib import Path
from typing import Any, Awaitable, Callable, Literal, Sequence

from pydantic import BaseModel, Field, RootModel

from simulacra.agent import PriorStep
from simulacra.errors import EndpointError, StructuredOutputError
from simulacra.llm import LLM, extract_json
from simulacra.prompts import render_prompt
from surveys.model import Answer, AnswerStatus, AnswerValidationError, Question, QuestionKind

log = logging.getLogger(__name__)

PROMPTS = Path(__file__).parent / "prompts"
REASONING_CHARS = 120  # grammar cost grows with maxLength on llama.cpp: keep it short
OPEN_ANSWER_CHARS = 300
LETTERS = string.ascii_uppercase


def render_text(name: str, **variables: object) -> str:
    """A fragment template (one message) filled in, as plain text."""
    return render_prompt(PROMPTS / name, **variables)[0]["content"]


class AnswerOptions(BaseModel):
    """How to ask: questions per call, and generated answers or option log-probabilities."""

    batch_size: int = Field(default=5, ge=1)
    scoring: Literal["generate", "logprobs"] = "generate"
    reasoning: bool = True
    max_attempts: int | None = None


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
        except Exception as exc:  # noqa: BLE001 - any problem with this item means it failed
            detail = str(exc) if item is not None else "missing from the reply"
            answers.append(
                Answer(question_id=question.id, raw=raw, status=AnswerStatus.failed, error=f"{error} ({key}: {detail})"[:2000])
            )
    return answers


def _failed(question: Question, raw: str, error: str) -> Answer:
    return Answer(question_id=question.id, raw=raw, status=AnswerStatus.failed, error=error[:2000])


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
        )
    except StructuredOutputError as exc:
        log.info("answers stayed invalid after retries: %s", exc)
        return _salvage(keys, questions, exc.raw, str(exc))
    except (EndpointError, ConnectionError):
        raise  # the endpoint is gone: stop the run (it resumes), do not record every answer as failed
    except Exception as exc:  # noqa: BLE001 - e.g. prompt too long for the model: record, do not raise
        log.warning("answering failed: %s", exc)
        return [_failed(q, "", f"{type(exc).__name__}: {exc}") for q in questions]
    return [_to_answer(q, reply.value.root[k]) for k, q in zip(keys, questions)]


async def _answer_by_logprobs(llm: LLM, context: str, question: Question, prior_text: str) -> Answer:
    values = choice_values(question)
    letters = list(LETTERS[: len(values)])
    messages = render_prompt(
        PROMPTS / "answer_logprobs.txt",
        context=context,
        prior=prior_text,
        question=format_question("Q1", question, with_letters=True),
    )
    try:
        logprobs = await llm.option_logprobs(messages, letters)
    except (EndpointError, ConnectionError):
        raise
    except Exception as exc:  # noqa: BLE001 - no logprobs on this endpoint, prompt too long, ...
        return _failed(question, "", f"option scoring failed: {type(exc).__name__}: {exc}")
    top = max(logprobs.values())
    weights = {letter: math.exp(lp - top) for letter, lp in logprobs.items()}
    total = sum(weights.values())
    probabilities = {question.options[i].code: weights[letter] / total for i, letter in enumerate(letters)}
    best = max(probabilities, key=probabilities.get)
    return Answer(
        question_id=question.id,
        value=best,
        raw=json.dumps(logprobs),
        probabilities=probabilities,
    )


ContextFor = Callable[[Sequence[Question]], Awaitable[str]]


async def answer_questions(
    llm: LLM,
    context_for: ContextFor,
    questions: Sequence[Question],
    *,
    prior: Sequence[PriorStep] = (),
    stimulus: str | None = None,
    options: AnswerOptions | None = None,
) -> list[Answer]:
    """One Answer per question, in order. `context_for(batch)` gives the agent context for a batch.

    Batches run one after another on a local model (its warm prefix is the agent's context) and
    concurrently against an endpoint (bounded by the LLM's concurrency).
    """
    options = options or AnswerOptions()
    questions = list(questions)
    prior_text = format_prior(prior, stimulus)
    jobs: list[tuple[list[int], Callable[[], Awaitable[list[Answer]]]]] = []

    if options.scoring == "logprobs":
        scored = [i for i, q in enumerate(questions) if q.is_choice]
        rest = [i for i, q in enumerate(questions) if not q.is_choice]
        for i in scored:
            async def job(i=i):
                try:
                    context = await context_for([questions[i]])
                except Exception as exc:  # noqa: BLE001
                    log.warning("could not build the agent context: %s", exc)
                    return [_failed(questions[i], "", f"context: {type(exc).__name__}: {exc}")]
                return [await _answer_by_logprobs(llm, context, questions[i], prior_text)]

            jobs.append(([i], job))
    else:
        rest = list(range(len(questions)))
    for start in range(0, len(rest), options.batch_size):
        indices = rest[start : start + options.batch_size]

        async def batch_job(indices=indices):
            batch = [questions[i] for i in indices]
            try:
                context = await context_for(batch)
            except Exception as exc:  # noqa: BLE001 - a context that cannot be built fails these answers only
                log.warning("could not build the agent context: %s", exc)
                return [_failed(q, "", f"context: {type(exc).__name__}: {exc}") for q in batch]
            return await _answer_batch(llm, context, batch, prior_text, options)

        jobs.append((indices, batch_job))

    results: list[Answer | None] = [None] * len(questions)
    if llm.keeps_prefix_warm:
        outcomes = [await job() for _, job in jobs]
    else:
        outcomes = await asyncio.gather(*(job() for _, job in jobs))
    for (indices, _), answers in zip(jobs, outcomes):
        for i, answer in zip(indices, answers):
            results[i] = answer
    return [a for a in results if a is not None]
