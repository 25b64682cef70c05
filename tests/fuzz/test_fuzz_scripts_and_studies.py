"""Fuzz: interview scripts (interviewer/script.py), study files (interviewer/study/model.py) and behavioral
experiment definitions (experiments/behavioral/definition.py), mutated from the shipped files and the tests'
fixtures, and generated; `simulacra study create` and `simulacra experiment validate` on a few of them."""

from __future__ import annotations

import re

import yaml
from fuzz_helpers import (
    HUGE_DIGITS, REPO, assert_clean_exit, counted, dump_yaml, fixture_text, fresh_dir, mutated_bytes, mutated_tree,
    read_or_refuse, run_command, scaled, write,
)
from hypothesis import example, given, settings
from hypothesis import strategies as st

from experiments.behavioral.definition import StudyDefinition
from experiments.behavioral.definition import load_study_file as load_experiment_file
from interviewer import study as study_package
from interviewer.script import Script, load_script
from interviewer.study.model import Study, load_study_file

# -- interview scripts --------------------------------------------------------------------------------------
SCRIPT_SEEDS = [
    (REPO / "interviewer" / "data" / "default_script.yaml").read_bytes(),
    fixture_text("interviewer/test_interview_script.py", "GOOD").encode(),
    fixture_text("interviewer/conftest.py", "SMALL_SCRIPT").encode(),
    fixture_text("voice/conftest.py", "VOICE_SCRIPT").encode(),
    fixture_text("study/conftest.py", "SCRIPT").encode(),
]
SCRIPT_DOCUMENTS = [yaml.safe_load(text) for text in SCRIPT_SEEDS[1:]]  # the default script is large: bytes only


def _read_script(folder, data: bytes) -> Script | None:
    path = write(fresh_dir(folder) / "mine.yaml", data)
    return read_or_refuse(lambda: load_script(str(path)), Script)


@given(data=mutated_bytes(SCRIPT_SEEDS))
@example(data=SCRIPT_SEEDS[1].replace(b"budget_s: 30", b"budget_s: " + HUGE_DIGITS.encode()))
@example(data=b"id: mine\ntitle: Mine\n\x08blocks: []\n")  # found: a control character raised yaml's ReaderError
@example(data=b"id: mine\ntitle: Mine\nblocks: true\n")  # found: TypeError filling in default ids
@example(data=b"id: mine\nblocks:\n  - id: b1\n    questions: 7\n")  # the same, one level down
@counted
def test_mutated_script_bytes_load_or_refuse(tmp_path, data):
    _read_script(tmp_path, data)


@given(document=st.sampled_from(SCRIPT_DOCUMENTS).flatmap(mutated_tree))
@counted
def test_mutated_script_documents_load_or_refuse(tmp_path, document):
    _read_script(tmp_path, dump_yaml(document))


NAMES = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,20}", fullmatch=True).filter(lambda n: ".." not in n)
WORDS = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=30).filter(str.strip)
BUDGETS = st.one_of(st.integers(0, 3600), st.floats(0, 1e6), st.sampled_from(["90", "90s", "2m", "1m30s", "1h", "2 min"]))


@st.composite
def script_documents(draw) -> dict:
    """A valid script: an optional intro, blocks of questions with unique ids and budgets, an optional closing."""
    block_ids = draw(st.lists(NAMES, min_size=1, max_size=4, unique=True))
    question_ids = iter(draw(st.lists(NAMES, min_size=12, max_size=12, unique=True)))
    blocks = []
    for number, block_id in enumerate(block_ids):
        questions = []
        for _ in range(draw(st.integers(1, 3))):
            question = {"text": draw(WORDS), "budget_s": draw(BUDGETS)}
            if draw(st.booleans()):
                question["id"] = next(question_ids)
            if draw(st.booleans()):
                question["objective"] = draw(WORDS)
            questions.append(question)
        blocks.append({"id": block_id, "questions": questions})
        if draw(st.booleans()):
            blocks[-1]["label"] = draw(WORDS)
    if draw(st.booleans()):
        blocks[0]["questions"].insert(0, {"id": next(question_ids), "kind": "intro", "text": draw(WORDS), "budget_s": 0})
    if draw(st.booleans()):
        blocks[-1]["questions"].append({"id": next(question_ids), "kind": "closing", "text": draw(WORDS), "budget_s": 0})
    document: dict = {"blocks": blocks}
    for key in draw(st.sets(st.sampled_from(["id", "title", "interviewer_name", "language", "description"]))):
        document[key] = draw(NAMES if key == "id" else WORDS)
    return document


@given(document=script_documents().flatmap(lambda doc: st.one_of(st.just(doc), mutated_tree(doc, max_edits=1))))
@counted
def test_generated_scripts_load_or_refuse(tmp_path, document):
    script = _read_script(tmp_path, dump_yaml(document))
    if script is not None:
        assert script.question_count >= 1 and script.total_budget_s >= 0
        assert len({q.id for _, q in script.items()}) == len(list(script.items()))


# -- study files ------------------------------------------------------------------------------------------------
MINI = fixture_text("study/conftest.py", "MINI")
STUDY_SCRIPT = fixture_text("study/conftest.py", "SCRIPT")
_DOC_EXAMPLE = re.search(r"```yaml\n(.*?)```", study_package.model.__doc__ or "", re.S)
STUDY_SEEDS = [
    fixture_text("study/test_study_profile.py", "STUDY").encode(),
    b"id: s1\ntitle: Test study\ninterview: {required: false}\ninstruments:\n  - mini.yaml\n"
    b"  - {id: games, questions: [dictator]}\nretest_days: 14\n",  # tests/study/conftest.py write_study()
    b"id: s1\ntitle: Test study\ninterview: {script: script.yaml, required: true}\ninstruments:\n  - mini.yaml\n"
    b"  - {id: bfi44, shuffle: true}\norder: random\nseed: 3\nretest_days: 0.5\n",
] + ([_DOC_EXAMPLE.group(1).encode()] if _DOC_EXAMPLE else [])
STUDY_DOCUMENTS = [yaml.safe_load(text) for text in STUDY_SEEDS]


def _experiment_loader():
    from experiments.studies import behavioral_experiment

    return behavioral_experiment


def _read_study(folder, data: bytes) -> Study | None:
    base = fresh_dir(folder)
    write(base / "mini.yaml", MINI)
    write(base / "script.yaml", STUDY_SCRIPT)
    path = write(base / "study.yaml", data)
    return read_or_refuse(lambda: load_study_file(path, _experiment_loader()), Study)


@given(data=mutated_bytes(STUDY_SEEDS))
@example(data=b"id: s1\ninstruments: [games]\nretest_days: " + HUGE_DIGITS.encode() + b"\n")
@example(data=b"title: Test study\ntitle2: x\ninstruments: [games]\n")  # found: one message line per problem
@example(data=b"id: s1\ninstruments: [games\n")  # found: yaml's multi-line message (mark and snippet)
@example(data=b"id: s1\x08\ninstruments: [games]\n")  # a control character (yaml's ReaderError)
@example(data=b"id: s1\ninstruments: [" + b"9" * 5000 + b"about_you]\n")  # found: OSError, file name too long
@example(data=b'id: s1\ninstruments: [games]\ninterview: {script: "a\\0b.yaml"}\n')  # a NUL byte in a file name
@example(data=b'id: s1\ninstruments: [games]\nexperiments: ["' + b"x" * 5000 + b'.yaml"]\n')  # found: the same
@example(data=b'id: s1\ninstruments: [games]\nexperiments: ["a\\0b.yaml"]\n')
@counted
def test_mutated_study_bytes_load_or_refuse(tmp_path, data):
    _read_study(tmp_path, data)


@given(document=st.sampled_from(STUDY_DOCUMENTS).flatmap(mutated_tree))
@example(document={"id": "s1", "instruments": ["games"], "interview": {"script": "\r"}})  # found: the name, raw, in the message
@example(document={"id": "s1", "instruments": ["games"], "interview": {"script": "a\nb.yaml"}})
@example(document={"id": "s1", "interview": {"required": False},
                   "instruments": [{"id": "gss", "questions": ["a\nb"]}]})  # found: unknown question ids, raw
@counted
def test_mutated_study_documents_load_or_refuse(tmp_path, document):
    _read_study(tmp_path, dump_yaml(document))


@settings(max_examples=scaled(8))
@given(data=mutated_bytes(STUDY_SEEDS[1:3], max_edits=2))
@counted
def test_study_create_command_exits_cleanly(tmp_path, data):
    base = fresh_dir(tmp_path)
    write(base / "mini.yaml", MINI)
    write(base / "script.yaml", STUDY_SCRIPT)
    path = write(base / "study.yaml", data)
    assert_clean_exit(*run_command(["study", "create", str(path)], base / "home"))


# -- behavioral experiment definitions ----------------------------------------------------------------------------
EXPERIMENT_SEEDS = [path.read_bytes() for path in sorted((REPO / "experiments" / "behavioral" / "studies").glob("*.yaml"))]
EXPERIMENT_DOCUMENTS = [yaml.safe_load(text) for text in EXPERIMENT_SEEDS]


def _read_experiment(folder, data: bytes) -> StudyDefinition | None:
    path = write(fresh_dir(folder) / "mine.yaml", data)
    return read_or_refuse(lambda: load_experiment_file(path), StudyDefinition)


@given(data=mutated_bytes(EXPERIMENT_SEEDS))
@example(data=b"\xa3" + EXPERIMENT_SEEDS[0])  # found: UnicodeDecodeError (only OSError was caught)
@example(data=b"id: x\x08\n")  # found: yaml's ReaderError message spans two lines
@counted
def test_mutated_experiment_bytes_load_or_refuse(tmp_path, data):
    _read_experiment(tmp_path, data)


@given(document=st.sampled_from(EXPERIMENT_DOCUMENTS).flatmap(mutated_tree))
@counted
def test_mutated_experiment_documents_load_or_refuse(tmp_path, document):
    experiment = _read_experiment(tmp_path, dump_yaml(document))
    if experiment is not None:  # a valid design has conditions, and every step's stimulus fills in each of them
        assert experiment.conditions
        for condition in experiment.conditions:
            for step in experiment.steps:
                assert isinstance(experiment.stimulus(step, condition), str)


@settings(max_examples=scaled(8))
@given(data=mutated_bytes(EXPERIMENT_SEEDS, max_edits=2))
@counted
def test_experiment_validate_command_exits_cleanly(tmp_path, data):
    base = fresh_dir(tmp_path)
    path = write(base / "mine.yaml", data)
    assert_clean_exit(*run_command(["experiment", "validate", str(path)], base / "home"))
