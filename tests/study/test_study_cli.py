"""`simulacra study create|invite|status|export` and `simulacra withdraw` on a study respondent."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from conftest import write_study
from experiments.cli import app

runner = CliRunner()


def test_create_invite_status_export(tmp_path, workspace, client):
    path = write_study(tmp_path)
    out = runner.invoke(app, ["study", "create", str(path)])
    assert out.exit_code == 0, out.output
    assert "study s1" in out.output and "5 questions" in out.output and "14 days" in out.output

    out = runner.invoke(app, ["study", "invite", "s1", "2", "--base-url", "https://example.org/"])
    assert out.exit_code == 0, out.output
    lines = [line.split("\t") for line in out.output.strip().splitlines()]
    assert len(lines) == 2 and all(link.startswith("https://example.org/study#") for _r, link in lines)
    respondent, link = lines[0]
    token = link.split("#", 1)[1]
    # The printed link opens the respondent's session in the web app; its invitation lives past the retest.
    headers = {"Authorization": f"Bearer {token}"}
    client.post("/api/session/consent", headers=headers, json={})
    reply = client.post("/api/study/answer", headers=headers, json={"instrument": "mini", "question": "color", "wave": 1, "value": "g"})
    assert reply.status_code == 200
    invitation = client.app.state.registry.get(respondent)
    assert invitation.label == "study:s1"

    out = runner.invoke(app, ["study", "status", "s1", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    rows = {p["respondent"]: p for p in data["studies"][0]["participants"]}
    assert rows[respondent]["answered"] == {"1": 1, "2": 0} and rows[respondent]["phase"] == "survey"
    assert '"g"' not in out.output  # progress, never answers
    out = runner.invoke(app, ["study", "status"])
    assert out.exit_code == 0 and respondent in out.output

    target = tmp_path / "export"
    out = runner.invoke(app, ["study", "export", "s1", "--out", str(target)])
    assert out.exit_code == 0, out.output
    assert (target / "responses.csv").read_text().splitlines() == ["respondent,question,wave,value", f"{respondent},color,1,g"]
    assert oct((target / "responses.csv").stat().st_mode & 0o777) == "0o600"

    # a new link for the same respondent revokes the old one
    out = runner.invoke(app, ["study", "invite", "s1", "0", "--respondent", respondent])
    assert out.exit_code == 0, out.output
    assert client.get("/api/study/session", headers=headers).status_code == 401

    # withdrawal (the command) removes the study answers too
    out = runner.invoke(app, ["withdraw", respondent, "--yes"])
    assert out.exit_code == 0, out.output
    assert not (workspace.root / "studies" / "s1" / "answers" / f"{respondent}.jsonl").exists()


def simulacra(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", "from experiments.cli import main; main()", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_errors_are_clear(tmp_path, workspace):
    out = simulacra("study", "invite", "nosuch", "1")
    assert out.returncode == 1 and "no study 'nosuch'" in " ".join(out.stderr.split())
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: s1\ninstruments: [nosuch]\n")
    out = simulacra("study", "create", str(bad))
    assert out.returncode == 1 and "instruments[0]" in out.stderr
    assert "Traceback" not in out.stderr
