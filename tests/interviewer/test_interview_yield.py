"""`simulacra interview-yield` (experiments/interview_yield.py): twins of real GSS panel people are interviewed,
agents built from the transcripts, everyone scored on held-out items. With a fake model here (the pipeline
and the arithmetic); on the embedded model at tiny scale in the embedded test."""

from __future__ import annotations

import json

import pytest

from interview_fakes import InterviewerModel

pytest.importorskip("experiments.faithfulness.gss_benchmark")


def _shared_data() -> bool:
    from surveys.paths import shared_data_dir

    try:
        shared_data_dir()
        return True
    except Exception:
        return False


needs_panel = pytest.mark.skipif(not _shared_data(), reason="the shared data folder (GSS panels) is not here")


def fill(schema: dict):
    """A reply that fits a JSON schema: first enum value, a first-person sentence for strings."""
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return fill(schema[key][0])
    kind = schema.get("type")
    if kind == "object":
        return {k: fill(v) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        return [fill(schema.get("items", {}))] * max(1, schema.get("minItems", 1))
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    if kind == "boolean":
        return True
    return "I grew up near the lake, and I work as a nurse in town."


class YieldModel(InterviewerModel):
    def reply(self, request):
        if request.schema_name in ("FollowUpDecision", "NotesUpdate", "Rephrase"):
            return super().reply(request)
        return json.dumps(fill(request.json_schema or {}))


def test_ratio_and_bootstrap_interval():
    from experiments.interview_yield import Condition, bootstrap_ratio

    keys = [("p", str(i)) for i in range(10)]
    truth = {k: "1" for k in keys}
    twin = Condition("twin", {k: "1" if i < 8 else "2" for i, k in enumerate(keys)})
    interview = Condition("interview", {k: "1" if i < 4 else "2" for i, k in enumerate(keys)})
    ratio, low, high = bootstrap_ratio(interview, twin, truth, keys, draws=500)
    assert ratio == pytest.approx(0.5) and low < 0.5 < high
    nothing = Condition("twin", {k: "2" for k in keys})
    assert bootstrap_ratio(interview, nothing, truth, keys)[0] != bootstrap_ratio(interview, nothing, truth, keys)[0]  # nan


@needs_panel
def test_a_twin_never_sees_its_targets():
    from experiments.interview_yield import check_no_leak, plan_yield

    plan = plan_yield(people=2, targets=3, context_items=6, seed=1)
    check_no_leak(plan)
    for person, twin in plan.twins.items():
        preview = twin.context_preview([])
        assert all(q.text.strip() not in preview for q in plan.questions)
        assert twin.respondent == person and set(plan.targets) <= set(twin.exclude)


@needs_panel
async def test_interview_yield_end_to_end_with_a_fake_model(tmp_path, monkeypatch, isolated_workspace):
    from experiments.interview_yield import run_interview_yield

    model = YieldModel()
    monkeypatch.setattr("simulacra.llm.open_llm", lambda *a, **k: model.llm)
    report = await run_interview_yield(people=1, targets=3, context_items=6, blocks=["life_story"], turns=3, lengths=[1],
                                       out_dir=tmp_path / "out")
    names = [row["condition"] for row in report["conditions"]]
    assert names[:2] == ["twin", "interview"] and "interview:first-1" in names and "interview:block:life_story" in names
    assert any(n.startswith("ref:majority") for n in names)
    twin = next(r for r in report["conditions"] if r["condition"] == "twin")
    assert twin["answered"] == report["person_items"] == 3
    assert (tmp_path / "out" / "report.md").read_text().count("|") > 10
    assert json.loads((tmp_path / "out" / "report.json").read_text())["version"] == 1


def test_the_command_registers():
    import typer
    from typer.testing import CliRunner

    from experiments.interview_yield import register

    app = typer.Typer()
    register(app)

    @app.command()
    def other() -> None:  # a second command keeps typer from collapsing the app into one command
        pass

    result = CliRunner().invoke(app, ["interview-yield", "--help"])
    assert result.exit_code == 0 and "--lengths" in result.output
