"""surveys.adaptive: expected gains on a population whose most informative item is known by hand, invariance to the
person's unanswered items, seeded determinism, the K and time-budget stops, predictions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from surveys.adaptive import ANSWER_SECONDS, READING_WORDS_PER_MINUTE, AdaptiveSelector, Choice, expected_seconds
from surveys.model import Option, Question, QuestionKind
from surveys.responses import ResponseSet


def _question(qid: str, codes: list[str], text: str | None = None) -> Question:
    return Question(id=qid, text=text or f"Question {qid}?", kind=QuestionKind.categorical,
                    options=[Option(code=c, label=f"answer {c}") for c in codes])


QUESTIONS = [_question("key", ["0", "1", "2", "3"]), _question("x1", ["0", "1"]), _question("x2", ["0", "1"]),
             _question("x3", ["0", "1"]), _question("noise", ["0", "1"])]


def toy_population(people_per_group: int = 60, seed: int = 1) -> ResponseSet:
    """Four equally large groups; `key` names the group; x1 = group in {0, 1}, x2 = group in {0, 2}, x3 = group in
    {0, 3}; `noise` is a fair coin independent of everything.

    By hand (entropies in nats): asking `key` settles x1, x2 and x3 (each a fair coin: ln 2), gain 3 ln 2;
    asking x1 halves the groups (key: ln 4 -> ln 2, gain ln 2) and, since x1, x2, x3 are pairwise independent,
    says nothing about x2 or x3: gain ln 2; asking `noise` tells nothing: gain 0."""
    rng = np.random.default_rng(seed)
    records = []
    for g in range(4):
        for i in range(people_per_group):
            person = f"p{g}-{i:03d}"
            answers = {"key": str(g), "x1": str(int(g in (0, 1))), "x2": str(int(g in (0, 2))),
                       "x3": str(int(g in (0, 3))), "noise": str(int(rng.integers(0, 2)))}
            records += [(person, q, 1, v) for q, v in answers.items()]
    return ResponseSet.from_records("toy", records)


@pytest.fixture(scope="module")
def toy() -> ResponseSet:
    return toy_population()


def test_gains_match_the_hand_computed_values(toy):
    # a tiny pseudo-count, so the fitted model is the population's distribution the hand values are for (the
    # default 0.5 a class and option shrinks every gain toward 0: key 1.65 here)
    selector = AdaptiveSelector(toy, instrument=QUESTIONS, classes=8, seed=0, smoothing=0.02)
    gains = selector.gains({})
    assert gains["key"] == pytest.approx(3 * math.log(2), abs=0.08)
    for item in ("x1", "x2", "x3"):
        assert gains[item] == pytest.approx(math.log(2), abs=0.08)
    assert abs(gains["noise"]) < 0.03
    choice = selector.next({})
    assert isinstance(choice, Choice) and choice.question == "key"
    assert choice.expected_gain == pytest.approx(gains["key"])
    # once `key` is known, x1..x3 are settled: nothing left to learn from them (and never `key` again)
    after = selector.gains({"key": "2"})
    assert "key" not in after
    assert max(after.values()) < 0.05


def test_the_accuracy_criterion_picks_the_same_item_with_its_hand_value(toy):
    selector = AdaptiveSelector(toy, instrument=QUESTIONS, classes=8, seed=0, criterion="accuracy", smoothing=0.02)
    gains = selector.gains({})
    # key: x1..x3 go from a 1/2 guess to certain: +0.5 items each; x1 settles none of x2, x3 but takes the best
    # guess of key from 1/4 to 1/2: +0.25; noise nothing
    assert gains["key"] == pytest.approx(1.5, abs=0.06)
    assert gains["x1"] == pytest.approx(0.25, abs=0.06)
    # noise: 0 in the population; the 240 coin flips are not exactly independent of the groups, and a best guess
    # flips on small differences, so the fitted model finds a little
    assert 0 <= gains["noise"] < 0.15 and gains["noise"] < gains["x1"]
    assert selector.next({}).question == "key"


def test_predictions_follow_the_answers(toy):
    selector = AdaptiveSelector(toy, instrument=QUESTIONS, classes=8, seed=0)
    predicted = selector.predict({"key": "2"})
    assert predicted["x1"] == "0" and predicted["x2"] == "1" and predicted["x3"] == "0"
    assert "key" not in predicted
    assert set(selector.predict({})) == {q.id for q in QUESTIONS}


def test_selection_never_reads_the_persons_unanswered_items(toy):
    """The person's answers to the items not asked are changed in the population: the chosen order and gains do not
    move (the person is excluded from the fit, and the plan asks only for the items it chose)."""
    person = "p1-000"
    asked_for: list[str] = []
    own = {q: toy.value(person, q) for q in toy.questions}

    def answer_of(item: str):
        asked_for.append(item)
        return own[item]

    first = AdaptiveSelector(toy, instrument=QUESTIONS, classes=8, seed=3, exclude_people=[person])
    plan = first.plan(answer_of, max_items=2)
    assert asked_for == [c.question for c in plan]  # nothing but the chosen items was asked
    unasked = [q for q in toy.questions if q not in asked_for]
    changed = toy.data.copy()
    mine = (changed.respondent == person) & changed.question.isin(unasked)
    assert mine.sum() == len(unasked)
    changed.loc[mine, "value"] = changed.loc[mine, "value"].map(lambda v: "1" if v == "0" else "0")
    altered = ResponseSet("toy", changed)
    assert altered.value(person, unasked[0]) != toy.value(person, unasked[0])
    second = AdaptiveSelector(altered, instrument=QUESTIONS, classes=8, seed=3, exclude_people=[person])
    again = second.plan(lambda item: own[item], max_items=2)
    assert again == plan
    assert second.next({plan[0].question: own[plan[0].question]}) == first.next({plan[0].question: own[plan[0].question]})
    # and with the person in the population, the same change would reach the model (the exclusion is what protects it)
    inside_a = AdaptiveSelector(toy, instrument=QUESTIONS, classes=8, seed=3)
    inside_b = AdaptiveSelector(altered, instrument=QUESTIONS, classes=8, seed=3)
    assert not np.allclose(inside_a.log_theta, inside_b.log_theta)


def test_next_reads_only_the_answers_given(toy):
    selector = AdaptiveSelector(toy, instrument=QUESTIONS, classes=8, seed=0)
    # an answered item with no answer (None) counts as asked but tells nothing
    rest = [q.id for q in QUESTIONS if q.id != "key"]
    assert selector.gains({"key": None}) == pytest.approx(selector.gains({}, among=rest, toward=rest), abs=1e-6)
    assert selector.gains({"key": None}) != pytest.approx(selector.gains({"key": "1"}), abs=1e-3)
    assert selector.next({q.id: "0" for q in QUESTIONS}) is None


def test_the_same_seed_gives_the_same_order_on_real_shaped_data():
    rng = np.random.default_rng(5)
    qs = [_question(f"q{j}", ["1", "2", "3"]) for j in range(12)]
    latent = rng.integers(0, 3, 300)
    records = []
    for i, z in enumerate(latent):
        for j, q in enumerate(qs):
            value = str((z + (j % 2)) % 3 + 1) if rng.random() < 0.7 else str(rng.integers(1, 4))
            if rng.random() < 0.95:
                records.append((f"r{i}", q.id, 1, value))
    population = ResponseSet.from_records("synthetic", records)
    answers = {q.id: "2" for q in qs}

    def order(seed: int) -> list[Choice]:
        return AdaptiveSelector(population, instrument=qs, seed=seed, exclude_people=["r0"]).plan(answers.get, max_items=8)

    assert order(11) == order(11)
    assert len(order(11)) == 8 and len({c.question for c in order(11)}) == 8


def test_expected_seconds_by_hand():
    question = Question(id="q", text="How are you today?", kind=QuestionKind.categorical,
                        options=[Option(code="1", label="Fine"), Option(code="2", label="Not so well")])
    words = 4 + 1 + 3
    assert expected_seconds(question) == pytest.approx(ANSWER_SECONDS + 60 * words / READING_WORDS_PER_MINUTE)
    assert expected_seconds(question) == pytest.approx(2.0 + 60 * 8 / 238)


def test_plan_stops_at_k_and_at_the_time_budget(toy):
    long_text = [_question("key", ["0", "1", "2", "3"], text=" ".join(["word"] * 119))] + QUESTIONS[1:]
    selector = AdaptiveSelector(toy, instrument=long_text, classes=8, seed=0)
    answer = {q: toy.value("p2-001", q) for q in toy.questions}.get
    assert len(selector.plan(answer, max_items=3)) == 3
    assert len(selector.plan(answer)) == 5  # no stop given: every item
    key_seconds = expected_seconds(long_text[0])  # 2 s + 127 words at 238 a minute = 34.0 s
    assert key_seconds == pytest.approx(2.0 + 60 * 127 / 238)
    short = expected_seconds(QUESTIONS[1])  # "Question x1?" + "answer 0" + "answer 1": 6 words, 3.51 s
    assert short == pytest.approx(2.0 + 60 * 6 / 238)
    # a budget below the long `key` item: the best affordable item instead, and no more than the budget holds
    plan = selector.plan(answer, budget_seconds=2.5 * short)
    assert [c.question for c in plan][0] != "key" and len(plan) == 2
    assert sum(c.seconds for c in plan) <= 2.5 * short
    # enough for key: key first
    assert selector.plan(answer, budget_seconds=key_seconds + 0.01)[0].question == "key"
    assert selector.plan(answer, budget_seconds=1.0) == []  # nothing fits
    # ranked by gain per second, the long key item loses to the short ones
    per_second = AdaptiveSelector(toy, instrument=long_text, classes=8, seed=0, cost_aware=True)
    assert per_second.next({}).question != "key"


def test_a_near_duplicate_earns_nothing_for_the_item_it_may_not_predict(toy):
    """With key and x1 declared near-duplicates (never used to predict each other), key's gain loses x1's ln 2
    (2 ln 2 left: x2 and x3) and x1's whole gain (it informed only key) is gone."""
    pair = {"key": {"x1"}, "x1": {"key"}}
    selector = AdaptiveSelector(toy, instrument=QUESTIONS, classes=8, seed=0, smoothing=0.02, exclusions=pair)
    gains = selector.gains({})
    assert gains["key"] == pytest.approx(2 * math.log(2), abs=0.06)
    assert abs(gains["x1"]) < 0.03
    assert gains["x2"] == pytest.approx(math.log(2), abs=0.08)  # x2 still narrows key
