"""The shipped "about you" instrument in a study: `evaluate` builds demographic agents from its answers and
persona agents from the self-description paragraph; its items are never scored and never shown to the
combined/composite agents, and no scored answer reaches a demographic or persona context. Plus: withdrawal of
an id that could never be a study respondent ('.', '@') skips the study step instead of failing."""

from __future__ import annotations

import asyncio
import json

from simulacra.llm import LLM, FakeBackend

STUDY = """\
id: s1
title: About you
interview: {required: false}
instruments:
  - about_you
  - {id: gss, questions: [natspac, natenvir, sex]}
retest_days: 14
"""

PARAGRAPH = "I am a retired nurse from Duluth who gardens, volunteers at the library and worries about money."
ANSWERS = {
    1: {"about_age": 67, "about_sex": "2", "about_race": "1", "about_degree": "3", "about_self": PARAGRAPH,
        "natspac": "3", "natenvir": "1", "sex": "2"},
    2: {"natspac": "3", "natenvir": "2", "sex": "2"},
}


def agent_reply(request):
    from test_study_e2e import instance_for

    return "ok" if request.json_schema is None else json.dumps(instance_for(request.json_schema))


def _study_with_answers(tmp_path, workspace):
    from experiments.studies import create_study, invite_respondents
    from interviewer.study.store import StudyStore

    (tmp_path / "study.yaml").write_text(STUDY)
    study, _ = create_study(tmp_path / "study.yaml", workspace=workspace)
    people = [r for r, _ in invite_respondents("s1", 2, workspace=workspace, base_url="http://testserver")]
    store = StudyStore(workspace)
    for person in people:
        for wave, answers in ANSWERS.items():
            for instrument, question in study.plan(person):
                if question in answers:
                    store.save_answer(study, person, wave, instrument, question, answers[question])
    return study, people


def test_about_you_builds_demographic_and_persona_agents(tmp_path, workspace):
    from experiments.studies import build_study_agents, evaluate_study, scored_instruments

    study, people = _study_with_answers(tmp_path, workspace)
    assert [i.id for i in scored_instruments(study)] == ["gss"]
    llm = LLM(FakeBackend(default=agent_reply))
    agents, respondents, notes = asyncio.run(build_study_agents("s1", llm, workspace=workspace))
    by_source = {}
    for agent in agents:
        by_source.setdefault(agent.source, []).append(agent)
    assert set(by_source) == {"composite", "demographic", "persona"}
    assert set(respondents.values()) == set(people)
    demographic = by_source["demographic"][0]
    # labels as the GSS panels give them; `sex` is a scored item here, so it is left out (and said)
    assert demographic.demographics == {"age": "67", "race": "white", "degree": "bachelor's"}
    assert any("sex" in n and "scored item" in n for n in notes)
    gss = study.instrument("gss").questions
    preview = demographic.context_preview(gss)
    assert "67 years old" in preview and "female" not in preview.lower()
    persona = by_source["persona"][0]
    assert persona.persona == PARAGRAPH
    persona_preview = persona.context_preview(gss)
    assert PARAGRAPH in persona_preview
    composite = by_source["composite"][0]
    assert set(composite.known_answers) == {"natspac", "natenvir", "sex"}  # scored items only
    composite_preview = composite.context_preview(gss)
    assert "Duluth" not in composite_preview and "How old are you" not in composite_preview
    for context in (preview, persona_preview):  # no scored answer in a baseline context
        for question in gss:
            assert question.text.strip()[:40] not in context

    folder, result, notes = asyncio.run(evaluate_study("s1", llm, workspace=workspace, bootstrap=5, min_items=1))
    assert {a.source for a in folder.manifest.agents} == {"composite", "demographic", "persona"}
    assert [i.id for i in folder.instruments()] == ["gss"]  # about_you is asked, never scored
    metrics = json.loads(result.metrics_path.read_text())
    for condition in ("composite", "demographic", "persona"):
        block = metrics["conditions"][condition]["gss"]
        assert block["people"] == 2 and block["normalized_accuracy"]["mean"] is not None


def test_without_about_you_the_missing_agents_are_said(tmp_path, workspace):
    from experiments.studies import build_study_agents

    (tmp_path / "study.yaml").write_text(STUDY.replace("  - about_you\n", ""))
    from experiments.studies import create_study, invite_respondents
    from interviewer.study.store import StudyStore

    study, _ = create_study(tmp_path / "study.yaml", workspace=workspace)
    (person,) = [r for r, _ in invite_respondents("s1", 1, workspace=workspace, base_url="http://testserver")]
    StudyStore(workspace).save_answer(study, person, 1, "gss", "natspac", "1")
    agents, _, notes = asyncio.run(build_study_agents("s1", LLM(FakeBackend(default=agent_reply)), workspace=workspace,
                                                      conditions=["composite", "demographic", "persona"]))
    assert {a.source for a in agents} == {"composite"}
    assert any("no demographics" in n and "about_you" in n for n in notes)
    assert any("no self-description" in n for n in notes)


def test_withdrawal_of_an_id_with_dot_or_at_skips_the_study_step(tmp_path, workspace):
    from interviewer.study.store import StudyStore
    from experiments.wiring import withdraw_everywhere as withdraw  # every store (the study answers too)

    study, people = _study_with_answers(tmp_path, workspace)
    for odd in ("jane.doe", "jane@example.org"):
        found = withdraw(odd, workspace)  # no study data can exist for these ids: nothing removed, no error
        assert "study_files" not in found.removed
    store = StudyStore(workspace)
    assert all(store.answers("s1", p) for p in people)  # nobody else's answers touched
    found = withdraw(people[0], workspace)
    assert found.removed.get("study_files")
    assert not store.answers("s1", people[0]) and store.answers("s1", people[1])
