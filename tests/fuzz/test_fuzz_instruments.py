"""Fuzz: instrument files (surveys/instruments.py), YAML and JSON, mutated from the shipped instruments and the
tests' fixtures, and generated; `simulacra surveys validate` on a few of them."""

from __future__ import annotations

import yaml
from fuzz_helpers import (
    HUGE_DIGITS, REPO, assert_clean_exit, counted, dump_json, dump_yaml, fixture_text, fresh_dir, mutated_bytes,
    mutated_tree, read_or_refuse, run_command, scaled, write,
)
from hypothesis import example, given, settings
from hypothesis import strategies as st

from surveys.errors import DataFileError
from surveys.instruments import read_instrument_file, save_instrument
from surveys.model import Instrument

DATA = REPO / "surveys" / "data"


def _seed_texts() -> list[bytes]:
    texts = [(DATA / f"{name}.yaml").read_bytes() for name in ("about_you", "bfi44", "games")]
    gss = yaml.safe_load((DATA / "gss.yaml").read_text(encoding="utf-8"))
    gss["questions"] = gss["questions"][:12]  # the shipped GSS file, cut to a size that parses fast
    texts.append(dump_yaml(gss))
    texts.append(fixture_text("surveys/test_instruments.py", "GOOD").encode())
    texts.append(fixture_text("study/conftest.py", "MINI").encode())
    return texts


SEEDS = _seed_texts()
DOCUMENTS = [yaml.safe_load(text) for text in SEEDS]


def _read(folder, data: bytes, suffix: str = ".yaml") -> Instrument | None:
    path = write(fresh_dir(folder) / f"instrument{suffix}", data)
    return read_or_refuse(lambda: read_instrument_file(path), Instrument)


@given(data=mutated_bytes(SEEDS))
@example(data=b"id: x\ntitle: t\nquestions:\n  - id: q\n    text: t\n    kind: numeric\n    min: " + HUGE_DIGITS.encode()
         + b"\n    max: 2\n")
@example(data=b"id: x\ntitle: t\nquestions: []\nscoring: {a: " + HUGE_DIGITS.encode() + b"}\n")
@example(data=b"\x08id: x\ntitle: t\nquestions: []\n")  # found: yaml's ReaderError message spans two lines
@counted
def test_mutated_instrument_bytes_load_or_refuse(tmp_path, data):
    _read(tmp_path, data)


@given(document=st.sampled_from(DOCUMENTS).flatmap(mutated_tree), as_json=st.booleans())
@example(document={"id": "x", "title": "t", "questions": True}, as_json=False)  # found: TypeError before validation
@example(document={"id": "x", "title": "t", "questions": [{"id": "q", "text": "t", "kind": "ordinal", "options": 7}]},
         as_json=True)  # the same, one level down
@example(document={"id": "x", "title": "t", "questions": [{"id": "a\nb", "text": "t", "kind": "numeric", "min": 3, "max": 1}]},
         as_json=False)  # a question id with a newline, quoted in the message
@counted
def test_mutated_instrument_documents_load_or_refuse(tmp_path, document, as_json):
    if as_json:
        _read(tmp_path, dump_json(document).encode(), ".json")
    else:
        _read(tmp_path, dump_yaml(document))


# -- generated from scratch ---------------------------------------------------------------------------------
NAMES = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,20}", fullmatch=True).filter(lambda n: ".." not in n)
WORDS = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=30)
BOUNDS = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9)


@st.composite
def instrument_documents(draw) -> dict:
    """A valid instrument of random size, ids, wording (any unicode) and question kinds."""
    ids = draw(st.lists(NAMES, min_size=0, max_size=5, unique=True))
    questions = []
    for qid in ids:
        kind = draw(st.sampled_from(["categorical", "ordinal", "numeric", "open"]))
        question: dict = {"id": qid, "text": draw(WORDS), "kind": kind}
        if kind in ("categorical", "ordinal"):
            codes = draw(st.lists(st.one_of(NAMES, st.integers(0, 99)), min_size=2, max_size=5, unique_by=str))
            question["options"] = [{"code": code, "label": draw(WORDS)} for code in codes]
        elif kind == "numeric":
            low, high = sorted(draw(st.lists(BOUNDS, min_size=2, max_size=2, unique=True)))
            question.update({"min": low, "max": high, "integer": draw(st.booleans())})
            if draw(st.booleans()):
                question["unit"] = draw(WORDS)
        if draw(st.booleans()):
            question["block"] = draw(WORDS)
        questions.append(question)
    document = {"id": draw(NAMES), "title": draw(WORDS), "questions": questions}
    if draw(st.booleans()):
        document["description"] = draw(WORDS)
    return document


@given(document=instrument_documents().flatmap(lambda doc: st.one_of(st.just(doc), mutated_tree(doc, max_edits=1))))
@counted
def test_generated_instruments_load_or_refuse_and_round_trip(tmp_path, document):
    instrument = _read(tmp_path, dump_yaml(document))
    if instrument is None:
        return
    # an instrument the reader accepts can be saved and read back unchanged
    path = save_instrument(instrument, fresh_dir(tmp_path) / "saved.yaml")
    try:
        again = read_instrument_file(path)
    except DataFileError as exc:
        raise AssertionError(f"a saved instrument does not load again: {exc}") from None
    assert again == instrument


# -- the command ----------------------------------------------------------------------------------------------
@settings(max_examples=scaled(8))
@given(data=mutated_bytes(SEEDS))
@counted
def test_surveys_validate_command_exits_cleanly(tmp_path, data):
    base = fresh_dir(tmp_path)
    path = write(base / "mine.yaml", data)
    assert_clean_exit(*run_command(["surveys", "validate", str(path)], base / "home"))
