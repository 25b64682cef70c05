"""Advice for shortening an interview script, from an `interview-yield` run (`simulacra interview-yield --advise
RUN`): the script's blocks ranked by **yield per minute**: the accuracy an agent built from that block alone
gains over the no-interview baseline, divided by the block's time budget in the script (minutes).

The run's yield.json has one condition per measured block (`interview:block:<id>`: an agent from that block's
turns only). The baseline is the run's `no-interview` condition when it has one, else its `majority` reference
(the answer most other people gave: what is known of a person without interviewing them); `--baseline NAME`
picks another condition or reference of the run. Blocks the run did not measure are listed as such, never
guessed. The figures carry no interval (a yield run is small: the person-items are stated beside them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interviewer.script import Script, load_script
from simulacra.errors import SimulacraError
from simulacra.workspace import Workspace

from experiments.interview_yield import YIELD_REPORT
from experiments.runs.folder import RunFolder

BLOCK_PREFIX = "interview:block:"
BASELINES = ("no-interview", "majority")  # the default baseline: the first the run has


@dataclass
class BlockAdvice:
    block: str
    label: str
    minutes: float
    accuracy: float | None  # None: the run did not measure the block
    gain: float | None
    per_minute: float | None


def read_yield(run: str | Path, workspace: Workspace | None = None) -> tuple[dict[str, Any], Path]:
    """yield.json of a run (a run id, a run folder, or the yield.json file itself)."""
    candidate = Path(run).expanduser()
    if candidate.is_file():
        path = candidate
    elif (candidate / YIELD_REPORT).is_file():
        path = candidate / YIELD_REPORT
    else:
        path = RunFolder.resolve(run, workspace).path / YIELD_REPORT
        if not path.is_file():
            raise SimulacraError(f"{path.parent}: no {YIELD_REPORT} (not an interview-yield run)")
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SimulacraError(f"{path}: not a readable yield report ({exc})") from None
    if not isinstance(report, dict) or not isinstance(report.get("conditions"), list):
        raise SimulacraError(f"{path}: not a yield report (no conditions)")
    return report, path


def baseline_accuracy(report: dict[str, Any], name: str | None = None) -> tuple[str, float]:
    """(name, accuracy) of the baseline: `name`, else the first of BASELINES the run has."""
    conditions = {row.get("condition"): row.get("accuracy") for row in report["conditions"]}
    references = report.get("references") or {}
    found = {**references, **conditions}
    wanted = [name] if name else list(BASELINES)
    for candidate in wanted:
        value = found.get(candidate)
        if isinstance(value, (int, float)) and value == value:
            return str(candidate), float(value)
    known = ", ".join(sorted(str(k) for k, v in found.items() if isinstance(v, (int, float))))
    raise SimulacraError(f"the yield run has no {' or '.join(wanted)} accuracy to compare with (it has: {known}); "
                         "pass --baseline with one of them")


def advise(report: dict[str, Any], script: Script, baseline: str | None = None) -> tuple[str, float, list[BlockAdvice]]:
    """The script's blocks (those with a time budget) ranked by yield per minute, measured blocks first."""
    name, base = baseline_accuracy(report, baseline)
    measured = {row["condition"][len(BLOCK_PREFIX):]: row.get("accuracy") for row in report["conditions"]
                if str(row.get("condition", "")).startswith(BLOCK_PREFIX)}
    unknown = sorted(set(measured) - {b.id for b in script.blocks})
    if unknown:
        raise SimulacraError(f"the yield run measured block(s) {', '.join(unknown)} that script {script.id} does not "
                             "have; pass the run's script with --script")
    rows = []
    for block in script.blocks:
        minutes = block.budget_s / 60
        if minutes <= 0:
            continue  # the intro and closing lines take no budget
        accuracy = measured.get(block.id)
        accuracy = float(accuracy) if isinstance(accuracy, (int, float)) and accuracy == accuracy else None
        gain = accuracy - base if accuracy is not None else None
        rows.append(BlockAdvice(block.id, block.label or block.id, minutes, accuracy, gain,
                                gain / minutes if gain is not None else None))
    rows.sort(key=lambda r: (r.per_minute is None, -(r.per_minute or 0.0), r.block))
    return name, base, rows


def advice_lines(report: dict[str, Any], script: Script, rows: list[BlockAdvice], baseline: str, base: float) -> list[str]:
    """The advice in words (each line short enough to wrap cleanly in 80 columns)."""
    measured = [r for r in rows if r.per_minute is not None]
    total = sum(r.minutes for r in rows)
    lines = [f"Script {script.id}: {len(rows)} blocks, {total:.0f} minutes of budget. Baseline: {baseline} "
             f"(accuracy {base:.2f}); {report.get('person_items', '?')} person-items, "
             f"{len(report.get('people') or [])} people: no interval, read the ranking as a hint."]
    if not measured:
        return lines + ["The run measured no block (run interview-yield with --blocks naming them)."]
    useless = [r for r in measured if (r.gain or 0.0) <= 0]
    keep = [r for r in measured if (r.gain or 0.0) > 0]
    if keep:
        lines.append("Keep first: " + ", ".join(f"{r.block} (+{r.gain:.2f} in {r.minutes:.0f} min)" for r in keep[:3]) + ".")
    if useless:
        saved = sum(r.minutes for r in useless)
        lines.append(f"Cut or shorten first: {', '.join(r.block for r in useless)}: no gain over the baseline "
                     f"({saved:.0f} minute{'s' if round(saved) != 1 else ''}).")
    missing = [r.block for r in rows if r.per_minute is None]
    if missing:
        lines.append(f"Not measured (no advice): {', '.join(missing)}.")
    return lines


def load_advice_script(report: dict[str, Any], script: str | None) -> Script:
    """The script to advise on: `script` (name or path), else the run's own script."""
    name = script or report.get("script")
    if not name:
        raise SimulacraError("the yield report names no script; pass --script")
    return load_script(str(name))
