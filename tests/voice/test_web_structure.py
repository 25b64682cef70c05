"""The web app's shape: small routers that call the live session only through the typed `InterviewEngine`
interface (no `hasattr`/`getattr` probing), a short `create_app` module, and every route still served."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.routing import APIRoute

import interviewer.web as web_package
from interviewer.engine import InterviewSession
from interviewer.web import routes_interview, routes_operator, routes_pages, routes_voice
from interviewer.web.app import create_app
from interviewer.web.engine_api import InterviewEngine

WEB = Path(web_package.__file__).parent
ROOT = WEB.parents[1]
# The app and everything it is built from that touches a live session.
APP_MODULES = ["app.py", "context.py", "engine_api.py", "http_api.py", "runtime.py",
               *sorted(p.name for p in WEB.glob("routes_*.py"))]


def _code(path: Path) -> str:
    """The file without comments and docstrings' prose (a docstring may *say* hasattr)."""
    text = re.sub(r'"""(.|\n)*?"""', "", path.read_text(encoding="utf-8"))
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())


def test_the_routers_exist_and_none_probes_the_engine():
    assert {"routes_interview.py", "routes_voice.py", "routes_operator.py", "routes_pages.py"} <= set(APP_MODULES)
    for name in APP_MODULES:
        code = _code(WEB / name)
        assert "hasattr(" not in code, f"{name} probes with hasattr"
        probes = re.findall(r"getattr\((\s*[\w.]+)", code)
        assert not probes, f"{name} probes with getattr on {probes}"


def test_create_app_module_is_short():
    lines = (WEB / "app.py").read_text(encoding="utf-8").count("\n")
    assert lines < 150, f"interviewer/web/app.py has {lines} lines"


def _members(protocol: type) -> dict[str, object]:
    return {name: value for name, value in vars(protocol).items()
            if not name.startswith("_") and (callable(value) or isinstance(value, property))}


def test_the_engine_provides_every_member_of_the_interface():
    members = _members(InterviewEngine)
    assert {"progress", "pending", "turns", "busy", "next_utterance", "submit_answer", "skip", "pause", "resume", "close"} == set(members)
    for name, wanted in members.items():
        have = inspect.getattr_static(InterviewSession, name, None)
        assert have is not None, f"InterviewSession has no {name}"
        if isinstance(wanted, property):
            assert isinstance(have, property), f"InterviewSession.{name} is not a property"
            continue
        assert inspect.iscoroutinefunction(have) == inspect.iscoroutinefunction(wanted), name
        # every call the interface allows is a call the engine accepts
        want_sig, have_sig = inspect.signature(wanted), inspect.signature(have)
        args = [object() for p in want_sig.parameters.values() if p.default is inspect.Parameter.empty]
        kwargs = {p.name: None for p in want_sig.parameters.values() if p.default is not inspect.Parameter.empty}
        have_sig.bind(*args, **kwargs)


def test_every_route_is_served_once(tmp_path):
    """The split kept every route of the app (pages, respondent, voice, operator) and added none."""
    from simulacra.workspace import Workspace

    app = create_app(Workspace(tmp_path), stt=None, tts=None, operator_token="t" * 40)
    ours = {(method, route.path) for module in (routes_pages, routes_interview, routes_voice, routes_operator)
            for route in module.router.routes if isinstance(route, APIRoute) for method in route.methods}
    assert ours == {
        ("GET", "/"), ("GET", "/interview"), ("GET", "/operator"), ("GET", "/api/health"),
        ("GET", "/api/session"), ("POST", "/api/session/consent"), ("POST", "/api/session/next"),
        ("POST", "/api/session/answer/text"), ("POST", "/api/session/skip"), ("POST", "/api/session/pause"),
        ("POST", "/api/session/resume"), ("POST", "/api/session/withdraw"),
        ("POST", "/api/session/answer/audio"), ("GET", "/api/session/speech/{turn_index}/{part}"),
        ("GET", "/api/operator/sessions"), ("POST", "/api/operator/sessions"),
        ("POST", "/api/operator/sessions/{respondent}/renew"), ("GET", "/api/operator/sessions/{respondent}/transcript"),
        ("POST", "/api/operator/sessions/{respondent}/withdraw"),
    }
    served = {(method, path) for path, item in app.openapi()["paths"].items() for method in map(str.upper, item)}
    assert ours <= served


CONFORMANCE = '''
from interviewer.engine import InterviewSession, Utterance
from interviewer.web.engine_api import InterviewEngine, SavedTurn, SessionOpener, SpokenLine
from simulacra.transcript import Turn


def check(session: InterviewSession, utterance: Utterance, turn: Turn) -> None:
    engine: InterviewEngine = session
    line: SpokenLine = utterance
    saved: SavedTurn = turn
    opener: SessionOpener = InterviewSession.open
'''


def test_the_engine_matches_the_interface_in_types(tmp_path):
    """mypy: InterviewSession (and InterviewSession.open) are what the routes are typed against."""
    mypy = Path(sys.executable).with_name("mypy")
    if not mypy.exists():
        pytest.skip("mypy is not installed (the dev extra)")
    (tmp_path / "conformance.py").write_text(CONFORMANCE, encoding="utf-8")
    result = subprocess.run([str(mypy), "--follow-imports=silent", "--ignore-missing-imports", "--cache-dir=/dev/null",
                             "--no-error-summary", "conformance.py"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300, env={**os.environ, "MYPYPATH": str(ROOT)})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-1000:]
