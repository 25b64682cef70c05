"""One agent interface: every kind answers through Agent.answer with AnswerOptions; faults propagate;
answers carry their prompt hash and attempts; fingerprints ignore retrieval state; context previews
change nothing; leave-out (item, k-fold, exclude) never lets a predicted value into a context."""

from __future__ import annotations

import json

import pytest
from agent_helpers import schema_responder

from simulacra.agent import Agent, AnswerOptions
from simulacra.agents.baselines import CompositeAgent, DemographicAgent, PersonaAgent, fold_assignment
from simulacra.agents.interview import CombinedAgent, InterviewAgent
from simulacra.agents.memory import MemoryStore
from simulacra.errors import EndpointError
from simulacra.llm import LLM, FakeBackend
from simulacra.prompts import prompt_hash
from surveys.model import Answer, AnswerStatus, Option, Question, QuestionKind


def choice(qid: str, text: str, labels: list[str], **meta) -> Question:
    return Question(id=qid, text=text, kind=QuestionKind.categorical,
                    options=[Option(code=str(i + 1), label=l) for i, l in enumerate(labels)], meta=meta)


PARTY = choice("partyid", "Do you think of yourself as a Republican, Democrat or Independent?", ["Democrat", "Independent", "Republican"])
TRUST = choice("trust", "Can most people be trusted?", ["Can trust", "Cannot trust"])
AGE = Question(id="age_guess", text="How old do you feel, in years?", kind=QuestionKind.numeric, min=0, max=120, integer=True)

# survey items with distinctive labels, so a leaked value is visible in a context
SURVEY = [
    choice(f"item{i}", f"Survey item number {i}?", [f"alpha{i}", f"beta{i}"], item=f"item{i}") for i in range(7)
] + [choice("item3y", "Survey item number 3, other wording?", ["alpha3y", "beta3y"], item="item3")]
KNOWN = {q.id: "2" for q in SURVEY}  # the person answered beta<i> everywhere


def make_interview(tmp_path, cls=InterviewAgent, **extra) -> InterviewAgent:
    agent = cls(id="joon", name="Joon", persona="I am 30 years old.", **extra).attach(MemoryStore.persistent(tmp_path / "chroma"))
    agent.add_memory("Interviewer: Who do you vote for?\n\nJoon: I lean Democrat, slightly liberal.", importance=80)
    agent.add_memory("Interviewer: Tell me about money.\n\nJoon: I save most of what I earn.", importance=60)
    agent.add_memory("POLITICAL NOTE: leans liberal", "reflection", expert="political_scientist")
    return agent


def every_kind(tmp_path) -> list[Agent]:
    return [
        make_interview(tmp_path),
        DemographicAgent(id="d1", demographics={"age": "30", "sex": "male"}),
        PersonaAgent(id="p1", persona="I am a retired teacher who reads the news every day."),
        CompositeAgent(id="c1", known_answers=KNOWN, questions=SURVEY),
        make_interview(tmp_path, CombinedAgent, known_answers=KNOWN, questions=SURVEY),
    ]


async def test_every_kind_answers_through_the_one_interface(tmp_path):
    kinds = every_kind(tmp_path)
    assert {a.source for a in kinds} == {"interview", "demographic", "persona", "composite", "combined"}
    for agent in kinds:
        for options in (AnswerOptions(), AnswerOptions(scoring="logprobs", batch_size=2, use_router=False)):
            backend = FakeBackend(default=schema_responder(), logprobs=lambda m, letters: {l: -float(i) for i, l in enumerate(letters)})
            answers = await agent.answer([PARTY, TRUST, AGE], llm=LLM(backend), options=options)
            assert [a.question_id for a in answers] == ["partyid", "trust", "age_guess"], agent.source
            assert all(a.status == AnswerStatus.ok and a.prompt_hash for a in answers), agent.source
            if options.scoring == "logprobs":
                assert answers[0].probabilities and answers[1].probabilities and answers[2].probabilities is None
        assert isinstance(agent.context_preview([PARTY]), str) and agent.context_preview([PARTY])
        assert len(agent.fingerprint()) == 64


async def test_prompt_hash_is_the_hash_of_the_messages_sent():
    agent = PersonaAgent(id="p1", persona="I am a retired teacher.")
    backend = FakeBackend(default=schema_responder())
    answers = await agent.answer([PARTY, TRUST], llm=LLM(backend), options=AnswerOptions(batch_size=2))
    assert answers[0].prompt_hash == answers[1].prompt_hash == prompt_hash(backend.requests[0].messages)


class BrokenStore(MemoryStore):
    def __init__(self):
        self.calls = 0

    def index(self, agent_id, memories):
        return 0

    def relevance(self, agent_id, query):
        raise RuntimeError("chromadb: the collection is corrupt")


async def test_a_memory_store_fault_propagates_instead_of_failing_answers(tmp_path):
    agent = make_interview(tmp_path)
    agent.attach(BrokenStore())
    backend = FakeBackend(default=schema_responder())
    with pytest.raises(RuntimeError, match="corrupt"):
        await agent.answer([PARTY], llm=LLM(backend), options=AnswerOptions(context_mode="retrieved", use_router=False))
    assert backend.requests == []  # nothing was asked, nothing recorded as failed


async def test_a_bug_in_a_context_propagates():
    class Buggy(PersonaAgent):
        def context(self) -> str:
            raise KeyError("bug")

    with pytest.raises(KeyError):
        await Buggy(id="b", persona="x").answer([PARTY], llm=LLM(FakeBackend(default=schema_responder())))


async def test_endpoint_gone_propagates():
    agent = PersonaAgent(id="p1", persona="I am a retired teacher.")
    with pytest.raises((EndpointError, ConnectionError)):
        await agent.answer([PARTY], llm=LLM(FakeBackend(default=schema_responder(), fail_after=0)))


async def test_logprobs_unsupported_propagates_with_its_message():
    from simulacra.errors import LogprobsUnsupportedError

    def no_logprobs(messages, letters):
        raise LogprobsUnsupportedError("endpoint http://x returned no logprobs")

    agent = PersonaAgent(id="p1", persona="I am a retired teacher.")
    with pytest.raises(LogprobsUnsupportedError, match="no logprobs"):
        await agent.answer([PARTY], llm=LLM(FakeBackend(logprobs=no_logprobs)), options=AnswerOptions(scoring="logprobs"))


def reply(**items):
    return json.dumps({k: {"reasoning": "short", "answer": v} for k, v in items.items()})


async def test_failed_answer_keeps_raw_error_and_earlier_attempts():
    agent = PersonaAgent(id="p1", persona="I am a retired teacher.")
    backend = FakeBackend([reply(Q1="Whig"), reply(Q1="Tory"), reply(Q1="Pirate")])
    [answer] = await agent.answer([PARTY], llm=LLM(backend), options=AnswerOptions(max_attempts=3))
    assert answer.status == AnswerStatus.failed and "Pirate" in answer.raw and answer.error
    assert [("Whig" in a.raw, "Tory" in a.raw) for a in answer.attempts] == [(True, False), (False, True)]
    assert all(a.error for a in answer.attempts)
    assert answer.prompt_hash == prompt_hash(backend.requests[0].messages)


async def test_valid_after_a_repair_keeps_the_invalid_attempt():
    agent = PersonaAgent(id="p1", persona="I am a retired teacher.")
    backend = FakeBackend([reply(Q1="Whig"), reply(Q1="Democrat")])
    [answer] = await agent.answer([PARTY], llm=LLM(backend))
    assert answer.status == AnswerStatus.ok and answer.value == "1"
    assert len(answer.attempts) == 1 and "Whig" in answer.attempts[0].raw


async def test_retry_round_reaches_the_model_call():
    agent = PersonaAgent(id="p1", persona="I am a retired teacher.")
    first, retry = FakeBackend(default=schema_responder()), FakeBackend(default=schema_responder())
    await agent.answer([PARTY], llm=LLM(first))
    await agent.answer([PARTY], llm=LLM(retry), options=AnswerOptions(retry_round=2))
    assert first.requests[0].seed != retry.requests[0].seed or first.requests[0].temperature != retry.requests[0].temperature


# -- option scoring: hand-computed fixtures ---------------------------------------------------------------
SPACE = Question(id="natspac", text="Spending on space exploration?", kind=QuestionKind.ordinal,
                 options=[Option(code="1", label="too little"), Option(code="2", label="about right"), Option(code="3", label="too much")])


def shown_first(messages) -> str:
    user = messages[-1]["content"]
    return user[user.index("A) ") + 3 :].split("\n", 1)[0]


async def test_permute_averages_the_unpermuted_distributions():
    import math

    # letter probabilities by which option is shown first (shift 0, 1, 2 of the cyclic order)
    tables = {
        "too little": {"A": 0.6, "B": 0.3, "C": 0.1},  # order: too little, about right, too much
        "about right": {"A": 0.5, "B": 0.2, "C": 0.3},  # order: about right, too much, too little
        "too much": {"A": 0.2, "B": 0.5, "C": 0.3},  # order: too much, too little, about right
    }
    seen = []

    def logprobs(messages, letters):
        seen.append(shown_first(messages))
        return {l: math.log(p) for l, p in tables[shown_first(messages)].items()}

    agent = PersonaAgent(id="p1", persona="I am a retired teacher.")
    [plain] = await agent.answer([SPACE], llm=LLM(FakeBackend(logprobs=logprobs)), options=AnswerOptions(scoring="logprobs"))
    assert plain.probabilities == pytest.approx({"1": 0.6, "2": 0.3, "3": 0.1}) and plain.value == "1"
    seen.clear()
    [answer] = await agent.answer(
        [SPACE], llm=LLM(FakeBackend(logprobs=logprobs)), options=AnswerOptions(scoring="logprobs", debias="permute")
    )
    assert seen == ["too little", "about right", "too much"]
    # too little: .6 (A, shift 0) + .3 (C, shift 1) + .5 (B, shift 2); about right: .3 + .5 + .3; too much: .1 + .2 + .2
    assert answer.probabilities == pytest.approx({"1": 1.4 / 3, "2": 1.1 / 3, "3": 0.5 / 3})
    assert answer.value == "1" and answer.prompt_hash


async def test_calibrate_divides_by_the_content_free_distribution_and_caches_it():
    import math

    SPACE2 = SPACE.model_copy(update={"id": "natspac2", "text": "Spending on space, again?"})
    calls = []

    def logprobs(messages, letters):
        user = messages[-1]["content"]
        calls.append("free" if "Q1. N/A" in user else "question")
        table = {"A": 0.6, "B": 0.2, "C": 0.2} if "Q1. N/A" in user else {"A": 0.6, "B": 0.3, "C": 0.1}
        return {l: math.log(p) for l, p in table.items()}

    agent = PersonaAgent(id="p1", persona="I am a retired teacher.")
    answers = await agent.answer(
        [SPACE, SPACE2], llm=LLM(FakeBackend(logprobs=logprobs)), options=AnswerOptions(scoring="logprobs", debias="calibrate")
    )
    # (.6/.6, .3/.2, .1/.2) = (1, 1.5, .5), renormalised by 3
    for answer in answers:
        assert answer.probabilities == pytest.approx({"1": 1 / 3, "2": 0.5, "3": 1 / 6})
        assert answer.value == "2"
    assert calls.count("free") == 1 and calls.count("question") == 2  # one content-free call per context/option count


# -- identity and previews ----------------------------------------------------------------------------------
async def test_fingerprint_ignores_retrieval_and_clock_but_not_content(tmp_path):
    agent = make_interview(tmp_path)
    before = agent.fingerprint()
    backend = FakeBackend(default=schema_responder())
    await agent.answer([PARTY], llm=LLM(backend), options=AnswerOptions(context_mode="retrieved", use_router=False))
    assert agent.clock > 3  # retrieval moved the clock and last-retrieved times
    assert agent.fingerprint() == before
    agent.add_memory("Interviewer: Anything else?\n\nJoon: No.")
    assert agent.fingerprint() != before
    assert PersonaAgent(id="p", persona="a").fingerprint() != PersonaAgent(id="p", persona="b").fingerprint()


async def test_context_preview_changes_nothing_and_matches_what_is_read(tmp_path):
    agent = make_interview(tmp_path)
    state = agent.model_dump()
    preview = agent.context_preview([PARTY], options=AnswerOptions(context_mode="retrieved"))
    assert agent.model_dump() == state
    assert "POLITICAL NOTE" in preview  # every expert's notes (routing would need the model)
    full = agent.context_preview([PARTY], options=AnswerOptions(context_mode="full", use_router=False))
    backend = FakeBackend(default=schema_responder())
    await agent.answer([PARTY], llm=LLM(backend), options=AnswerOptions(context_mode="full", use_router=False))
    assert backend.requests[0].messages[-1]["content"].startswith(full)


# -- leave-out ----------------------------------------------------------------------------------------------
def test_folds_are_balanced_keep_twins_together_and_ignore_which_questions_are_asked():
    folds = fold_assignment(SURVEY, 3)
    assert sorted(folds) == [f"item{i}" for i in range(7)]  # item3y is item3's twin: one key, one fold
    sizes = [list(folds.values()).count(f) for f in range(3)]
    assert sorted(sizes) == [2, 2, 3]  # 7 items into 3 folds, sizes within one
    assert fold_assignment(list(reversed(SURVEY)), 3) == folds  # order of the instrument does not matter
    agent = CompositeAgent(id="c1", known_answers=KNOWN, questions=SURVEY)
    options = AnswerOptions(leave_out="kfold", folds=3)
    whole = agent.leave_out_groups(SURVEY, options)
    assert len(whole) == 3 and all(len({agent.fold_of(q, 3) for q in g}) == 1 for g in whole)
    for batch in (SURVEY[:2], SURVEY[2:5], SURVEY[5:]):  # any batch is split along the same folds
        for group in agent.leave_out_groups(batch, options):
            assert any({q.id for q in group} <= {q.id for q in g} for g in whole)


async def test_a_kfold_context_is_the_same_whatever_the_batch():
    agent = CompositeAgent(id="c1", known_answers=KNOWN, questions=SURVEY)
    options = AnswerOptions(leave_out="kfold", folds=3, batch_size=1, use_router=False)

    async def contexts(batch) -> dict[str, str]:
        backend = FakeBackend(default=schema_responder())
        await agent.answer(batch, llm=LLM(backend), options=options)
        prompts = [r.messages[-1]["content"] for r in backend.requests]
        return {q.id: p[: p.index("Task:")] for p in prompts for q in batch if f". {q.text}" in p}

    together = await contexts(SURVEY[:6])
    alone = {}
    for question in SURVEY[:6]:
        alone.update(await contexts([question]))
    assert together == alone
    assert len(set(together.values())) == 3  # k prefixes per person, not one per item
    for question in SURVEY[:6]:  # the whole fold is hidden: no item of it, and the others are there
        hidden = {q.id for q in SURVEY if agent.fold_of(q, 3) == agent.fold_of(question, 3)}
        for other in SURVEY:
            assert (f"beta{other.id[4:]}" in together[question.id]) == (other.id not in hidden), (question.id, other.id)


@pytest.mark.parametrize("leave_out", ["item", "kfold"])
@pytest.mark.parametrize("kind", ["composite", "combined"])
async def test_no_predicted_twin_or_excluded_value_reaches_a_context(tmp_path, leave_out, kind):
    targets = SURVEY[:4]
    if kind == "composite":
        agent = CompositeAgent(id="c1", known_answers=KNOWN, questions=SURVEY, exclude=["item5"])
    else:
        agent = CombinedAgent.combine(make_interview(tmp_path), KNOWN, SURVEY, exclude=["item5"])
        assert agent.source == "combined" and agent.respondent == "joon" and agent.memories
    backend = FakeBackend(default=schema_responder())
    options = AnswerOptions(leave_out=leave_out, folds=2, batch_size=5, use_router=False, context_mode="full")
    answers = await agent.answer(targets, llm=LLM(backend), options=options)
    assert [a.question_id for a in answers] == [q.id for q in targets]
    prompts = [r.messages[-1]["content"] for r in backend.requests]
    for prompt in prompts:
        context = prompt[: prompt.index("Task:")]
        asked = [q for q in SURVEY if f". {q.text}" in prompt]
        for q in asked + [SURVEY[5]] + ([SURVEY[7]] if SURVEY[3] in asked else []):
            assert f"beta{q.id[4:]}" not in context, (q.id, context)
        if leave_out == "item":
            assert "beta6" in context  # known answers outside the left-out set are there
    folds = {agent.fold_of(q, 2) for q in targets}
    assert len(backend.requests) == (len(folds) if leave_out == "kfold" else 4)  # k prefixes, not one per item
    for group in ([q] for q in targets):
        preview = agent.context_preview(group)
        assert f"beta{group[0].id[4:]}" not in preview and "beta5" not in preview
    preview = agent.context_preview(targets)
    assert not any(f"beta{i}" in preview for i in ("0", "1", "2", "3", "3y", "5"))


async def test_bank_round_trip_of_a_combined_agent(tmp_path, bank):
    agent = CombinedAgent.combine(make_interview(tmp_path), KNOWN, SURVEY)
    bank.save(agent)
    loaded = bank.load(agent.id)
    assert isinstance(loaded, CombinedAgent) and loaded.fingerprint() == agent.fingerprint()


def test_persona_agent_from_a_paragraph_file(tmp_path):
    from simulacra.errors import DataFileError

    path = tmp_path / "p.txt"
    path.write_text("I grew up on a farm in Iowa and now teach chemistry.\n", encoding="utf-8")
    agent = PersonaAgent.from_file(path, "iowa", respondent="r7")
    assert agent.persona.startswith("I grew up") and agent.respondent == "r7" and agent.source == "persona"
    (tmp_path / "empty.txt").write_text("  \n")
    with pytest.raises(DataFileError, match="empty"):
        PersonaAgent.from_file(tmp_path / "empty.txt", "x")


def test_answer_model_carries_new_fields():
    answer = Answer(question_id="q", prompt_hash="abc", attempts=[{"raw": "x", "error": "bad", "round": 1, "at": 2.0}])
    assert Answer.model_validate_json(answer.model_dump_json()) == answer


async def test_an_agent_built_under_another_id_is_scored_as_its_respondent(tmp_path, sample_dir):
    from agent_helpers import sample_transcript_jsonl

    from simulacra.agents.build import build_agent_from_transcript

    path = sample_transcript_jsonl(sample_dir, tmp_path / "joon.jsonl", exchanges=2, answer_chars=100)
    backend = FakeBackend(default=schema_responder())
    same = await build_agent_from_transcript(path, LLM(backend), reflections=False, score=False)
    other = await build_agent_from_transcript(path, LLM(backend), reflections=False, score=False, agent_id="joon-v2")
    assert same.scored_as == "joon" and other.respondent == "joon" and other.id == "joon-v2"
