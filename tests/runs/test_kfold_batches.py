"""k-fold leave-out through the batch runner: folds do not depend on the batch size (they did: the folds
were cut from each batch, so every batch re-read new prefixes)."""

from __future__ import annotations

import math

from experiments.runs.spec import RunSpec
from experiments.runs.folder import RunFolder
from experiments.runs import run_batch
from experiments.runs.options import answer_options
from simulacra.agents.baselines import CompositeAgent
from simulacra.llm import LLM, FakeBackend
from surveys.model import Instrument, Option, Question, QuestionKind

QUESTIONS = [Question(id=f"q{i:02d}", text=f"Item {i}?", kind=QuestionKind.categorical,
                      options=[Option(code="1", label=f"yes{i}"), Option(code="2", label=f"no{i}")])
             for i in range(12)]
BATTERY = Instrument(id="mini", title="mini", questions=QUESTIONS)


def contexts_seen(batch_size: int, tmp_path) -> tuple[set[str], dict[str, str]]:
    prompts: list[str] = []

    def logprobs(messages, letters):
        prompts.append(messages[-1]["content"])
        return {letter: math.log(0.5) for letter in letters}

    agent = CompositeAgent(id="c1", known_answers={q.id: "2" for q in QUESTIONS}, questions=QUESTIONS)
    folder = RunFolder.open(RunSpec.build([agent], [BATTERY], model={"model": "fake"}, options=answer_options("logprobs", None, "kfold", 3)), tmp_path / f"runs{batch_size}")
    import asyncio

    outcome = asyncio.run(run_batch(folder, [agent], [BATTERY], LLM(FakeBackend(logprobs=logprobs)),
                                    batch_size=batch_size))
    assert outcome.status == "complete" and outcome.written == len(QUESTIONS)
    per_question = {q.id: p[: p.index("Task:")] for p in prompts for q in QUESTIONS if f". {q.text}" in p}
    return {p[: p.index("Task:")] for p in prompts}, per_question


def test_kfold_contexts_are_k_prefixes_whatever_the_batch_size(tmp_path):
    seen_one, by_question_one = contexts_seen(1, tmp_path)
    seen_five, by_question_five = contexts_seen(5, tmp_path)
    assert len(seen_one) == len(seen_five) == 3  # three folds, three prefixes (per-batch folds gave up to 12)
    assert by_question_one == by_question_five
    for qid, context in by_question_one.items():
        assert f"My answer: no{int(qid[1:])}\n" not in context  # the predicted item is never in its own context


def test_the_runner_asks_a_kfold_agent_fold_by_fold(tmp_path):
    from experiments.runs.runner import plan_work

    agent = CompositeAgent(id="c1", known_answers={q.id: "2" for q in QUESTIONS}, questions=QUESTIONS)
    options = answer_options("logprobs", None, "kfold", 3)
    [unit] = plan_work([agent], [BATTERY], {}, options=options)
    folds = [agent.fold_of(item.question, 3) for item in unit.items]
    assert folds == sorted(folds) and len(set(folds)) == 3  # each fold's questions together: one prefix at a time
