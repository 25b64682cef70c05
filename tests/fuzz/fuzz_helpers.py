"""Shared pieces of the fuzz tests: the property every reader must keep, mutation strategies, seeds, a counter.

The property (issue #24, item 5): a reader given any bytes either returns a valid object or raises a
`SimulacraError` (surveys' `SimulacraError` is the same class) whose message is one non-empty line. Any other
exception type is a traceback the user would see, and fails the test.

Mutations start from valid files (the shipped ones, the real data samples, the tests' fixtures) and apply a
few edits each: byte flips, truncation, deleted / duplicated / swapped lines, inserted bytes, and, on the
parsed document, scalars replaced by huge integers, nan, infinities, unicode, nested structures or nothing.
"""

from __future__ import annotations

import contextlib
import functools
import io
import itertools
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import yaml
from hypothesis import strategies as st

from simulacra.errors import SimulacraError

MAX_EXAMPLES = 75  # the `ci` profile's examples per test (tests/fuzz/conftest.py)

# Examples run per test (printed at the end of the session by tests/fuzz/conftest.py).
COUNTS: Counter[str] = Counter()
ACCEPTED: Counter[str] = Counter()  # of those, how many a reader accepted (the rest were refused with one line)
_CURRENT: list[str] = [""]

HUGE_DIGITS = "9" * 5001  # past Python's 4,300-digit int/str conversion limit (issue #24, finding 5)
_HUGE = "HUGEINTPLACEHOLDER"  # stands for HUGE_DIGITS in a document until it is written as text


def counted(fn: Callable) -> Callable:
    """Count the examples a Hypothesis test runs (put it directly under `@given`)."""
    key = f"{fn.__module__.rsplit('.', 1)[-1]}::{fn.__name__}"

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        COUNTS[key] += 1
        _CURRENT[0] = key
        return fn(*args, **kwargs)

    return wrapper


def scaled(examples: int) -> int:
    """A test's own example count, scaled like the loaded profile (`deep` runs ten times as many)."""
    from hypothesis import settings

    return max(1, examples * settings.default.max_examples // MAX_EXAMPLES)


# -- the property -------------------------------------------------------------------------------------------
def one_line_error(exc: BaseException) -> str:
    message = str(exc)
    assert message.strip(), f"{type(exc).__name__} with an empty message"
    assert "\n" not in message and "\r" not in message, f"{type(exc).__name__} message is not one line: {message!r}"
    return message


def read_or_refuse(call: Callable[[], Any], expected: type | tuple[type, ...] | None = None) -> Any:
    """`call()`'s result (an instance of `expected` when given), or None when it raised a one-line
    SimulacraError. Any other exception propagates and fails the example."""
    try:
        result = call()
    except SimulacraError as exc:
        one_line_error(exc)
        return None
    if expected is not None:
        assert isinstance(result, expected), f"expected {expected}, got {type(result).__name__}"
    ACCEPTED[_CURRENT[0]] += 1
    return result


def note_success() -> None:
    """Count an example that succeeded (a reader that returned an object, a 2xx answer)."""
    ACCEPTED[_CURRENT[0]] += 1


def run_command(args: list[str], home: Path) -> tuple[int, str]:
    """`simulacra ARGS` in-process through the real entry point (`experiments.cli.main`) on the workspace
    `home` (a fresh one per example): (exit code, output). The exit code is 0 when main returns; any
    exception other than SystemExit propagates (it would be a traceback)."""
    from experiments.cli import main

    out, err = io.StringIO(), io.StringIO()
    argv, old_home = sys.argv, os.environ.get("SIMULACRA_HOME")
    sys.argv = ["simulacra", *args]
    os.environ["SIMULACRA_HOME"] = str(home)
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = argv
        if old_home is None:
            os.environ.pop("SIMULACRA_HOME", None)
        else:
            os.environ["SIMULACRA_HOME"] = old_home
    return code, out.getvalue() + err.getvalue()


def assert_clean_exit(code: int, output: str) -> None:
    if code == 0:
        ACCEPTED[_CURRENT[0]] += 1
    assert code in (0, 1), f"exit code {code}: {output[-2000:]}"
    assert "Traceback" not in output, output[-2000:]
    if code == 1:
        errors = [line for line in output.splitlines() if line.startswith(("error:", "invalid"))]
        assert errors, f"exit 1 without an error line: {output[-2000:]}"


# -- weird values ------------------------------------------------------------------------------------------
_SPECIAL = [
    None, True, False, 0, -1, 2**63, -(2**63) - 1, 10**400, 1e308, 1e-320, -0.0,
    float("nan"), float("inf"), float("-inf"), _HUGE,
    "", " ", "\t", "0", "1.0", "nan", "NaN", ".nan", "inf", "-inf", "1e309", "true", "null", "~", "yes", "no",
    "\u202eevil\u202c", "\u200b", "😀" * 20, "é" * 3, "日本語", "\ufeff", "\\", '"', "'", "{", "[", "&a", "*a",
    "../../../../outside/x", "/etc/passwd", "a/b", "..", ".", "-", "x" * 5000, "=SUM(1,2)", "a\nb", "a\r\nb",
]


def weird_values() -> st.SearchStrategy[Any]:
    leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8))
    nested = st.recursive(
        leaves, lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
        max_leaves=6,
    )
    return st.one_of(st.sampled_from(_SPECIAL), st.integers(), st.floats(), st.text(max_size=40), nested)


# -- tree mutations (on a parsed YAML / JSON document) ---------------------------------------------------------
def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, prefix + (index,))
    return out


def _parent(doc: Any, path: tuple) -> Any:
    for part in path[:-1]:
        doc = doc[part]
    return doc


@st.composite
def mutated_tree(draw: st.DrawFn, document: Any, max_edits: int = 3) -> Any:
    """A deep copy of `document` with 1..max_edits edits: a value replaced by a weird one, deleted, duplicated,
    wrapped in a list or mapping, or a key renamed."""
    doc = json.loads(json.dumps(document, default=str))  # a deep copy of plain data
    wrapper = {"root": doc}
    for _ in range(draw(st.integers(1, max_edits))):
        paths = _paths(wrapper["root"], ("root",))
        path = draw(st.sampled_from(paths))
        parent = _parent(wrapper, path)
        key = path[-1]
        edit = draw(st.sampled_from(["replace", "replace", "replace", "delete", "duplicate", "wrap", "rename"]))
        if edit == "replace" or path == ("root",):
            parent[key] = draw(weird_values())
        elif edit == "delete":
            del parent[key]
        elif edit == "duplicate":
            if isinstance(parent, list):
                parent.insert(key, json.loads(json.dumps(parent[key], default=str)))
            else:
                parent[f"{key}2"] = json.loads(json.dumps(parent[key], default=str))
        elif edit == "wrap":
            parent[key] = draw(st.sampled_from([[parent[key]], {"value": parent[key]}, [parent[key], parent[key]]]))
        else:  # rename a key
            if isinstance(parent, dict):
                parent[draw(st.sampled_from([f"{key}x", str(key).upper(), "", "questions", "id", "?"]))] = parent.pop(key)
            else:
                parent[key] = draw(weird_values())
    return wrapper.get("root")


def dump_yaml(document: Any) -> bytes:
    text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=4096)
    return text.replace(_HUGE, HUGE_DIGITS).encode("utf-8")


def dump_json(document: Any, **kwargs: Any) -> str:
    return json.dumps(document, ensure_ascii=False, **kwargs).replace(f'"{_HUGE}"', HUGE_DIGITS)


# -- byte mutations -----------------------------------------------------------------------------------------
_INSERTS = [b"\x00", b"\xff\xfe", b"\xc3", b"\n", b"\r", b"\t", b":", b",", b'"', b"'", b"-", b"{", b"[", b"&a ", b"*a",
            b"!!python/object:os.system ", b"\xef\xbb\xbf", HUGE_DIGITS.encode(), b".nan", b"\xe2\x80\xae"]


@st.composite
def mutated_bytes(draw: st.DrawFn, seeds: list[bytes], max_edits: int = 4) -> bytes:
    """One of `seeds` with 1..max_edits byte- or line-level edits."""
    data = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(1, max_edits))):
        edit = draw(st.sampled_from(["flip", "truncate", "delete_line", "duplicate_line", "swap_lines", "insert",
                                     "replace_scalar", "indent"]))
        if not data:
            data = draw(st.sampled_from(_INSERTS))
            continue
        position = draw(st.integers(0, len(data) - 1))
        lines = data.split(b"\n")
        line = draw(st.integers(0, len(lines) - 1))
        if edit == "flip":
            data = data[:position] + bytes([data[position] ^ draw(st.integers(1, 255))]) + data[position + 1:]
        elif edit == "truncate":
            data = data[:position]
        elif edit == "delete_line":
            data = b"\n".join(lines[:line] + lines[line + 1:])
        elif edit == "duplicate_line":
            data = b"\n".join(lines[:line + 1] + lines[line:])
        elif edit == "swap_lines":
            other = draw(st.integers(0, len(lines) - 1))
            lines[line], lines[other] = lines[other], lines[line]
            data = b"\n".join(lines)
        elif edit == "insert":
            data = data[:position] + draw(st.sampled_from(_INSERTS)) + data[position:]
        elif edit == "replace_scalar":  # the value after a `key:` or one CSV cell
            target = lines[line]
            value = draw(st.sampled_from(_SPECIAL))
            text = (HUGE_DIGITS if value == _HUGE else str(value)).encode("utf-8", "replace")
            if b": " in target:
                lines[line] = target.split(b": ", 1)[0] + b": " + text
            elif b"," in target:
                cells = target.split(b",")
                cells[draw(st.integers(0, len(cells) - 1))] = text
                lines[line] = b",".join(cells)
            else:
                lines[line] = text
            data = b"\n".join(lines)
        else:  # indent
            lines[line] = (b"  " + lines[line]) if draw(st.booleans()) else lines[line].lstrip(b" ")
            data = b"\n".join(lines)
    return data


# -- seeds --------------------------------------------------------------------------------------------------
def read_seed(path: Path) -> bytes:
    return Path(path).read_bytes()


def yaml_document(text: str | bytes) -> Any:
    return yaml.safe_load(text)


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    path.write_bytes(data)
    return path


_FOLDERS = itertools.count()


def fresh_dir(root: Path) -> Path:
    """A new empty folder under `root` (one per example)."""
    folder = Path(root) / f"example-{next(_FOLDERS)}"
    folder.mkdir(parents=True)
    return folder


TESTS_DIR = Path(__file__).resolve().parent.parent
REPO = TESTS_DIR.parent


def fixture_text(relative: str, name: str) -> str:
    """A module-level string constant of another test module (its fixture text), read without importing it."""
    import ast

    tree = ast.parse((TESTS_DIR / relative).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise LookupError(f"{relative} has no constant {name}")
