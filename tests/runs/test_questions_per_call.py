"""How many questions go in one model call, through the one pipeline as through the runner it replaced: one on a
model that keeps the agent's prefix warm (the embedded model; benchmarks/batch_throughput.py), the batch size on
an endpoint, and `questions_per_call` when a command names it. (The pipeline once passed the spec's options to
the runner, which then took the batch size on the embedded model too: the demo asked five questions a call.)"""

from __future__ import annotations

import json

import pytest

from experiments.faithfulness.gss_benchmark import plan_gss_benchmark
from experiments.pipeline import run
from simulacra.llm import LLM, FakeBackend


class CountingBackend(FakeBackend):
    def __init__(self, warm: bool):
        super().__init__(default=self.reply)
        self.is_local = warm
        self.per_call: list[int] = []

    def reply(self, request) -> str:
        properties = (request.json_schema or {}).get("properties", {})
        self.per_call.append(len(properties))
        return json.dumps({key: {"reasoning": "r", "answer": (sub["properties"]["answer"].get("enum") or ["1"])[0]}
                           for key, sub in properties.items()})


@pytest.mark.parametrize("warm, questions_per_call, expected", [(True, None, 1), (False, None, 5), (True, 3, 3)])
def test_questions_a_call(warm, questions_per_call, expected):
    plan = plan_gss_benchmark("2016-2020", people=2, items=6, seed=0, context_items=6, group_size=1,
                              conditions=["demographic"])
    backend = CountingBackend(warm)
    outcome = run(plan.spec(model={"model": f"counting-{warm}-{questions_per_call}"}, batch_size=5), llm=LLM(backend),
                  questions_per_call=questions_per_call)
    assert outcome.status == "complete" and outcome.written == 12
    assert max(backend.per_call) == expected  # 6 items: batches of 5 and 1 (or of 3)
