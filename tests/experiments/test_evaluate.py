"""Evaluation of a run folder against tiny hand-made ResponseSets, with every number worked out by hand."""

from __future__ import annotations

import json
import math
from typing import Any, Literal

import pandas as pd
import pytest

from experiments.scoring.evaluate import EvalSettings, evaluate
from experiments.reports.report import write_report
from experiments.runs.spec import RunSpec
from experiments.runs.folder import RunFolder
from experiments.runs.runner import run_batch
from simulacra.agent import Agent
from simulacra.llm import LLM, FakeBackend
from surveys.instruments import load_instrument
from surveys.model import Answer, AnswerStatus, Instrument, Option, Question, QuestionKind
from surveys.responses import ResponseSet

MODEL = {"kind": "test", "model": "fake-model"}


class FixedAgent(Agent):
    """Gives the answers it was told to give (None = a failed answer): evaluation fixtures, no model."""

    source: Literal["interview", "demographic", "persona", "composite"] = "demographic"
    respondent: str
    given: dict[str, Any]

    async def prepare(self, questions, *, llm, options):  # answer is overridden below
        return lambda group: ""

    def context_preview(self, questions, **kwargs):
        return ""

    async def answer(self, questions, *, llm, options=None, prior=(), stimulus=None):
        return [
            Answer(question_id=q.id, value=self.given[q.id])
            if self.given.get(q.id) is not None
            else Answer(question_id=q.id, status=AnswerStatus.failed, error="invalid output")
            for q in questions
        ]


def survey_instrument() -> Instrument:
    def choice(qid, kind, codes):
        return Question(id=qid, text=qid, kind=kind, options=[Option(code=c, label=c) for c in codes])

    return Instrument(
        id="mini",
        title="mini",
        questions=[
            choice("A", QuestionKind.ordinal, ["1", "2", "3"]),
            choice("B", QuestionKind.ordinal, ["1", "2", "3"]),
            choice("C", QuestionKind.categorical, ["x", "y"]),
            choice("D", QuestionKind.categorical, ["a", "b", "c"]),
            Question(id="N", text="N", kind=QuestionKind.numeric, min=0, max=10),
        ],
    )


def responses(name: str, waves: dict[int, dict[str, dict[str, Any]]], demographics: dict[str, dict[str, str]] | None = None) -> ResponseSet:
    records = [(p, q, wave, v) for wave, people in waves.items() for p, answers in people.items() for q, v in answers.items()]
    demo = pd.DataFrame.from_dict(demographics or {}, orient="index")
    return ResponseSet.from_records(name, records, demographics=demo)


TRUTH = responses(
    "hand-made",
    {
        1: {
            "P1": {"A": "1", "B": "2", "C": "x", "D": "a", "N": 2.0},
            "P2": {"A": "3", "B": "3", "C": "y", "D": "b", "N": 10.0},
            "P3": {"A": "2", "B": "1", "C": "y", "D": "c"},
        },
        2: {
            "P1": {"A": "1", "B": "3", "C": "x", "D": "a", "N": 4.0},  # 3 of 4 choice items repeated: .75
            "P2": {"A": "3", "B": "3", "C": "x", "D": "c"},  # 2 of 4: .5
        },
    },
    {"P1": {"sex": "F"}, "P2": {"sex": "M"}, "P3": {"sex": "F"}},
)

AGENTS = [
    # P1: A, B right, C, D wrong -> .5; normalized .5/.75 = 2/3; N |.5 - .2| = .3
    FixedAgent(id="dem-P1", respondent="P1", given={"A": "1", "B": "2", "C": "y", "D": "b", "N": 5}),
    # P2: A right, B wrong, C right, D right -> .75; normalized .75/.5 = 1.5; N |.8 - 1| = .2
    FixedAgent(id="dem-P2", respondent="P2", given={"A": "3", "B": "1", "C": "y", "D": "b", "N": 8}),
    # P3 (no retest): 3 of 4 -> .75, no normalized score
    FixedAgent(id="dem-P3", respondent="P3", given={"A": "2", "B": "1", "C": "x", "D": "c", "N": 0}),
    # composite P1: all right -> 1.0, normalized 4/3; composite P2: D failed (counts wrong) -> .75, 1.5
    FixedAgent(id="comp-P1", source="composite", respondent="P1", given={"A": "1", "B": "2", "C": "x", "D": "a", "N": 2}),
    FixedAgent(id="comp-P2", source="composite", respondent="P2", given={"A": "3", "B": "3", "C": "y", "D": None, "N": 10}),
    # not in the human data: answers, but is not scored
    FixedAgent(id="stranger", source="interview", respondent="nobody", given={"A": "1", "B": "1", "C": "x", "D": "a", "N": 1}),
]


async def run_fixture(tmp_path, instrument, agents, truth_name="hand-made"):
    folder = RunFolder.open(RunSpec.build(agents, [instrument], model=MODEL, truth=truth_name), tmp_path / "runs")
    await run_batch(folder, agents, [instrument], LLM(FakeBackend()), batch_size=10)
    return folder


async def test_normalized_accuracy_per_person_then_averaged(tmp_path):
    folder = await run_fixture(tmp_path, survey_instrument(), AGENTS)
    metrics = evaluate(folder, TRUTH, EvalSettings(bootstrap=200, seed=1))
    assert metrics["schema_version"] == 2
    dem = metrics["conditions"]["demographic"]["mini"]
    assert dem["people"] == 3  # min_items defaults to half the 4 choice items asked in a run this small
    assert dem["accuracy"]["mean"] == pytest.approx((0.5 + 0.75 + 0.75) / 3)
    assert dem["retest_agreement"]["mean"] == pytest.approx((0.75 + 0.5) / 2)  # P3 has no retest
    assert dem["normalized_accuracy"]["mean"] == pytest.approx((2 / 3 + 1.5) / 2)
    # ratio of means over the people with a retest: ((.5 + .75) / 2) / ((.75 + .5) / 2) = 1
    assert dem["normalized_accuracy_ratio_of_means"]["mean"] == pytest.approx(1.0)
    assert dem["numeric_mae"]["mean"] == pytest.approx((0.3 + 0.2) / 2)  # P3 has no N in wave 1: not scored
    lo, hi = dem["normalized_accuracy"]["ci"]
    assert 0 <= lo <= hi

    comp = metrics["conditions"]["composite"]["mini"]
    assert comp["accuracy"]["mean"] == pytest.approx((1.0 + 0.75) / 2)
    assert comp["normalized_accuracy"]["mean"] == pytest.approx((4 / 3 + 1.5) / 2)
    assert comp["coverage"] == {"asked": 8, "valid": 7, "failed": 1, "share": 7 / 8}
    # failed answers excluded: P2 is scored on A, B, C: 3/3 right, retest there 2/3 -> 1.5; P1 4/3 -> mean 17/12
    assert comp["failed_excluded"]["normalized_accuracy"]["mean"] == pytest.approx((4 / 3 + 1.5) / 2)
    strict = evaluate(folder, TRUTH, EvalSettings(bootstrap=0, min_items=4))["conditions"]["composite"]["mini"]
    # min_items 4: P2 keeps 3 scored items once the failed one is excluded: excluded and counted
    assert strict["failed_excluded"]["normalized_accuracy"]["mean"] == pytest.approx(4 / 3)
    assert strict["failed_excluded"]["people"] == 1 and strict["failed_excluded"]["excluded_people"] == 1
    # composite P1 gave exactly the wave-1 answers: correlation 1
    comp_p1 = next(p for p in metrics["per_person"] if p["condition"] == "composite" and p["respondent"] == "P1")
    assert comp_p1["correlation"] == pytest.approx(1.0)

    assert [a["agent"] for a in metrics["unscored_agents"]] == ["stranger"]
    assert {k: metrics["answers"][k] for k in ("total", "ok", "failed", "expected")} == {"total": 30, "ok": 29, "failed": 1, "expected": 30}
    assert metrics["answers"]["headline"] == "failed answers count as wrong"


async def test_floors_and_per_item_table(tmp_path):
    folder = await run_fixture(tmp_path, survey_instrument(), AGENTS)
    metrics = evaluate(folder, TRUTH, EvalSettings(bootstrap=50, min_item_people=1))
    # random floor for P1: (1/3 + 1/3 + 1/2 + 1/3) / 4 = .375 ; normalized .375 / .75 = .5
    p1_random = next(p for p in metrics["per_person"] if p["condition"] == "random_floor" and p["respondent"] == "P1")
    assert p1_random["accuracy"] == pytest.approx(0.375)
    assert p1_random["normalized_accuracy"] == pytest.approx(0.5)
    # majority floor for P3 (others P1, P2): A 1|3 tie -> "1"; B 2|3 tie -> "2"; C x|y tie -> "x"; D a|b -> "a"
    # P3 answered A=2, B=1, C=y, D=c: none right
    p3_major = next(p for p in metrics["per_person"] if p["condition"] == "majority" and p["respondent"] == "P3")
    assert p3_major["accuracy"] == 0.0
    # for P2 (others P1, P3): C is y|x... P1 x, P3 y -> tie -> "x"; P2 said y: wrong; A 1|2 -> "1" wrong;
    # B 2|1 -> "1" wrong; D a|c -> "a" wrong
    p2_major = next(p for p in metrics["per_person"] if p["condition"] == "majority" and p["respondent"] == "P2")
    assert p2_major["accuracy"] == 0.0
    items = {row["question"]: row for row in metrics["per_item"]}
    assert items["A"]["retest_agreement"] == 1.0 and items["A"]["demographic_accuracy"] == 1.0
    # D: retest P1 same, P2 not -> .5; composite: P1 right, P2 failed -> .5; normalized 1.0
    assert items["D"]["retest_agreement"] == 0.5
    assert items["D"]["composite_accuracy"] == 0.5 and items["D"]["composite_normalized"] == 1.0
    assert items["C"]["random_floor_accuracy"] == 0.5


async def test_demographic_parity_difference(tmp_path):
    folder = await run_fixture(tmp_path, survey_instrument(), AGENTS)
    small = evaluate(folder, TRUTH, EvalSettings(bootstrap=0))  # default: groups of >= 30 people only
    assert small["parity"]["mini"]["demographic"]["fields"]["sex"]["difference"] is None
    assert small["parity"]["mini"]["demographic"]["fields"]["sex"]["sizes"] == {"F": 1, "M": 1}
    metrics = evaluate(folder, TRUTH, EvalSettings(bootstrap=0, parity_min_group=1))
    parity = metrics["parity"]["mini"]["demographic"]
    assert parity["metric"] == "normalized_accuracy"
    sex = parity["fields"]["sex"]
    # F: P1 2/3 (P3 has no normalized score) ; M: P2 1.5 -> 1.5 - 2/3
    assert sex["best"] == "M" and sex["worst"] == "F"
    assert sex["difference"] == pytest.approx(1.5 - 2 / 3)


def bfi_sheet(targets: dict[str, int]) -> dict[str, str]:
    """Answers that make each trait score exactly its target: keyed items = t, reverse-keyed = 6 - t."""
    bfi = load_instrument("bfi44")
    sheet = {}
    for trait, key in bfi.scoring["traits"].items():
        for qid in key["items"]:
            sheet[qid] = str(6 - targets[trait] if qid in key.get("reverse", []) else targets[trait])
    return sheet


async def test_bfi_trait_mae_and_fisher_z_correlation(tmp_path):
    bfi = load_instrument("bfi44")
    truth = responses(
        "bfi-hand",
        {
            1: {"Q1": bfi_sheet(dict(E=5, A=4, C=3, N=2, O=1)), "Q2": bfi_sheet(dict(E=1, A=2, C=3, N=4, O=5))},
            2: {"Q1": bfi_sheet(dict(E=5, A=4, C=3, N=1, O=2))},
        },
    )
    agents = [
        FixedAgent(id="a-Q1", respondent="Q1", given=bfi_sheet(dict(E=4, A=4, C=2, N=2, O=1))),
        FixedAgent(id="a-Q2", respondent="Q2", given=bfi_sheet(dict(E=1, A=2, C=3, N=5, O=4))),
    ]
    folder = await run_fixture(tmp_path, bfi, agents, truth_name=None)
    metrics = evaluate(folder, truth, EvalSettings(bootstrap=100))
    assert metrics["families"]["bfi44"] == "bfi"
    block = metrics["conditions"]["demographic"]["bfi44"]
    # Q1: |5-4| + |3-2| over 5 traits = .4 ; Q2: |4-5| + |5-4| -> .4
    assert block["mae"]["mean"] == pytest.approx(0.4)
    # Q1: x = (5,4,3,2,1), y = (4,4,2,2,1): sum dxdy = 8, sum dx2 = 10, sum dy2 = 7.2 -> r = 8 / sqrt(72)
    # Q2: x = (1,2,3,4,5), y = (1,2,3,5,4): 9 / 10 = .9 ; profiles: plain mean over people (metrics.profile_summary)
    q1 = 8 / math.sqrt(72)
    assert block["correlation"]["mean"] == pytest.approx((q1 + 0.9) / 2)
    assert block["correlation"]["mean"] == pytest.approx(0.921405, abs=1e-6)
    # Q1's retest: (5,4,3,1,2) vs (5,4,3,2,1): r = 9/10 ; normalized = .9428 / .9 (Q2 has no retest)
    assert block["normalized_correlation"]["mean"] == pytest.approx(q1 / 0.9)
    assert block["normalized_correlation"]["n"] == 1


async def test_games_mae_and_correlation(tmp_path):
    games = load_instrument("games")
    # human: dictator 5 -> 1, sender 0 -> 0, receiver 9 -> 1, public goods 2 -> .5, PD cooperate -> 1
    truth = responses("games-hand", {1: {"G": {"dictator": 5, "trust_sender": 0, "trust_receiver": 9, "public_goods": 2, "prisoners_dilemma": "cooperate"}}})
    # agent: 2.5 -> .5, 3 -> 1, 9 -> 1, 2 -> .5, cooperate -> 1
    agent = FixedAgent(id="g", respondent="G", given={"dictator": 2.5, "trust_sender": 3, "trust_receiver": 9, "public_goods": 2, "prisoners_dilemma": "cooperate"})
    folder = await run_fixture(tmp_path, games, [agent], truth_name=None)
    block = evaluate(folder, truth, EvalSettings(bootstrap=0))["conditions"]["demographic"]["games"]
    assert block["mae"]["mean"] == pytest.approx((0.5 + 1.0) / 5)
    # human mean .7, agent mean .8; sum dh*da = -.05; sum dh2 = .8, sum da2 = .3 -> r = -.05 / sqrt(.24)
    assert block["correlation"]["mean"] == pytest.approx(-0.05 / math.sqrt(0.24))


async def test_report_files_are_written_from_the_run_folder(tmp_path):
    folder = await run_fixture(tmp_path, survey_instrument(), AGENTS)
    result = write_report(folder, TRUTH, EvalSettings(bootstrap=50, min_item_people=1, parity_min_group=1))
    saved = json.loads(result.metrics_path.read_text())
    assert set(saved) >= {"schema_version", "run", "truth", "answers", "conditions", "per_item", "per_person", "parity", "settings", "verdicts"}
    assert saved["conditions"]["demographic"]["mini"]["normalized_accuracy"]["mean"] == pytest.approx((2 / 3 + 1.5) / 2)
    html = result.html_path.read_text()
    assert html.count("data:image/png;base64,") >= 3
    assert "composite agents" in html and "ref: majority of other people" in html and "Verdict" in html
    assert "<script" not in html and "http://" not in html and "https://" not in html  # self-contained
    assert result.html_path.stat().st_mode & 0o777 == 0o600


async def test_a_wrong_or_empty_truth_never_overwrites_a_good_report(tmp_path):
    from simulacra.errors import SimulacraError

    folder = await run_fixture(tmp_path, survey_instrument(), AGENTS)
    good = write_report(folder, TRUTH, EvalSettings(bootstrap=0))
    before = (good.metrics_path.read_bytes(), good.html_path.read_bytes())
    strangers = responses("strangers", {1: {"X1": {"A": "1"}}, 2: {"X1": {"A": "1"}}})
    with pytest.raises(SimulacraError, match="none of the run's people.*wrong --truth"):
        write_report(folder, strangers, EvalSettings(bootstrap=0))
    with pytest.raises(SimulacraError, match="empty"):
        write_report(folder, ResponseSet.from_records("empty", []), EvalSettings(bootstrap=0))
    assert (good.metrics_path.read_bytes(), good.html_path.read_bytes()) == before
    assert not list(folder.path.glob("*.tmp")) and not list(folder.path.glob(".*.tmp"))


async def test_a_condition_without_valid_answers_has_no_score_never_zero(tmp_path):
    from experiments.reports.report import print_summary
    from rich.console import Console

    silent = [FixedAgent(id=f"p-{p}", source="persona", respondent=p, given={}) for p in ("P1", "P2")]
    folder = await run_fixture(tmp_path, survey_instrument(), AGENTS[:2] + silent)
    metrics = evaluate(folder, TRUTH, EvalSettings(bootstrap=0))
    block = metrics["conditions"]["persona"]["mini"]
    assert block["no_valid_answers"] is True
    assert block["normalized_accuracy"]["mean"] is None and block["accuracy"]["mean"] is None
    assert block["coverage"]["valid"] == 0 and block["coverage"]["failed"] == 8
    verdict = next(v for v in metrics["verdicts"] if v["condition"] == "persona")
    assert verdict["difference"] is None and "no valid answers" in verdict["verdict"]
    console = Console(record=True, width=200)
    print_summary(metrics, console)
    text = console.export_text()
    assert "no valid answers" in text and "0.00" not in text.split("persona")[1].splitlines()[0]


async def test_every_condition_sits_beside_the_reference_conditions_with_a_verdict(tmp_path):
    folder = await run_fixture(tmp_path, survey_instrument(), AGENTS)
    metrics = evaluate(folder, TRUTH, EvalSettings(bootstrap=100))
    names = list(metrics["conditions"])
    for expected in ("composite", "demographic", "majority", "demographic_knn", "composite_knn", "logistic", "random_floor"):
        assert expected in names
    assert names.index("demographic") < names.index("majority") < names.index("random_floor")
    # references are scored on the same people as the agents
    assert metrics["conditions"]["majority"]["mini"]["people"] == 3
    verdicts = {v["condition"]: v for v in metrics["verdicts"]}
    assert {"demographic", "composite"} <= set(verdicts)
    # the population-informed versions: mixed with a reference, the weight fitted on the other person only
    assert "composite+population" in names and metrics["conditions"]["composite+population"]["mini"]["mixed_with"] == "composite_knn"
    assert "composite+population" in verdicts
    for verdict in verdicts.values():
        if verdict["difference"] is not None:
            assert verdict["reference"] in ("majority", "demographic_knn", "composite_knn", "logistic")
            assert verdict["metric"] == "normalized_accuracy"


async def test_cross_wave_design_scores_against_wave_two(tmp_path):
    folder = await run_fixture(tmp_path, survey_instrument(), AGENTS)
    metrics = evaluate(folder, TRUTH, EvalSettings(bootstrap=0, design="cross-wave"))
    assert metrics["truth"]["design"] == "cross-wave" and metrics["truth"]["wave"] == 2
    comp_p1 = next(p for p in metrics["per_person"] if p["condition"] == "composite" and p["respondent"] == "P1")
    # composite P1 answered its wave-1 answers (1, 2, x, a); wave 2 is (1, 3, x, a): 3 of 4; retest .75 -> 1.0
    assert comp_p1["accuracy"] == pytest.approx(0.75) and comp_p1["normalized_accuracy"] == pytest.approx(1.0)
    assert not any(p["respondent"] == "P3" for p in metrics["per_person"])  # no wave 2: nothing to score


async def test_the_summary_stays_readable_when_piped_or_narrow(tmp_path):
    """An 80-column pipe: every condition's normalized accuracy is printed whole (a table would cut it to '0…')."""
    from experiments.reports.report import headline_rows, print_summary
    from rich.console import Console

    folder = await run_fixture(tmp_path, survey_instrument(), AGENTS)
    metrics = evaluate(folder, TRUTH, EvalSettings(bootstrap=100))
    console = Console(record=True, width=80)
    print_summary(metrics, console)
    text = console.export_text()
    assert "…" not in text
    rows = headline_rows(metrics, "mini")
    assert len(rows) >= 7  # agents, references and the floor
    for condition, block in rows:
        assert f"norm {block['normalized_accuracy']['mean']:.3f}" in text, condition
