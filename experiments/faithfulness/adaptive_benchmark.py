"""The adaptive short-form benchmark (`simulacra benchmark gss-panel --adaptive 5,10,20,40`): pure statistics.

For every person of a GSS panel (the re-interviewed people, as in the reference table), ask K of the battery's
items and predict every other item from those K answers; score with the benchmark's metrics and intervals
(`experiments.scoring.stats`: normalized accuracy by the person's own retest, two-way bootstrap over people
and items, paired differences on the same draws). Conditions, each for every K:

- `adaptive`: `surveys.adaptive.AdaptiveSelector` chooses each next item from the person's answers so far;
- `random`: K items drawn at random for each person (seeded);
- `fixed`: the best fixed short form, the same K items for everybody of a fold, chosen greedily by the same
  model's expected gain averaged over a seeded sample of the *training* people;
- `ceiling`: every other item known (the reference conditions as the reference table computes them).

Cross-fitting: people are split into `folds` seeded folds; a person's selector, fixed form, logistic
regressions and nearest neighbours are fitted on the other folds only. The person's unanswered items are never
read: the selector sees only the answers of the items it asked.

Predictors from the K answers (`logistic`, `composite_knn`; `latent_class` = the selector's own posterior):
- logistic: per fold, condition, K and target item, an L2 multinomial regression (C as the reference) on the
  one-hot answers to the asked items (unasked = all zero), trained on the other folds' people *with their own
  asked sets of that condition and K* (so the model learns from the same kind of short forms); the target and
  its near-duplicates are never features. The training people's adaptive sets come from their own
  cross-fitted selectors (whose population includes the predicted person: a mask pattern, no answer of theirs
  to the target, reaches the model; documented in the README);
- composite kNN: the `composite_knn` reference restricted to the asked items (agreement over the asked items,
  shrunk; the 25 most similar people of the other folds who answered the target vote).

A person is scored on the battery items they were NOT asked (with a wave-1 and a retest answer), so conditions
are compared on the items they leave to prediction; the ceiling on every battery item. Estimated respondent
minutes: the sum of the asked items' `expected_seconds` (reading speed + answer time), averaged over people.
"""

from __future__ import annotations

import html
import time
from pathlib import Path
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
from rich.console import Console
from rich.table import Table
from scipy import sparse

from simulacra.errors import SimulacraError
from simulacra.terminal import print_lines, print_table
from simulacra.workspace import atomic_write_json, atomic_write_text
from surveys.adaptive import AdaptiveSelector, expected_seconds
from surveys.instruments import load_instrument
from surveys.responses import describe_unmapped

from experiments.pipeline import open_folder
from experiments.runs.spec import RunSpec

from experiments.scoring import stats as st
from experiments.scoring.leakage import exclusions as near_duplicate_exclusions
from experiments.scoring.panel import PanelMatrix
from experiments.scoring.references import CompositeKNN, Logistic, Majority
from experiments.faithfulness.reference_table import fmt_stat, load_panel, panel_cells

CONDITIONS = ("adaptive", "random", "fixed")
PREDICTORS = ("logistic", "composite_knn", "latent_class", "majority")
DEFAULT_KS = (5, 10, 20, 40)
DEFAULT_BOOTSTRAP = 200
LABELS = {"adaptive": "adaptive K", "random": "random K", "fixed": "best fixed K (short form)", "ceiling": "all other items"}
PREDICTOR_LABELS = {"logistic": "logistic regression", "composite_knn": "composite kNN", "latent_class": "latent-class model",
                    "majority": "majority of other people (ignores the K answers: the item-set effect)"}


@dataclass
class AdaptiveSettings:
    ks: tuple[int, ...] = DEFAULT_KS
    folds: int = 5
    seed: int = 0
    bootstrap: int = DEFAULT_BOOTSTRAP
    min_items: int = 20
    predictors: tuple[str, ...] = ("logistic", "composite_knn", "majority")
    designs: tuple[str, ...] = ("halves", "unasked")
    classes: int = 16
    criterion: str = "entropy"
    fixed_sample: int = 60  # training people whose expected gains choose the fixed form (per fold)
    k_neighbours: int = 25
    C: float = 0.05


@dataclass
class AdaptiveResult:
    panel: str
    design: str
    people: int
    items: int
    settings: dict[str, Any]
    seconds: float
    curve: list[dict[str, Any]] = field(default_factory=list)  # one row per K, predictor, condition
    paired: list[dict[str, Any]] = field(default_factory=list)  # adaptive - random and adaptive - fixed per K, predictor
    ceiling: dict[str, Any] = field(default_factory=dict)  # predictor -> summary on every item
    minutes: dict[str, Any] = field(default_factory=dict)  # design -> condition -> K -> mean estimated minutes
    orders: dict[str, Any] = field(default_factory=dict)  # per design and pass: the fixed forms per fold, first items
    unmapped: list[str] = field(default_factory=list)
    source: str = ""
    agents: dict[str, Any] = field(default_factory=dict)  # the composite-agent condition (adaptive_agents), when run
    # in memory only (not written): the panel cells, each person's asked items per design and pass, and the
    # statistical predictions per (design, K, condition), so agents built from the same K answers (adaptive_agents)
    # are scored on the same cells beside them
    state: dict[str, Any] = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": "adaptive", **{k: v for k, v in self.__dict__.items() if k != "state"}}


# -- choosing items ------------------------------------------------------------------------------------------
def _answers_of(matrix: PanelMatrix, row: int, battery: Sequence[int]) -> Callable[[str], Any]:
    codes = {matrix.items[j]: matrix.code(matrix.items[j], int(matrix.w1[row, j])) for j in battery}
    return lambda item: codes.get(item)


def _first_items(order: np.ndarray, k: int, items: Sequence[str]) -> dict[str, int]:
    """The items most often among the first k adaptive choices (item -> people), the 15 most frequent."""
    picked = order[:, :k].ravel()
    counts = np.bincount(picked[picked >= 0], minlength=len(items))
    return {items[j]: int(counts[j]) for j in np.argsort(-counts, kind="stable")[:15] if counts[j]}


def fixed_form(selector: AdaptiveSelector, matrix: PanelMatrix, sample_rows: np.ndarray, k: int, *,
               among: Sequence[str] | None = None, toward: Sequence[str] | None = None) -> list[str]:
    """The K items chosen once for everybody: greedily, the item with the largest expected gain averaged over the
    sample's people given their answers to the items chosen so far (training people only)."""
    chosen: list[str] = []
    answers = [{} for _ in sample_rows]  # type: list[dict[str, Any]]
    index = {q: matrix.item_index(q) for q in selector.items}
    for _ in range(min(k, len(among) if among is not None else len(selector.items))):
        total: dict[str, float] = {}
        for person_answers in answers:
            for item, gain in selector.gains(person_answers, among=among, toward=toward).items():
                total[item] = total.get(item, 0.0) + gain
        if not total:
            break
        best = max(total, key=lambda q: (total[q], -index[q]))
        chosen.append(best)
        j = index[best]
        for a, row in zip(answers, sample_rows):
            a[best] = matrix.code(best, int(matrix.w1[row, j]))
    return chosen


# -- predicting from the asked items -------------------------------------------------------------------------
def _one_hot(matrix: PanelMatrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n, total options) float32 one-hot of wave 1; start column of each item; item of each column."""
    k = matrix.n_options
    starts = np.concatenate([[0], np.cumsum(k)[:-1]]).astype(int)
    out: np.ndarray = np.zeros((len(matrix.people), int(k.sum())), np.float32)
    rows, cols = np.nonzero(matrix.seen >= 0)
    out[rows, starts[cols] + matrix.seen[rows, cols]] = 1.0
    return out, starts, np.repeat(np.arange(len(matrix.items)), k)


def logistic_from_asked(matrix: PanelMatrix, asked: np.ndarray, fold_of: np.ndarray, rows: np.ndarray,
                        targets: Sequence[int], excluded: dict[str, set[str]], *, C: float = 0.05, seed: int = 0,
                        max_iter: int = 200) -> np.ndarray:
    """(n, m) predicted option index (-1 where not predicted) of `rows` for the `targets` they were not asked:
    per fold and target, a multinomial regression on the asked items' one-hot answers of the other folds."""
    # scikit-learn loads in about a second: only when the regressions run (as in experiments.scoring.references)
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression  # (as above)
    from threadpoolctl import threadpool_limits  # (as above)

    onehot, _, item_of_col = _one_hot(matrix)
    features = onehot * asked[:, item_of_col]
    truth = matrix.truth
    out = np.full(truth.shape, -1, np.int16)
    in_rows: np.ndarray = np.zeros(len(matrix.people), bool)
    in_rows[rows] = True
    limits = threadpool_limits(1)
    try:
        for fold in np.unique(fold_of[rows]):
            test = np.flatnonzero(in_rows & (fold_of == fold))
            train_people = fold_of != fold
            for j in targets:
                item = matrix.items[j]
                todo = test[~asked[test, j]]
                if not len(todo):
                    continue
                drop = {item} | excluded.get(item, set())
                keep_cols = np.flatnonzero(~np.isin(item_of_col, [matrix.item_index(q) for q in drop if q in matrix.items]))
                train = np.flatnonzero(train_people & (truth[:, j] >= 0))
                X_train = features[np.ix_(train, keep_cols)]
                used = np.flatnonzero(X_train.any(axis=0))
                y = truth[train, j]
                classes = np.unique(y)
                if len(classes) < 2 or not len(used):
                    counts = np.bincount(y, minlength=len(matrix.questions[item].options)) if len(y) else np.zeros(1)
                    out[todo, j] = int(np.argmax(counts))
                    continue
                model = LogisticRegression(C=C, max_iter=max_iter, tol=1e-3)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    model.fit(sparse.csr_matrix(X_train[:, used]), y)
                proba = model.predict_proba(sparse.csr_matrix(features[np.ix_(todo, keep_cols[used])]))
                out[todo, j] = model.classes_[np.argmax(proba, axis=1)]
    finally:
        limits.restore_original_limits()
    return out


def knn_from_asked(matrix: PanelMatrix, asked: np.ndarray, fold_of: np.ndarray, rows: np.ndarray,
                   targets: Sequence[int], excluded: dict[str, set[str]], *, k: int = 25, shrink: float = 5.0,
                   min_overlap: int = 5, seed: int = 0) -> np.ndarray:
    """(n, m) predicted option index of `rows` for their unasked `targets`: the composite kNN reference over the
    asked items only (agreement shrunk toward 1/2, at least min(min_overlap, answers given) shared answers; the
    k most similar people of the other folds who answered the target vote; seeded tie-break)."""
    seen, truth = matrix.seen, matrix.truth
    out = np.full(truth.shape, -1, np.int16)
    jitter = np.random.default_rng(seed).random(len(matrix.people)) * 1e-6
    dup_index = {j: [matrix.item_index(q) for q in excluded.get(matrix.items[j], set()) if q in matrix.items]
                 for j in targets}
    target_idx = np.asarray(targets, int)
    n_opt = matrix.n_options
    for r in rows:
        others = np.flatnonzero(fold_of != fold_of[r])
        own = np.flatnonzero(asked[r] & (seen[r] >= 0))
        todo = target_idx[~asked[r, target_idx]]
        if not len(todo):
            continue
        block = seen[np.ix_(others, own)]
        both = block >= 0
        same = both & (block == seen[r, own][None, :])
        base_m, base_o = same.sum(axis=1).astype(float), both.sum(axis=1).astype(float)
        sims = np.empty((len(todo), len(others)))
        for t, j in enumerate(todo):
            m, o = base_m, base_o
            hit = [c for c, item in enumerate(own) if item in dup_index[j]]
            if hit:
                m = m - same[:, hit].sum(axis=1)
                o = o - both[:, hit].sum(axis=1)
            need = min(min_overlap, len(own) - len(hit))
            sim = (m + 0.5 * shrink) / (o + shrink) + jitter[others]
            sim[(o < need) | (truth[others, j] < 0)] = -np.inf
            sims[t] = sim
        kk = min(k, len(others) - 1)
        top = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
        valid = np.isfinite(np.take_along_axis(sims, top, axis=1))
        labels = truth[others[top], todo[:, None]]
        for t, j in enumerate(todo):
            votes = np.bincount(labels[t][valid[t]], minlength=n_opt[j])
            out[r, j] = int(np.argmax(votes)) if votes.sum() else 0
    return out


def latent_class_from_asked(selectors: dict[int, AdaptiveSelector], matrix: PanelMatrix, asked: np.ndarray,
                            fold_of: np.ndarray, rows: np.ndarray, targets: Sequence[int]) -> np.ndarray:
    """(n, m) the fold's selector's own prediction (most likely answer) of each unasked target."""
    out = np.full(matrix.truth.shape, -1, np.int16)
    target_set = set(targets)
    for r in rows:
        selector = selectors[int(fold_of[r])]
        answered = {matrix.items[j]: matrix.code(matrix.items[j], int(matrix.w1[r, j])) for j in np.flatnonzero(asked[r])}
        for item, code in selector.predict(answered).items():
            j = matrix.item_index(item)
            if j in target_set:
                out[r, j] = matrix.encode(item, code)
    return out


# -- the benchmark -------------------------------------------------------------------------------------------
def adaptive_benchmark(panel: str = "2016-2020", *, panel_file: str | None = None, design: str = "same-wave",
                       settings: AdaptiveSettings | None = None, people: int | None = None, items: int | None = None,
                       progress: Callable[[str], None] | None = None) -> AdaptiveResult:
    """Run the adaptive benchmark on a panel (see the module doc); `people`/`items` take a seeded subset."""
    settings = settings or AdaptiveSettings()
    say = progress or (lambda _text: None)
    if design not in ("same-wave", "cross-wave"):
        raise SimulacraError(f"unknown design {design!r}: choose same-wave or cross-wave")
    ks = tuple(sorted(set(int(k) for k in settings.ks)))
    if not ks or ks[0] < 1:
        raise SimulacraError("--adaptive: every K must be a whole number of at least 1")
    unknown = set(settings.predictors) - set(PREDICTORS)
    if unknown:
        raise SimulacraError(f"unknown predictor(s) {', '.join(sorted(unknown))}: choose from {', '.join(PREDICTORS)}")
    # many small matrix products: BLAS threads only contend (and spin) on a shared machine
    from threadpoolctl import threadpool_limits  # (scikit-learn's dependency, loaded with it)

    with threadpool_limits(1):
        return _adaptive_benchmark(panel, panel_file, design, settings, people, items, say)


def _adaptive_benchmark(panel: str, panel_file: str | None, design: str, settings: AdaptiveSettings,
                        people: int | None, items: int | None, say: Callable[[str], None]) -> AdaptiveResult:
    ks = tuple(sorted(set(int(k) for k in settings.ks)))
    started = time.perf_counter()
    responses, gss = load_panel(panel, panel_file)
    matrix, battery, rows = panel_cells(responses, gss, design=design, seed=settings.seed, items=items, people=people)
    battery_idx = np.array([matrix.item_index(item) for item in battery], dtype=int)
    k_max = max(ks)
    bad = set(settings.designs) - {"halves", "unasked"}
    if bad:
        raise SimulacraError(f"unknown item design(s) {', '.join(sorted(bad))}: choose halves and/or unasked")
    if k_max >= len(battery):
        raise SimulacraError(f"--adaptive {k_max}: the battery has only {len(battery)} items asked in both waves; "
                             "choose K below that")
    n, m = matrix.w1.shape
    fold_of = np.random.default_rng(settings.seed).permutation(n) % max(settings.folds, 2)
    population = responses.subset(questions=battery)
    excluded = near_duplicate_exclusions(matrix.items)
    seconds = np.array([expected_seconds(matrix.questions[q]) for q in matrix.items])

    # -- selectors (one per fold, fitted on the other folds) --------------------------------------------------
    selectors: dict[int, AdaptiveSelector] = {}
    for fold in np.unique(fold_of):
        selectors[int(fold)] = AdaptiveSelector(
            population, battery, seed=settings.seed, exclude_people=[str(p) for p in matrix.people[fold_of == fold]],
            instrument=gss, classes=settings.classes, criterion=settings.criterion,
            exclusions=excluded)
    say(f"{len(selectors)} cross-fitted selectors ({settings.classes} latent classes, {len(battery)} items)")

    # -- passes: which items may be asked, which are predicted and scored ----------------------------------------
    halves = np.random.default_rng(settings.seed + 7).permutation(battery_idx)
    h0, h1 = np.sort(halves[: len(halves) // 2]), np.sort(halves[len(halves) // 2:])
    passes = {"halves": [(h0, h1), (h1, h0)], "unasked": [(battery_idx, battery_idx)]}
    if k_max > min(len(h0), len(h1)) and "halves" in settings.designs:
        raise SimulacraError(f"--adaptive {k_max}: the battery's halves have {min(len(h0), len(h1))} items; choose K "
                             "below that")
    sub = matrix.subset(people=[matrix.people[i] for i in rows], items=battery)
    col = battery_idx
    boot = st.Bootstrap(len(rows), len(battery), settings.bootstrap, settings.seed)
    result = AdaptiveResult(panel=responses.name, design=design, people=len(rows), items=len(battery),
                            settings={**settings.__dict__, "ks": list(ks), "predictors": list(settings.predictors),
                                      "designs": list(settings.designs)},
                            seconds=0.0, unmapped=describe_unmapped(responses), source=str(responses.source))
    result.state.update(matrix=matrix, rows=rows, battery=list(battery), responses=responses, instrument=gss,
                        seconds=seconds)
    # the majority of the other people ignores the K answers: its adaptive - random difference is what the choice of
    # the items left to predict does by itself (easier or harder items), not information from the answers
    majority_predicted = np.full((n, m), -1, np.int16)
    if "majority" in settings.predictors:
        majority_predicted[np.ix_(rows, battery_idx)] = np.argmax(Majority().predict_proba(matrix, battery, rows), axis=2)
    needs_all = "logistic" in settings.predictors  # the regressions learn from the other folds' people asked the same way
    askers = np.arange(n) if needs_all else rows
    for item_design in settings.designs:
        orders = []
        for p, (among_idx, toward_idx) in enumerate(passes[item_design]):
            among = [matrix.items[j] for j in among_idx]
            toward = [matrix.items[j] for j in toward_idx]
            order = {c: np.full((n, k_max), -1, int) for c in CONDITIONS}
            t0 = time.perf_counter()
            forms: dict[str, list[str]] = {}
            for fold, selector in selectors.items():
                train = np.flatnonzero(fold_of != fold)
                sample = np.sort(np.random.default_rng(settings.seed + 1000 + fold).choice(
                    train, size=min(settings.fixed_sample, len(train)), replace=False))
                forms[str(fold)] = fixed_form(selector, matrix, sample, k_max, among=among, toward=toward)
                for r in askers[fold_of[askers] == fold]:
                    plan = selector.plan(_answers_of(matrix, r, among_idx), max_items=k_max, among=among, toward=toward)
                    order["adaptive"][r, : len(plan)] = [matrix.item_index(c.question) for c in plan]
                    order["fixed"][r, : len(forms[str(fold)])] = [matrix.item_index(q) for q in forms[str(fold)]]
            person_rng = np.random.default_rng(settings.seed + 1 + p)
            for r in range(n):
                order["random"][r] = person_rng.permutation(among_idx)[:k_max]
            result.orders[f"{item_design}/{p}"] = {
                "fixed_forms": forms, "asked_from": among, "predicted": toward,
                "adaptive_first_items": _first_items(order["adaptive"][rows], min(ks), matrix.items)}
            say(f"{item_design} pass {p + 1}/{len(passes[item_design])}: adaptive orders of {len(askers)} people and "
                f"{len(forms)} fixed forms in {time.perf_counter() - t0:.0f} s")
            orders.append((order, toward_idx))
        result.state.setdefault("orders", {})[item_design] = orders
        sums: dict[tuple[str, str, int], st.PersonSums] = {}
        for k in ks:
            for condition in CONDITIONS:
                predicted = {name: np.full((n, m), -1, np.int16) for name in settings.predictors}
                scored = np.zeros((n, m), bool)
                spent = []
                for order, toward_idx in orders:
                    asked = np.zeros((n, m), bool)
                    chosen = order[condition][:, :k]
                    for r in range(n):
                        asked[r, chosen[r][chosen[r] >= 0]] = True
                    spent.append(np.mean([seconds[asked[r]].sum() for r in rows]) / 60.0)
                    targets = np.asarray(toward_idx)
                    todo = np.zeros((n, m), bool)
                    todo[:, targets] = True
                    todo &= ~asked
                    scored |= todo
                    for name in settings.predictors:
                        if name == "logistic":
                            guess = logistic_from_asked(matrix, asked, fold_of, rows, targets, excluded, C=settings.C)
                        elif name == "composite_knn":
                            guess = knn_from_asked(matrix, asked, fold_of, rows, targets, excluded,
                                                   k=settings.k_neighbours, seed=settings.seed)
                        elif name == "majority":
                            guess = majority_predicted
                        else:
                            guess = latent_class_from_asked(selectors, matrix, asked, fold_of, rows, targets)
                        predicted[name][todo] = guess[todo]
                result.state.setdefault("predicted", {})[(item_design, k, condition)] = predicted
                minutes_k = float(np.mean(spent))
                result.minutes.setdefault(item_design, {}).setdefault(condition, {})[str(k)] = minutes_k
                for name in settings.predictors:
                    cells = st.Cells.from_panel(sub, predicted[name][np.ix_(rows, col)], asked=scored[np.ix_(rows, col)])
                    person = st.person_sums(cells, st.HEADLINE_MODE)
                    sums[(condition, name, k)] = person
                    block = st.summarize(person, boot, settings.min_items)
                    result.curve.append({"design": item_design, "k": k, "condition": condition, "predictor": name,
                                         "minutes": minutes_k, **brief(block)})
                say(f"{item_design} K={k} {condition}: " + ", ".join(
                    f"{name} {fmt_stat(r['normalized_accuracy'], False)}" for r in result.curve[-len(settings.predictors):]
                    for name in [r["predictor"]]))
            for name in settings.predictors:
                for other in ("random", "fixed"):
                    diff = st.paired_difference(sums[("adaptive", name, k)], sums[(other, name, k)], boot,
                                                "normalized_accuracy", settings.min_items)
                    raw = st.paired_difference(sums[("adaptive", name, k)], sums[(other, name, k)], boot,
                                               "accuracy", settings.min_items)
                    result.paired.append({"design": item_design, "k": k, "predictor": name, "a": "adaptive", "b": other,
                                          **diff, "accuracy_difference": raw["difference"], "accuracy_ci": raw["ci"]})

    # -- the ceiling: every other item known (the reference conditions, cross-fitted as the reference table) ---
    for predictor in settings.predictors:
        if predictor in ("latent_class", "majority"):  # no ceiling of their own (majority: the same on every K)
            continue
        ref = Logistic(excluded, C=settings.C, folds=settings.folds, seed=settings.seed) if predictor == "logistic" \
            else CompositeKNN(excluded, k=settings.k_neighbours)
        proba = ref.predict_proba(matrix, battery, rows)[:, :, : sub.max_options]
        cells = st.Cells.from_panel(sub, np.argmax(proba, axis=2))
        block = st.summarize(st.person_sums(cells), boot, settings.min_items)
        result.ceiling[predictor] = {"minutes": float(seconds[col].sum() / 60.0), **brief(block)}
        say(f"ceiling {predictor}: normalized accuracy {fmt_stat(block['normalized_accuracy'], ci=True)}")
    result.seconds = time.perf_counter() - started
    return result


def run_adaptive(panel: str = "2016-2020", *, panel_file: str | None = None, design: str = "same-wave",
                 settings: AdaptiveSettings | None = None, people: int | None = None, items: int | None = None,
                 run_id: str | None = None, workspace: Any = None, progress: Callable[[str], None] | None = None,
                 agents: Callable[[AdaptiveResult], Any] | None = None, extra: dict[str, Any] | None = None
                 ) -> tuple[AdaptiveResult, Any]:
    """The benchmark through the one pipeline: its RunSpec (no agents; the GSS battery; the panel named as the
    human answers; the settings as the plan) opens the run folder (`experiments.pipeline.open_folder`; the same
    command finds the same folder), the statistics are computed, and metrics.json, report.md and report.html are
    written into it. `agents`: run after the statistics, before anything is written (the composite-agent condition,
    `adaptive_agents.run_agents`, which fills `result.agents` from its own run folder). Returns the result and the
    folder."""
    settings = settings or AdaptiveSettings()
    gss = load_instrument("gss")
    truth = str(panel_file) if panel_file else f"gss-panel-{panel}"
    plan = {"benchmark": "gss-panel-adaptive", "panel": panel_file or panel, "people": people, "items": items,
            **{k: (list(v) if isinstance(v, tuple) else v) for k, v in settings.__dict__.items()}, **(extra or {})}
    name = Path(panel_file).name.split(".")[0] if panel_file else f"gss-panel-{panel}"
    spec = RunSpec.build([], [gss], truth=truth, design=design, label=f"{name}-adaptive-{'-'.join(settings.designs)}-k{'-'.join(map(str, settings.ks))}", run_id=run_id,
                         extra=plan, seed=settings.seed)
    result = adaptive_benchmark(panel, panel_file=panel_file, design=design, settings=settings, people=people,
                                items=items, progress=progress)  # first: a refused setting leaves no empty folder
    folder = open_folder(spec, workspace=workspace)
    if agents is not None:
        agents(result)
    text = markdown(result, folder.path.name)
    atomic_write_json(folder.path / "metrics.json", {"run": {"id": folder.path.name}, **result.as_dict()})
    atomic_write_text(folder.path / "report.md", text)
    atomic_write_text(folder.path / "report.html", _html(text, f"simulacra adaptive benchmark · {folder.path.name}"))
    return result, folder


def _html(text: str, title: str) -> str:
    """A plain HTML page of the markdown report (tables as tables, other lines as paragraphs)."""
    out, table = [f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>",
                  "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}td,th{padding:2px 8px;"
                  "border-bottom:1px solid #ddd;text-align:right}td:first-child{text-align:left}</style>"], False
    for line in text.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if set("".join(cells)) <= set("-"):
                continue
            tag = "th" if not table else "td"
            out.append(("<table>" if not table else "") + "<tr>" + "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in cells) + "</tr>")
            table = True
            continue
        if table:
            out.append("</table>")
            table = False
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            out.append(f"<h{level}>{html.escape(line.lstrip('#').strip())}</h{level}>")
        elif line.strip():
            out.append(f"<p>{html.escape(line)}</p>")
    if table:
        out.append("</table>")
    return "\n".join(out) + "\n"


def brief(block: dict[str, Any]) -> dict[str, Any]:
    """The summary figures a curve row keeps of a `stats.summarize` block."""
    keys = ("people", "excluded_people", "items_per_person", "accuracy", "retest_agreement", "normalized_accuracy",
            "normalized_accuracy_ratio_of_means", "normalized_accuracy_paper")
    return {key: block.get(key) for key in keys if key in block}


def _diff(row: dict[str, Any] | None) -> str:
    if not row or row.get("difference") is None:
        return "–"
    text = f"{row['difference']:+.3f}"
    if row.get("ci"):
        text += f" [{row['ci'][0]:+.3f}, {row['ci'][1]:+.3f}]"
    return text


DESIGN_TITLES = {
    "halves": "items split in two halves: K asked from one half, the other half predicted (and the reverse); every "
              "condition scored on the same cells",
    "unasked": "K asked from the whole battery, every item not asked predicted (each condition on its own unasked items)",
}


def table_rows(result: AdaptiveResult, predictor: str, design: str = "halves") -> list[list[str]]:
    """Per K: adaptive, random, fixed (normalized accuracy [CI]), the paired adaptive - random, and minutes."""
    out = []
    for k in result.settings["ks"]:
        cell = {r["condition"]: r for r in result.curve if r["k"] == k and r["predictor"] == predictor and r["design"] == design}
        diff = next((r for r in result.paired if r["k"] == k and r["predictor"] == predictor and r["b"] == "random"
                     and r["design"] == design), None)
        out.append([str(k)] + [fmt_stat(cell.get(c, {}).get("normalized_accuracy"), ci=True) for c in CONDITIONS]
                   + [_diff(diff), f"{cell.get('adaptive', {}).get('minutes', float('nan')):.1f}"])
    return out


HEADER = ["K", "adaptive", "random K", "best fixed K", "adaptive - random", "minutes"]


def _fixed_line(result: AdaptiveResult, predictor: str, design: str) -> str:
    fixed = [r for r in result.paired if r["predictor"] == predictor and r["b"] == "fixed" and r["design"] == design]
    return "adaptive - best fixed K: " + "; ".join(f"K={r['k']} {_diff(r)}" for r in fixed) if fixed else ""


def _ceiling_line(result: AdaptiveResult, predictor: str) -> str:
    ceiling = result.ceiling.get(predictor)
    if not ceiling:
        return ""
    return (f"all other items known (ceiling, every battery item scored): {fmt_stat(ceiling.get('normalized_accuracy'), ci=True)}, "
            f"{ceiling['minutes']:.1f} estimated minutes for the whole battery")


AGENT_HEADER = ["condition", "composite agents", "logistic (same K)", "composite kNN (same K)"]


def agent_rows(agents: dict[str, Any]) -> list[list[str]]:
    """Per condition: the agents and the statistical predictors from the same K answers, on the agents' cells."""
    cell = {(r["condition"], r["predictor"]): r for r in agents.get("rows", [])}
    return [[LABELS[c].replace(" K", f" K={agents['k']}", 1)] + [
        fmt_stat(cell.get((c, p), {}).get("normalized_accuracy"), ci=True) for p in ("agents", "logistic", "composite_knn")]
        for c in CONDITIONS]


def agent_lines(agents: dict[str, Any]) -> list[str]:
    """What the agents saw and were scored on, and the paired differences."""
    names = {"agents": "agents", "logistic": "logistic"}
    pairs = "; ".join(f"{r['a'][0]} {names[r['a'][1]]} - {r['b'][0]} {names[r['b'][1]]} {_diff(r)}" for r in agents["paired"])
    return [f"composite agents from the K={agents['k']} answers ({agents.get('model', 'the configured model')}): "
            f"{agents['people']} people x {len(agents['targets'])} items of the half never asked (halves design, first "
            f"pass), each agent knowing only its condition's K wave-1 answers; the same cells for every row; people "
            f"with fewer than {agents['min_items']} scored items left out; failed answers count as wrong",
            f"paired differences of normalized accuracy [95% CI]: {pairs}",
            f"the agents' run folder (its own references and verdicts): {agents.get('run', '')}"]


def markdown(result: AdaptiveResult, run: str = "") -> str:
    lines = [f"# Adaptive short forms on {result.panel} ({result.design})", "",
             f"{result.people} people x {result.items} items; normalized accuracy by the person's own retest (mean of "
             f"per-person ratios), 95% intervals from a two-way bootstrap ({result.settings['bootstrap']} replicates "
             f"over people and items; paired differences on the same draws); {result.settings['folds']}-fold "
             f"cross-fitting over people; criterion {result.settings['criterion']}; {result.seconds:.0f} s."
             + (f" Run folder: {run}." if run else ""), ""]
    for design in result.settings["designs"]:
        lines += [f"## {DESIGN_TITLES[design]}", ""]
        for predictor in result.settings["predictors"]:
            lines += [f"### Predicted by {PREDICTOR_LABELS.get(predictor, predictor)}", "",
                      "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
            lines += ["| " + " | ".join(row) + " |" for row in table_rows(result, predictor, design)]
            lines += [""] + [f"{line}." for line in (_ceiling_line(result, predictor), _fixed_line(result, predictor, design)) if line]
            lines.append("")
    if result.agents:
        lines += ["## Composite agents from the K answers (a language model)", "",
                  "| " + " | ".join(AGENT_HEADER) + " |", "|" + "---|" * len(AGENT_HEADER)]
        lines += ["| " + " | ".join(row) + " |" for row in agent_rows(result.agents)]
        lines += [""] + [f"{line}." for line in agent_lines(result.agents)] + [""]
    lines += ["Minutes: estimated respondent time of the K asked items (mean over people): reading at "
              "238 words a minute plus 2 s an answer (`surveys.adaptive.expected_seconds`).", ""]
    return "\n".join(lines) + "\n"


def print_result(result: AdaptiveResult, console: Any = None, run_path: str = "") -> None:
    console = console or Console()
    for design in result.settings["designs"]:
        print_lines(console, [f"{design}: {DESIGN_TITLES[design]}"], style="bold")
        for predictor in result.settings["predictors"]:
            title = (f"{design}, {PREDICTOR_LABELS.get(predictor, predictor)}: {result.panel}, {result.people} people x "
                     f"{result.items} items; normalized accuracy [95% CI]")
            table = Table(title=title, title_justify="left", padding=(0, 1))
            for i, name in enumerate(HEADER):
                table.add_column(name, justify="left" if i == 0 else "right")
            for row in table_rows(result, predictor, design):
                table.add_row(*row)
            print_table(console, table)
            print_lines(console, [line for line in (_ceiling_line(result, predictor), _fixed_line(result, predictor, design)) if line])
    if result.agents:
        table = Table(title=f"composite agents from the K={result.agents['k']} answers: normalized accuracy [95% CI]",
                      title_justify="left", padding=(0, 1))
        for i, name in enumerate(AGENT_HEADER):
            table.add_column(name, justify="left" if i == 0 else "right")
        for row in agent_rows(result.agents):
            table.add_row(*row)
        print_table(console, table)
        print_lines(console, agent_lines(result.agents))
    print_lines(console, [f"minutes: estimated respondent time of the K asked items (mean over people; reading speed + "
                          f"answer time, surveys.adaptive.expected_seconds); {result.seconds:.0f} s"], style="dim")
    if run_path:
        print_lines(console, [f"report: {run_path}/report.html", f"metrics: {run_path}/metrics.json"])
