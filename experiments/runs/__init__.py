"""Runs: the typed RunSpec, the run folder (manifest, answers store, exports), its identity, and the runner that
fills it. Commands do not call these directly: they plan a RunSpec and go through `experiments.pipeline`
(`run(spec, executor)`, then `score(folder)`).

Batches and behavioral experiments are the same kind of run, in the same folder format.
"""

from experiments.runs.folder import (
    TRUTH_IN_RUN,
    AgentEntry,
    InstrumentEntry,
    RunFolder,
    RunManifest,
    RunMismatchError,
    load_saved_truth,
    save_truth,
)
from experiments.runs.runner import (
    BatchRunner,
    Estimate,
    Progress,
    Runner,
    RunInterrupted,
    RunOutcome,
    RunStopped,
    estimate_run,
    run_batch,
)
from experiments.runs.spec import Exclusions, RunSpec, TruthSpec, select_questions
from experiments.runs.store import AnswerKey, ResponseStore, StoredAnswer

__all__ = [
    "TRUTH_IN_RUN", "AgentEntry", "InstrumentEntry", "RunFolder", "RunManifest", "RunMismatchError",
    "load_saved_truth", "save_truth", "BatchRunner", "Estimate", "Progress", "Runner", "RunInterrupted",
    "RunOutcome", "RunStopped", "estimate_run", "run_batch", "select_questions", "Exclusions", "RunSpec",
    "TruthSpec", "AnswerKey", "ResponseStore", "StoredAnswer",
]
