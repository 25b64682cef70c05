"""How to ask, from command-line words: one parser for `run`, `benchmark gss-panel` and `experiment run`.

The options become part of the run's identity (the manifest records them), so a resumed run asks the same way.
"""

from __future__ import annotations

from simulacra.agent import AnswerOptions
from simulacra.errors import SimulacraError

SCORING_HELP = "generate (default) or logprobs: choice items scored over the option letters in one forward pass (the answer keeps its distribution)."
DEBIAS_HELP = "With --scoring logprobs: none (default), permute (average over cyclic option orders) or calibrate (divide by a content-free prompt's distribution)."
LEAVE_OUT_HELP = "Composite/combined agents: item (each predicted item left out of its own context, default) or kfold (the person's known items dealt into k folds; each item answered without its whole fold: k prefixes per person)."


def answer_options(
    scoring: str | None = None, debias: str | None = None, leave_out: str | None = None, folds: int | None = None
) -> AnswerOptions | None:
    """AnswerOptions for the words given, or None when none was given (the agents' defaults)."""
    given = {"scoring": scoring, "debias": debias, "leave_out": leave_out, "folds": folds}
    given = {k: v for k, v in given.items() if v is not None}
    if not given:
        return None
    allowed = {"scoring": ("generate", "logprobs"), "debias": ("none", "permute", "calibrate"), "leave_out": ("item", "kfold")}
    for name, choices in allowed.items():
        if name in given and given[name] not in choices:
            raise SimulacraError(f"--{name.replace('_', '-')} {given[name]!r}: choose {', '.join(choices)}")
    if given.get("debias", "none") != "none" and given.get("scoring") != "logprobs":
        raise SimulacraError("--debias corrects option scores: use it with --scoring logprobs")
    if "folds" in given and given["folds"] < 2:
        raise SimulacraError(f"--folds {given['folds']}: at least 2")
    return AnswerOptions(**given)


EXECUTOR_HELP = ("local (this process) or ray: answer on a pool of Ray actors (pip install 'simulacra\\[ray]'; see "
                 "experiments/runs/executors/README.md).")
RAY_ADDRESS_HELP = ("With --executor ray: join a cluster (auto, or ray://host:port); default: start a local one sized to "
                    "this machine.")
WORKERS_HELP = "With --executor ray: Ray actors, each holding one model client (default: the cluster's CPUs)."
