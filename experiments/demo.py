"""`simulacra demo`: the product's main job, end to end, in a few minutes on the embedded model.

A handful of real GSS panel respondents become demographic and composite agents, the real sample interview
agent (genagents' sample transcript, imported once into the workspace's bank) joins them, all answer a
small GSS battery through the batch runner, and the report (normalized accuracy against the people's wave-1
answers, wave 2 as their retest) is written to the run folder. The statistical reference conditions
(majority of other people, demographic kNN, composite kNN, logistic regression per item; no model, other
people only) are printed beside the agents on the same people and items, with a verdict per agent condition
(its paired difference from the best reference): what the agents must beat, at a glance. The sample agent has no GSS answers on
record, so it answers but is not scored; its answers are printed.

Defaults aim at about five minutes with SmolLM2-135M on 2 otherwise idle cores: 3 people, 8 items (one
transaction per agent, one question a model call with the agent's prefix warm), 6 context items for
composite agents, and no expert reflections for the sample agent (they take the longest on a small model;
`--reflections` adds them). Running it again resumes and reuses everything (answers, cache, bank).
"""

from __future__ import annotations

import asyncio
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from simulacra.agents.bank import AgentBank
from simulacra.agents.build import import_genagents
from simulacra.config import load_settings
from simulacra.errors import DataFileError
from simulacra.llm import describe_backend, open_llm
from simulacra.terminal import print_table
from simulacra.workspace import Workspace, private_dir
from surveys.paths import shared_data_dir

from experiments.faithfulness.gss_benchmark import plan_gss_benchmark
from experiments.pipeline import EvalSettings, report, run_async
from experiments.reports.report import print_summary
from experiments.runs.executors import LocalExecutor, answering

DEMO_BATCH_SIZE = 8  # one transaction per agent; the runner asks one question a call on the embedded model
DEMO_CONTEXT_ITEMS = 6
SAMPLE_FILES = {
    "meta.json": "single_agent_meta.json",
    "scratch.json": "single_agent_scratch.json",
    "memory_stream/nodes.json": "single_agent_memory_nodes.json",
}


@dataclass
class DemoOptions:
    people: int = 3
    items: int = 8
    interview: bool = True
    reflections: bool = False
    seed: int = 0
    panel: str = "2016-2020"
    batch_size: int = DEMO_BATCH_SIZE
    context_items: int = DEMO_CONTEXT_ITEMS
    bootstrap: int = 500


def sample_agent_folder(workspace: Workspace, sample_dir: Path | None = None) -> Path:
    """Rebuild genagents' folder layout (<id>/meta.json, scratch.json, memory_stream/nodes.json) from the flat sample files."""
    source = Path(sample_dir) if sample_dir else shared_data_dir() / "genagents_sample"
    meta_file = source / SAMPLE_FILES["meta.json"]
    if not meta_file.is_file():
        raise DataFileError(meta_file, "the genagents sample agent is missing from the shared data folder")
    agent_id = str(json.loads(meta_file.read_text(encoding="utf-8")).get("id") or "genagents-sample")
    target = workspace.root / "imports" / "genagents_sample" / agent_id
    for name, flat in SAMPLE_FILES.items():
        destination = target / name
        if not destination.is_file():
            private_dir(destination.parent)
            shutil.copyfile(source / flat, destination)
            destination.chmod(0o600)
    return target


async def sample_interview_agent(workspace: Workspace, llm: Any, *, reflections: bool, progress: Any = None) -> Any:
    """The sample interview agent from the workspace's bank, importing it on first use."""
    folder = sample_agent_folder(workspace)
    bank = AgentBank(workspace.agents)
    agent_id = folder.name
    if bank.exists(agent_id):
        agent = bank.load(agent_id)
        if not reflections or agent.reflections():
            return agent
    kwargs = {"reflections": reflections}
    if progress is not None:
        kwargs["progress"] = progress
    agents = await import_genagents(folder, llm, bank, **kwargs)
    return agents[0]


@dataclass
class DemoResult:
    run_path: Path
    html_path: Path
    metrics: dict[str, Any]


def run_demo(options: DemoOptions | None = None, *, workspace: Workspace | None = None, llm: Any = None, console: Any = None,
             executor: str = "local", ray_address: str | None = None, workers: int | None = None) -> DemoResult:
    """Build the agents, run the battery through the pipeline (resumable), write the report; returns where it is.
    `llm` (tests) answers locally; otherwise `executor` (local, or ray) answers on the configured model."""
    options = options or DemoOptions()
    console = console or Console()
    workspace = workspace or Workspace.default()
    settings = load_settings()
    console.print(f"[bold]simulacra demo[/bold] · workspace {workspace.root}")
    console.print(f"· choosing {options.people} re-interviewed people and {options.items} items from the GSS {options.panel} panel")
    plan = plan_gss_benchmark(
        options.panel, people=options.people, items=options.items, seed=options.seed,
        context_items=options.context_items, group_size=1,
    )

    async def main(builder: Any, runs_on: Any) -> Any:
        if options.interview:
            console.print("· importing the real sample interview agent (genagents sample transcript)")
            agent = await sample_interview_agent(
                workspace, builder, reflections=options.reflections, progress=lambda m: console.print(f"  [dim]{m}[/dim]")
            )
            plan.agents.append(agent)
            plan.respondents[agent.id] = agent.id
        spec = plan.spec(model=describe_backend(settings), temperature=settings.llm.temperature,
                         batch_size=options.batch_size, label="demo", extra={"demo": True})
        console.print(f"· {len(plan.agents)} agents answer {len(plan.items)} GSS items on {builder.model}")
        outcome = await run_async(spec, runs_on, workspace=workspace, console=console)
        return outcome.folder

    if llm is not None:
        folder = asyncio.run(main(llm, LocalExecutor(llm)))
    else:
        with answering(executor, settings, workspace, address=ray_address, workers=workers) as (local, runs_on):
            folder = asyncio.run(main(local or open_llm(settings, workspace), runs_on))
    result = report(folder, None, EvalSettings(bootstrap=options.bootstrap, seed=options.seed))
    print_summary(result.metrics, console)
    if options.interview:
        _print_unscored_answers(folder, result.metrics, console)
    return DemoResult(folder.path, result.html_path, result.metrics)


def _print_unscored_answers(folder: Any, metrics: dict[str, Any], console: Any) -> None:
    """What the sample interview agent answered (it has no GSS answers on record to score against)."""
    unscored = {a["agent"] for a in metrics["unscored_agents"]}
    if not unscored:
        return
    instrument = folder.instruments()[0]
    frame = folder.answers()
    for agent_id in sorted(unscored):
        rows = frame[frame.agent == agent_id]
        table = Table(title=f"answers of {agent_id} (interview agent, not scored)", title_justify="left")
        table.add_column("item")
        table.add_column("answer")
        for row in rows.itertuples(index=False):
            question = instrument.question(row.question)
            shown = question.option(str(row.value)).label if row.status == "ok" and question.is_choice else (row.value if row.status == "ok" else "[red]failed[/red]")
            table.add_row(question.description or question.id, str(shown))
        print_table(console, table)
