"""Scoring rules shared by evaluation and reports (as in Park et al. 2024, SM 5).

- BFI-44: reverse-keyed items become 6 - x; a trait is the mean of its items (1-5).
- Games: each response scaled 0-1 by the range offered (Prisoner's Dilemma: cooperate 1, defect 0).
- Retest agreement: the share of a person's (or an item's) wave-1 answers repeated exactly in wave 2;
  it is the ceiling agents are normalized by.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from surveys.instruments import BUILTIN, _builtin, load_instrument
from surveys.model import AnswerValidationError, Instrument, Question, QuestionKind

if TYPE_CHECKING:  # pandas is imported lazily: scoring a few answers should not need it loaded
    import pandas as pd

    from surveys.responses import ResponseSet

TRAITS = ("E", "A", "C", "N", "O")


def _instrument(instrument: Instrument | str | None, default: str) -> Instrument:
    key = instrument or default
    if isinstance(key, str) and key in BUILTIN:
        return _builtin(key)  # read-only use: skip the defensive copy
    return load_instrument(key)


def bfi_traits(answers: Mapping[str, Any], instrument: Instrument | str | None = None) -> dict[str, float]:
    """Trait scores {E, A, C, N, O: 1-5} from BFI-44 answers {"bfi1": 4, ...}.

    Items not answered are left out of their trait's mean; a trait with no answered item is absent.
    Keys that are not BFI items are ignored (an answer sheet may hold several instruments). An invalid
    value (not 1-5) raises AnswerValidationError naming the item.
    """
    bfi = _instrument(instrument, "bfi44")
    traits: Mapping[str, Mapping[str, Any]] = bfi.scoring.get("traits", {})
    if not traits:
        raise ValueError(f"instrument {bfi.id} has no BFI trait key in its scoring block")
    scores: dict[str, float] = {}
    for code, key in traits.items():
        reverse = set(key.get("reverse", []))
        values = []
        for qid in key["items"]:
            raw = answers.get(qid)
            if raw is None or (isinstance(raw, float) and raw != raw):
                continue
            value = int(bfi.question(qid).validate_value(raw))
            values.append(6 - value if qid in reverse else value)
        if values:
            scores[code] = sum(values) / len(values)
    return scores


def scale_game(question: Question, value: Any) -> float:
    """A game response on 0-1: numeric by the offered range, categorical by `meta.scale`."""
    if question.kind == QuestionKind.numeric:
        return float(question.scaled(question.validate_value(value)))  # type: ignore[arg-type]
    if question.is_choice:
        code = question.validate_value(value)
        scale = question.meta.get("scale")
        if not isinstance(scale, Mapping) or code not in scale:
            raise AnswerValidationError(f"question {question.id}: no 0-1 scale for option {code!r} (meta.scale)")
        return float(scale[code])
    raise AnswerValidationError(f"question {question.id}: a {question.kind.value} question has no 0-1 scale")


def game_scores(answers: Mapping[str, Any], instrument: Instrument | str | None = None) -> dict[str, float]:
    """{game question id: 0-1} for the games answered in `answers` (other keys ignored)."""
    games = _instrument(instrument, "games")
    return {q.id: scale_game(q, answers[q.id]) for q in games.questions if answers.get(q.id) is not None}


def retest_agreement(responses: "ResponseSet", first: int = 1, second: int = 2) -> "pd.DataFrame":
    """Per item: how many people answered in both waves (n_pairs) and the share answering the same.

    Columns: item, n_pairs, agreement; one row per item with at least one pair, sorted by item.
    """
    import pandas as pd  # lazily: see the TYPE_CHECKING note above

    pairs = responses.retest_pairs(first, second)
    if pairs.empty:
        return pd.DataFrame({"item": pd.Series(dtype=str), "n_pairs": pd.Series(dtype=int), "agreement": pd.Series(dtype=float)})
    same = pairs["value_1"].astype(str) == pairs["value_2"].astype(str)
    table = same.groupby(pairs["question"]).agg(n_pairs="size", agreement="mean").reset_index()
    return table.rename(columns={"question": "item"}).sort_values("item").reset_index(drop=True)


def person_agreement(responses: "ResponseSet", first: int = 1, second: int = 2) -> "pd.DataFrame":
    """Per respondent: items answered in both waves (n_items) and the share answered the same.

    This is the denominator of normalized accuracy. Columns: respondent, n_items, agreement.
    """
    import pandas as pd  # lazily: see the TYPE_CHECKING note above

    pairs = responses.retest_pairs(first, second)
    if pairs.empty:
        return pd.DataFrame({"respondent": pd.Series(dtype=str), "n_items": pd.Series(dtype=int), "agreement": pd.Series(dtype=float)})
    same = pairs["value_1"].astype(str) == pairs["value_2"].astype(str)
    table = same.groupby(pairs["respondent"]).agg(n_items="size", agreement="mean").reset_index()
    return table.sort_values("respondent").reset_index(drop=True)
