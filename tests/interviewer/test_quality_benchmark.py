"""benchmarks/interviewer_quality.py with the scripted fake model: it runs, and its figures add up."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from interview_fakes import InterviewerModel
from test_follow_up_checks import ScriptedAgent
from test_validation import ISSUE_AGENT_ANSWER, ISSUE_PROMPT

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "interviewer_quality.py"


def load_benchmark():
    spec = importlib.util.spec_from_file_location("interviewer_quality", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_benchmark_counts_checks_before_and_after_the_fallback(tmp_path, monkeypatch, capsys):
    bench = load_benchmark()
    follow_ups = iter([ISSUE_PROMPT, ISSUE_PROMPT] + ["What was the farm like when you were small?"] * 50)
    model = InterviewerModel(lambda prompt: "follow_up" if "asked on this question: 0." in prompt else "move_on", follow_ups=follow_ups)
    monkeypatch.setattr("simulacra.llm.open_llm", lambda *a, **k: model.llm)
    agent = ScriptedAgent(id="a1", source="persona", name="Ada", replies=[
        ISSUE_AGENT_ANSWER, "I grew up on a farm near Dayton, Ohio, with two brothers.",
        "We kept cows and I milked them before school every day.",
    ])
    run = await bench.interview_one(agent, "smollm2", 3, tmp_path, None)
    result = bench.summarise([run], None)
    assert result["interviews"] == 1 and result["answers"] == 3
    assert result["proposals"] >= 2 and result["before"]["no_prompt_text"] < 1
    assert result["after_all"] == 1.0 and result["spoken"] >= 1
    assert result["answer_first_bad"] > 0 and result["answer_first_by"]["meta"] > 0
    assert result["wall_per_simulated_min"] > 0
    # the retried answer and the next were adequate; the third (the fake agent's default reply) repeats the first
    assert result["adequate"] == 2 / 3 and result["unusable"] == 0
    bench.print_tables({"fake": result})
    out = capsys.readouterr().out
    assert "no_prompt_text" in out and "wall s per simulated minute" in out and "adequate answers" in out


def test_the_interviewer_role_and_the_agents_get_their_own_tiers():
    bench = load_benchmark()
    settings = bench.settings_for("qwen2.5-1.5b", "smollm2")
    assert settings.for_role("interviewer").local_model == "qwen2.5-1.5b"
    assert settings.for_role("agents").local_model == "smollm2"


def test_decision_time_percentiles_are_nearest_rank():
    bench = load_benchmark()
    assert bench.nearest_rank([], 0.5) is None
    assert bench.nearest_rank([4.0, 1.0, 3.0, 2.0], 0.5) == 2.0  # ceil(4 x 0.5) = 2nd smallest
    assert bench.nearest_rank([float(v) for v in range(1, 11)], 0.95) == 10.0  # ceil(9.5) = 10th
    assert bench.nearest_rank([float(v) for v in range(1, 21)], 0.95) == 19.0  # ceil(19) = 19th
    assert bench.nearest_rank([7.0], 0.95) == 7.0
