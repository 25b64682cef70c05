"""Adaptive item selection: which question to ask a person next, from how other people answered.

`AdaptiveSelector(population)` fits a latent-class model (a finite mixture of independent categorical
items, fitted by EM with a seeded start) on the wave-1 answers of `population` minus `exclude_people`.
Given what a person has answered so far (and only that), the model gives a posterior over the classes and
from it a predictive distribution for every item not yet asked. `next(answered)` picks, among the items not
yet asked, the one whose answer is expected to reduce the uncertainty about the *other* unasked items most:

- `criterion="entropy"` (default): expected drop of the summed entropy of the other unasked items'
  predictive distributions (the mutual information between the answer and the rest, under the model);
- `criterion="accuracy"`: expected rise of the summed probability of the most likely answer of the other
  unasked items (the expected number of extra items predicted right).

`expected_gain` in a `Choice` is that figure (nats, or expected items). With `cost_aware=True` items are
ranked by gain per expected second. `plan(answer_of, max_items=K, budget_seconds=B)` asks in turn and stops
at K items, at the budget (an item that does not fit in the time left is not chosen), or when nothing is left.

Pure statistics (numpy), deterministic for a seed: the EM start and the tie-break between equal gains come
from `seed`. One choice costs a few milliseconds for ~150 items (all candidates and answers in one matrix
product). The person being asked is never part of the fitted population when they are in `exclude_people`
(the benchmark cross-fits by folds of people); nothing the person has not answered is read.

Answering times (`expected_seconds`) come from the length of the question and its options: reading at
`READING_WORDS_PER_MINUTE` plus `ANSWER_SECONDS` to decide and give the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Collection, Mapping, Sequence

import numpy as np

from surveys.instruments import load_instrument
from surveys.model import Instrument, Option, Question, QuestionKind
from surveys.responses import ResponseSet

# Reading speed of adults, silent reading of English non-fiction: 238 words per minute (Brysbaert 2019,
# "How many words do we read per minute?", J. Memory and Language 109, a meta-analysis of 190 studies).
READING_WORDS_PER_MINUTE = 238.0
# Time to choose and give an answer once the question is read (survey response-latency studies put a
# simple attitude item at 1.5-3 s after reading; we take 2 s).
ANSWER_SECONDS = 2.0
CRITERIA = ("entropy", "accuracy")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Choice:
    question: str  # question id
    expected_gain: float  # expected reduction in uncertainty (or expected accuracy gain) over the remaining items
    seconds: float  # the item's expected answering time


def expected_seconds(question: Question) -> float:
    """Expected time to answer `question`: its words (text and option labels) read at READING_WORDS_PER_MINUTE,
    plus ANSWER_SECONDS to choose and give the answer."""
    words = len(_WORD.findall(question.text)) + sum(len(_WORD.findall(o.label)) for o in question.options)
    return ANSWER_SECONDS + 60.0 * words / READING_WORDS_PER_MINUTE


def _code(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


class AdaptiveSelector:
    """Chooses the next question by expected information over the questions not yet asked (see module doc)."""

    def __init__(self, population: ResponseSet, questions: Sequence[str] | None = None, *, seed: int = 0,
                 exclude_people: Sequence[str] = (), instrument: Instrument | Sequence[Question] | None = None,
                 classes: int = 16, criterion: str = "entropy", cost_aware: bool = False, iterations: int = 60,
                 smoothing: float = 0.5, exclusions: Mapping[str, Collection[str]] | None = None):
        if criterion not in CRITERIA:
            raise ValueError(f"criterion {criterion!r}: choose from {', '.join(CRITERIA)}")
        self.seed = seed
        self.criterion = criterion
        self.cost_aware = cost_aware
        # target -> items never used to predict it (near-duplicates): asking one of them earns nothing for the target
        self.exclusions = {k: set(v) for k, v in (exclusions or {}).items()}
        wave1 = population.data[population.data["wave"] == 1]
        excluded = {str(p) for p in exclude_people}
        wave1 = wave1[~wave1["respondent"].isin(excluded)]
        known = self._questions(population, instrument)
        present = set(wave1["question"])
        wanted = list(questions) if questions is not None else sorted(present)
        self.items: list[str] = []
        self.questions: dict[str, Question] = {}
        for item in dict.fromkeys(wanted):
            question = known.get(item)
            if question is None:  # no instrument: the options are the answers people gave
                values = sorted({_code(v) for v in wave1.loc[wave1["question"] == item, "value"]})
                if len(values) < 2:
                    continue
                question = Question(id=item, text=item, kind=QuestionKind.categorical,
                                    options=[Option(code=v, label=v) for v in values])
            if not question.is_choice or item not in present:
                continue
            self.items.append(item)
            self.questions[item] = question
        self._index = {item: j for j, item in enumerate(self.items)}
        self._codes = [{o.code: i for i, o in enumerate(self.questions[q].options)} for q in self.items]
        self._k = np.array([len(self.questions[q].options) for q in self.items], dtype=int)
        self._start = np.concatenate([[0], np.cumsum(self._k)[:-1]]).astype(int) if self.items else np.zeros(0, int)
        self._item_of_col: np.ndarray = np.repeat(np.arange(len(self.items)), self._k)
        self.seconds = np.array([expected_seconds(self.questions[q]) for q in self.items], dtype=float)
        people = sorted(set(wave1["respondent"]))
        matrix = self._encode_frame(wave1, people)
        self.n_people = len(people)
        rng = np.random.default_rng(seed)
        self._jitter = rng.random(len(self.items)) * 1e-12  # seeded tie-break between equal gains
        self.log_prior, self.log_theta = self._fit(matrix, max(1, min(classes, max(len(people), 1))), iterations,
                                                   smoothing, rng)
        self._theta = np.exp(self.log_theta)  # (Z, total options)
        self._theta32 = self._theta.astype(np.float32)

    # -- set-up ------------------------------------------------------------------------------------
    @staticmethod
    def _questions(population: ResponseSet, instrument: Instrument | Sequence[Question] | None) -> dict[str, Question]:
        if instrument is None and population.instrument:
            try:
                instrument = load_instrument(population.instrument)
            except Exception:  # an instrument id that is no longer loadable: options from the answers
                instrument = None
        if instrument is None:
            return {}
        qs = instrument.questions if isinstance(instrument, Instrument) else list(instrument)
        return {q.id: q for q in qs}

    def _encode_frame(self, wave1: Any, people: list[str]) -> np.ndarray:
        out: np.ndarray = np.full((len(people), len(self.items)), -1, dtype=np.int64)
        pos = {p: i for i, p in enumerate(people)}
        for row in wave1.itertuples(index=False):
            j = self._index.get(row.question)
            if j is None:
                continue
            option = self._codes[j].get(_code(row.value))
            if option is not None:
                out[pos[row.respondent], j] = option
        return out

    def _onehot(self, matrix: np.ndarray) -> np.ndarray:
        total = int(self._k.sum())
        out = np.zeros((matrix.shape[0], total))
        rows, cols = np.nonzero(matrix >= 0)
        out[rows, self._start[cols] + matrix[rows, cols]] = 1.0
        return out

    def _fit(self, matrix: np.ndarray, classes: int, iterations: int, smoothing: float,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """EM for a mixture of independent categorical items; missing answers simply do not enter."""
        onehot = self._onehot(matrix)
        n = onehot.shape[0]
        resp = rng.dirichlet(np.ones(classes), size=max(n, 1))[:n] if n else np.zeros((0, classes))
        log_prior = np.full(classes, -np.log(classes))
        log_theta = np.zeros((classes, onehot.shape[1]))
        for _ in range(iterations if n else 0):
            # M step
            counts = resp.T @ onehot + smoothing  # (Z, total)
            totals = np.add.reduceat(counts, self._start, axis=1) if len(self._start) else counts
            log_theta = np.log(counts) - np.log(np.repeat(totals, self._k, axis=1))
            weight = resp.sum(axis=0) + 1.0
            log_prior = np.log(weight / weight.sum())
            # E step
            log_post = onehot @ log_theta.T + log_prior
            log_post -= log_post.max(axis=1, keepdims=True)
            resp = np.exp(log_post)
            resp /= resp.sum(axis=1, keepdims=True)
        if not n:
            log_theta = np.log(np.repeat(1.0 / self._k, self._k))[None, :].repeat(classes, axis=0)
        return log_prior, log_theta

    # -- the person --------------------------------------------------------------------------------
    def _state(self, answered: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """(class posterior, asked mask) from the person's answers; unknown ids and non-answers give no information."""
        log_post = self.log_prior.copy()
        asked: np.ndarray = np.zeros(len(self.items), dtype=bool)
        for item, value in answered.items():
            j = self._index.get(item)
            if j is None:
                continue
            asked[j] = True
            if value is None:
                continue
            option = self._codes[j].get(_code(value))
            if option is not None:
                log_post = log_post + self.log_theta[:, self._start[j] + option]
        post = np.exp(log_post - log_post.max())
        return post / post.sum(), asked

    def _item_scores(self, predictive: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """(rows, items) per item (column blocks beginning at `starts`) of the predictive rows: entropy, or minus
        the top probability (lower = surer)."""
        if self.criterion == "entropy":
            terms = predictive * np.log(np.maximum(predictive, 1e-30))
            return -np.add.reduceat(terms, starts, axis=1)
        return -np.maximum.reduceat(predictive, starts, axis=1)

    def gains(self, answered: Mapping[str, Any], *, among: Collection[str] | None = None,
              toward: Collection[str] | None = None) -> dict[str, float]:
        """Expected gain of asking each item not yet asked (see the module doc). `among`: only these items are
        candidates; `toward`: only these items' uncertainty counts (default: every item not yet asked)."""
        post, asked = self._state(answered)
        cand = ~asked if among is None else ~asked & self._mask(among)
        targ = ~asked if toward is None else ~asked & self._mask(toward)
        candidates, targets = np.flatnonzero(cand), np.flatnonzero(targ)
        if not len(candidates):
            return {}
        if not len(targets):
            return {self.items[j]: 0.0 for j in candidates}
        rows = np.flatnonzero(cand[self._item_of_col])  # the candidates' options, item by item
        cols = np.flatnonzero(targ[self._item_of_col])  # the targets' options, item by item
        sizes_c, sizes_t = self._k[candidates], self._k[targets]
        starts_c = np.concatenate([[0], np.cumsum(sizes_c)[:-1]]).astype(int)
        starts_t = np.concatenate([[0], np.cumsum(sizes_t)[:-1]]).astype(int)
        theta_t = self._theta32[:, cols]  # (Z, T)
        post32: np.ndarray = post.astype(np.float32)
        now = self._item_scores((post32 @ theta_t)[None, :], starts_t)[0]  # (targets,)
        joint = post32[None, :] * self._theta32[:, rows].T  # (C, Z): p(z, answer v of candidate)
        p_answer = joint.sum(axis=1)  # (C,)
        posts = joint / np.maximum(p_answer[:, None], 1e-30)
        after = self._item_scores(posts @ theta_t, starts_t)  # (C, targets)
        drop = now[None, :] - after
        position = {j: t for t, j in enumerate(targets)}
        owner: np.ndarray = np.repeat(candidates, sizes_c)
        own = np.array([position.get(j, -1) for j in owner])
        hit = own >= 0
        drop[np.flatnonzero(hit), own[hit]] = 0.0  # a candidate that is also a target is asked, not predicted
        if self.exclusions:  # nor does a candidate count for a target it may not be used to predict
            for t, j in enumerate(targets):
                banned = self.exclusions.get(self.items[j])
                if banned:
                    drop[np.isin(owner, [self._index[q] for q in banned if q in self._index]), t] = 0.0
        per_answer = p_answer.astype(np.float64) * drop.sum(axis=1, dtype=np.float64)
        gain = np.add.reduceat(per_answer, starts_c)
        return {self.items[j]: float(g) for j, g in zip(candidates, gain)}

    def _mask(self, items: Collection[str]) -> np.ndarray:
        out: np.ndarray = np.zeros(len(self.items), dtype=bool)
        for item in items:
            j = self._index.get(item)
            if j is not None:
                out[j] = True
        return out

    def _best(self, answered: Mapping[str, Any], seconds_left: float | None = None, among: Collection[str] | None = None,
              toward: Collection[str] | None = None) -> Choice | None:
        gains = self.gains(answered, among=among, toward=toward)
        best: tuple[float, int] | None = None
        for item, gain in gains.items():
            j = self._index[item]
            if seconds_left is not None and self.seconds[j] > seconds_left:
                continue
            score = (gain / self.seconds[j] if self.cost_aware else gain) + self._jitter[j]
            if best is None or score > best[0]:
                best = (score, j)
        if best is None:
            return None
        j = best[1]
        return Choice(self.items[j], gains[self.items[j]], float(self.seconds[j]))

    def next(self, answered: Mapping[str, Any], *, seconds_left: float | None = None,
             among: Collection[str] | None = None, toward: Collection[str] | None = None) -> Choice | None:
        """The question to ask next given the person's answers so far (keys = asked; a None value = asked, no
        answer); None when every question has been asked, or none fits in `seconds_left` (expected answering
        seconds, as `plan`'s budget). Reads nothing but `answered` and the fitted model. `among` / `toward`: see
        `gains`."""
        return self._best(answered, seconds_left, among, toward)

    def plan(self, answer_of: Callable[[str], Any], *, max_items: int | None = None,
             budget_seconds: float | None = None, among: Collection[str] | None = None,
             toward: Collection[str] | None = None) -> list[Choice]:
        """Ask in turn (`answer_of(question_id)` gives the answer, or None for none) until `max_items` questions,
        the time budget (expected seconds; an item that does not fit is not chosen), or nothing is left."""
        answered: dict[str, Any] = {}
        chosen: list[Choice] = []
        spent = 0.0
        while max_items is None or len(chosen) < max_items:
            left = None if budget_seconds is None else budget_seconds - spent
            choice = self._best(answered, left, among, toward)
            if choice is None:
                break
            chosen.append(choice)
            spent += choice.seconds
            answered[choice.question] = answer_of(choice.question)
        return chosen

    def predict_proba(self, answered: Mapping[str, Any]) -> dict[str, dict[str, float]]:
        """Predictive distribution (option code -> probability) of every item not yet asked."""
        post, asked = self._state(answered)
        predictive = post @ self._theta
        out: dict[str, dict[str, float]] = {}
        for j in np.flatnonzero(~asked):
            item = self.items[j]
            probs = predictive[self._start[j]: self._start[j] + self._k[j]]
            out[item] = {o.code: float(p) for o, p in zip(self.questions[item].options, probs)}
        return out

    def predict(self, answered: Mapping[str, Any]) -> dict[str, Any]:
        """The most likely answer (option code; ties to the first option) of every item not yet asked."""
        return {item: max(dist, key=lambda code: dist[code]) for item, dist in self.predict_proba(answered).items()}

    def posterior(self, answered: Mapping[str, Any]) -> np.ndarray:
        """The class posterior given `answered` (for callers that batch predictions)."""
        return self._state(answered)[0]


__all__ = ["Choice", "AdaptiveSelector", "expected_seconds", "READING_WORDS_PER_MINUTE", "ANSWER_SECONDS", "CRITERIA"]
