"""`RunSpec`: everything a run is (who answers what, with which model and options, scored against which human
answers, with which exclusions), as one typed, versioned object. Its canonical form is the run's identity: the
same spec finds the same run folder and resumes it; a changed spec is a different run.

Every command that answers questions plans a spec and hands it to `experiments.pipeline.run`:

    spec = RunSpec.build(agents, instruments, model=..., options=..., truth=..., exclusions=...)
    outcome = run(spec, executor)          # experiments.pipeline
    metrics = score(outcome.folder)        # reads the run folder only

The live objects (agents, instruments, the human answers) travel with the spec as private attributes; what
is recorded (the manifest) is their content: agent fingerprints, question-wording hashes, the exclusions.
"""

from __future__ import annotations

from typing import Any, Literal, Sequence

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from simulacra.agent import Agent, AnswerOptions
from simulacra.errors import SimulacraError
from surveys.model import Instrument

from experiments.runs.folder import TRUTH_IN_RUN, AgentEntry, InstrumentEntry, RunManifest, StudyEntry, default_run_id
from experiments.runs.identity import (
    agent_fingerprint,
    check_run_id,
    options_settings,
    prompt_template_hashes,
    question_hash,
)

SPEC_VERSION = 1
DEFAULT_BATCH_SIZE = 5


class Exclusions(BaseModel):
    """What nothing that predicts an item may see, computed once per run from its targets
    (`experiments.scoring.leakage.exclusions_for`) and applied to every agent kind and every reference.

    `hidden[target]` lists the other items never shown in a context that predicts `target` (near-duplicates,
    one-way determinants, other wordings); `dropped_fields[field]` names the target a demographic field repeats
    (such a field is left out of every demographic profile and every demographic reference)."""

    model_config = ConfigDict(extra="forbid")
    hidden: dict[str, list[str]] = Field(default_factory=dict)
    dropped_fields: dict[str, str] = Field(default_factory=dict)

    def hidden_for(self, target: str) -> set[str]:
        return set(self.hidden.get(target, ()))

    def closed(self) -> set[str]:
        """Every target and every item hidden for one."""
        out = set(self.hidden)
        for items in self.hidden.values():
            out |= set(items)
        return out

    def is_empty(self) -> bool:
        return not self.hidden and not self.dropped_fields


class TruthSpec(BaseModel):
    """The human answers a run is scored against: saved in the run (`run:truth`), a response set name or a file."""

    model_config = ConfigDict(extra="forbid")
    source: str = TRUTH_IN_RUN
    design: Literal["same-wave", "cross-wave"] = "same-wave"
    # survey weight column (e.g. wtssall) for the population-level figures (the majority reference, 1 - TV/TV_uniform);
    # individual accuracy stays unweighted. Recorded in the manifest (`extra["weights"]`, not identity: it changes no
    # answer), so `score(folder)` weights the same way on every re-scoring
    weights: str | None = None


class RunSpec(BaseModel):
    """One run, typed: see the module docstring."""

    model_config = ConfigDict(extra="forbid")
    spec_version: int = SPEC_VERSION
    kind: Literal["batch", "experiment"] = "batch"
    label: str = ""
    run_id: str | None = None  # an explicit folder name (not part of the identity)
    agents: list[AgentEntry]
    instruments: list[InstrumentEntry]
    model: dict[str, Any] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)  # AnswerOptions (identity fields)
    samples: int = Field(default=1, ge=1)
    batch_size: int = Field(default=DEFAULT_BATCH_SIZE, ge=1)
    temperature: float | None = None
    max_tokens: int | None = None
    truth: TruthSpec | None = None
    exclusions: Exclusions = Field(default_factory=Exclusions)
    seed: int | None = None  # experiments: the assignment seed
    studies: dict[str, StudyEntry] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict)  # what the plan chose (people, items, ...): described, not identity

    _agents: list[Agent] = PrivateAttr(default_factory=list)
    _instruments: list[Instrument] = PrivateAttr(default_factory=list)
    _truth: Any = PrivateAttr(default=None)  # a ResponseSet to save in the run folder
    _definitions: list[Any] = PrivateAttr(default_factory=list)  # experiments: the live study definitions

    # -- building --------------------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        agents: Sequence[Agent],
        instruments: Sequence[Instrument],
        *,
        model: dict[str, Any] | None = None,
        options: AnswerOptions | None = None,
        samples: int = 1,
        batch_size: int = DEFAULT_BATCH_SIZE,
        temperature: float | None = None,
        max_tokens: int | None = None,
        truth: Any = None,
        design: str = "same-wave",
        weights: str | None = None,
        exclusions: Exclusions | None = None,
        respondents: dict[str, str] | None = None,
        conditions: dict[str, str] | None = None,
        label: str = "",
        run_id: str | None = None,
        extra: dict[str, Any] | None = None,
        kind: str = "batch",
        seed: int | None = None,
        studies: dict[str, StudyEntry] | None = None,
    ) -> "RunSpec":
        """A spec from live agents and instruments. `truth`: a ResponseSet (saved inside the run folder), a
        response set name or file (read when scored), or None. `respondents`: agent id -> the person whose
        answers score it (default: the agent's `respondent`, else its id). `conditions`: agent id -> the condition
        it is reported under (default: the agent's source). `weights`: the survey weight column of the human answers
        for the population-level figures (default: the ResponseSet's own `weight_column`, if it has one)."""
        if run_id:
            check_run_id(run_id)
        ids = [a.id for a in agents]
        if len(set(ids)) != len(ids):
            raise SimulacraError("agent ids repeat in this run; every agent needs its own id")
        exclusions = exclusions or Exclusions()
        # the run's exclusions reach every agent, whoever built it (a bank agent as much as a benchmark's)
        agents = [a.excluding(exclusions.hidden, exclusions.dropped_fields) for a in agents]
        truth_spec = None
        if truth is not None:
            source = truth if isinstance(truth, str) else TRUTH_IN_RUN
            weights = weights or (None if isinstance(truth, str) else getattr(truth, "weight_column", None))
            truth_spec = TruthSpec(source=source, design=design, weights=weights)  # type: ignore[arg-type]
        elif weights:
            raise SimulacraError(f"--weights {weights}: the run names no human answers to weight (pass --truth)")
        spec = cls(
            kind=kind,  # type: ignore[arg-type]
            label=label,
            run_id=run_id,
            agents=agent_entries(agents, respondents, conditions),
            instruments=instrument_entries(instruments),
            model=dict(model or {}),
            options=options_settings(options) if options is not None else {},
            samples=samples,
            batch_size=batch_size,
            temperature=temperature,
            max_tokens=max_tokens,
            truth=truth_spec,
            exclusions=exclusions,
            seed=seed,
            studies=dict(studies or {}),
            extra=dict(extra or {}),
        )
        spec._agents = list(agents)
        spec._instruments = list(instruments)
        spec._truth = None if isinstance(truth, str) else truth
        return spec

    # -- what it holds ---------------------------------------------------------------------------------
    @property
    def live_agents(self) -> list[Agent]:
        return self._agents

    @property
    def live_instruments(self) -> list[Instrument]:
        return self._instruments

    @property
    def truth_set(self) -> Any:
        """The ResponseSet to keep in the run folder (None when the truth is named, or absent)."""
        return self._truth

    def answer_options(self) -> AnswerOptions:
        return AnswerOptions(**self.options)

    def settings(self) -> dict[str, Any]:
        """The manifest's settings block: what changes an answer (and batch size, recorded but not identity)."""
        out: dict[str, Any] = {"samples": self.samples, "batch_size": self.batch_size}
        if self.temperature is not None:
            out["temperature"] = self.temperature
        if self.max_tokens is not None:
            out["max_tokens"] = self.max_tokens
        if self.options:
            out["answer_options"] = dict(self.options)
        return out

    def manifest(self) -> RunManifest:
        """The manifest this spec writes (its id derived from the spec unless `run_id` names it)."""
        extra = dict(self.extra)
        if self.truth is not None:
            extra.setdefault("design", self.truth.design)
            if self.truth.weights:
                extra["weights"] = self.truth.weights
        manifest = RunManifest(
            id=self.run_id or "pending",
            kind=self.kind,
            agents=list(self.agents),
            instruments=list(self.instruments),
            model=dict(self.model),
            settings=self.settings(),
            prompt_hashes=prompt_template_hashes(),
            truth=self.truth.source if self.truth is not None else None,
            label=self.label,
            seed=self.seed,
            studies=dict(self.studies),
            exclusions=self.exclusions.model_dump(mode="json"),
            spec_version=self.spec_version,
            extra=extra,
        )
        if not self.run_id:
            manifest.id = default_run_id(manifest)
        return manifest


def select_questions(instruments: Sequence[Instrument], questions: Sequence[str] | None = None,
                     limit: int | None = None) -> list[Instrument]:
    """The instruments cut to the wanted question ids (all when None) and to the first `limit` of each."""
    wanted = [q for q in (questions or []) if q] or None
    chosen = []
    for instrument in instruments:
        items = [q for q in instrument.questions if wanted is None or q.id in wanted]
        if limit is not None:
            items = items[:limit]
        if items:
            chosen.append(instrument.model_copy(update={"questions": items}))
    if wanted:
        missing = set(wanted) - {q.id for i in chosen for q in i.questions}
        if missing:
            raise SimulacraError(f"no question {', '.join(sorted(missing))} in {', '.join(i.id for i in instruments)}")
    if not chosen:
        raise SimulacraError("no questions to ask")
    return chosen


def agent_entries(agents: Sequence[Agent], respondents: dict[str, str] | None = None,
                  conditions: dict[str, str] | None = None) -> list[AgentEntry]:
    respondents, conditions = respondents or {}, conditions or {}
    return [
        AgentEntry(
            id=agent.id,
            source=conditions.get(agent.id) or str(agent.source),
            respondent=respondents.get(agent.id) or agent.respondent or agent.id,
            name=agent.name,
            fingerprint=agent_fingerprint(agent),
            inputs=agent.inputs(),
        )
        for agent in agents
    ]


def instrument_entries(instruments: Sequence[Instrument]) -> list[InstrumentEntry]:
    return [
        InstrumentEntry(id=i.id, title=i.title, questions=[q.id for q in i.questions],
                        wording={q.id: question_hash(q) for q in i.questions})
        for i in instruments
    ]
