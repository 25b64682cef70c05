"""Respondent-facing wording: self-administered question text derived from interviewer-administered source text.

The GSS documents its questions as the interviewer reads them: instructions to the interviewer ("READ EACH
STATEMENT, AND CIRCLE ONE CODE FOR EACH"), placeholders for the battery item ("First (READ ITEM A) . . . are we
spending too much ... on (ITEM)? A. Space exploration program"), routing ("IF YES:"), fills the interviewer
chooses from ("(city/town/community)") and, in one battery, a clause the source repeats. A person reading the
question on a page, or an agent reading it in a prompt, must see the question only. `respondent_wording(text)`
applies the rules below, in this order, and says which ones changed the text; `scripts/build_instruments.py`
applies it when it builds `surveys/data/gss.yaml` (the source wording is kept beside it in `Question.source_text`).
`find_instructions(text)` lists what still looks like an instruction; tests assert it finds nothing in any shipped
question, study page or agent prompt, and `surveys.qsf` notes it for imported questions.

| rule | what it does | example (source -> respondent-facing) |
|---|---|---|
| `source_typos` | doubled apostrophes of the source (an SQL-style escape) become one | `woman''s own health` -> `woman's own health` |
| `codebook_note` | a note of the codebook, not of the questionnaire, is dropped | `... when you were 16 years old? As of 2024, REG16 has been recoded ...` -> `... when you were 16 years old?` |
| `repeated_clause` | a run of 4 or more words repeated back to back is kept once | `I'm going to name some of these problems, and for each one I'd like you to name some of these problems, and for each one I'd like you to tell me` -> `I'm going to name some of these problems, and for each one I'd like you to tell me` |
| `item_placeholder` | "(READ ITEM A) . . . <question about (ITEM)>? A. <item>": the item's own subject takes the place of "(ITEM)" (first letter lower case unless the subject starts with a name such as "Social Security"), the battery's "First" and the item's letter go | `First (READ ITEM A) . . . are we spending too much, too little, or about the right amount on (ITEM)? A. Space exploration program` -> `Are we spending too much, too little, or about the right amount on space exploration program?` |
| `card_reference` | references to a show card or its letters are dropped | `... fall last year before taxes, that is? Just tell me the letter.` -> `... fall last year before taxes, that is?` |
| `conditional_insert` | "(IF <condition>: <words>)" inside a sentence: the words stay, the condition goes | `in your home (IF HOUSE:  or garage) any guns` -> `in your home or garage any guns` |
| `fill` | fills the interviewer chooses from are written for a reader (table FILLS) | `in your (city/town/community)` -> `in your city, town or community` |
| `instruction` | interviewer instructions go: parenthesised instructions, probes and follow-ups for other items, and sentences in capitals | `... obtain a legal abortion if. . .READ EACH STATEMENT, AND CIRCLE ONE CODE FOR EACH. A. If there ...` -> `... obtain a legal abortion if. . . A. If there ...`; `(PROBE FOR EXACT DENOMINATION)` -> `` |
| `screener` | a routing condition in capitals ("IF YES:", "C. IF CURRENTLY MARRIED, ...:") goes, and so does the other item's question that comes before it (the screener) | `Are you currently--married, ...? C. IF CURRENTLY MARRIED, SEPARATED, OR DIVORCED: Have you ever been widowed?` -> `Have you ever been widowed?` |
| `item_letter` | the item's letter or number in its battery goes ("A. ", "j. ", "3. ") | `A. Have you seen an X-rated movie in the last year?` -> `Have you seen an X-rated movie in the last year?` |
| `continued_lead` | a lead-in the interviewer completes with each item (listed in CONTINUED_LEADS) runs on into the item | `Do you think a person has the right to end his or her own life if this person . . . B. Has gone bankrupt?` -> `Do you think a person has the right to end his or her own life if this person has gone bankrupt?` |
| `narration` | a battery's spoken framing that is wrong on a page (table NARRATION) | `For example, here is the statement:` -> `Here is the statement:` |
| `tidy` | spaced ellipses `. . .` are written `...`, runs of spaces made one, no space before `?,;:`, a lost space after a period restored | `Are you . . .` -> `Are you ...`; `white people.Do you` -> `white people. Do you` |

GSS items whose source text is not a question put to the respondent (a codebook label, a coded variable, a whole
interviewer sheet, the respondent's and the spouse's forms interleaved: 13 of 177) get a wording from `REWRITES`,
each with its reason; `gss_respondent_wording(item_id, text)` uses it, else the rules.
"""

from __future__ import annotations

import re

# ---------------------------------------------------------------------------------------------------------------
# What still looks like an interviewer instruction (case-sensitive: the GSS writes instructions in capitals).
INSTRUCTION_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern))
    for name, pattern in (
        ("READ", r"\bREAD\b"),
        ("CIRCLE", r"\bCIRCLE\b"),
        ("HAND CARD", r"\bHAND\b|\bCARD\b"),
        ("(ITEM", r"\(ITEM|\(READ"),
        ("PROBE", r"\bPROBES?\b"),
        ("ASK", r"\bASK\b"),
        ("INTERVIEWER", r"\bINTERVIEWER\b"),
        ("CODE", r"\bCODES?\b"),
        ("RECORD", r"\bRECORD\b|\bVERBATIM\b"),
        ("routing", r"\bIF (?:YES|NO|R|[A-Z]{2,})\b|\bGO TO\b|\bSKIP TO\b"),
        ("R for respondent", r"\bR(?:'S)?\b(?![.-])|\bR's\b"),
        ("card letter", r"(?i)tell me the letter"),
        ("codebook note", r"\bAs of \d{4},|\bhas been recoded\b"),
        ("capitals", r"\b[A-Z]{2,}(?:[\s,;:/'()-]+[A-Z]{2,}\b)+"),
    )
)
# Words in capitals that a respondent may read (acronyms); `capitals` ignores runs made of these alone.
ACRONYMS = frozenset({"TV", "US", "USA", "GED", "PDA", "AIDS", "GSS", "OK", "ID", "II", "III", "IV"})


def find_instructions(text: str) -> list[str]:
    """What in `text` looks like interviewer instructions: "<pattern>: <matched text>" per hit (empty when clean)."""
    found = []
    for name, pattern in INSTRUCTION_PATTERNS:
        for match in pattern.finditer(text or ""):
            words = re.findall(r"[A-Z]{2,}", match.group(0))
            if name == "capitals" and all(word in ACRONYMS for word in words):
                continue
            found.append(f"{name}: {match.group(0)!r}")
    return found


# ---------------------------------------------------------------------------------------------------------------
# Tables the rules use (each entry is a source string found in the shipped instruments).
CONTINUED_LEADS: tuple[str, ...] = (
    "to obtain a legal abortion if",  # ABDEFECT ... ABANY: "... if. . . A. If there is a strong chance ..."
    "end his or her own life if this person",  # SUICIDE1-4: "... if this person . . . A. Has an incurable disease?"
    "Do you think these differences are",  # RACDIF1-4: "... are . . . A. Mainly due to discrimination?"
)
FILLS: dict[str, str] = {
    "(city/town/community)": "city, town or community",
    "(city/town/county)": "city, town or county",
    "(Negroes/Blacks/African-Americans)": "African-Americans",  # the interviewer used the term of the year; the latest
    "(the previous year)": "the previous year",
    "(wife/husband)": "wife or husband",
    "(Do you/Does your family)": "Do you",  # the respondent's own form
    "(home/apartment)": "home or apartment",
    "(husband/wife/partner)": "husband, wife or partner",
    "(Spanish)": "",  # read only to respondents interviewed in Spanish
    "(SPOUSE''S)": "spouse's",
    "(SPOUSE'S)": "spouse's",
}
NARRATION: dict[str, str] = {
    "For example, here is the statement:": "Here is the statement:",
}
SECTION_LETTER = r"(?:[A-Za-z]|\d{1,2})"


def _capital_words(span: str) -> int:
    return sum(1 for word in re.findall(r"[A-Z][A-Z'.]+", span) if word.strip(".'") not in ACRONYMS and len(word.strip(".'")) >= 2)


def _subject(item: str) -> str:
    """An item's subject as it reads inside a sentence: no trailing period, first letter lower case unless the
    subject starts with a name (two capitalised words, as in "Social Security") or an acronym."""
    item = item.strip().rstrip(".").strip()
    words = item.split()
    if not words:
        return item
    first = words[0]
    is_word = first[:1].isupper() and first[1:].islower()
    followed_by_name = len(words) > 1 and words[1][:1].isupper()
    if is_word and not followed_by_name:
        return first[:1].lower() + item[1:]
    return item


def _sentence_start(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def respondent_wording(text: str) -> tuple[str, list[str]]:
    """(respondent-facing text, the rules that changed it) by the rules of the module docstring, in order."""
    applied: list[str] = []

    def step(rule: str, new: str) -> None:
        nonlocal text
        if new != text:
            applied.append(rule)
            text = new

    original = (text or "").strip()
    text = re.sub(r"\s+", " ", original)
    step("source_typos", text.replace("''", "'"))
    step("codebook_note", re.sub(r"\s*\bAs of \d{4}, [A-Z0-9_]+ has been .*$", "", text))
    step("repeated_clause", _drop_repeats(text))
    step("item_placeholder", _item_placeholder(text))
    step("card_reference", re.sub(r"\s*Just tell me the letter\.?", "", text))
    step("conditional_insert", re.sub(r"\(IF [A-Z][A-Z .,'/-]*:\s*([a-z][^()]*)\)", r"\1", text))
    new = text
    for source, replacement in FILLS.items():
        new = new.replace(source, replacement)
    step("fill", new)
    step("instruction", _drop_instructions(text))
    step("screener", _drop_screener(text))
    step("item_letter", _drop_item_letters(text))
    step("continued_lead", _continue_leads(text))
    new = text
    for source, replacement in NARRATION.items():
        new = new.replace(source, replacement)
    step("narration", new)
    step("tidy", _tidy(text))
    if text != original and "tidy" not in applied and not applied:  # only runs of spaces were made single
        applied.append("tidy")
    return text, applied


def _drop_repeats(text: str) -> str:
    words = text.split(" ")
    for size in range(len(words) // 2, 3, -1):
        for start in range(0, len(words) - 2 * size + 1):
            if words[start:start + size] == words[start + size:start + 2 * size]:
                return _drop_repeats(" ".join(words[:start + size] + words[start + 2 * size:]))
    return text


def _item_placeholder(text: str) -> str:
    match = re.search(
        r"(?:First )?\(READ ITEM [A-Z]\)[\s.]*(?P<question>[^?]*\(ITEM\)[^?]*\?)\s*" + SECTION_LETTER + r"\.\s*(?P<item>.+)$",
        text,
    )
    if not match:
        return text
    question = match.group("question").replace("(ITEM)", _subject(match.group("item")))
    return text[: match.start()] + _sentence_start(question.strip())


CAPS_TOKEN = r"[A-Z0-9\"'().,;:*/&-]*[A-Z][A-Z0-9\"'().,;:*/&-]*"


def _drop_instructions(text: str) -> str:
    # parenthesised instructions: all capitals, or a probe / interviewer note / conditional follow-up question
    def parenthesised(match: re.Match[str]) -> str:
        inner = match.group(1)
        if re.match(r"(PROBE|INTERVIEWER|IF |USE |SEE |See REMARKS|READ)", inner) or not re.search(r"[a-z]", inner):
            if len(inner) > 3 and _capital_words(inner) or re.match(r"(PROBE|INTERVIEWER|IF |See REMARKS)", inner):
                return " "
        return match.group(0)

    text = re.sub(r"\(((?:[^()]|\([^()]*\))*)\)", parenthesised, text)
    # sentences in capitals ("READ EACH ITEM; CODE ONE FOR EACH.", "CODE ONE ONLY."), not routing ("IF YES:"),
    # not item letters ("J.") or acronyms ("U.S.")
    pattern = re.compile(r"(?<![A-Za-z])((?:" + CAPS_TOKEN + r"\s+)*" + CAPS_TOKEN + r")(?=\s|$)")

    def capitals(match: re.Match[str]) -> str:
        kept = []
        for sentence in re.split(r"(?<=[.;])\s+", match.group(1)):
            routing = sentence.startswith("IF ") or re.search(r"\bIF\b[^.]*:$", sentence)
            if not routing and _capital_words(sentence) >= 2 and re.search(r"[.;]$", sentence):
                continue
            kept.append(sentence)
        return " ".join(kept) if kept else " "

    return re.sub(r"\s+", " ", pattern.sub(capitals, text)).strip()


def _drop_screener(text: str) -> str:
    """A routing condition in capitals ends with ':'; the item's own question follows it."""
    match = None
    for match in re.finditer(r"(?:^|(?<=[\s?.]))(?:" + SECTION_LETTER + r"\.\s+)?IF [^a-z:]*:\s*", text):
        pass
    if match is None:
        return text
    return text[match.end():]


def _drop_item_letters(text: str) -> str:
    # a letter or number followed by ". " at the start or after a sentence end or an ellipsis: the item marker
    # (a space before it, so the "S." of "U.S." is not one; a space after it, so "J. U.S. Supreme Court" keeps "U.S.")
    return re.sub(r"(?:^|(?<=[?.:!…])\s+)" + SECTION_LETTER + r"\.\s+(?=[A-Z\"])", " ", text).strip()


def _continue_leads(text: str) -> str:
    for lead in CONTINUED_LEADS:
        match = re.search(re.escape(lead) + r"\s*(?:\.\s*){2,}\s*(?P<item>\S.*)$", text)
        if match:
            item = match.group("item")
            last = lead.split()[-1].casefold()
            first, _, rest = item.partition(" ")
            if first.casefold() == last:  # "... abortion if" + "If there is ..." reads "if there is ..."
                item = rest
            return text[: match.start()] + lead + " " + _subject(item)
    return text


def _tidy(text: str) -> str:
    text = re.sub(r"\s*(?:\.\s){2,}\.?", " ... ", text)
    text = re.sub(r"\.{3,}|…", "...", text)
    text = re.sub(r"\s+([?,;:])", r"\1", text)
    text = re.sub(r"(?<=[a-z])\.(?=[A-Z][a-z])", ". ", text)  # "white people.Do you think" (a lost space)
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\.\.\.\s*$", "...", text)
    return text


# ---------------------------------------------------------------------------------------------------------------
# GSS items whose source text is not a question put to the respondent: item id -> (wording, why and from what).
# Every wording is made of the source's own words (or of the GSS's own self-administered wording) and the options.
REWRITES: dict[str, tuple[str, str]] = {
    "martype": (
        "Is your marriage a marriage between a man and a woman, or between two people of the same gender?",
        "the source is a coding note (the interviewer codes it from the household form); worded from the options",
    ),
    "uscitzn": (
        "Now we would like to ask you about U.S. citizenship. Are you...",
        "the source is the codebook label 'If not born in US, is R a US citizen' and a recode note; this is the GSS's "
        "own self-administered (web) wording of the same question, USCITZNV in gss_full_codebook_gssrdoc.csv.gz",
    ),
    "educ": (
        "What is the highest grade in elementary school, high school or college that you finished and got credit for?",
        "the source is the interviewer's sheet for respondent, father, mother and spouse; this is the respondent's form "
        "of the sheet's question as PAEDUC/MAEDUC/SPEDUC word it for the others",
    ),
    "hispanic": (
        "Are you Spanish, Hispanic, or Latino/Latina? If yes, which group are you from?",
        "the source interleaves routing (ASK A, GO TO NEXT QUESTION) and the answer list with the two questions",
    ),
    "bible": (
        "Which of these statements comes closest to describing your feelings about the Bible? Word of God: the Bible "
        "is the actual word of God and is to be taken literally, word for word. Inspired word: the Bible is the "
        "inspired word of God but not everything in it should be taken literally, word for word. Ancient book: the "
        "Bible is an ancient book of fables, legends, history, and moral precepts recorded by men.",
        "the source lists the three statements with interviewer codes (.....1nb.); the options are short labels of "
        "them, so each statement is given after its label",
    ),
    "posslq": (
        "Which of these statements applies to you?",
        "after CODE ONE ONLY the source lists the statements, which are the options",
    ),
    "mnthsusa": (
        "How many months have you lived in the United States? If you have lived in the United States for more than "
        "one period during your life, give the total.",
        "the source is the months field of a years-and-months answer ('... total number of years ...? - Months'); the "
        "item holds the months of people in the United States for less than a year (its codebook label)",
    ),
    "famdif16": (
        "Were you living with both your own mother and father around the time you were 16? If not, what happened?",
        "the source's routing (IF NO, IF NOT LIVING WITH BOTH ...) carries the item's condition",
    ),
    "partfull": (
        "When you worked last year, was it usually full or part time?",
        "the source's lead is the question of another item (weeks worked) and '(the previous year)' a fill",
    ),
    "wksub1": (
        "Do you have a supervisor on your job to whom you are directly responsible?",
        "the source interleaves the respondent's and the spouse's forms; the respondent's form",
    ),
    "wksup1": (
        "In your job, do you supervise anyone who is directly responsible to you?",
        "the source interleaves the respondent's and the spouse's forms; the respondent's form",
    ),
    "spjew": (
        "Does your spouse consider himself or herself Orthodox, Conservative, Reform, or none of these?",
        "the source's lead is the question of another item (the spouse's religion) and '(s/he)', '(her/himself)' fills",
    ),
    "spfund": (
        "Would you say your spouse's religion is fundamentalist, moderate, or liberal?",
        "the source is the variable label 'Fundamentalism/Liberalism of Religion of Spouse' (coded from the "
        "denomination, not asked) after another item's question; worded from the label and the options",
    ),
}


def gss_respondent_wording(item_id: str, text: str) -> tuple[str, list[str]]:
    """The respondent-facing wording of GSS item `item_id`: its entry in REWRITES, else the rules."""
    if item_id in REWRITES:
        return REWRITES[item_id][0], ["rewritten"]
    return respondent_wording(text)
