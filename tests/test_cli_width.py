"""Every table the CLI prints reads in 80 columns and when piped (issue 26, item 3).

Each command runs through the root app with an 80-column pipe (CliRunner, COLUMNS=80, no terminal): no line is
wider than 80 characters (unless it is one word, a path, printed whole), no cell is cut with an ellipsis, and the
numbers the command computed appear whole. No model is loaded: fake-model runs, the reference conditions of a
small panel file, a small bank, study and response file.
"""

from __future__ import annotations

import json
import re

import pytest
from rich.console import Console
from rich.table import Table
from typer.testing import CliRunner

from experiments.cli import app
from simulacra.llm import LLM, FakeBackend
from simulacra.terminal import print_markdown, print_table, wrap_line
from tests.experiments.test_evaluate import AGENTS, MODEL, TRUTH, survey_instrument

WIDTH = 80


def invoke(*args: str, width: int = WIDTH) -> str:
    result = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": str(width)}, terminal_width=width)
    assert result.exit_code == 0, result.output
    return result.output


def assert_reads_in_80(text: str, *, one_record_a_line: bool = False) -> None:
    assert "…" not in text, text
    if one_record_a_line:  # tab-separated records for scripts (`runs list`, `experiment list` piped): nothing cut
        return
    for line in text.splitlines():
        if len(line) > WIDTH:  # only because of one word (a path) wider than the terminal, printed whole
            assert any(len(word) > WIDTH - 8 for word in line.split()), f"{len(line)} characters: {line!r}"


def tokens(text: str) -> set[str]:
    """Whitespace-separated words without the brackets, commas and borders around them."""
    return {word.strip("[](),;:│┃") for word in text.split()}


# -- the helper --------------------------------------------------------------------------------------------
def test_print_table_keeps_numbers_and_ids_whole_at_every_width():
    def table() -> Table:
        t = Table(title="a table with a long title: run-20260101-000000-a1b2c3d4e5", title_justify="left")
        for name in ("condition", "norm. by own retest (mean of ratios)", "95% CI", "people", "valid answers"):
            t.add_column(name, justify="left" if name == "condition" else "right")
        t.add_row("ref demographic kNN", "0.812", "[0.761, 0.853]", "1,234", "12,345/12,400")
        t.add_row("interview agents", "0.7", "[0.650, 0.749]", "5", "10/10")
        return t

    seen = set()
    for width in (200, 80, 60, 40, 24):
        console = Console(width=width, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
        seen.add(print_table(console, table()))
        text = console.export_text()
        assert "…" not in text
        for line in text.splitlines():
            assert len(line) <= width or any(len(word) > width - 8 for word in line.split()), (width, line)
        for number in ("0.812", "0.761", "0.853", "1,234", "12,345/12,400", "run-20260101-000000-a1b2c3d4e5"):
            assert number in tokens(text), (width, number, text)
        assert "ref demographic kNN" in " ".join(text.split()) or "ref" in text
    assert seen == {"table", "wrapped", "lines"}  # each way of fitting is exercised


def test_wrap_line_breaks_between_fields_then_words_never_inside_one():
    line = "majority  norm 0.812 [0.76, 0.85]  acc 0.600  retest 0.700  valid 100/100  people 50 (-3)"
    lines = wrap_line(line, 40)
    assert all(len(piece) <= 40 for piece in lines)
    assert lines[0] == "majority  norm 0.812 [0.76, 0.85]"  # broken at a field gap, the interval kept with its number
    assert all(piece.startswith("    ") for piece in lines[1:])
    assert " ".join(" ".join(lines).split()) == " ".join(line.split())  # nothing lost
    assert wrap_line("x" * 90, 80) == ["x" * 90]  # one word: whole, never cut
    assert wrap_line("report: /" + "p" * 90 + " written", 80) == ["report: /" + "p" * 90, "    written"]


def test_the_interview_yield_markdown_table_reads_in_80_columns():
    from experiments.interview_yield import markdown

    report = {"script": "default", "blocks": ["life_story"], "turns": 6, "people": ["1", "2"], "panel": "2016-2020",
              "targets": ["a", "b", "c"], "person_items": 6, "interviewer_model": "fake", "agent_model": "fake",
              "what": "agents from interview cuts", "run": "/tmp/run",
              "conditions": [{"condition": "twin", "accuracy": 0.5, "ratio_to_twin": 1.0, "ci95": (0.25, 0.75),
                              "replicates_without_ratio": 0, "answered": 6},
                             {"condition": "first 6 answers", "accuracy": 0.375, "ratio_to_twin": 0.75,
                              "ci95": (0.125, 0.875), "replicates_without_ratio": 2, "answered": 6}],
              "references": {"majority": 0.4}}
    console = Console(width=WIDTH, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    print_markdown(console, markdown(report))
    text = console.export_text()
    assert_reads_in_80(text)
    assert "|---" not in text and {"0.50", "0.38", "0.75", "0.12-0.88", "0.40"} <= tokens(text)


# -- the commands ------------------------------------------------------------------------------------------
async def make_run(root, agents, label):
    from experiments.runs.folder import RunFolder, save_truth
    from experiments.runs.runner import run_batch
    from experiments.runs.spec import RunSpec

    instrument = survey_instrument()
    folder = RunFolder.open(RunSpec.build(agents, [instrument], model=MODEL, label=label), root)
    await run_batch(folder, agents, [instrument], LLM(FakeBackend()))
    save_truth(folder, TRUTH)
    return folder


async def test_report_compare_and_runs_read_in_80_columns(isolated_workspace):
    runs = isolated_workspace / "runs"
    first = await make_run(runs, AGENTS, "first")
    second = await make_run(runs, AGENTS[:3], "second")

    text = invoke("report", first.path.name, "--bootstrap", "20")
    assert_reads_in_80(text)
    metrics = json.loads((first.path / "metrics.json").read_text())
    for condition, by_instrument in metrics["conditions"].items():
        mean = (by_instrument.get("mini", {}).get("normalized_accuracy") or {}).get("mean")
        if mean is not None:
            assert f"{mean:.3f}" in tokens(text), condition
    invoke("report", second.path.name, "--bootstrap", "0")
    wider = invoke("report", first.path.name, "--bootstrap", "20", width=110)  # the table, wrapped to 110 columns
    assert "…" not in wider and "┃" in wider and all(len(line) <= 110 for line in wider.splitlines() if "┃" in line or "│" in line)

    text = invoke("compare", first.path.name, second.path.name, "--out", str(isolated_workspace / "cmp"))
    assert_reads_in_80(text)
    compared = json.loads((isolated_workspace / "cmp" / "compare.json").read_text())
    shown = [(row["runs"].get(name) or {}).get("mean") for row in compared["headline"] if row["metric"] == "accuracy"
             for name in row["runs"]]
    assert shown and all(f"{v:.3f}" in tokens(text) for v in shown if v is not None)
    for t in compared["paired_tests"]:
        if t["difference"] is not None and not t["condition"].startswith(("majority", "random", "demographic_knn")):
            assert f"{t['difference']:.3f}" in tokens(text)

    assert_reads_in_80(invoke("runs", "list"), one_record_a_line=True)
    text = invoke("runs", "show", first.path.name)
    assert_reads_in_80(text)
    assert first.path.name in tokens(text)


def test_reference_table_of_a_panel_file_reads_in_80_columns(tmp_path):
    import random

    rng = random.Random(7)
    items = {"natspac": ["Too Little", "About Right", "Too Much"], "cappun": ["Favor", "Oppose"],
             "natheal": ["Too Little", "About Right", "Too Much"], "gunlaw": ["Favor", "Oppose"],
             "natenvir": ["Too Little", "About Right", "Too Much"], "grass": ["Legal", "Not Legal"]}
    rows = ["firstid,wave,age,sex,race,degree," + ",".join(items)]
    for person in range(1, 41):  # a small made-up panel in the 2006 long layout: values are test input only
        demo = f"{rng.randint(20, 80)},{rng.choice(['Male', 'Female'])},{rng.choice(['White', 'Black'])},High School"
        first = {q: rng.choice(options) for q, options in items.items()}
        for wave in (1, 2):
            answers = [first[q] if wave == 1 or rng.random() < 0.7 else rng.choice(o) for q, o in items.items()]
            rows.append(f"{person},{wave},{demo}," + ",".join(answers))
    panel = tmp_path / "panel.csv"
    panel.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "table.md"
    text = invoke("benchmark", "gss-panel", "--references-only", "--panel-file", panel, "--items", "6",
                  "--min-items", "3", "--bootstrap", "20", "--markdown", out)
    assert_reads_in_80(text)
    numbers = [cell.strip() for line in out.read_text().splitlines() if line.startswith("| ") and "---" not in line
               for cell in line.strip("|").split("|")[1:]]
    numbers = [n for n in numbers if re.fullmatch(r"-?\d+\.\d{3}( \[-?\d+\.\d{3}, -?\d+\.\d{3}\])?", n)]
    assert len(numbers) >= 10
    flat = " ".join(text.split())
    for number in numbers:  # each figure of the markdown table, with its interval, whole in the terminal output
        assert number in flat, number


def test_surveys_and_responses_read_in_80_columns(tmp_path):
    text = invoke("surveys", "list")
    assert_reads_in_80(text)
    assert {"gss", "177", "bfi44", "44"} <= tokens(text)
    assert_reads_in_80(invoke("surveys", "show", "gss", "--limit", "3"))

    csv = tmp_path / "answers.csv"
    lines = ["respondent,question,wave,value"]
    for person in range(1, 7):
        for question, first, second in (("natspac", "1", "1"), ("cappun", "1", "2" if person % 2 else "1"),
                                        ("a_rather_long_question_identifier_abc", "1", "1")):
            lines += [f"p{person},{question},1,{first}", f"p{person},{question},2,{second}"]
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    text = invoke("responses", "load", csv, "--instrument", "gss", "--summary")
    assert_reads_in_80(text)
    assert "natspac" in tokens(text) and "1.000" in tokens(text) and "0.500" in tokens(text)


def test_agents_doctor_and_study_status_read_in_80_columns(tmp_path, isolated_workspace):
    from simulacra.agents.bank import AgentBank
    from simulacra.agents.baselines import DemographicAgent

    bank = tmp_path / "bank"
    for i in range(3):
        AgentBank(bank).save(DemographicAgent(id=f"person-with-a-long-identifier-{i:04d}", name=f"Person {i}",
                                              demographics={"age": str(30 + i), "sex": "female", "region": "new england"}))
    text = invoke("agents", "list", "--bank", bank)
    assert_reads_in_80(text)
    first_cells = "".join(line.split("│")[1].strip() for line in text.splitlines() if line.startswith("│"))
    for i in range(3):  # whole, or folded across the lines of its cell (`agents list` allows that), never cut
        assert f"person-with-a-long-identifier-{i:04d}" in first_cells or f"person-with-a-long-identifier-{i:04d}" in tokens(text)
    assert_reads_in_80(invoke("agents", "show", "person-with-a-long-identifier-0001", "--bank", bank))
    assert_reads_in_80(invoke("doctor", "--no-ping"))

    (tmp_path / "mini.yaml").write_text(
        "id: mini\ntitle: Mini survey\nquestions:\n  - id: color\n    text: Which colour do you like best?\n"
        "    kind: categorical\n    options: [{code: r, label: Red}, {code: g, label: Green}]\n", encoding="utf-8")
    (tmp_path / "study.yaml").write_text(
        "id: a-study-with-a-rather-long-identifier\ntitle: Test study\ninterview: {required: false}\n"
        "instruments:\n  - mini.yaml\nretest_days: 14\n", encoding="utf-8")
    invoke("study", "create", tmp_path / "study.yaml")
    invoke("study", "invite", "a-study-with-a-rather-long-identifier", "3")
    text = invoke("study", "status", "a-study-with-a-rather-long-identifier")
    assert_reads_in_80(text)
    data = json.loads(invoke("study", "status", "a-study-with-a-rather-long-identifier", "--json"))
    respondents = [p["respondent"] for s in data["studies"] for p in s["participants"]]
    assert len(respondents) == 3 and all(r in tokens(text) for r in respondents)
    assert "0/1" in tokens(text)


@pytest.fixture
def fake_experiment_llm(monkeypatch):
    def typist(request) -> str:
        prompt = "\n".join(m["content"] for m in request.messages)
        answer = "Yes, I would type the free sample" if "rely on this work" in prompt else "No, I would not type the free sample"
        return json.dumps({"Q1": {"reasoning": "my situation", "answer": answer}})

    monkeypatch.setattr("simulacra.llm.open_llm", lambda *a, **k: LLM(FakeBackend(default=typist)))


def test_behavioral_experiment_report_reads_in_80_columns(tmp_path, isolated_workspace, fake_experiment_llm):
    from simulacra.agents.bank import AgentBank
    from simulacra.agents.baselines import DemographicAgent

    bank = tmp_path / "bank"
    for i in range(6):
        AgentBank(bank).save(DemographicAgent(id=f"agent-{i}", demographics={"age": str(25 + 7 * i),
                                                                               "sex": "male" if i % 2 else "female"}))
    invoke("experiment", "run", "schilke_2015", "--agents", bank, "--run-id", "exp-80", "--seed", "3")
    text = invoke("experiment", "report", "exp-80", "--out", tmp_path / "report.html")
    assert_reads_in_80(text)
    results = json.loads((isolated_workspace / "runs" / "exp-80" / "results.json").read_text())
    study = results["studies"][0]
    assert f"{study['study_id']}:" in text and f"n {study['n']}" in " ".join(text.split())
    assert f"{study['d']:.2f}" in tokens(text) and f"{study['d_low']:.2f}" in tokens(text)
    assert_reads_in_80(invoke("experiment", "list"), one_record_a_line=True)
