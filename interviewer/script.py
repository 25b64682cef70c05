"""Interview scripts: ordered blocks of questions, each with a time budget in seconds and an objective.

A script is a YAML file (format in interviewer/README.md). `load_script("default")` gives the paper's
script (SM Table 7, built once by scripts/build_interview_script.py into interviewer/data/); any other
name is looked up in interviewer/data/, and a path is read as is. A malformed file raises
`DataFileError` naming the line, so the author can fix it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from simulacra.errors import DataFileError
from surveys.errors import number_too_long
from surveys.instruments import refuse_alias_bombs
from surveys.names import check_name

DATA_DIR = Path(__file__).parent / "data"
QuestionKind = Literal["intro", "question", "closing"]
_DURATION = re.compile(r"^\s*(?:(?P<h>\d+(?:\.\d+)?)\s*h)?\s*(?:(?P<m>\d+(?:\.\d+)?)\s*m(?:in)?)?\s*(?:(?P<s>\d+(?:\.\d+)?)\s*s?)?\s*$")


def parse_duration(value: Any) -> float:
    """Seconds from a number or a short text like "90", "90s", "2m", "1m30s", "1h"."""
    if isinstance(value, bool):
        raise ValueError("a time budget must be a number of seconds")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match and any(match.groupdict().values()):
            parts = {k: float(v) for k, v in match.groupdict().items() if v}
            return parts.get("h", 0) * 3600 + parts.get("m", 0) * 60 + parts.get("s", 0)
    raise ValueError(f"{value!r} is not a time budget (write seconds, e.g. 90, or text like '1m30s')")


class ScriptQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    text: str = Field(min_length=1)
    budget_s: float = Field(ge=0)
    objective: str | None = None  # what the interviewer wants to learn; the question text when absent
    kind: QuestionKind = "question"

    @field_validator("budget_s", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return check_name(value, kind="question")

    @property
    def expects_answer(self) -> bool:
        """The closing line ends the interview; everything else waits for the respondent."""
        return self.kind != "closing"


class Block(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    label: str = ""
    questions: list[ScriptQuestion] = Field(min_length=1)

    @property
    def budget_s(self) -> float:
        return sum(q.budget_s for q in self.questions)


class Script(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    title: str = ""
    description: str = ""
    source: str = ""
    interviewer_name: str = "Isabella"
    language: str = "English"
    blocks: list[Block] = Field(min_length=1)

    def items(self) -> Iterator[tuple[Block, ScriptQuestion]]:
        """Every question in asking order, with its block."""
        for block in self.blocks:
            for question in block.questions:
                yield block, question

    @property
    def total_budget_s(self) -> float:
        return sum(b.budget_s for b in self.blocks)

    @property
    def question_count(self) -> int:
        """Questions proper (intro and closing lines not counted)."""
        return sum(1 for _, q in self.items() if q.kind == "question")


# -- loading -----------------------------------------------------------------------------------------------


def available_scripts() -> list[str]:
    return sorted(p.stem.removesuffix("_script") for p in DATA_DIR.glob("*_script.yaml"))


def _resolve(name_or_path: str) -> Path:
    candidate = Path(name_or_path).expanduser()
    try:
        is_file = candidate.is_file()
    except (OSError, ValueError):  # a name no file can have (too long, a NUL byte)
        is_file = False
    if candidate.suffix in (".yaml", ".yml") or is_file or "/" in name_or_path:
        if not is_file:
            raise DataFileError(candidate, "no such script file")
        return candidate
    packaged = DATA_DIR / f"{name_or_path}_script.yaml"
    if packaged.is_file():
        return packaged
    names = ", ".join(available_scripts()) or "none"
    raise DataFileError(name_or_path, f"no such script (packaged scripts: {names}; or give a path to a .yaml file)")


def _node_at(node: yaml.Node, loc: tuple[Any, ...]) -> yaml.Node:
    """The deepest YAML node along a pydantic error location (for its line number)."""
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == part:
                    node = value
                    break
            else:
                return node
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            return node
    return node


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _fill_defaults(data: dict[str, Any], path: Path) -> None:
    """Ids an author may leave out: the script's from the file name, a question's from its block and position."""
    data.setdefault("id", path.stem.removesuffix("_script"))
    data.setdefault("title", data["id"])
    blocks = data.get("blocks")
    for block in blocks if isinstance(blocks, list) else []:  # anything else is reported by validation
        if not isinstance(block, dict):
            continue
        if "id" in block and "label" not in block:
            block["label"] = str(block["id"]).replace("_", " ").capitalize()
        questions = block.get("questions")
        for number, question in enumerate(questions if isinstance(questions, list) else [], start=1):
            if isinstance(question, dict) and "id" not in question and "id" in block:
                question["id"] = f"{block['id']}-{number}"


def parse_script(text: str, path: Path) -> Script:
    """Parse and check a script's YAML text; errors name `path` and the line."""
    try:
        refuse_alias_bombs(text, path)  # before any loader expands the aliases
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise DataFileError(path, f"not valid YAML: {exc.problem}", line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:  # a ReaderError (a control character): no mark, two lines of text
        raise DataFileError(path, f"not valid YAML: {str(exc).split(chr(10))[0]}",
                            line=text.count("\n", 0, getattr(exc, "position", 0) or 0) + 1) from None
    except ValueError as exc:  # an integer past Python's int-from-text limit
        raise number_too_long(path, text, exc) from None
    if not isinstance(data, dict) or root is None:
        raise DataFileError(path, "a script is a mapping with 'id', 'title' and 'blocks'", line=1)
    _fill_defaults(data, path)
    try:
        script = Script.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # a misspelt field also shows up as a missing one: name the misspelling, it is the cause
        first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        loc = tuple(first["loc"])
        node = _node_at(root, loc)
        field = ".".join(map(str, loc)) or None
        message = first["msg"]
        if first["type"] == "missing":
            message = f"missing required field '{loc[-1]}'"
        elif first["type"] == "extra_forbidden":
            message = f"unknown field '{loc[-1]}' (see interviewer/README.md for the format)"
        raise DataFileError(path, message, line=_line(node), field=field) from None
    _check(script, root, path)
    return script


def _check(script: Script, root: yaml.Node, path: Path) -> None:
    """Rules a schema cannot express: unique ids, intro first, closing last."""
    seen_blocks: set[str] = set()
    seen_questions: set[str] = set()
    items = list(script.items())
    position = 0
    for b, block in enumerate(script.blocks):
        if block.id in seen_blocks:
            node = _node_at(root, ("blocks", b, "id"))
            raise DataFileError(path, f"block id {block.id!r} appears twice", line=_line(node), field=f"blocks.{b}.id")
        seen_blocks.add(block.id)
        for q, question in enumerate(block.questions):
            where = ("blocks", b, "questions", q)
            if question.id in seen_questions:
                node = _node_at(root, where + ("id",))
                raise DataFileError(path, f"question id {question.id!r} appears twice", line=_line(node), field=".".join(map(str, where)) + ".id")
            seen_questions.add(question.id)
            if question.kind == "intro" and position != 0:
                raise DataFileError(path, "an intro can only be the first line of the script", line=_line(_node_at(root, where)))
            if question.kind == "closing" and position != len(items) - 1:
                raise DataFileError(path, "a closing can only be the last line of the script", line=_line(_node_at(root, where)))
            position += 1
    if not any(q.kind == "question" for _, q in items):
        raise DataFileError(path, "the script has no questions (kind: question)", line=_line(root))


def load_script(name_or_path: str = "default") -> Script:
    """A packaged script by name ("default") or a YAML file by path."""
    path = _resolve(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataFileError(path, "not a UTF-8 text file") from None
    return parse_script(text, path)


def shorten(script: Script, max_minutes: float) -> Script:
    """The same questions with every budget scaled by one factor so the total fits `max_minutes`.

    A script already within the limit comes back unchanged; the intro and closing keep their zero budgets.
    """
    if max_minutes <= 0:
        raise ValueError("max_minutes must be positive")
    total = script.total_budget_s
    limit = max_minutes * 60.0
    if total <= limit:
        return script.model_copy(deep=True)
    factor = limit / total
    shortened = script.model_copy(deep=True)
    for block in shortened.blocks:
        for question in block.questions:
            question.budget_s = round(question.budget_s * factor, 2)
    return shortened


def select_blocks(script: Script, block_ids: list[str]) -> Script:
    """Only the named blocks (plus the intro and closing), for focused or quick sessions."""
    known = {b.id for b in script.blocks}
    unknown = [b for b in block_ids if b not in known]
    if unknown:
        raise DataFileError(script.id, f"unknown block(s) {', '.join(unknown)} (blocks: {', '.join(sorted(known))})")
    wanted = set(block_ids)
    keep = [
        b for b in script.blocks
        if b.id in wanted or all(q.kind in ("intro", "closing") for q in b.questions)
    ]
    return script.model_copy(update={"blocks": [b.model_copy(deep=True) for b in keep]})
