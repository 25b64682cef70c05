#!/usr/bin/env python
"""Generate the shipped instrument files under surveys/data/ from the real data in ../shared/data.

    .venv/bin/python scripts/build_instruments.py            # writes gss.yaml, bfi44.yaml, games.yaml,
                                                             # gss_panel_maps.yaml
    .venv/bin/python scripts/build_instruments.py --check    # fails if the committed files are stale

Everything comes from the source files; nothing is invented. The decisions this script makes, and
why, are stated here so they can be reviewed:

GSS (gss/gss_park2024_177_items.csv, the paper's 177 categorical core items)
- Question id = `gss_variable` (lower-case GSS mnemonic); options = the `response_options` codes and labels
  verbatim (GSS numeric codes as strings).
- Wording: `source_text` = `question` verbatim (the GSS's interviewer-administered wording, instructions
  included); `text`, what respondents and agents read, is derived from it by the rules of
  surveys/wording.py (`gss_respondent_wording`: interviewer instructions removed, the item's own subject in
  place of "(READ ITEM A)", repeated clauses kept once, fills written for a reader; 13 items whose source is
  not a question get the wording of its REWRITES table, each with its reason). `meta.wording_rules` names the
  rules that changed the item. The build fails if a derived text still looks like an instruction
  (`surveys.wording.find_instructions`); the same check runs on the BFI-44 and games texts.
- MNTHSUSA lists only its endpoint labels (1 = 1 month, 11 = 11 months); its codes 1..11 are filled in
  as "N month(s)" (the codebook's own wording for the endpoints).
- The paper item "divorced" is GSS DIVORCE (editor note in the source); its id stays "divorced" (the
  file's `gss_variable`) and `meta.gss_variable` names the column in the panels ("divorce").
- Kind (ORDINAL vs nominal `categorical`), decided from the options only:
    an item is ordinal when it has at least 3 options, none of them lies off the scale (other, depends,
    refused, not sure, no children, no class, lived in institution, leaving labor force, works alone,
    pays no tax, ineligible, didn't vote, "volunteered" answers), and its first and last option labels
    (in code order) are the two ends of a graded scale listed in GRADED_SCALE_ENDS (amount, confidence,
    ease, happiness, satisfaction, likelihood, agreement, religiosity, health, schooling, income,
    frequency, counts, ideology, strictness, change). Everything else is nominal: two-option items (a
    yes/no is not a graded scale for the 1/k one-hot vs 0-1 spacing choice), classifications
    (region, race, religion, work status, ...), and scales whose code order is not the scale order
    (COURTS, DIVLAW, FINALTER: "about right"/"stay as is"/"stayed same" coded last).
  The reason for each item's kind is kept in `meta.kind_rule`.
- Y-versions (NATSPACY, SPKCOMY, ... asked on the other ballot form): the paper counts "natspac/y" as
  one item, so `meta.y_variable`, `meta.y_text` (when worded differently), `meta.y_options` (when
  labelled differently) and `meta.y_code_map` (y code -> base code, by label when the labels agree,
  else by code) let loaders fold the y answer onto the base item.
- `meta.paper` keeps the paper's per-item numbers (SM Table 3) and the derived 2-week consistency;
  `meta.human_retest` the GSS-panel retest agreement computed for this project.

GSS panel value maps (gss_panel_maps.yaml), used by surveys.loaders.load_gss_panel
- 2006 panel (text labels, gssr's factor levels): every label observed in the file is mapped to an
  option code: by case-insensitive equality with the option label, else by the hand-checked alias table
  ALIASES_2006 below (abbreviations such as "Mod. Satisfied", older wordings such as "Somewhat
  Unlikely" for code 3 of DISCAFFW), else a number equal to an option code (EDUC "12"). The script
  fails if a label stays unmapped and is not listed in UNMAPPABLE_2006.
- 2016-2020 panel (NORC numeric codes): RECODES_2016 lists the codes that are not the item's option
  codes: REG16 is stored as the nine census divisions (1 New England ... 9 Pacific) and is folded onto
  the four census regions of the item's options; HISPANIC's detailed origins (codes 5 and above)
  become 5 "another Hispanic, Latino, or Spanish origin"; USCITZN 3 and 4 (citizens born abroad to US
  parents / born in Puerto Rico and other territories) become 1 "a U.S. citizen". MISSING_2016 lists
  codes that are non-answers (INCOME 13 = refused). RECODES_2016_WAVE2 fixes ATTEND in the 2020
  re-interview, whose codes are the GSS codes plus one (the evidence is given beside the table). Any other code outside the options is reported
  by the loader as unmapped.

BFI-44 (bfi44/*.csv): ids bfi1..bfi44, text = the full prompt, ordinal 1-5 with the scale labels,
`meta.factor` / `meta.reverse_keyed`; the scoring block restates the key (reverse = 6 - x, trait = mean).

Games (paper_park2024/economic_games.csv): the SM describes the games but does not publish the
wording shown to participants, so each question text is reconstructed from the description (stated
in the instrument description and in `meta.wording`). The Trust Game receiver question needs an amount
received; the SM does not state it, so the question uses the largest possible transfer ($3 sent,
tripled to $9), giving the range 0-9 (`meta.assumption`). Prisoner's Dilemma: cooperate scales to 1,
defect to 0 (more prosocial = higher, like the other four games).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from surveys.model import Instrument  # noqa: E402
from surveys.paths import shared_data_dir  # noqa: E402
from surveys.wording import find_instructions, gss_respondent_wording  # noqa: E402

OUT_DIR = REPO / "surveys" / "data"

# ---------------------------------------------------------------------------------------------------
# GSS kind rule
OFF_SCALE = re.compile(
    r"\bother\b|depends|refused|not sure|no children|no class|lived in institution|leaving labor force"
    r"|works alone|pays no|ineligible|didn't vote|\(vol|volunteered|don't know"
)
GRADED_SCALE_ENDS: dict[tuple[str, str], str] = {
    ("too little", "too much"): "amount",
    ("a great deal", "hardly any"): "confidence",
    ("very easy", "not easy"): "ease",
    ("very happy", "not too happy"): "happiness",
    ("pretty well satisfied", "not satisfied at all"): "satisfaction",
    ("very satisfied", "very dissatisfied"): "satisfaction",
    ("very likely", "very unlikely"): "likelihood",
    ("strongly agree", "strongly disagree"): "agreement",
    ("fundamentalist", "liberal"): "religious fundamentalism",
    ("exciting", "dull"): "excitement",
    ("very religious", "not religious at all"): "religiosity",
    ("very spiritual", "not spiritual at all"): "spirituality",
    ("excellent", "poor"): "health",
    ("less than high school", "graduate"): "schooling",
    ("no formal schooling", "8 or more years of college"): "schooling",
    ("far below average", "far above average"): "relative income",
    ("increased a lot", "reduced a lot"): "change",
    ("much better", "much worse"): "comparison",
    ("every day", "never"): "frequency",
    ("several times a day", "never"): "frequency",
    ("never", "several times a week"): "frequency",
    ("none", "four"): "count",
    ("no visitors", "4 visitors"): "count",
    ("1 month", "11 months"): "count",
    ("1 - rich", "7 - poor"): "wealth",
    ("extremely liberal", "extremely conservative"): "ideology",
    ("under $1,000", "$25,000 or more"): "income",
    (
        "there should be laws against the distribution of pornography whatever the age",
        "there should be no laws forbidding the distribution of pornography",
    ): "strictness",
}


def gss_kind(options: list[tuple[str, str]]) -> tuple[str, str]:
    """(kind, reason) for a GSS item from its options, by the rule in the module docstring."""
    labels = [label.strip().casefold() for _, label in options]
    if len(labels) < 3:
        return "categorical", "two options"
    off = [label for label in labels if OFF_SCALE.search(label)]
    if off:
        return "categorical", f"off-scale option {off[0]!r}"
    scale = GRADED_SCALE_ENDS.get((labels[0], labels[-1]))
    if scale:
        return "ordinal", f"graded scale ({scale}), options in scale order"
    return "categorical", "options are categories, not one graded scale in code order"


# ---------------------------------------------------------------------------------------------------
# GSS panel value maps
ALIASES_2006: dict[str, dict[str, str]] = {
    "courts": {"Too Harsh": "1", "Not Harsh Enough": "2"},
    "discaffw": {"Somewhat Unlikely": "3"},
    "discaffm": {"Somewhat Unlikely": "3"},
    "reg16": {
        "New England": "1", "Middle Atlantic": "1", "E. Nor. Central": "2", "W. Nor. Central": "2",
        "South Atlantic": "3", "E. Sou. Central": "3", "W. Sou. Central": "3", "Mountain": "4", "Pacific": "4",
    },
    "mobile16": {"Same City": "1", "Same St,dif City": "2"},
    "famdif16": {"Parent Died": "1", "Divorce,separated": "2", "Armed Forces": "3", "Institution": "4"},
    "padeg": {"Lt High School": "0", "Junior College": "2", "Bachelor": "3"},
    "madeg": {"Lt High School": "0", "Junior College": "2", "Bachelor": "3"},
    "spdeg": {"Lt High School": "0", "Junior College": "2", "Bachelor": "3"},
    "degree": {"Lt High School": "0", "Junior College": "2", "Bachelor": "3"},
    "posslq": {
        "Married with Partner": "1", "Living as Married": "2", "Partner, not Together": "3", "No Steady Partner": "4",
    },
    "wrkstat": {
        "Working Fulltime": "1", "Working Parttime": "2", "Temp not Working": "3", "Unempl, Laid Off": "4", "School": "6",
    },
    "spwrksta": {
        "Working Fulltime": "1", "Working Parttime": "2", "Temp not Working": "3", "Unempl, Laid Off": "4", "School": "6",
    },
    "satjob": {"Mod. Satisfied": "2", "a Little Dissat": "3"},
    "spkath": {"Allowed": "1"},
    "spkrac": {"Allowed": "1"},
    "spkcom": {"Allowed": "1"},
    "spkhomo": {"Allowed": "1"},
    "colath": {"Allowed": "4"},
    "colrac": {"Allowed": "4"},
    "colhomo": {"Allowed": "4"},
    "colcom": {"Fired": "4"},
    "grass": {"Legal": "1", "Not Legal": "2"},
    "satfin": {"Satisfied": "1", "more or less": "2", "Not at all Sat": "3"},
    "wlthwhts": {"Rich": "1", "Poor": "7"},
    "wlthblks": {"Rich": "1", "Poor": "7"},
    "racwork": {"Half White-Black": "3"},
    "getahead": {"Hard Work": "1", "both Equally": "2", "Luck or Help": "3"},
    "kidssol": {"No Children -Volunteered-": "6"},
    "divlaw": {"Stay Same": "3"},
    "xmarsex": {"Almst Always Wrg": "2", "Sometimes Wrong": "3"},
    "homosex": {"Almst Always Wrg": "2", "Sometimes Wrong": "3"},
    "pornlaw": {"Illegal to all": "1", "Illegal under 18": "2", "Legal": "3"},
    "fair": {"Take Advantage": "1", "Fair": "2"},
    "helpful": {"Helpful": "1", "Lookout for Self": "2"},
    "trust": {"can Trust": "1", "Cannot Trust": "2"},
    "polviews": {"Moderate": "4", "Slghtly Conservative": "5", "Extrmly Conservative": "7"},
    "partyid": {"Not Str Democrat": "1", "Ind,near Dem": "2", "Independent": "3", "Ind,near Rep": "4", "Not Str Republican": "5"},
    "news": {"Everyday": "1", "few Times a Week": "2", "less than Once Wk": "4"},
    "relig": {"Moslem/Islam": "9", "Other Eastern": "8"},
    "relig16": {"Moslem/Islam": "9", "Other Eastern": "8"},
    "attend": {
        "Lt Once a Year": "1", "Once a Year": "2", "Sevrl Times a Yr": "3", "Once a Month": "4", "2-3x a Month": "5",
        "Nrly Every Week": "6", "more Thn Once Wk": "8",
    },
    "pray": {"Lt Once a Week": "5"},
    "bible": {"Book of Fables": "3", "Other": "4"},
    "relpersn": {"Modrte Religious": "2", "Slight Religious": "3", "Not Religious": "4"},
    "sprtprsn": {"Modeate Spirtual": "2", "Slight Spiritual": "3", "Not Spiritual": "4"},
    "granborn": {"all in U.s": "0"},
    "uscitzn": {
        "Born Outside of the United States to Parents Who Were U.s Citizens at that Time": "1",
        "a U.s. Citizen Born in Puerto Rico, the U.s. Virgin Islands, or the Northern Mar": "1",
    },
    "fucitzn": {"Not Eligible to Become a U.s. Citizen (if Volunteered)": "4"},
    "income": {
        "Lt $1000": "1", "$1000 to 2999": "2", "$3000 to 3999": "3", "$4000 to 4999": "4", "$5000 to 5999": "5",
        "$6000 to 6999": "6", "$7000 to 7999": "7", "$8000 to 9999": "8", "$10000 - 14999": "9",
        "$15000 - 19999": "10", "$20000 - 24999": "11", "$25000 or more": "12",
    },
    "rvisitor": {"R. is Household Member": "1", "R. is Visitor": "2"},
    "hispanic": {
        label: "5"
        for label in (
            "Argentinian", "Bolivian", "Central American", "Chilean", "Columbian", "Costa Rican", "Dominican",
            "Equadorian", "Filipino/a", "Guatemalan", "Hispanic", "Honduran", "Latino/a", "Nicaraguan", "Panamanian",
            "Peruvian", "Salvadorian", "South American", "Spanish", "Venezuelan",
        )
    },
    "richwork": {"Continue Working": "1"},
}
UNMAPPABLE_2006: dict[str, set[str]] = {}

# REG16: census division (GSS code) -> census region (the item's options)
_REG16_DIVISION_TO_REGION = {"0": "0", "1": "1", "2": "1", "3": "2", "4": "2", "5": "3", "6": "3", "7": "3", "8": "4", "9": "4"}
RECODES_2016: dict[str, dict[str, str]] = {
    "reg16": _REG16_DIVISION_TO_REGION,
    "hispanic": {str(code): "5" for code in range(5, 100)},
    "uscitzn": {"3": "1", "4": "1"},
}
# ATTEND in the 2020 re-interview (`attend_2`) runs 1..8 where 2016/2018 run 0..8: cross-tabulating the two
# waves puts the bulk of each 2016/2018 code c on 2020 code c + 1 (e.g. 348 of 506 "never" (0) -> 1;
# 163 of 326 "every week" (7) -> 8), so the 2020 codes are the GSS codes shifted by one ("several times a
# week" is absent from the 2020 column). Without the shift the item's retest agreement is 0.19 against
# 0.45 in the 2006-2010 panels; with it, it is in line with them.
RECODES_2016_WAVE2: dict[str, dict[str, str]] = {"attend": {str(code): str(code - 1) for code in range(1, 9)}}
MISSING_2016: dict[str, list[str]] = {"income": ["13"]}
RECODE_NOTES = {
    "reg16": "2016-2020 codes and 2006 labels are the nine census divisions; folded onto the four census regions",
    "hispanic": "detailed Hispanic origins (2016-2020 codes 5 and above; 2006 labels) folded onto 5 'another Hispanic, Latino, or Spanish origin'",
    "uscitzn": "codes 3/4 (U.S. citizen born abroad to U.S. parents / born in Puerto Rico or another territory) folded onto 1 'a U.S. citizen'",
    "income": "code 13 (refused) is a non-answer",
    "attend": "the 2020 re-interview codes are the GSS codes plus one (see scripts/build_instruments.py); shifted back",
}


# ---------------------------------------------------------------------------------------------------
PANELS = {"06": "2006", "08": "2008", "10": "2010", "20": "2016-2020"}


def _parse_options(text: str, where: str) -> list[tuple[str, str]]:
    options = []
    for part in text.split(" | "):
        code, sep, label = part.partition("=")
        if not sep or not code.strip():
            raise SystemExit(f"{where}: cannot parse option {part!r}")
        options.append((code.strip(), label.strip()))
    return options


def _num(text: str) -> float | None:
    return float(text) if text not in ("", None) else None


def build_gss(data: Path) -> tuple[dict, dict]:
    rows = list(csv.DictReader(open(data / "gss" / "gss_park2024_177_items.csv", newline="", encoding="utf-8")))
    questions = []
    for row in rows:
        var = row["gss_variable"].strip().lower()
        where = f"gss_park2024_177_items.csv [{var}]"
        if var == "mnthsusa":
            options = [(str(n), f"{n} month" if n == 1 else f"{n} months") for n in range(1, 12)]
        else:
            options = _parse_options(row["response_options"], where)
        kind, reason = gss_kind(options)
        meta: dict = {
            "paper_item": row["paper_item"],
            "gss_variable": "divorce" if var == "divorced" else var,
            "kind_rule": reason,
        }
        y_var = row["gss_variable_y_version"].strip().lower()
        if y_var:
            meta["y_variable"] = y_var
            y_text = row["question_y_version"].strip()
            if y_text and y_text != row["question"].strip():
                meta["y_text"] = y_text
            y_options = _parse_options(row["response_options_y_version"], where) if row["response_options_y_version"] else options
            if [label for _, label in y_options] != [label for _, label in options]:
                meta["y_options"] = [{"code": c, "label": lab} for c, lab in y_options]
            meta["y_code_map"] = _y_code_map(options, y_options, where)
        meta["paper"] = {
            "agent_accuracy": _num(row["paper_agent_accuracy"]),
            "normalized_accuracy": _num(row["paper_normalized_accuracy"]),
            "agent_correlation": _num(row["paper_agent_correlation"]),
            "normalized_correlation": _num(row["paper_normalized_correlation"]),
            "item_2week_consistency": _num(row["derived_paper_item_2week_consistency"]),
        }
        meta["human_retest"] = {
            "panel2016_2020": {
                "agreement": _num(row["retest_panel2016_2020_exact_agreement"]),
                "n_pairs": int(float(row["retest_panel2016_2020_n_pairs"] or 0)),
            },
            "panel2006_w1w2": {
                "agreement": _num(row["retest_panel2006_w1w2_exact_agreement"]),
                "n_pairs": int(float(row["retest_panel2006_w1w2_n_pairs"] or 0)),
            },
        }
        meta["in_panels"] = [name for p, name in PANELS.items() if row[f"in_panel{p}"] == "True"]
        if row["gssrdoc_families"]:
            meta["gss_families"] = row["gssrdoc_families"].split(";")
        meta["years_asked"] = row["years_asked"]
        if row["editor_note"].strip():
            meta["editor_note"] = row["editor_note"].strip()
        source = row["question"].strip()
        text, rules = gss_respondent_wording(var, source)
        if rules:
            meta["wording_rules"] = rules
        questions.append(
            {
                "id": var,
                "text": text,
                **({"source_text": source} if text != source else {}),
                "kind": kind,
                "options": [{"code": c, "label": lab} for c, lab in options],
                "description": row["description"].strip(),
                "meta": meta,
            }
        )
    instrument = {
        "id": "gss",
        "title": "GSS core items (Park et al. 2024, 177 categorical items)",
        "description": (
            "The 177 categorical General Social Survey core items listed in SM Table 3 of Park et al. 2024, with the "
            "GSS question wording and response options (kjhealy/gssrdoc; MARHOMO from kjhealy/gssr). Option codes are "
            "GSS numeric codes. Items marked /y in the paper also exist in a y-version asked on the other ballot form "
            "(meta.y_variable); answers to it count for the base item. Ordinal items are scored evenly spaced 0-1 for "
            "the correlation variant, nominal (categorical) items one-hot with 1/k weights; meta.kind_rule says why."
        ),
        "source": "shared/data/gss/gss_park2024_177_items.csv (generated by scripts/build_instruments.py)",
        "scoring": {
            "method": "exact_match",
            "normalized_by": "the person's own wave-1 vs wave-2 agreement",
            "correlation": "ordinal: evenly spaced 0-1; categorical: one-hot with 1/k weights",
        },
        "questions": questions,
    }
    return instrument, {q["id"]: q for q in questions}


def _y_code_map(options, y_options, where) -> dict[str, str]:
    base_by_label = {label.casefold(): code for code, label in options}
    if all(label.casefold() in base_by_label for _, label in y_options):
        return {code: base_by_label[label.casefold()] for code, label in y_options}
    base_codes = {code for code, _ in options}
    if len(y_options) == len(options) and all(code in base_codes for code, _ in y_options):
        return {code: code for code, _ in y_options}
    raise SystemExit(f"{where}: cannot map the y-version options onto the base options")


def build_panel_maps(data: Path, questions: dict[str, dict]) -> dict:
    """Raw panel value -> option code tables (see the module docstring)."""
    columns: dict[str, str] = {}  # panel column -> question id
    for qid, q in questions.items():
        columns[q["meta"]["gss_variable"]] = qid
        if "y_variable" in q["meta"]:
            columns[q["meta"]["y_variable"]] = qid

    observed: dict[str, Counter] = defaultdict(Counter)
    with gzip.open(data / "gss" / "gss_panel2006_3wave_long_park177.csv.gz", "rt", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            for column, value in row.items():
                if column in columns and value != "":
                    observed[column][value] += 1

    variables: dict[str, dict] = {}
    problems = []
    for column, qid in sorted(columns.items()):
        q = questions[qid]
        is_y = column == q["meta"].get("y_variable")
        entry: dict = {"item": qid}
        if is_y:
            entry["y_version"] = True
        labels_2006: dict[str, str] = {}
        option_codes = [o["code"] for o in q["options"]]
        y_map = q["meta"].get("y_code_map", {})
        own_options = q["meta"].get("y_options", q["options"]) if is_y else q["options"]
        by_label = {o["label"].casefold(): (y_map.get(o["code"], o["code"]) if is_y else o["code"]) for o in own_options}
        aliases = ALIASES_2006.get(column, {})
        for label in sorted(observed.get(column, {})):
            code = by_label.get(label.strip().casefold()) or aliases.get(label)
            if code is None and label.strip() in option_codes:
                code = label.strip()
            if code is None:
                if label not in UNMAPPABLE_2006.get(column, set()):
                    problems.append(f"2006 {column}: label {label!r} maps to no option")
                continue
            if code not in option_codes:
                problems.append(f"2006 {column}: alias {label!r} -> {code} is not an option code")
            labels_2006[label] = code
        for alias in aliases:
            if alias not in observed.get(column, {}):
                problems.append(f"2006 {column}: alias {alias!r} never occurs in the file")
        if labels_2006:
            entry["labels_2006"] = labels_2006
        if is_y and y_map:
            entry["codes"] = y_map
        if column in RECODES_2016:
            entry["recode_2016_2020"] = RECODES_2016[column]
        if column in RECODES_2016_WAVE2:
            entry["recode_2016_2020_wave2"] = RECODES_2016_WAVE2[column]
        if column in MISSING_2016:
            entry["missing_codes"] = MISSING_2016[column]
        if column in RECODE_NOTES:
            entry["note"] = RECODE_NOTES[column]
        variables[column] = entry
    if problems:
        raise SystemExit("panel maps:\n  " + "\n  ".join(problems))
    return {
        "description": (
            "How raw GSS panel values map onto the gss instrument's option codes (generated by "
            "scripts/build_instruments.py; the rules are in its docstring). Keys are panel column names; "
            "`item` is the question id, `labels_2006` maps the 2006 panel's text labels, `codes` maps a "
            "y-version's codes onto the base item's codes, `recode_2016_2020` maps numeric codes that are "
            "not option codes, `missing_codes` are non-answers."
        ),
        "variables": variables,
    }


def build_bfi(data: Path) -> dict:
    folder = data / "bfi44"
    scale = list(csv.DictReader(open(folder / "bfi44_scale.csv", newline="", encoding="utf-8")))
    options = [{"code": r["value"].strip(), "label": r["label"].strip()} for r in scale]
    scoring_rows = list(csv.DictReader(open(folder / "bfi44_scoring.csv", newline="", encoding="utf-8")))
    questions = []
    for row in csv.DictReader(open(folder / "bfi44_items.csv", newline="", encoding="utf-8")):
        n = int(row["item"])
        questions.append(
            {
                "id": f"bfi{n}",
                "text": row["full_prompt"].strip(),
                "kind": "ordinal",
                "options": options,
                "description": row["text"].strip(),
                "meta": {
                    "item": n,
                    "stem": row["stem"].strip(),
                    "factor": row["factor_code"].strip(),
                    "factor_name": row["factor"].strip(),
                    "reverse_keyed": row["reverse_keyed"].strip() == "1",
                },
            }
        )
    traits = {}
    for row in scoring_rows:
        keyed = row["items_keyed (R = reverse: score 6 - response)"].split()
        items = [f"bfi{k.rstrip('R')}" for k in keyed]
        reverse = [f"bfi{k.rstrip('R')}" for k in keyed if k.endswith("R")]
        traits[row["factor_code"]] = {"name": row["factor"], "items": items, "reverse": reverse}
        by_id = {q["id"]: q for q in questions}
        for qid in items:  # the key and the item list must agree
            q = by_id[qid]
            if q["meta"]["factor"] != row["factor_code"] or q["meta"]["reverse_keyed"] != (qid in reverse):
                raise SystemExit(f"bfi44: item {qid} disagrees between bfi44_items.csv and bfi44_scoring.csv")
    return {
        "id": "bfi44",
        "title": "Big Five Inventory (BFI-44)",
        "description": (
            "John & Srivastava 1999 (BFI-44): 44 items rated 1-5 from 'Disagree strongly' to 'Agree strongly'. "
            "Trait score = mean of the trait's items after reverse-keying (6 - x). Park et al. randomized the item order."
        ),
        "source": "shared/data/bfi44/ (generated by scripts/build_instruments.py); BFI (c) O. P. John, free for non-commercial research",
        "scoring": {"method": "bfi_traits", "reverse": "6 - x", "trait": "mean", "range": [1, 5], "traits": traits},
        "questions": questions,
    }


GAME_TEXT = {
    "game1_DG": (
        "dictator",
        "In this game you are paired with another participant in this study. You have been given $5. You decide how "
        "to split the $5 between yourself and the other participant; the other participant has no say and must "
        "accept your decision. How many dollars of the $5 do you give to the other participant (from $0 to $5)?",
        {"min": 0, "max": 5, "unit": "USD"},
    ),
    "game2_TF1": (
        "trust_sender",
        "In this game you are Player 1 and another participant is Player 2. You have been given $3. You may send any "
        "part of it, from $0 to $3, to Player 2. Every dollar you send is tripled: for each $1 you send, Player 2 "
        "receives $3. Player 2 then decides how much of the tripled amount to send back to you. How many dollars of "
        "your $3 do you send to Player 2?",
        {"min": 0, "max": 3, "unit": "USD"},
    ),
    "game3_TF2": (
        "trust_receiver",
        "In this game you are Player 2 and another participant is Player 1. Player 1 was given $3 and could send any "
        "part of it to you; every dollar sent was tripled. Player 1 sent you $3, so you received $9. You now decide "
        "how much of the $9 to return to Player 1; you keep the rest. How many dollars do you return to Player 1 "
        "(from $0 to $9)?",
        {"min": 0, "max": 9, "unit": "USD"},
    ),
    "game4_PG": (
        "public_goods",
        "In this game you are in a group of 4 participants, and each of you has been given $4. Each of you decides "
        "how much of your $4 to contribute to a group project and how much to keep. All contributions are doubled "
        "and then split equally among the 4 group members, whatever each member contributed. How many dollars of "
        "your $4 do you contribute to the group project (from $0 to $4)?",
        {"min": 0, "max": 4, "unit": "USD"},
    ),
    "game5_PD": (
        "prisoners_dilemma",
        "In this game you are paired with another participant in this study. Each of you chooses, without knowing "
        "the other's choice, to cooperate or to defect. If you both cooperate, you each get $6. If one of you "
        "defects and the other cooperates, the one who defects gets $8 and the one who cooperates gets $2. If you "
        "both defect, you each get $4. Do you cooperate or defect?",
        None,
    ),
}


def build_games(data: Path) -> dict:
    rows = list(csv.DictReader(open(data / "paper_park2024" / "economic_games.csv", newline="", encoding="utf-8")))
    questions = []
    for row in rows:
        if row["game_id"] not in GAME_TEXT:
            raise SystemExit(f"economic_games.csv: unknown game {row['game_id']}")
        qid, text, numeric = GAME_TEXT[row["game_id"]]
        meta = {
            "game_id": row["game_id"],
            "game": row["game"],
            "reference": row["reference"],
            "decision": row["decision"],
            "range_as_stated": row["range_as_stated"],
            "normalization": row["normalization"],
            "wording": "reconstructed from the SM description (the wording shown to participants is not published)",
            "paper": {
                "construct_mae": _num(row["construct_level_MAE"]),
                "construct_correlation": _num(row["construct_level_corr"]),
                "construct_correlation_replication_ratio": _num(row["construct_level_corr_replication_ratio"]),
            },
        }
        question = {"id": qid, "text": text, "block": "economic games", "description": row["game"], "meta": meta}
        if numeric:
            question.update(kind="numeric", **numeric)
            meta["scale"] = f"(x - {numeric['min']}) / ({numeric['max']} - {numeric['min']})"
        else:
            question.update(kind="categorical", options=[{"code": "cooperate", "label": "Cooperate"}, {"code": "defect", "label": "Defect"}])
            meta["scale"] = {"cooperate": 1.0, "defect": 0.0}
        if row["game_id"] == "game3_TF2":
            meta["assumption"] = (
                "the SM does not state the amount shown to the receiver; the question uses the largest transfer "
                "($3 sent, tripled to $9), so the offered range is 0-9"
            )
        questions.append(question)
    return {
        "id": "games",
        "title": "Economic games (Park et al. 2024, SM 4)",
        "description": (
            "Five economic games as run by Park et al.: Dictator ($5), Trust Game sender ($3, tripled), Trust Game "
            "receiver (returns part of the tripled amount), Public Goods (groups of 4, $4 each, doubled, split equally) "
            "and Prisoner's Dilemma (6/6, 8/2, 4/4). The question wording is RECONSTRUCTED from the paper's descriptions "
            "(the wording shown to participants is not published); the Trust receiver question assumes the full $3 was "
            "sent ($9 received). Each response is scaled 0-1 by the range offered; in the Prisoner's Dilemma cooperate = 1, "
            "defect = 0."
        ),
        "source": "shared/data/paper_park2024/economic_games.csv (generated by scripts/build_instruments.py)",
        "scoring": {"method": "scale_by_range", "metrics": ["MAE", "correlation"]},
        "questions": questions,
    }


def check_wording(name: str, document: dict) -> None:
    """Fail the build when a question text a respondent or an agent reads still looks like an instruction."""
    problems = [f"{name} [{q['id']}]: {hit}" for q in document["questions"] for hit in find_instructions(q["text"])]
    if problems:
        raise SystemExit("interviewer instructions left in respondent-facing text:\n  " + "\n  ".join(problems))


def dump(document: dict) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed files instead of writing")
    parser.add_argument("--data", type=Path, default=None, help="shared data folder (default: surveys.paths)")
    args = parser.parse_args(argv)
    data = args.data or shared_data_dir()

    gss, gss_questions = build_gss(data)
    outputs = {
        "gss.yaml": gss,
        "bfi44.yaml": build_bfi(data),
        "games.yaml": build_games(data),
        "gss_panel_maps.yaml": build_panel_maps(data, gss_questions),
    }
    stale = []
    for name, document in outputs.items():
        if name != "gss_panel_maps.yaml":
            Instrument.model_validate(document)  # the generated file must load
            check_wording(name, document)
        text = f"# generated by scripts/build_instruments.py from shared/data: do not edit by hand\n{dump(document)}"
        path = OUT_DIR / name
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
            continue
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(REPO)} ({len(text.encode()) / 1024:.0f} KiB)")
    kinds = Counter(q["kind"] for q in gss["questions"])
    print(f"gss: {len(gss['questions'])} items, {dict(kinds)}")
    if stale:
        print("stale (rerun scripts/build_instruments.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
