"""`simulacra agents` commands: --json output, whole ids in narrow pipes, no markup, persona builder."""

from __future__ import annotations

import json

from agent_helpers import schema_responder
from typer.testing import CliRunner

from simulacra.agents.baselines import DemographicAgent, PersonaAgent
from simulacra.agents.cli import agents_app
from simulacra.llm import LLM, FakeBackend

LONG_ID = "01fd7d2a-0c3e-4a8b-9f51-7d2e6c1b9a40"


def invoke(*args):
    return CliRunner().invoke(agents_app, [str(a) for a in args], terminal_width=80, catch_exceptions=False)


def test_list_prints_whole_ids_and_json(bank):
    bank.save(DemographicAgent(id=LONG_ID, demographics={"age": "41"}))
    bank.save(PersonaAgent(id="p1", persona="I teach.", respondent="r1"))
    result = invoke("list", "--agents", bank.root)
    assert result.exit_code == 0
    first_cells = [line.split("│")[1].strip() for line in result.output.splitlines() if line.startswith("│")]
    assert LONG_ID in "".join(first_cells)  # folded across lines, never cut
    assert "…" not in result.output
    data = json.loads(invoke("list", "--agents", bank.root, "--json").output)
    assert [d["id"] for d in data] == [LONG_ID, "p1"]
    assert data[1]["respondent"] == "r1" and len(data[1]["fingerprint"]) == 64


def test_show_json_and_plain(bank):
    bank.save(PersonaAgent(id="p1", persona="I teach [bold]chemistry[/bold]."))
    data = json.loads(invoke("show", "p1", "--agents", bank.root, "--json").output)
    assert data["source"] == "persona" and data["persona"].startswith("I teach") and data["respondent"] == "p1"
    plain = invoke("show", "p1", "--agents", bank.root).output
    assert "[bold]chemistry[/bold]" in plain  # the person's text is shown as written, not as markup


def test_ask_prints_no_markup_and_json(bank, monkeypatch):
    bank.save(PersonaAgent(id="p1", persona="I teach."))
    monkeypatch.setattr("simulacra.llm.open_llm", lambda *a, **k: LLM(FakeBackend(default=schema_responder())))
    result = invoke("ask", "p1", "Do you favor it?", "-o", "Favor", "-o", "Oppose", "--agents", bank.root)
    assert result.exit_code == 0
    assert "Favor" in result.output and "[dim]" not in result.output and "[bold]" not in result.output
    result = invoke("ask", "p1", "Do you favor it?", "-o", "Favor", "-o", "Oppose", "--agents", bank.root, "--json")
    data = json.loads(result.output)
    assert data["label"] == "Favor" and data["value"] == "1" and data["status"] == "ok" and data["prompt_hash"]


def test_ask_logprobs_json_has_probabilities(bank, monkeypatch):
    bank.save(PersonaAgent(id="p1", persona="I teach."))
    backend = FakeBackend(logprobs=lambda m, letters: {"A": -2.0, "B": -0.1})
    monkeypatch.setattr("simulacra.llm.open_llm", lambda *a, **k: LLM(backend))
    data = json.loads(invoke("ask", "p1", "Q?", "-o", "Favor", "-o", "Oppose", "--logprobs", "--debias", "permute",
                             "--agents", bank.root, "--json").output)
    assert data["label"] in ("Favor", "Oppose") and set(data["labels"].values()) == {"Favor", "Oppose"}
    assert abs(sum(data["probabilities"].values()) - 1) < 1e-9


def test_build_persona_command(bank, tmp_path):
    path = tmp_path / "persona.txt"
    path.write_text("I grew up in Iowa and teach chemistry.\n")
    result = invoke("build-persona", path, "--id", "iowa", "--respondent", "r9", "--agents", bank.root, "--json")
    assert result.exit_code == 0, result.output
    agent = bank.load("iowa")
    assert isinstance(agent, PersonaAgent) and agent.respondent == "r9" and agent.persona.startswith("I grew up")
    again = CliRunner().invoke(agents_app, ["build-persona", str(path), "--id", "iowa", "--agents", str(bank.root)])
    assert again.exit_code != 0


def test_build_combined_from_an_interview_agent_and_a_csv(bank, tmp_path):
    from simulacra.agents.interview import CombinedAgent, InterviewAgent

    interview = InterviewAgent(id="joon", persona="I am 30.")
    interview.add_memory("Interviewer: Who do you vote for?\n\nJoon: I lean Democrat.")
    bank.save(interview)
    csv = tmp_path / "answers.csv"
    csv.write_text("respondent,natspac,partyid,polviews\njoon,1,1,2\nother,2,2,3\n")
    result = invoke("build-combined", "joon", "--responses", csv, "--exclude", "partyid", "--agents", bank.root, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    agent = bank.load(data["id"])
    assert isinstance(agent, CombinedAgent) and agent.id == "joon.combined" and agent.respondent == "joon"
    assert set(agent.known_answers) == {"natspac", "partyid", "polviews"} and agent.exclude == ["partyid"]
    assert len(agent.observations()) == 1
    preview = agent.context_preview([q for q in agent.questions if q.id == "natspac"])
    assert "I lean Democrat" in preview and "How I answered" in preview
    party = next(q for q in agent.questions if q.id == "partyid")
    assert party.text.strip() not in preview  # excluded: never shown
    failed = CliRunner().invoke(agents_app, ["build-combined", "joon", "--responses", str(csv), "--agents", str(bank.root)])
    assert failed.exit_code != 0  # exists already
