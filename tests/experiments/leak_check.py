"""Searching the prompts a run really sent for what its agents may never see (shared by the leakage tests of every
entry point: benchmark, `simulacra run --truth`, study evaluate, interview-yield, the Python API)."""

from __future__ import annotations

import re
from typing import Any, Iterable

from experiments.scoring.leakage import DEMOGRAPHIC_FIELD_ITEMS, near_duplicates

ASKED = re.compile(r"^Q\d+\. (.*)$", re.M)


def prompt_text(request: Any) -> str:
    return "\n".join(str(m["content"]) for m in request.messages)


def asked_ids(text: str, questions: dict[str, Any]) -> set[str]:
    """The question ids a prompt asks (rendered `Qn. <text>`)."""
    by_text = {q.text.strip(): q.id for q in questions.values()}
    return {by_text[t.strip()] for t in ASKED.findall(text) if t.strip() in by_text}


def forbidden_for(target: str, hidden: dict[str, Iterable[str]]) -> set[str]:
    """What no context predicting `target` may show: the target, the run's hidden items for it, and (defence in
    depth, independent of the run's record) every near-duplicate the leakage table knows."""
    return {target} | set(hidden.get(target, ())) | near_duplicates().get(target, set())


def leaks(requests: Iterable[Any], questions: dict[str, Any], hidden: dict[str, Iterable[str]],
          targets: Iterable[str]) -> list[str]:
    """Every (prompt, item) where a prompt predicting a target shows a known answer it must not see, or a
    demographic field that is or maps to a target. Empty when the run is leak-free."""
    targets = set(targets)
    found = []
    checked = 0
    for request in requests:
        text = prompt_text(request)
        for target in asked_ids(text, questions) & targets:
            checked += 1
            for item in forbidden_for(target, hidden):
                question = questions.get(item)
                if question is not None and f"- {question.text.strip()}\n  My answer:" in text:
                    found.append(f"predicting {target}: the known answer to {item} is in the prompt")
        for field, item in DEMOGRAPHIC_FIELD_ITEMS.items():  # as profile.persona_line renders a field
            label = field.replace("_", " ").strip().capitalize()
            if item in targets and re.search(rf"(?:^|[\s.:]){re.escape(label)}: ", text):
                found.append(f"demographic field {label!r} repeats target {item}")
    assert checked, "no prompt asked a target: the check saw nothing"
    return found
