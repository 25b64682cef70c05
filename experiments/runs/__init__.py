"""Runs: the run folder (manifest, answers store, exports), its identity, and the runner that fills it.

    from experiments.runs import RunFolder, RunManifest, open_run, run_batch, execute_run

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
    BatchInterrupted,
    BatchRunner,
    Estimate,
    Progress,
    Runner,
    RunInterrupted,
    RunOutcome,
    RunStopped,
    estimate_run,
    execute_run,
    open_run,
    run_batch,
    select_questions,
)
from experiments.runs.store import AnswerKey, ResponseStore, StoredAnswer

__all__ = [
    "TRUTH_IN_RUN", "AgentEntry", "InstrumentEntry", "RunFolder", "RunManifest", "RunMismatchError",
    "load_saved_truth", "save_truth", "BatchInterrupted", "BatchRunner", "Estimate", "Progress", "Runner",
    "RunInterrupted", "RunOutcome", "RunStopped", "estimate_run", "execute_run", "open_run", "run_batch",
    "select_questions", "AnswerKey", "ResponseStore", "StoredAnswer",
]
