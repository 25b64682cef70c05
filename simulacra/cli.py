"""`simulacra doctor`, `simulacra chat` and the `simulacra agents ...` commands."""

from __future__ import annotations

import asyncio
import time

import typer
from rich.console import Console
from rich.table import Table

from simulacra.terminal import print_table

console = Console()


def _structured_row(llm_settings, workspace) -> str:
    from simulacra.llm import negotiated_mode

    if not llm_settings.uses_endpoint:
        return "grammar (embedded model: the schema constrains decoding)"
    configured = llm_settings.structured_output
    if configured != "auto":
        return f"{configured} (forced by settings)"
    known = negotiated_mode(llm_settings, workspace)
    return f"auto: {known} (negotiated)" if known else "auto: not negotiated yet (the first structured call finds it)"


async def _ping(llm, negotiate: bool) -> tuple[float, str]:
    """One tiny completion; on an endpoint also one tiny structured call, which negotiates the mode it accepts."""
    from pydantic import BaseModel

    from simulacra.errors import StructuredOutputError

    class Ok(BaseModel):
        ok: bool

    try:
        started = time.perf_counter()
        result = await llm.chat([{"role": "user", "content": "Say OK."}], max_tokens=8)
        seconds = time.perf_counter() - started
        if negotiate:
            try:
                await llm.structured([{"role": "user", "content": 'Reply {"ok": true}'}], Ok, max_tokens=16, attempts=1)
            except StructuredOutputError:
                pass  # the model answered in some mode: the negotiation is what this call is for
        return seconds, result.text
    finally:
        await llm.aclose()


def doctor(
    ping: bool = typer.Option(True, "--ping/--no-ping", help="Send one tiny completion to check the model answers."),
) -> None:
    """Say which endpoint, model and embedder each role uses, whether the model answers, and where the workspace is.

    With --ping an endpoint also gets one tiny structured request, which negotiates (and remembers) the
    structured-output mode it accepts.
    """
    from simulacra.config import ROLES, load_settings
    from simulacra.llm import describe_backend, open_llm
    from simulacra.workspace import Workspace

    settings = load_settings()
    workspace = Workspace.default()
    table = Table(title="simulacra doctor", show_header=False)
    table.add_row("workspace", str(workspace.root))
    table.add_row("config file", settings.config_file or "(none: defaults and environment)")
    pinged: dict[str, str] = {}
    for role in ROLES:
        llm_settings = settings.for_role(role)
        backend = describe_backend(llm_settings)
        same_as = next((r for r in pinged if settings.for_role(r) == llm_settings), None)
        if same_as is not None:
            table.add_row(f"{role} llm", f"same as {same_as}")
            continue
        for key, value in backend.items():
            if key != "structured_output":
                table.add_row(f"{role} llm {key}", value)
        if backend["kind"] == "embedded":
            from simulacra.llm.models import resolve_local_model

            table.add_row(f"{role} llm model file", str(resolve_local_model(llm_settings.local_model, workspace)))
        if ping:
            llm = open_llm(settings, workspace, cache=False, role=role)
            seconds, text = asyncio.run(_ping(llm, negotiate=llm_settings.uses_endpoint))
            table.add_row(f"{role} model answers", f"yes ({seconds:.1f}s): {text.strip()[:40]!r}")
            table.add_row(f"{role} context size", str(llm.context_size))
        table.add_row(f"{role} structured output", _structured_row(llm_settings, workspace))
        pinged[role] = backend["model"]
    embedder = settings.embeddings.base_url or f"local sentence-transformers ({settings.embeddings.model})"
    table.add_row("embeddings", embedder)
    table.add_row("memory store", settings.memory.chroma_url or f"embedded chromadb in {workspace.root / 'agents' / 'chroma'}")
    print_table(console, table)  # narrower than the table: wrapped cells (paths whole) or plain lines


def chat(
    prompt: str = typer.Argument(..., help="What to say to the model."),
    system: str = typer.Option("You are a helpful assistant.", help="System message."),
    max_tokens: int = typer.Option(256, help="Most tokens to generate."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Always call the model, even for a repeated prompt."),
    role: str = typer.Option("agents", help="Whose model to use: agents or interviewer (see [roles.interviewer])."),
) -> None:
    """One real completion from the configured model (embedded by default)."""
    from simulacra.llm import open_llm

    llm = open_llm(cache=not no_cache, role=role)
    messages = [{"role": "system", "content": system}, {"role": "user", "content": prompt}]
    result = asyncio.run(llm.chat(messages, max_tokens=max_tokens))
    console.print(result.text.strip(), highlight=False, markup=False)
    origin = "cache" if result.cached else f"{result.seconds:.1f}s"
    console.print(
        f"[dim]{llm.model} · {result.usage.prompt_tokens}+{result.usage.completion_tokens} tokens · "
        f"${result.cost_usd:.4f} · {origin}[/dim]"
    )


def register(app: typer.Typer) -> None:
    app.command()(doctor)
    app.command()(chat)
    from simulacra.agents.cli import agents_app

    app.add_typer(agents_app, name="agents", help="Build, import, list, show and ask agents.")
