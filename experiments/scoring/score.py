"""`score(folder)`: a run's metrics from its folder alone, with one set of scoring defaults for every entry point.

The human answers come from the run (saved inside it by the pipeline, or named by its spec) unless others are
given; answers that cannot score the run are refused before anything is written (`check_truth`), and what the
scoring leaves out is said in words: instruments without human answers, people excluded and why.
"""

from __future__ import annotations

from typing import Any

from simulacra.errors import SimulacraError
from surveys.loaders import RESPONSE_SETS, load_gss_panel, load_responses
from surveys.responses import ResponseSet

from experiments.runs.folder import TRUTH_IN_RUN, RunFolder, load_saved_truth
from experiments.scoring.evaluate import EvalSettings, evaluate
from experiments.scoring.results import Metrics


def load_truth(truth: Any, folder: RunFolder) -> ResponseSet:
    """The human answers to score against: `truth` (a ResponseSet, a name or a file), else what the run names or
    keeps beside it; weighted by the survey weight column the run's spec recorded (`TruthSpec.weights`), if any."""
    return apply_weights(_load_truth(truth, folder), (folder.manifest.extra or {}).get("weights"))


def apply_weights(responses: ResponseSet, column: str | None) -> ResponseSet:
    """`responses` weighted by `column` (population-level figures only; individual accuracy stays unweighted):
    as they are when unweighted or already weighted by it; a named GSS panel is reloaded with the column (its
    weights are panel columns, not demographics); else the column must be one of the demographics (WeightError)."""
    if not column or responses.weight_column == column:
        return responses
    if column not in responses.demographics.columns:
        panel = next((p for name, p in RESPONSE_SETS.items() if responses.name in (name, f"gss-panel-{p}")), None)
        if panel is not None:
            return load_gss_panel(panel, responses.instrument, weights=column).subset(respondents=responses.respondents)  # type: ignore[arg-type]
    return responses.with_weights(column)


def weighting_note(responses: ResponseSet) -> str:
    """What the report says about weights: which figures are weighted, and by what."""
    if not responses.weighted:
        return "unweighted (no survey weight column): every person counts once in every figure"
    return (f"population figures weighted by {responses.weight_column} (the majority reference, 1 - TV/TV_uniform); "
            f"individual accuracy unweighted; {responses.weight_summary()}")


def _load_truth(truth: Any, folder: RunFolder) -> ResponseSet:
    if isinstance(truth, ResponseSet):
        return truth
    name = truth or folder.manifest.truth
    if not name:
        if (folder.path / "truth" / "responses.csv").is_file():
            return load_saved_truth(folder)
        raise SimulacraError(
            f"run {folder.path.name} names no human answers to score against: pass --truth (a response file or a "
            "set such as gss-panel-2016-2020)"
        )
    if name == TRUTH_IN_RUN:
        return load_saved_truth(folder)
    return load_responses(name)


def check_truth(folder: RunFolder, truth: ResponseSet) -> None:
    """Refuse human answers that cannot score this run (empty, other people, other questions), before anything
    is written: a wrong `--truth` must never replace a good metrics.json or report.html."""
    name = getattr(truth, "name", "the truth file")
    data = truth.data
    if data is None or len(data) == 0:
        raise SimulacraError(f"human answers {name!r} hold no answers; the run's metrics.json and report.html are kept as they were")
    manifest = folder.manifest
    people = {a.respondent or a.id for a in manifest.agents}
    questions = {q for i in manifest.instruments for q in i.questions}
    shared_people = people & set(data["respondent"].astype(str))
    shared_questions = questions & set(data["question"].astype(str))
    if not shared_people or not shared_questions:
        what = "none of the run's people" if not shared_people else "none of the run's questions"
        raise SimulacraError(
            f"human answers {name!r} hold {what} ({len(people)} people, {len(questions)} questions in run {manifest.id}); "
            "wrong --truth? The run's metrics.json and report.html are kept as they were"
        )


def instruments_without_truth(folder: RunFolder, truth: ResponseSet) -> list[str]:
    """The run's instruments none of whose questions the human answers hold (they cannot be scored)."""
    asked = set(truth.data["question"].astype(str)) if truth.data is not None and len(truth.data) else set()
    return [i.id for i in folder.manifest.instruments if not asked & set(i.questions)]


def score_folder(folder: RunFolder, truth: Any = None, settings: EvalSettings | None = None) -> Metrics:
    """Every instrument of the run the human answers cover, scored; the others named in `notes`."""
    responses = load_truth(truth, folder)
    check_truth(folder, responses)
    metrics = evaluate(folder, responses, settings)
    missing = instruments_without_truth(folder, responses)
    notes = list(metrics.get("notes", []))
    people = {a.respondent or a.id for a in folder.manifest.agents}
    covered = people & set(responses.data["respondent"].astype(str))
    if len(covered) < len(people):  # deliberate (scoring a subset is legitimate), but never silent
        notes.append(f"the human answers {responses.name!r} cover {len(covered)} of the run's {len(people)} people: "
                     f"the others are not scored (unscored_agents); this report replaces one made with other answers")
    for instrument in missing:
        notes.append(f"{instrument}: not scored: the human answers {responses.name!r} hold none of its questions "
                     "(score it with --truth naming answers that do)")
    metrics["notes"] = notes
    metrics["unscored_instruments"] = missing
    metrics["truth"] = {**metrics["truth"], "weights": responses.weight_column if responses.weighted else None,
                        "weighting": weighting_note(responses)}
    return Metrics.model_validate(metrics)
