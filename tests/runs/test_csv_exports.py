"""Every CSV a run writes for people escapes cells a spreadsheet would run as formulas (OWASP: a leading = + - @,
tab or carriage return gets an apostrophe); numbers such as -3 stay numbers. Read back with pandas."""

from __future__ import annotations

import asyncio

import pandas as pd

from runs_helpers import MODEL
from experiments.runs import RunFolder, RunSpec, run_batch
from simulacra.agent import Agent
from surveys.model import Answer, Instrument, Question, QuestionKind

EVIL = ["=HYPERLINK(\"http://x\",\"x\")", "+SUM(1,2)", "-cmd", "@SUM(1)", "\tlead", "\rlead"]


class Evil(Agent):
    source: str = "persona"

    async def prepare(self, questions, *, llm, options):
        return lambda group: ""

    def context_preview(self, questions, **kwargs):
        return ""

    async def answer(self, questions, *, llm=None, options=None, prior=(), stimulus=None):
        return [Answer(question_id=q.id, value=EVIL[int(q.id[1:])] if q.id != "q6" else -3, reasoning="=1+1")
                for q in questions]


def test_the_run_csv_escapes_formulas_and_keeps_numbers(tmp_path):
    questions = [Question(id=f"q{i}", text=f"Q{i}?", kind=QuestionKind.open) for i in range(6)]
    questions.append(Question(id="q6", text="How many?", kind=QuestionKind.numeric, min=-10, max=10))
    instrument = Instrument(id="open", title="Open", questions=questions)
    agent = Evil(id="e1")
    folder = RunFolder.open(RunSpec.build([agent], [instrument], model=MODEL), tmp_path / "runs")
    asyncio.run(run_batch(folder, [agent], [instrument], _NoLLM()))
    frame = pd.read_csv(folder.path / "responses.csv", dtype=str, keep_default_na=False)
    cells = frame.to_numpy().ravel().tolist()
    assert not any(c.startswith(("=", "+", "@", "\t", "\r")) for c in cells)
    assert not any(c.startswith("-") and not c.lstrip("-").replace(".", "").isdigit() for c in cells)
    values = dict(zip(frame["question"], frame["value"]))
    assert all(values[f"q{i}"].startswith("'") for i in range(6))
    assert values["q6"] in ("-3", "-3.0")  # a number is not a formula: written as it is


class _NoLLM:
    """These agents never call a model; the executor still needs an LLM's shape."""

    keeps_prefix_warm = False

    class settings:
        max_concurrency = 1

    class usage:
        @staticmethod
        def snapshot():
            return {}
