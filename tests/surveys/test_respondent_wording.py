"""Respondent-facing wording (issue #26 item 8): every GSS question's `text` is self-administered wording derived
from the GSS's interviewer-administered wording by the rules of surveys/wording.py, the source wording kept in
`source_text`; no instruction text reaches what a respondent or an agent reads. Expected outputs are written by
hand from the real source lines (shared/data/gss/gss_park2024_177_items.csv). The study page has its own test
(tests/study/test_study_wording.py)."""

from __future__ import annotations

import csv
import json
import re

import pytest

from experiments.pipeline import run
from experiments.runs.spec import RunSpec
from simulacra.agents.answering import AnswerOptions
from simulacra.agents.baselines import CompositeAgent, DemographicAgent
from simulacra.llm import LLM, FakeBackend
from surveys.instruments import list_instruments, load_instrument
from surveys.paths import shared_data_dir
from surveys.qsf import qsf_to_instrument
from surveys.wording import REWRITES, find_instructions, respondent_wording

GSS = load_instrument("gss")
Q = {q.id: q for q in GSS.questions}
SOURCE = {row["gss_variable"].strip().lower(): row for row in csv.DictReader(
    open(shared_data_dir() / "gss" / "gss_park2024_177_items.csv", newline="", encoding="utf-8"))}

# The test's own list (independent of surveys.wording.INSTRUCTION_PATTERNS): case-sensitive, as the GSS writes them.
FORBIDDEN = [re.compile(p) for p in (
    r"\bREAD\b", r"\bCIRCLE\b", r"HAND CARD", r"\(ITEM", r"\bPROBE", r"\bASK\b", r"\bINTERVIEWER\b", r"\bCODE ",
    r"\bIF [A-Z]{2,}", r"\bRECORD\b", r"tell me the letter", r"As of 20\d\d", r"\(READ",
    r"\b[A-Z]{3,}\b(?:[ ,;:]+\b[A-Z]{2,}\b)+",  # a run of words in capitals (no acronym here has two)
)]


def forbidden(text: str) -> list[str]:
    return [m.group(0) for p in FORBIDDEN for m in p.finditer(text)]


def derived(item: str) -> str:
    return respondent_wording(SOURCE[item]["question"].strip())[0]


# -- each rule on real source lines --------------------------------------------------------------------------
NAT_STEM = ("We are faced with many problems in this country, none of which can be solved easily or inexpensively. "
            "I'm going to name some of these problems, and for each one I'd like you to tell me whether you think we're "
            "spending too much money on it, too little money, or about the right amount.")


def test_the_repeated_clause_is_kept_once_and_the_item_takes_the_place_of_read_item_a():
    text, rules = respondent_wording(SOURCE["natspac"]["question"])
    assert text == NAT_STEM + " Are we spending too much, too little, or about the right amount on space exploration program?"
    assert rules == ["repeated_clause", "item_placeholder"]
    # the repaired stem is the y-version's stem, which the source writes without the repeat
    assert SOURCE["natspac"]["question_y_version"].startswith(NAT_STEM + " First (READ ITEM A)")
    assert derived("natsoc").endswith("about the right amount on Social Security?")  # a name keeps its capitals
    assert derived("natarms").endswith("about the right amount on the military, armaments and defense?")
    # "(ITEM)?H. Improving the conditions of Black people." (no space, a trailing period)
    assert derived("natrace").endswith("about the right amount on improving the conditions of Black people?")


def test_instructions_in_capitals_go_and_the_lead_in_runs_on_into_the_item():
    assert derived("abdefect") == ("Please tell me whether or not you think it should be possible for a pregnant woman "
                                   "to obtain a legal abortion if there is a strong chance of serious defect in the baby?")
    assert derived("abany").endswith("to obtain a legal abortion if the woman wants it for any reason?")
    assert derived("suicide2") == "Do you think a person has the right to end his or her own life if this person has gone bankrupt?"
    assert derived("pornlaw") == "Which of these statements comes closest to your feelings about pornography laws?"
    assert derived("jew") == "Do you consider yourself Orthodox, Conservative, Reform or none of these?"
    assert derived("attend") == "How often do you attend religious services?"
    assert derived("pray") == "About how often do you pray?"
    assert derived("race") == "What race do you consider yourself?"
    assert derived("usewww") == "Other than for e-mail, do you ever use the Internet or World Wide Web?"
    assert derived("finrela").endswith("average, above average, or far above average?")
    confidence = ("I am going to name some institutions in this country. As far as the people running these institutions "
                  "are concerned, would you say you have a great deal of confidence, only some confidence, or hardly "
                  "any confidence at all in them?")
    assert derived("conjudge") == confidence + " U.S. Supreme Court"  # "J." goes, "U.S." stays
    assert derived("contv") == confidence + " TV"


def test_screeners_routing_letters_fills_and_notes():
    assert derived("widowed") == "Have you ever been widowed?"
    assert derived("evwork") == "Did you ever work for as long as one year?"
    assert derived("vetyears") == "What was your total time on active duty?"
    assert derived("owngun") == "Do you happen to have in your home or garage any guns or revolvers?"
    assert derived("xmovie") == "Have you seen an X-rated movie in the last year?"
    assert derived("marhomo") == "Do you agree or disagree? Homosexual couples should have the right to marry one another."
    assert derived("reg16") == "In what state or foreign country were you living when you were 16 years old?"
    assert derived("income") == ("In which of these groups did your total family income, from all sources, fall last "
                                 "year before taxes, that is?")
    assert derived("racdif3") == (
        "On the average African-Americans have worse jobs, income, and housing than white people. Do you think these "
        "differences are because most African-Americans don't have the chance for education that it takes to rise "
        "out of poverty?")
    assert "in your city, town or community against churches" in derived("spkath")
    assert derived("letdie1").endswith("to end the patient's life by some painless means if the patient and his family request it?")
    assert derived("fechld").startswith("Now I'm going to read several more statements.")
    assert "Here is the statement: A working mother can establish" in derived("fechld")
    assert derived("relpersn") == "To what extent do you consider yourself a religious person? Are you ..."
    # text without instructions passes unchanged
    assert respondent_wording(SOURCE["cappun"]["question"]) == (SOURCE["cappun"]["question"].strip(), [])


def test_items_that_are_not_questions_get_their_documented_wording():
    assert Q["uscitzn"].text == "Now we would like to ask you about U.S. citizenship. Are you..."
    assert Q["posslq"].text == "Which of these statements applies to you?"
    assert Q["martype"].source_text.startswith("This based on information coded by interviewer")
    for item, (text, reason) in REWRITES.items():
        assert Q[item].text == text and reason and Q[item].meta["wording_rules"] == ["rewritten"]


# -- the shipped instruments -------------------------------------------------------------------------------------
def test_the_source_wording_is_kept_beside_the_derived_one():
    assert set(Q) == set(SOURCE)
    changed = 0
    for item, row in SOURCE.items():
        question, source = Q[item], row["question"].strip()
        assert (question.source_text or question.text) == source, item
        if question.source_text is not None:
            changed += 1
            assert question.text != source and question.meta["wording_rules"], item
    assert changed >= 100  # the GSS source carries instructions, letters or fills in most items
    assert Q["natspac"].source_text == SOURCE["natspac"]["question"].strip()
    assert "(READ ITEM A)" in Q["natspac"].source_text and "(READ ITEM A)" not in Q["natspac"].text
    # the forbidden list does catch the source wording (the check can fail)
    assert forbidden(Q["abdefect"].source_text) and forbidden(Q["natspac"].source_text) and forbidden(Q["educ"].source_text)
    assert sum(1 for row in SOURCE.values() if forbidden(row["question"])) >= 40


@pytest.mark.parametrize("name", sorted(list_instruments()))
def test_no_shipped_question_text_carries_instructions(name):
    instrument = load_instrument(name)
    for question in instrument.questions:
        assert forbidden(question.text) == [], (name, question.id, question.text)
        assert find_instructions(question.text) == [], (name, question.id)
        assert not re.search(r"\s[?,;:]|\s{2}|''", question.text), (name, question.id, question.text)


def test_qsf_import_notes_instruction_text():
    document = {
        "SurveyEntry": {"SurveyName": "Pilot"},
        "SurveyElements": [{"Element": "SQ", "PrimaryAttribute": "QID1", "Payload": {
            "QuestionID": "QID1", "DataExportTag": "q1", "QuestionType": "MC", "Selector": "SAVR",
            "QuestionText": "Do you agree? READ EACH STATEMENT AND CIRCLE ONE CODE.",
            "Choices": {"1": {"Display": "Yes"}, "2": {"Display": "No"}}, "ChoiceOrder": ["1", "2"]}}],
    }
    result = qsf_to_instrument(document, "pilot")
    assert any(note.startswith("q1: the text looks like interviewer instructions") for note in result.notes), result.notes
    document["SurveyElements"][0]["Payload"]["QuestionText"] = "Do you agree?"
    assert not any("interviewer instructions" in note for note in qsf_to_instrument(document, "pilot").notes)


# -- what agents are shown ----------------------------------------------------------------------------------------
def reply(request) -> str:
    out = {key: {"reasoning": "r", "answer": (sub["properties"]["answer"].get("enum") or ["x"])[0]}
           for key, sub in (request.json_schema or {}).get("properties", {}).items()}
    return json.dumps(out)


@pytest.mark.parametrize("scoring", ["generate", "logprobs"])
def test_every_gss_prompt_the_runner_sends_is_free_of_instructions(scoring, isolated_workspace):
    """Every GSS question put to an agent through the pipeline (the runner's prompt builders), and every known
    answer a composite agent shows, reads the derived wording and nothing of the source's instructions."""
    known = {"abany": "1", "natspac": "2", "conjudge": "1", "educ": "12", "hispanic": "1", "widowed": "2"}
    agents = [
        DemographicAgent(id="p1-demographic", respondent="p1", demographics={"age": "40", "sex": "female"}),
        CompositeAgent(id="p1-composite", respondent="p1", known_answers=known, questions=[Q[q] for q in known]),
    ]
    prompts: list[str] = []

    def record(request):
        prompts.append("\n".join(str(m["content"]) for m in request.messages))
        return reply(request)

    def logprobs(messages, options):
        prompts.append("\n".join(str(m["content"]) for m in messages))
        return {option: -1.0 for option in options}

    llm = LLM(FakeBackend(default=record, logprobs=logprobs))
    spec = RunSpec.build(agents, [GSS], model={"model": "fake"}, batch_size=8,
                         options=AnswerOptions(scoring=scoring), run_id=f"wording-{scoring}")
    outcome = run(spec, llm=llm)
    assert outcome.written == 2 * len(GSS.questions)
    shown = "\n".join(prompts)
    assert forbidden(shown) == []
    for question in GSS.questions:
        assert question.text in shown, question.id  # every question was asked in its derived wording
    for item in known:  # the composite agent's context shows the derived wording of what it knows
        assert f"- {Q[item].text}\n  My answer:" in shown
    assert "READ EACH STATEMENT" in Q["abany"].source_text and "READ EACH STATEMENT" not in shown


def test_every_documented_rule_is_used_and_every_used_rule_is_documented():
    import surveys.wording as wording

    documented = set(re.findall(r"^\| `(\w+)` \|", wording.__doc__ or "", re.M))
    used = {rule for q in GSS.questions for rule in q.meta.get("wording_rules", [])}
    assert documented == used - {"rewritten"}, (documented ^ used)
    assert {"repeated_clause", "item_placeholder", "instruction"} <= used


@pytest.mark.embedded
async def test_the_embedded_model_is_asked_the_respondent_wording(monkeypatch):
    """End to end on the real embedded model: a demographic agent answers three items whose source carries
    instructions (generation and option scoring); what the model was sent is the derived wording, and it answers."""
    from simulacra.llm import open_llm
    from surveys.model import AnswerStatus

    llm = open_llm(cache=False)
    sent: list[str] = []
    complete, option_logprobs = llm.backend.complete, llm.backend.option_logprobs

    async def recording_complete(request):
        sent.append("\n".join(str(m["content"]) for m in request.messages))
        return await complete(request)

    async def recording_logprobs(messages, options):
        sent.append("\n".join(str(m["content"]) for m in messages))
        return await option_logprobs(messages, options)

    monkeypatch.setattr(llm.backend, "complete", recording_complete)
    monkeypatch.setattr(llm.backend, "option_logprobs", recording_logprobs)
    agent = DemographicAgent(id="d1", demographics={"age": "52", "sex": "male", "religion": "Catholic"})
    questions = [Q["natspac"], Q["abany"], Q["conjudge"]]
    for options in (AnswerOptions(batch_size=3), AnswerOptions(scoring="logprobs")):
        answers = await agent.answer(questions, llm=llm, options=options)
        assert [a.question_id for a in answers] == ["natspac", "abany", "conjudge"]
        for question, answer in zip(questions, answers):
            assert answer.status == AnswerStatus.ok, answer.error
            assert answer.value in {o.code for o in question.options}
    shown = "\n".join(sent)
    assert all(q.text in shown for q in questions) and forbidden(shown) == []
    assert "(READ ITEM A)" in Q["natspac"].source_text and "(READ ITEM A)" not in shown
