"""`simulacra serve`: the voice interview web app."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def study_links(workspace, base: str, token: str) -> list[tuple[str, str]]:
    """What `serve` prints for studies: the study operator page (always) and each study's participant-platform
    link (for studies with a `platform`; the platform fills the id placeholder)."""
    from interviewer.study.model import StudyError
    from interviewer.study.store import StudyStore
    from interviewer.study.web import join_path

    links = [("study operator:", f"{base}/study/operator#{token}")]
    store = StudyStore(workspace)
    for study_id in store.ids():
        try:
            study = store.load(study_id)
        except StudyError:
            continue  # `simulacra study status` names an unreadable study
        if study.spec.platform is not None:
            links.append((f"platform link for study {study.id}:", f"{base}{join_path(study)}"))
    return links


def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="Address to listen on (loopback by default)."),
    port: int = typer.Option(8000, help="Port to listen on."),
    script: str = typer.Option("default", help="Interview script: a name in interviewer/data or a YAML path."),
    invite: int = typer.Option(0, "--invite", help="Create this many new respondent links and print them."),
    respondent: list[str] = typer.Option([], "--respondent", help="Create (or reissue) a link for this respondent id; repeatable."),
    operator_token: Optional[str] = typer.Option(
        None, envvar="SIMULACRA_OPERATOR_TOKEN",
        help="Operator token for /operator (default: the one stored in the workspace, made on first use)."
    ),
    link_days: float = typer.Option(30.0, "--link-days", min=0.01, help="Respondent links expire this many days after issue (the operator view renews them)."),
    speech: bool = typer.Option(True, "--speech/--no-speech", help="Turn speech recognition and the voice on or off."),
    ssl_certfile: Optional[Path] = typer.Option(None, help="TLS certificate (browsers allow microphones only on https or localhost)."),
    ssl_keyfile: Optional[Path] = typer.Option(None, help="TLS private key."),
    warm: bool = typer.Option(True, "--warm/--no-warm", help="Load the speech models before taking requests."),
) -> None:
    """Serve voice interviews in the browser: consent, spoken or typed answers, saved after every turn."""
    # the root command hands down the full withdrawal (every store: experiments.wiring), which this layer
    # cannot import; without it the app withdraws from the stores it knows (see create_app)
    withdraw = ctx.obj.get("withdraw") if isinstance(ctx.obj, dict) else None
    import ipaddress
    import logging

    from simulacra.extras import require

    require("web", "fastapi", "simulacra serve")
    require("web", "uvicorn", "simulacra serve")
    import uvicorn
    from rich.console import Console
    from rich.style import Style
    from rich.text import Text

    from interviewer.script import load_script
    from interviewer.web.app import create_app
    from simulacra.workspace import Workspace

    console = Console()
    logging.getLogger("interviewer").setLevel(logging.INFO)  # turn latency lines (numbers only)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    workspace = Workspace.default()
    the_script = load_script(script)
    app = create_app(
        workspace,
        script=the_script,
        operator_token=operator_token,
        link_ttl_days=link_days,
        withdraw=withdraw,
        **({} if speech else {"stt": None, "tts": None}),
    )
    token = app.state.operator_token
    if warm:
        for engine in (app.state.stt, app.state.tts):
            if engine is not None and hasattr(engine, "warm_up"):
                with console.status(f"loading {engine.name}…"):
                    engine.warm_up()
    scheme = "https" if ssl_certfile else "http"
    shown_host = f"[{host}]" if ":" in host else host
    base = f"{scheme}://{shown_host}:{port}"
    registry = app.state.registry
    links = [registry.invite(r) for r in respondent] + [registry.invite() for _ in range(invite)]
    console.print(f"[bold]simulacra interviews[/bold] · script {the_script.id} ({the_script.question_count} questions) · workspace {workspace.root}", soft_wrap=True)
    console.print(f"speech-to-text: {getattr(app.state.stt, 'name', 'off (typed answers only)')}")
    console.print(f"text-to-speech: {getattr(app.state.tts, 'name', 'off (subtitles only)')}")
    console.print(f"operator view:  {base}/operator#{token}", highlight=False, soft_wrap=True)
    for label, url in study_links(workspace, base, token):  # a clickable link in terminals that support it
        console.print(Text(f"{label} ").append(url, style=Style(link=url)), highlight=False, soft_wrap=True)
    for secret, invitation in links:
        console.print(f"link for {invitation.respondent}: {base}/interview#{secret}", highlight=False, soft_wrap=True)
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback and not ssl_certfile:
        console.print("[yellow]warning:[/yellow] serving beyond this machine without TLS: browsers will refuse the "
                      "microphone and links travel in clear text; pass --ssl-certfile/--ssl-keyfile.")
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
        ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
    )
