"""Matched references (#23 item 2): each agent condition beside a reference that sees exactly what its agents see.

The run manifest records what every agent sees (`AgentEntry.inputs`: its demographic fields, its known items and
the items hidden with each target) and the run's exclusions (`hidden`: target -> items no predictor of it sees).
From these, per agent condition:

- demographic agents -> demographic kNN over exactly the condition's demographic fields (the union over its
  agents), each field mapped to a column of the panel's demographics by its own name or by the GSS item it
  repeats (`leakage.field_item`: political_views -> polviews, party -> partyid, religion -> relig, ...), else to
  the panel's wave-1 answers to that item (`DemographicKNN` reads an item's wave-1 code as a categorical field).
  A field the panel has in neither form is named as unavailable to the reference;
- composite and combined agents -> composite kNN restricted to the condition's known items (the union over its
  agents of `known_items`), with the run's `hidden` exclusions and the agents' `hidden_with` applied per target:
  every other panel item is excluded from the similarity;
- interview and persona agents read free text: no statistical reference sees the same, so none is matched
  ("no matched reference (free text)").

Each agent condition then gets two verdicts: against its matched reference and against the best reference
(paired differences of normalized accuracy on the agent's cells, two-way bootstrap). A verdict on too few people
or items says so in words (`too_small`): at least `MIN_PEOPLE_TO_JUDGE` people and `MIN_ITEMS_TO_JUDGE` items.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import numpy as np

from experiments.scoring import stats as st
from experiments.scoring.leakage import field_item
from experiments.scoring.panel import PanelMatrix
from experiments.scoring.references import LABELS, CompositeKNN, DemographicKNN, ReferencePredictor

MIN_PEOPLE_TO_JUDGE = 10  # a verdict on fewer people than this is "too small to judge", whatever its interval
MIN_ITEMS_TO_JUDGE = 10  # likewise for items
FREE_TEXT = ("interview", "persona")
DEMOGRAPHIC = ("demographic",)
COMPOSITE = ("composite", "combined")
NO_MATCH = "no matched reference (free text)"
# respondents of a population added to a truth only for references to learn from (a study's shipped or named
# population, experiments.studies.study_population): they have no agent, so they are never scored
POPULATION_PREFIX = "population:"


@dataclass
class MatchedSpec:
    """What a condition's matched reference sees (the union of its agents' inputs) and how it is built."""

    condition: str
    kind: str  # "demographic_knn" | "composite_knn" | "none"
    fields: list[str] = field(default_factory=list)  # the agents' demographic fields
    columns: dict[str, str] = field(default_factory=dict)  # field -> demographics column or wave-1 item it reads
    unavailable: list[str] = field(default_factory=list)  # fields the panel has in no form
    known_items: list[str] = field(default_factory=list)  # the agents' known items
    hidden: dict[str, list[str]] = field(default_factory=dict)  # target -> known items never seen while predicting it
    missing_items: list[str] = field(default_factory=list)  # known items the panel does not carry

    @property
    def name(self) -> str:
        return f"matched {LABELS.get(self.kind, self.kind)}" if self.kind != "none" else "none"

    def describe(self) -> str:
        """In words, what the matched reference saw."""
        if self.kind == "demographic_knn":
            used = ", ".join(f"{f} (as {c})" if c != f else f for f, c in self.columns.items()) or "no field"
            text = f"demographic kNN on exactly the agents' fields: {used}"
            if self.unavailable:
                text += f"; not in the human answers, so unseen by the reference: {', '.join(self.unavailable)}"
            return text
        if self.kind == "composite_knn":
            shown = len(self.known_items) - len(self.missing_items)
            text = (f"composite kNN on exactly the agents' {shown} known item(s) (each target and the items hidden "
                    f"with it left out)")
            if self.missing_items:
                text += f"; not in the human answers: {', '.join(self.missing_items)}"
            return text
        return NO_MATCH

    def as_json(self) -> dict[str, Any]:
        return {"condition": self.condition, "kind": self.kind, "reference": self.name, "saw": self.describe(),
                "fields": list(self.fields), "columns": dict(self.columns), "unavailable": list(self.unavailable),
                "items": list(self.known_items), "missing_items": list(self.missing_items),
                "hidden": {t: list(v) for t, v in self.hidden.items() if v}}


def condition_inputs(entries: Iterable[Any]) -> dict[str, Any]:
    """The union over a condition's agent entries of what they see: demographic fields, known items, hidden_with."""
    fields: set[str] = set()
    known: set[str] = set()
    hidden: dict[str, set[str]] = {}
    for entry in entries:
        inputs = getattr(entry, "inputs", None) or {}
        fields |= set(inputs.get("demographic_fields") or [])
        known |= set(inputs.get("known_items") or [])
        for target, items in (inputs.get("hidden_with") or {}).items():
            hidden.setdefault(str(target), set()).update(items)
    return {"demographic_fields": sorted(fields), "known_items": sorted(known), "hidden_with": hidden}


def _kind(condition: str, inputs: Mapping[str, Any]) -> str:
    if condition in FREE_TEXT:
        return "none"
    if condition in COMPOSITE or (condition not in DEMOGRAPHIC and inputs["known_items"]):
        return "composite_knn"
    if condition in DEMOGRAPHIC or inputs["demographic_fields"]:
        return "demographic_knn"
    return "none"


def field_column(panel: PanelMatrix, name: str) -> str | None:
    """The panel column a demographic field reads: a demographics column of its name or of the item it repeats,
    else the item's wave-1 answers (an item of the panel); None when the panel has it in no form."""
    columns = set(panel.demographics.columns) if panel.demographics is not None else set()
    item = field_item(name)
    for candidate in (name, item):
        if candidate in columns:
            return candidate
    return item if item in panel.items else None


def plan_matched(by_condition: Mapping[str, Iterable[Any]], panel: PanelMatrix,
                 run_hidden: Mapping[str, Iterable[str]] | None = None) -> dict[str, MatchedSpec]:
    """Per agent condition (manifest entries grouped by source), its matched reference's inputs."""
    out: dict[str, MatchedSpec] = {}
    for condition, entries in by_condition.items():
        inputs = condition_inputs(entries)
        kind = _kind(condition, inputs)
        spec = MatchedSpec(condition, kind)
        if kind == "demographic_knn":
            spec.fields = list(inputs["demographic_fields"])
            for name in spec.fields:
                column = field_column(panel, name)
                if column is None:
                    spec.unavailable.append(name)
                else:
                    spec.columns[name] = column
        elif kind == "composite_knn":
            spec.known_items = list(inputs["known_items"])
            spec.missing_items = [i for i in spec.known_items if i not in panel.items]
            known = set(spec.known_items)
            hidden: dict[str, set[str]] = {t: set(v) & known for t, v in inputs["hidden_with"].items()}
            for target, items in (run_hidden or {}).items():
                hidden.setdefault(str(target), set()).update(set(items) & known)
            spec.hidden = {t: sorted(v) for t, v in sorted(hidden.items()) if v}
        out[condition] = spec
    return out


def matched_predictor(spec: MatchedSpec, panel: PanelMatrix, targets: Iterable[str],
                      exclusions: Mapping[str, set[str]], *, k: int = 25, seed: int = 0) -> ReferencePredictor | None:
    """The reference that sees exactly `spec`'s inputs (None for free-text conditions). The run's exclusions
    (near-duplicates of each target) apply as to every reference."""
    if spec.kind == "demographic_knn":
        predictor: ReferencePredictor = DemographicKNN(exclusions, k=k, seed=seed, fields=list(dict.fromkeys(spec.columns.values())))
    elif spec.kind == "composite_knn":
        known = set(spec.known_items)
        restricted = {}
        for target in targets:
            restricted[target] = (set(exclusions.get(target, set())) | (set(panel.items) - known)
                                  | set(spec.hidden.get(target, [])))
        predictor = CompositeKNN(restricted, k=k)
    else:
        return None
    predictor.matched = spec  # type: ignore[attr-defined]  # what it was constructed to see (tests read it)
    return predictor


def too_small(sums: st.PersonSums, min_items: int) -> str | None:
    """A sentence when the cells a verdict rests on are too few people or items to mean anything, else None."""
    judged = sums.scored.sum(axis=1) >= min_items
    people = int(judged.sum())
    items = int((sums.scored[judged] > 0).any(axis=0).sum()) if people else 0
    if people >= MIN_PEOPLE_TO_JUDGE and items >= MIN_ITEMS_TO_JUDGE:
        return None
    return (f"too small to judge: {people} people and {items} items (a verdict needs at least "
            f"{MIN_PEOPLE_TO_JUDGE} people and {MIN_ITEMS_TO_JUDGE} items)")


def verdict_word(diff: Mapping[str, Any], against: str = "the best reference") -> str:
    """A paired difference in words: better / worse than `against` when its interval excludes 0, else not
    distinguishable (no interval: the sign alone)."""
    ci = diff.get("ci")
    if diff.get("difference") is None:
        return "not estimable"
    if not ci:
        return "better" if diff["difference"] > 0 else "worse" if diff["difference"] < 0 else "equal"
    if ci[0] > 0:
        return f"better than {against}"
    if ci[1] < 0:
        return f"worse than {against}"
    return f"not distinguishable from {against}"


def _word(diff: Mapping[str, Any]) -> str:
    return verdict_word(diff, "the matched reference")


def matched_verdict(spec: MatchedSpec, panel: PanelMatrix, sub: PanelMatrix, targets: list[str], rows: np.ndarray,
                    agent_cells: st.Cells, agent_sums: st.PersonSums | None, exclusions: Mapping[str, set[str]],
                    boot: st.Bootstrap, *, min_items: int, k: int = 25, seed: int = 0) -> dict[str, Any]:
    """The agent condition against its matched reference on the agent's cells: paired difference of normalized
    accuracy with a two-way interval, the reference's own value, what it saw (in words and as data)."""
    block = spec.as_json()
    predictor = matched_predictor(spec, panel, targets, exclusions, k=k, seed=seed)
    if predictor is None:
        return {**block, "difference": None, "ci": None, "value": None, "verdict": NO_MATCH}
    if agent_sums is None:
        return {**block, "difference": None, "ci": None, "value": None, "verdict": "no valid answers: no score"}
    proba = predictor.predict_proba(panel, targets, rows)[:, :, : sub.max_options]
    cells = st.Cells.from_panel(sub, np.argmax(proba, axis=2), asked=agent_cells.asked)
    sums = st.person_sums(cells)
    value = st.statistics(sums, min_items=min_items)["normalized_accuracy"]
    accuracy = st.statistics(sums, min_items=min_items)["accuracy"]
    diff = st.paired_difference(agent_sums, sums, boot, "normalized_accuracy", min_items)
    small = too_small(agent_sums, min_items)
    return {**block, "value": st._none(value), "accuracy": st._none(accuracy), **diff,
            "verdict": small or _word(diff)}


def matched_line(name: str, block: Mapping[str, Any]) -> str:
    """The matched verdict of a condition in one line: the difference, its interval, the word and what it saw."""
    if block.get("difference") is None:
        return f"[bold]verdict[/bold] {name} vs its matched reference: {block.get('verdict')} ({block.get('saw')})"
    ci = block.get("ci")
    interval = f" [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else ""
    value = block.get("value")
    own = f", {value:.3f}" if value is not None else ""
    return (f"[bold]verdict[/bold] {name}: {block['difference']:+.3f}{interval} normalized accuracy vs "
            f"{block.get('reference')} (matched reference{own}), paired, two-way bootstrap: {block.get('verdict')}; "
            f"the matched reference saw {block.get('saw')}")


__all__ = ["matched_line", "MatchedSpec", "plan_matched", "matched_predictor", "matched_verdict", "condition_inputs", "field_column",
           "too_small", "POPULATION_PREFIX", "MIN_PEOPLE_TO_JUDGE", "MIN_ITEMS_TO_JUDGE", "NO_MATCH"]
