"""Scoring rules: BFI traits by hand, games on 0-1, retest agreement on a hand-made response set."""

from __future__ import annotations

import pytest

from surveys.instruments import load_instrument
from surveys.model import AnswerValidationError
from surveys.responses import ResponseSet
from surveys.scoring import bfi_traits, game_scores, person_agreement, retest_agreement, scale_game


def _sheet() -> dict[str, object]:
    """Everything 4, except a few answers chosen to exercise reverse-keying."""
    sheet: dict[str, object] = {f"bfi{n}": 4 for n in range(1, 45)}
    sheet.update(bfi6=1, bfi21=2, bfi2=5, bfi9=3)
    return sheet


def test_bfi_traits_match_hand_computation():
    traits = bfi_traits(_sheet())
    # E: 1, 6R, 11, 16, 21R, 26, 31R, 36 -> 4 + (6-1) + 4 + 4 + (6-2) + 4 + (6-4) + 4 = 31 -> 31/8
    # A: 2R, 7, 12R, 17, 22, 27R, 32, 37R, 42 -> (6-5) + 4 + 2 + 4 + 4 + 2 + 4 + 2 + 4 = 27 -> 27/9
    # C: 3, 8R, 13, 18R, 23R, 28, 33, 38, 43R -> 5 x 4 + 4 x 2 = 28 -> 28/9
    # N: 4, 9R, 14, 19, 24R, 29, 34R, 39 -> 4 + (6-3) + 4 + 4 + 2 + 4 + 2 + 4 = 27 -> 27/8
    # O: 5, 10, 15, 20, 25, 30, 35R, 40, 41R, 44 -> 8 x 4 + 2 x 2 = 36 -> 36/10
    assert traits == pytest.approx({"E": 31 / 8, "A": 3.0, "C": 28 / 9, "N": 27 / 8, "O": 3.6})


def test_bfi_traits_accept_codes_skip_missing_and_ignore_other_keys():
    sheet = {k: str(v) for k, v in _sheet().items()}
    del sheet["bfi1"]  # E now: 27/7 (the other seven items)
    sheet["natspac"] = "1"
    traits = bfi_traits(sheet)
    assert traits["E"] == pytest.approx(27 / 7)
    only_openness = {f"bfi{n}": 5 for n in (5, 10, 35)}
    assert bfi_traits(only_openness) == pytest.approx({"O": (5 + 5 + 1) / 3})


def test_bfi_invalid_value_names_the_item():
    sheet = _sheet()
    sheet["bfi7"] = 7
    with pytest.raises(AnswerValidationError, match="bfi7"):
        bfi_traits(sheet)


def test_games_scale_by_offered_range():
    games = load_instrument("games")
    assert scale_game(games.question("dictator"), 2.5) == 0.5
    assert scale_game(games.question("trust_sender"), "3") == 1.0
    assert scale_game(games.question("trust_receiver"), 3) == pytest.approx(1 / 3)
    assert scale_game(games.question("public_goods"), 1) == 0.25
    assert scale_game(games.question("prisoners_dilemma"), "cooperate") == 1.0
    assert scale_game(games.question("prisoners_dilemma"), "defect") == 0.0
    with pytest.raises(AnswerValidationError, match="dictator"):
        scale_game(games.question("dictator"), 5.5)
    with pytest.raises(AnswerValidationError, match="prisoners_dilemma"):
        scale_game(games.question("prisoners_dilemma"), "betray")
    assert game_scores({"dictator": 5, "public_goods": 0, "other": 1}) == {"dictator": 1.0, "public_goods": 0.0}


def test_retest_agreement_per_item_and_person():
    records = [
        ("a", "q1", 1, "1"), ("a", "q1", 2, "1"), ("a", "q2", 1, "2"), ("a", "q2", 2, "1"),
        ("b", "q1", 1, "2"), ("b", "q1", 2, "2"), ("b", "q2", 1, "1"),  # q2 has no wave 2 for b
        ("c", "q1", 1, "1"), ("c", "q1", 2, "2"), ("c", "q2", 1, "3"), ("c", "q2", 2, "3"),
    ]
    responses = ResponseSet.from_records("toy", records)
    items = retest_agreement(responses)
    assert list(items.columns) == ["item", "n_pairs", "agreement"]
    assert items.set_index("item").to_dict("index") == {
        "q1": {"n_pairs": 3, "agreement": pytest.approx(2 / 3)},
        "q2": {"n_pairs": 2, "agreement": pytest.approx(1 / 2)},
    }
    people = person_agreement(responses).set_index("respondent")
    assert people.loc["a", "agreement"] == 0.5 and people.loc["b", "n_items"] == 1 and people.loc["c", "agreement"] == 0.5
    assert retest_agreement(ResponseSet.from_records("none", [("a", "q1", 1, "1")])).empty
