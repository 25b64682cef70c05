"""The `simulacra` command: gathers every package's typer commands under one root.

Each package owns its commands (`simulacra/cli.py`, `surveys/cli.py`, `interviewer/cli.py`,
`experiments/commands.py`) and exposes `register(app)`. Heavy libraries are imported inside commands so
`simulacra --help` stays instant. User errors (`SimulacraError`) print one red line and exit 1; a run
interrupted by an outage (`RunInterrupted`, resumable with the same command) exits 75 (EX_TEMPFAIL).
"""

from __future__ import annotations

import logging
import os
import sys

import typer
from rich.console import Console
from rich.markup import escape

from experiments.wiring import cli_objects
from experiments.runs.runner import RunInterrupted
from simulacra.errors import SimulacraError

EXIT_INTERRUPTED = 75  # EX_TEMPFAIL: the run stopped on an outage, everything is saved; the same command resumes

app = typer.Typer(
    name="simulacra",
    help="Turn people into faithful generative agents and measure how faithful they are.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        import simulacra

        typer.echo(f"simulacra {simulacra.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log at info level (debug with SIMULACRA_DEBUG=1)."),
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
) -> None:
    level = logging.DEBUG if os.environ.get("SIMULACRA_DEBUG") else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = cli_objects()  # explicit wiring: what lower layers' commands need from the top (serve: withdraw)


def _register_all() -> None:
    from simulacra import cli as simulacra_cli
    from surveys import cli as surveys_cli
    from interviewer import cli as interviewer_cli
    from experiments import commands as experiments_cli

    for module in (simulacra_cli, surveys_cli, interviewer_cli, experiments_cli):
        module.register(app)


_register_all()


def main() -> None:
    err = Console(stderr=True)
    try:
        app(standalone_mode=False)
    except RunInterrupted as exc:  # resumable: its own exit code (README), so a script can retry later
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, markup=True, soft_wrap=True)  # one line, piped or not
        sys.exit(EXIT_INTERRUPTED)
    except SimulacraError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, markup=True, soft_wrap=True)  # one line, piped or not
        sys.exit(1)
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/yellow]: everything answered so far is saved; run the same command to resume.")
        sys.exit(130)
    except (typer.Abort,):
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # click usage errors
        import click

        # typer >= 0.2x raises its own vendored copy of click's exceptions: same shape, other classes
        if isinstance(exc, click.exceptions.ClickException) or (
            hasattr(exc, "show") and isinstance(getattr(exc, "exit_code", None), int)
        ):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
