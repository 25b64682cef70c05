"""Adaptive study instruments at run time: which item a person is asked next.

An instrument listed with `adaptive: {max_items: K}` and/or `{budget_minutes: M}` asks one item at a time, chosen
by `surveys.adaptive.AdaptiveSelector` (fitted on the study's frozen population, seeded with the study's seed,
never with the person themself in it) from the person's answers to that instrument so far, and only those.
Every answer is saved with the choice that asked it (`adaptive`: position, expected gain, expected seconds) and
the choice that follows it (`next`, or `stop` with the reason), so a resumed session continues the same order
even if the code that chooses changes. The instrument ends at `max_items` items, when the next item no longer
fits in the time budget (expected answering seconds), or when no item is left.

The retest (wave 2) asks the items the person was asked in wave 1, in the same order (`retest: all`: then every
other item of the instrument too, so that the selector's predictions of them can be checked).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from interviewer.study.model import AdaptiveInfo, Study
from interviewer.study.populations import read_population
from surveys.adaptive import AdaptiveSelector, Choice
from surveys.responses import ResponseSet

Step = tuple[str, str]  # (instrument, question)
_LOCK = threading.Lock()
_SELECTORS: "OrderedDict[tuple[Any, ...], AdaptiveSelector]" = OrderedDict()
_POPULATIONS: "OrderedDict[tuple[Any, ...], ResponseSet]" = OrderedDict()
_CACHED = 8


@dataclass
class AdaptiveStatus:
    """One person's adaptive instrument in wave 1: the items asked (in order, with their saved choices), the item
    to ask now (None when finished) and why it finished."""

    instrument: str
    asked: list[dict[str, Any]] = field(default_factory=list)  # {question, position, expected_gain, seconds}
    pending: dict[str, Any] | None = None
    stop: str | None = None  # max_items | budget | no_items_left
    candidates: list[str] = field(default_factory=list)  # the items the selector chooses among

    @property
    def finished(self) -> bool:
        return self.pending is None

    def estimated_total(self, info: AdaptiveInfo, median_seconds: float) -> int:
        """Items this person will be asked in all (exact once finished; else an estimate from the limits)."""
        if self.finished:
            return len(self.asked)
        cap = len(self.candidates)
        if info.max_items is not None:
            cap = min(cap, info.max_items)
        if info.budget_seconds is not None and median_seconds > 0:
            left = info.budget_seconds - sum(a["seconds"] for a in self.asked) - float(self.pending["seconds"])  # type: ignore[index]
            cap = min(cap, len(self.asked) + 1 + max(0, int(left // median_seconds)))
        return max(cap, len(self.asked) + 1)


def choice_record(choice: Choice, position: int) -> dict[str, Any]:
    return {"question": choice.question, "position": position, "expected_gain": round(float(choice.expected_gain), 6),
            "seconds": round(float(choice.seconds), 3)}


def population(folder: Path, study: Study, instrument_id: str) -> ResponseSet:
    """The instrument's frozen population (cached per study folder and content)."""
    key = (str(folder), study.id, instrument_id, study.adaptive[instrument_id].sha256)
    with _LOCK:
        if key in _POPULATIONS:
            _POPULATIONS.move_to_end(key)
            return _POPULATIONS[key]
    found = read_population(folder, study, instrument_id)
    with _LOCK:
        _POPULATIONS[key] = found
        while len(_POPULATIONS) > _CACHED:
            _POPULATIONS.popitem(last=False)
    return found


def selector(folder: Path, study: Study, instrument_id: str, respondent: str | None = None) -> AdaptiveSelector:
    """The instrument's selector, seeded with the study's seed; a person who is in the population is left out of
    it (one selector of their own), everyone else shares one."""
    people = population(folder, study, instrument_id)
    excluded = (respondent,) if respondent is not None and (people.data["respondent"] == respondent).any() else ()
    info = study.adaptive[instrument_id]
    key = (str(folder), study.id, instrument_id, info.sha256, study.spec.seed, excluded)
    with _LOCK:
        if key in _SELECTORS:
            _SELECTORS.move_to_end(key)
            return _SELECTORS[key]
    questions = study.instrument(instrument_id).questions
    made = AdaptiveSelector(people, [q.id for q in questions], seed=study.spec.seed, exclude_people=excluded,
                            instrument=questions)
    with _LOCK:
        _SELECTORS[key] = made
        while len(_SELECTORS) > _CACHED:
            _SELECTORS.popitem(last=False)
    return made


def choose(chooser: AdaptiveSelector, info: AdaptiveInfo, answered: Mapping[str, Any],
           asked: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, str | None]:
    """The next choice after `asked` (answers in `answered`), or (None, why it stops): the rules of
    `AdaptiveSelector.plan` (K items; an item that does not fit in the time left is not chosen)."""
    if info.max_items is not None and len(asked) >= info.max_items:
        return None, "max_items"
    if info.budget_seconds is None:
        choice = chooser.next(answered)
    else:
        left = info.budget_seconds - sum(float(a["seconds"]) for a in asked)
        choice = chooser.next(answered, seconds_left=left)
    if choice is None:
        left_over = [q for q in chooser.items if q not in answered]
        return None, "budget" if left_over and info.budget_seconds is not None else "no_items_left"
    return choice_record(choice, len(asked) + 1), None


def status(folder: Path, study: Study, instrument_id: str, respondent: str, answers: Mapping[str, Any],
           records: Mapping[str, Mapping[str, Any]]) -> AdaptiveStatus:
    """Where a person stands in an adaptive instrument (wave 1). `answers`: their wave-1 answers to it
    (question -> value); `records`: the choice saved with each answer (question -> {adaptive, next, stop})."""
    info = study.adaptive[instrument_id]
    chooser = selector(folder, study, instrument_id, respondent)
    state = AdaptiveStatus(instrument=instrument_id, candidates=list(chooser.items))
    order = sorted(answers, key=lambda q: (records.get(q, {}).get("adaptive") or {}).get("position", 10**9))
    for question in order:
        saved = records.get(question, {}).get("adaptive") or {}
        state.asked.append({"question": question, "position": len(state.asked) + 1,
                            "expected_gain": saved.get("expected_gain"), "seconds": float(saved.get("seconds") or 0.0)})
    last = records.get(order[-1], {}) if order else {}
    if "next" in last:  # the choice saved with the last answer: a resumed session continues it
        following = last["next"]
        if following is None:
            state.stop = last.get("stop") or "no_items_left"
            return state
        if following.get("question") not in answers:
            state.pending = {**following, "position": len(state.asked) + 1}
            return state
    state.pending, state.stop = choose(chooser, info, answers, state.asked)
    return state


def after_answer(folder: Path, study: Study, instrument_id: str, respondent: str, answers: Mapping[str, Any],
                 records: Mapping[str, Mapping[str, Any]], question: str, value: Any) -> dict[str, Any]:
    """What is saved with a wave-1 answer to an adaptive instrument: the choice that asked it and the next one
    (computed from the answers so far plus this one)."""
    now = status(folder, study, instrument_id, respondent, answers, records)
    asked = now.pending if now.pending is not None and now.pending["question"] == question else None
    if asked is None:  # not the chosen item (the web layer refuses it; recorded as such if it gets here)
        asked = {"question": question, "position": len(now.asked) + 1, "expected_gain": None, "seconds": 0.0}
    following, stop = choose(selector(folder, study, instrument_id, respondent), study.adaptive[instrument_id],
                             {**answers, question: value}, [*now.asked, asked])
    return {"adaptive": {k: asked[k] for k in ("position", "expected_gain", "seconds")}, "next": following, "stop": stop}


def plan(folder: Path, study: Study, respondent: str, wave: int, saved: Mapping[tuple[int, str, str], Any],
         records: Mapping[tuple[int, str, str], Mapping[str, Any]]) -> tuple[list[Step], int, dict[str, AdaptiveStatus]]:
    """The steps of a wave as far as they are known (an adaptive instrument: the items asked, then the one asked
    now), the expected number of steps, and each adaptive instrument's status (wave 1)."""
    static = study.plan(respondent, wave)
    if not study.adaptive:
        return static, len(static), {}
    statuses: dict[str, AdaptiveStatus] = {}
    steps: list[Step] = []
    total = 0
    done: set[str] = set()
    for instrument_id, question_id in static:
        if instrument_id not in study.adaptive:
            steps.append((instrument_id, question_id))
            total += 1
            continue
        if instrument_id in done:
            continue
        done.add(instrument_id)
        info = study.adaptive[instrument_id]
        answers = {q: v for (w, i, q), v in saved.items() if w == 1 and i == instrument_id}
        saved_records = {q: r for (w, i, q), r in records.items() if w == 1 and i == instrument_id}
        state = statuses[instrument_id] = status(folder, study, instrument_id, respondent, answers, saved_records)
        seconds = sorted(float(s) for s in selector(folder, study, instrument_id, respondent).seconds)
        expected = state.estimated_total(info, seconds[len(seconds) // 2] if seconds else 0.0)
        if wave == 1:
            steps += [(instrument_id, a["question"]) for a in state.asked]
            if state.pending is not None:
                steps.append((instrument_id, state.pending["question"]))
            total += expected
        else:
            asked = [a["question"] for a in state.asked]
            rest = [q.id for q in study.instrument(instrument_id).questions if q.id not in set(asked)] \
                if info.retest == "all" else []
            steps += [(instrument_id, q) for q in asked + rest]
            total += len(study.instrument(instrument_id).questions) if info.retest == "all" else expected
    return steps, total, statuses
