"""`simulacra interview-yield` (experiments/interview_yield.py): twins of real GSS panel people are interviewed,
agents built from the transcripts, everyone scored on held-out items. With a fake model here (the pipeline
and the arithmetic); on the embedded model at tiny scale in the embedded test."""

from __future__ import annotations

import json

import pytest

from interview_fakes import InterviewerModel


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
    ratio, low, high, dropped = bootstrap_ratio(interview, twin, truth, keys, draws=500)
    assert ratio == pytest.approx(0.5) and low < 0.5 < high and dropped == 0
    nothing = Condition("twin", {k: "2" for k in keys})
    assert bootstrap_ratio(interview, nothing, truth, keys)[0] != bootstrap_ratio(interview, nothing, truth, keys)[0]  # nan


def test_the_bootstrap_resamples_people_and_items_and_counts_replicates_without_a_ratio():
    from experiments.interview_yield import Condition, bootstrap_ratio

    # two people: the twin is right only for p1's two items; p2's twin hits nothing -> some replicates (p2 drawn
    # twice) have no denominator: counted, not silently dropped
    keys = [(p, i) for p in ("p1", "p2") for i in ("a", "b")]
    truth = {k: "1" for k in keys}
    twin = Condition("twin", {("p1", "a"): "1", ("p1", "b"): "1", ("p2", "a"): "2", ("p2", "b"): "2"})
    interview = Condition("interview", {("p1", "a"): "1", ("p1", "b"): "2", ("p2", "a"): "1", ("p2", "b"): "2"})
    ratio, low, high, dropped = bootstrap_ratio(interview, twin, truth, keys, draws=400, seed=3)
    assert ratio == pytest.approx(1.0)  # 2 hits each over the same 4 cells
    assert 40 <= dropped <= 160  # P(both people drawn are p2) = 1/4 of 400
    assert low <= 0.5 and high >= 1.0


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
def test_an_item_sharing_a_targets_stem_is_not_a_leak_but_a_target_line_is():
    """20 people x 15 targets (seed 0): person 20160316's twin knows polattak, whose wording begins with the whole
    wording of the target polhitok; that is another question, not the target (the check refused the run before)."""
    from experiments.interview_yield import check_no_leak, plan_yield
    from simulacra.errors import SimulacraError

    plan = plan_yield(people=20, targets=15)
    twin = plan.twins["20160316"]
    target = next(q for q in plan.questions if q.id == "polhitok")
    assert "polattak" in twin.known_answers and "polhitok" in plan.targets
    assert target.text.strip() in twin.context_preview([])  # the shared stem is shown ...
    check_no_leak(plan)  # ... and is not a leak
    twin.exclude = [t for t in twin.exclude if t != "polhitok"]
    if "polhitok" not in twin.known_answers:
        twin.known_answers["polhitok"] = "1"
        twin.questions.append(target)
    with pytest.raises(SimulacraError, match="twin of 20160316 would see target polhitok"):
        check_no_leak(plan)


@needs_panel
async def test_interview_yield_end_to_end_with_a_fake_model(tmp_path, monkeypatch, isolated_workspace):
    from experiments.interview_yield import run_interview_yield

    model = YieldModel()
    monkeypatch.setattr("simulacra.llm.open_llm", lambda *a, **k: model.llm)
    report = await run_interview_yield(people=1, targets=3, context_items=6, blocks=["life_story"], turns=3, lengths=[1],
                                       bootstrap=20)
    names = [row["condition"] for row in report["conditions"]]
    assert set(names) == {"twin", "interview", "interview:first-1", "interview:block:life_story"}
    assert "majority" in report["references"] and "random_floor" in report["references"]
    twin = next(r for r in report["conditions"] if r["condition"] == "twin")
    assert twin["answered"] == report["person_items"] == 3
    # one pipeline: a run folder like any other, scored like any other, the yield beside its metrics
    from experiments.runs.folder import RunFolder

    folder = RunFolder.resolve(report["run"])
    assert {a.source for a in folder.manifest.agents} == set(names)
    assert folder.manifest.exclusions["hidden"].keys() == set(report["targets"])
    for name in ("metrics.json", "report.html", "yield.json", "yield.md", "truth/responses.csv"):
        assert (folder.path / name).is_file(), name
    assert (folder.path / "yield.md").read_text().count("|") > 10
    assert json.loads((folder.path / "yield.json").read_text())["version"] == 2


def test_the_command_registers():
    import typer
    from typer.testing import CliRunner

    from experiments.yield_cli import register

    app = typer.Typer()
    register(app)

    @app.command()
    def other() -> None:  # a second command keeps typer from collapsing the app into one command
        pass

    result = CliRunner().invoke(app, ["interview-yield", "--help"])
    assert result.exit_code == 0 and "--lengths" in result.output
