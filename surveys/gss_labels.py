"""GSS answers of any year onto the `gss` instrument's option codes, and GSS non-answers onto missing.

GSS extracts spell the same answer differently from year to year and from tool to tool: NORC's numeric
codes, gssr's Title-Case factor levels ("Lt Once a Year", "2 To 4 Years"), older long labels ("A U.S.
Citizen Born In Puerto Rico, The U.S. Virgin Islands, Or The Northern Marianas Islands"), abbreviations
("Yrs", "Dk", "Sevrl"), and the GSS's own non-answer codes (0 IAP, 8 DK, 9 NA, 98/99, the 2021+
negative codes) or their labels ("Iap", "Don't know", "No answer", "Skipped on web").

Everything this module knows is in ONE table, `surveys/data/gss_labels.yaml` (documented there and in
surveys/README.md): abbreviations, non-answer labels, per-item aliases (labels of other years that are
not the option label after normalization) and per-item missing codes (derived from the GSS codebook by
the rule in `missing_codes_for`). `GssValueMapper` applies it to one panel column; surveys.loaders uses
it for every panel (the shipped ones and `load_panel_file`). Whatever it still cannot map is reported
as unmapped (see `surveys.responses.describe_unmapped`), never dropped.

Precedence, for each distinct raw value (earlier wins, so an option is never read as a non-answer):
  text   1. an option code (the value as a number equal to a code: "2", "2.0");
         2. the generated 2006 label table (exact), then the normalized label index: option labels,
            option labels without their leading "N - " (WLTH* scales: "Rich" = "1 - rich"), the 2006
            labels and the aliases below, compared after `normalize`; then the same without any
            parenthesised part ("(If Volunteered)"); then a unique prefix match for long labels
            (labels cut at 80 characters by older exports);
         3. a number that is a GSS code of the item (recodes, y-version codes), as for numeric files;
         4. a non-answer label or the item's missing code -> missing;
  number 1. the item's shipped missing codes (INCOME 13) and `non_answers_before_recode` -> missing;
         2. the shipped recode / y-version code map, or the code itself, when it is an option code;
         3. the item's GSS missing codes (this table) -> missing.
Anything else is unmapped, with the reason.
"""

from __future__ import annotations

import csv
import functools
import gzip
import math
import re
import unicodedata
from pathlib import Path
from typing import Any, Iterable

import yaml

from surveys.instruments import DATA_DIR
from surveys.model import Question

TABLE_FILE = DATA_DIR / "gss_labels.yaml"
MISSING_TOKENS = {"", "na", "n/a", "nan", "none", "null"}  # the generic tokens of surveys.loaders.map_value
_DROP = re.compile(r"[.'’`]|(?<=\d),(?=\d{3})")  # dropped: "U.S." -> "us", "don't" -> "dont", "1,000" -> "1000"
_RANGE = re.compile(r"(?<=\d)\s*-\s*(?=\d)")  # "2-4" -> "2 to 4"
_OTHER = re.compile(r"[^0-9a-z]+")
_PAREN = re.compile(r"\([^)]*\)?")
_LEADING_CODE = re.compile(r"^\s*\d+\s*-\s*(?=\D)")  # "1 - rich" -> "rich"
_STATA_MISSING = re.compile(r"^\.[a-z]?$")  # Stata extended missing values written out: ".", ".d", ".i", ...
PREFIX_MIN = 30  # a normalized label this long may be matched by prefix (exports cut long labels)


@functools.lru_cache(maxsize=1)
def label_table() -> dict[str, Any]:
    """The documented table (surveys/data/gss_labels.yaml)."""
    with open(TABLE_FILE, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@functools.lru_cache(maxsize=1)
def shipped_panel_maps() -> dict[str, dict]:
    """The generated per-variable maps of the shipped panels (surveys/data/gss_panel_maps.yaml)."""
    with open(DATA_DIR / "gss_panel_maps.yaml", encoding="utf-8") as fh:
        return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))["variables"]


@functools.lru_cache(maxsize=1)
def _abbreviations() -> dict[str, str]:
    return {str(k).casefold(): str(v).casefold() for k, v in label_table()["abbreviations"].items()}


def normalize(text: Any) -> str:
    """Case, accents, punctuation, spacing and GSS abbreviations folded: 'Less Than 2 Yrs' -> 'less than 2 years'."""
    value = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode("ascii").casefold()
    value = value.replace("&", " and ")
    value = _DROP.sub("", value)
    value = _RANGE.sub(" to ", value)
    words = _OTHER.sub(" ", value).split()
    abbreviations = _abbreviations()
    return " ".join(abbreviations.get(word, word) for word in words)


def _without_parentheses(text: str) -> str:
    return normalize(_PAREN.sub(" ", str(text)))


@functools.lru_cache(maxsize=1)
def missing_labels() -> frozenset[str]:
    """Normalized labels of GSS non-answers (IAP, DK, NA, refused, skipped on web, ...)."""
    return frozenset(normalize(label) for label in label_table()["missing_labels"])


def as_code(raw: Any) -> str | None:
    """'2', '2.0', 2.0 -> '2'; None if the value is not a whole number."""
    if isinstance(raw, float) and math.isnan(raw):
        return None
    text = str(raw).strip()
    try:
        number = float(text)
    except ValueError:
        return None
    if math.isnan(number) or not number.is_integer():
        return None
    return str(int(number))


def missing_codes_for(variable: str) -> frozenset[str]:
    """The item's GSS non-answer codes: the table's per-item list, plus every negative code (2021+ releases)."""
    table = label_table()
    return frozenset(str(c) for c in table["missing_codes"].get(variable, table["default_missing_codes"]))


def aliases_for(variable: str) -> dict[str, str]:
    """Per-item aliases: other years' labels -> option code."""
    return {str(k): str(v) for k, v in (label_table()["aliases"].get(variable) or {}).items()}


class GssValueMapper:
    """Maps the raw values of one panel column (one GSS variable, one wave) onto one question's codes.

    `entry` is the variable's entry of surveys/data/gss_panel_maps.yaml (labels_2006, recodes, y-version
    codes, shipped missing codes); `recode` the recode table that applies to this wave.
    """

    def __init__(self, question: Question, variable: str, entry: dict | None = None, recode: dict | None = None):
        entry = shipped_panel_maps().get(variable, {}) if entry is None else entry
        self.question = question
        self.variable = variable
        self.option_codes = {o.code for o in question.options}
        self.labels_2006: dict[str, str] = {str(k): str(v) for k, v in (entry.get("labels_2006") or {}).items()}
        recode = entry.get("recode_2016_2020", {}) if recode is None else recode
        self.recode = {str(k): str(v) for k, v in (recode or {}).items()}
        self.y_codes = {str(k): str(v) for k, v in (entry.get("codes") or {}).items()}
        self.shipped_missing = {str(c) for c in entry.get("missing_codes", [])}
        self.shipped_missing |= {str(c) for c in (label_table().get("non_answers_before_recode") or {}).get(variable, [])}
        known = self.option_codes | set(self.recode) | set(self.y_codes)
        self.gss_missing = {c for c in missing_codes_for(variable) if c not in known}
        self._index, self._loose = self._label_index(question, variable)

    def _label_index(self, question: Question, variable: str) -> tuple[dict[str, str], dict[str, str]]:
        sources: list[tuple[str, str]] = []
        for option in question.options:
            sources.append((option.label, option.code))
        for option in question.options:
            stripped = _LEADING_CODE.sub("", option.label)
            if stripped != option.label:
                sources.append((stripped, option.code))
        sources += list(aliases_for(variable).items())
        if variable != question.id:
            sources += list(aliases_for(question.id).items())
        sources += list(self.labels_2006.items())
        index: dict[str, str] = {}
        loose: dict[str, str] = {}
        for label, code in sources:
            index.setdefault(normalize(label), code)
            loose.setdefault(_without_parentheses(label), code)
        index.pop("", None)
        loose.pop("", None)
        return index, loose

    # -- one value ---------------------------------------------------------------------------------
    def map_code(self, raw: Any) -> tuple[str | None, str | None]:
        """A numeric GSS code (NORC's): (code, None), (None, None) if a non-answer, (None, reason)."""
        code = as_code(raw)
        if code is None:
            return None, f"GSS {self.variable} value {raw!r} is not a GSS code of {self.question.id}"
        if code in self.shipped_missing:
            return None, None
        mapped = self.recode.get(code, self.y_codes.get(code, code))
        if mapped in self.option_codes:
            return mapped, None
        if code in self.gss_missing or code.startswith("-"):
            return None, None
        return None, f"GSS {self.variable} code {int(code)} is not an option of {self.question.id}"

    def map_label(self, raw: Any) -> tuple[str | None, str | None]:
        """A text value (a label of any year, or a code written as text)."""
        if raw is None or (isinstance(raw, float) and math.isnan(raw)):
            return None, None
        text = str(raw).strip()
        if text == "":
            return None, None
        code = as_code(text)
        if code is not None and code in self.option_codes:
            return code, None
        exact = self.labels_2006.get(text)
        if exact is not None:
            return exact, None
        key = normalize(text)
        found = self._index.get(key)
        if found is None:
            found = self._loose.get(_without_parentheses(text))
        if found is None and len(key) >= PREFIX_MIN:
            found = self._by_prefix(key)
        if found is not None:
            return found, None
        if code is not None:
            return self.map_code(code)
        if text.casefold() in MISSING_TOKENS or key in missing_labels() or _STATA_MISSING.match(text.casefold()):
            return None, None
        if not self.question.is_choice:
            return None, f"GSS {self.variable}: {text!r} is not a value of {self.question.id}"
        return None, f"GSS {self.variable}: {text!r} is neither an option code nor an option label of {self.question.id}"

    def _by_prefix(self, key: str) -> str | None:
        codes = {code for label, code in self._index.items()
                 if len(label) >= PREFIX_MIN and (key.startswith(label) or label.startswith(key))}
        return codes.pop() if len(codes) == 1 else None


# -- the per-item missing codes, derived from the GSS codebook -----------------------------------------
CANDIDATE_MISSING = (8, 9, 98, 99, 998, 999, 9998, 9999)


def missing_codes_rule(substantive: Iterable[int]) -> list[str]:
    """GSS convention: 0 is IAP unless it is an answer; DK/NA are the 8/9, 98/99, 998/999 ... above the answers."""
    codes = set(substantive)
    top = max(codes) if codes else 0
    out = [] if 0 in codes else [0]
    out += [c for c in CANDIDATE_MISSING if c > top and c not in codes]
    return [str(c) for c in out]


def codebook_codes(response_options: str) -> list[int]:
    """'1=too little | 2=about right' -> [1, 2]."""
    codes = []
    for part in str(response_options).split("|"):
        head = part.strip().split("=", 1)[0].strip()
        if re.fullmatch(r"-?\d+", head):
            codes.append(int(head))
    return codes


def derive_missing_codes(codebook: Path, variables: dict[str, list[str]]) -> dict[str, list[str]]:
    """Per variable, `missing_codes_rule` over the codebook's codes and the instrument's option codes.

    `variables`: variable -> the instrument's option codes for it. Used to write (and to check) the
    `missing_codes` section of gss_labels.yaml from ../shared/data/gss/gss_full_codebook_gssrdoc.csv.gz.
    """
    opener = gzip.open if str(codebook).endswith(".gz") else open
    with opener(codebook, "rt", encoding="utf-8") as fh:
        options = {row["variable"].strip().lower(): row["response_options"] for row in csv.DictReader(fh)}
    out = {}
    for variable, option_codes in sorted(variables.items()):
        codes = set(codebook_codes(options.get(variable, "")))
        codes |= {int(c) for c in option_codes if re.fullmatch(r"-?\d+", c)}
        out[variable] = missing_codes_rule(codes)
    return out
