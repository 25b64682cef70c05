"""Helpers for the privacy tests."""

from __future__ import annotations


def run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    """Run the `simulacra` command in-process as a user would; (exit code, stdout + stderr)."""
    from experiments.cli import main

    monkeypatch.setattr("sys.argv", ["simulacra", *args])
    monkeypatch.setenv("COLUMNS", "250")
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out + captured.err
