"""Checks on what is said in an interview, before anyone hears it.

Two kinds of utterance are checked, with plain lexical rules (no model call, microseconds each):

- **Follow-ups** the interviewer model proposes (`check_follow_up`): a person in a voice interview hears
  every word, so a follow-up must be one spoken question (`question_shape`), about what is being
  discussed (`on_topic`), not a question already asked (`not_repeat`), free of repetition loops
  (`no_loop`), free of the prompt's own instructions or JSON (`no_prompt_text`) and spoken as the
  interviewer, not as an assistant waiting for questions (`right_party`).
- **Answers** (`check_answer`), from a person or an agent: an answer that is empty (`empty`), repeats an
  earlier answer (`repeat`), talks about something else (`off_topic`), or (agents only) talks about the
  interview or as an assistant (`meta`), is not in the first person (`first_person`) or loops (`loop`). And
  whether it is adequate to what the line asked (`question_kind`: closed, short or open): a bare
  acknowledgement ("ok", "saved", "sure", "no comment"; "yes" answers only a yes/no question), too few words
  for an open question and its budget (`too_short`), the interviewer's own words said back (`echo`), the
  same short answer given to other questions (`same_short`).

Every check returns a `CheckResult` with a short reason; a `Verdict` lists them all, so a decision can record
why an utterance was refused. The thresholds live in `ValidatorSettings`; the defaults pass the real
follow-ups of the paper's interviewer (tests/interviewer/data/real_follow_ups.json) and refuse the verbatim
failures of issue #14.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path
from typing import Callable, Iterable, Sequence

from pydantic import BaseModel

SCHEMA_VERSION = 1
FOLLOW_UP_CHECKS = ("question_shape", "on_topic", "not_repeat", "no_loop", "no_prompt_text", "right_party")
ANSWER_CHECKS = ("empty", "repeat", "off_topic", "acknowledgement", "too_short", "echo", "same_short", "meta", "first_person", "loop")
ADEQUACY_CHECKS = ("acknowledgement", "too_short", "echo", "same_short")

# Neutral probes a good interviewer can always say: the safe move when the model's follow-up is refused.
NEUTRAL_PROBES = (
    "Could you tell me more about that?",
    "What was that like for you?",
    "Could you give me an example?",
    "How did you feel about that?",
    "What happened after that?",
    "Why do you think that is?",
    "Is there anything else you would like to add about that?",
    "What does that mean to you?",
)

_STOP = frozenset(
    """a about above after again against all am an and any are aren't as at be because been before being below
    between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down during each
    few for from further had hadn't has hasn't have haven't having he he'd he'll he's her here here's hers herself
    him himself his how how's i i'd i'll i'm i've if in into is isn't it it's its itself let's me more most
    mustn't my myself no nor not of off on once only or other ought our ours ourselves out over own same shan't
    she she'd she'll she's should shouldn't so some such than that that's the their theirs them themselves then
    there there's these they they'd they'll they're they've this those through to too under until up very was
    wasn't we we'd we'll we're we've were weren't what what's when when's where where's which while who who's
    whom why why's with won't would wouldn't you you'd you'll you're you've your yours yourself yourselves also
    just really like well yes yeah okay ok oh um uh hmm so kind sort lot lots thing things something anything
    everything nothing someone anyone everyone way ways much many get got getting go going gone went make made
    say said says tell told know think thought see seen want wanted would will shall may might must one two
    three first last still even ever never always often sometimes maybe perhaps actually though although since
    let us ve ll re d s t m""".split()
)
# Words of a generic probe ("Could you tell me more about that?"): a question made only of these and stop
# words refers back to what was just said, so it is on topic by reference.
_PROBE_WORDS = frozenset(
    """tell share talk describe explain elaborate more bit little detail details example examples happen happened
    happens feel felt feeling feelings mean means meant like experience experiences time times else add anything
    next after before then afterwards why how what who where when give walk through remember moment moments part
    important matter matters favorite specific specifically particular particularly example sense think kind
    thank thanks sharing interesting great good glad hear heard understand see right sounds sound curious love
    learn know""".split()
)
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=\S)")


def words(text: str) -> list[str]:
    return _WORD.findall(text.casefold().replace("\u2019", "'").replace("\u2018", "'"))


_IRREGULAR = {"lives": "life", "wives": "wife", "children": "child", "people": "person", "men": "man", "women": "woman",
              "kids": "kid", "parents": "parent", "families": "family", "jobs": "job", "worked": "work", "working": "work",
              "grew": "grow", "grown": "grow", "lived": "live", "living": "live", "felt": "feel"}


def _stem(word: str) -> str:
    """A crude stem: plural and tense endings off, then the first five letters ("challenges" ~ "challenging")."""
    word = _IRREGULAR.get(word, word)
    for suffix in ("ing", "ed", "es", "s", "ly"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            word = word[: -len(suffix)]
            if suffix in ("ing", "ed") and len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouls":
                word = word[:-1]  # running -> run, stopped -> stop
            break
    return word[:5]


def content_stems(text: str, *, skip: frozenset[str] = frozenset()) -> set[str]:
    return {_stem(w) for w in words(text) if w not in _STOP and w not in skip and len(w) > 2 and not w.isdigit()}


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(" ".join(text.split())) if s.strip()]


def normalise(text: str) -> str:
    return " ".join(words(text))


def similarity(a: str, b: str, *, min_run: int = 5) -> float:
    """How alike two utterances are, 0-1: the largest of the word-sequence ratio, the Jaccard index of their
    content words (a reordered or lightly reworded repeat) and, for a shorter one of at least five words, the
    share of it found word for word inside the other (a question cut out of an earlier, longer line)."""
    wa, wb = words(a), words(b)
    if not wa or not wb:
        return 0.0
    matcher = SequenceMatcher(None, wa, wb, autojunk=False)
    ratio = matcher.ratio()
    shorter = min(len(wa), len(wb))
    if shorter >= min_run:
        run = matcher.find_longest_match(0, len(wa), 0, len(wb)).size
        ratio = max(ratio, run / shorter)
    ca, cb = content_stems(a), content_stems(b)
    jaccard = len(ca & cb) / len(ca | cb) if len(ca) >= 3 and len(cb) >= 3 else 0.0
    return max(ratio, jaccard)


class CheckResult(BaseModel):
    name: str
    ok: bool
    detail: str = ""


class Verdict(BaseModel):
    """The outcome of every check on one utterance (the order of `FOLLOW_UP_CHECKS` or `ANSWER_CHECKS`)."""

    schema_version: int = SCHEMA_VERSION
    text: str
    checks: list[CheckResult]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def problems(self) -> list[str]:
        return [c.name for c in self.checks if not c.ok]

    def explain(self) -> str:
        """The failed checks in words (for a regeneration prompt and for the record)."""
        return "; ".join(f"{c.name}: {c.detail}" for c in self.checks if not c.ok)

    def passed(self, name: str) -> bool:
        return next((c.ok for c in self.checks if c.name == name), True)


@dataclass
class ValidatorSettings:
    min_words: int = 4
    max_words: int = 65  # the paper's interviewer: up to ~60 words (an acknowledgement, then the question)
    max_sentences: int = 5
    max_questions: int = 2  # a question and, at most, one clarifying question
    repeat_similarity: float = 0.8
    answer_repeat_similarity: float = 0.85
    min_repeat_words: int = 6  # "I don't know." twice is not a repeated answer worth a rephrase
    min_answer_words_for_topic: int = 8  # shorter answers ("Yes, two daughters.") are never called off topic
    min_words_for_person: int = 60  # an agent's answer this long with no "I"/"my"/"we" is not in the first person
    # adequacy. An open question ("tell me about...", "how would you describe...") needs at least 2 words once its
    # budget is the script's average question budget or more (budget_share >= 1), 3 words at 3x the average (the
    # life story, family, political views); a negative ("None, fortunately.") answers any but those big ones.
    open_min_words: tuple[tuple[float, int], ...] = ((1.0, 2), (3.0, 3))
    negative_answers_up_to_share: float = 3.0
    echo_min_run: int = 3  # an answer whose words are mostly a run of the interviewer's own words (this many or more)
    echo_share: float = 0.6  # ... covering this share of the answer's words
    same_short_open: int = 1  # the same short answer (under min_repeat_words) given this many times before to an open question
    same_short_other: int = 2  # ... to a question that asks for a fact ("What city were you born in?")
    # with an embedder: below this cosine (and no shared word) is off topic. all-MiniLM-L6-v2 puts the sample
    # person's real answers at 0.07-0.6 from their questions, unrelated text at ~0.05
    embedding_topic_threshold: float = 0.1


# -- prompt and schema text -------------------------------------------------------------------------------------
_PROMPT_PATTERNS = [
    (re.compile(r"\bstep[- ]by[- ]step\b", re.I), "'step by step'"),
    (re.compile(r"\b\d+\s*(?:-|–|to)\s*\d+\s+(?:sentences?|words?|questions?|bullets?)\b", re.I), "a length instruction"),
    (re.compile(r"\b(?:json|schema|placeholder)\b", re.I), "format words"),
    (re.compile(r"[{}\[\]<>|\\`#*_]"), "brackets or markup"),
    (re.compile(r"\b(?:follow_up|move_on|assessment|action|objective)\s*[\"']?\s*:", re.I), "a field name"),
    (re.compile(r"\b(?:follow[_ ]up|move[_ ]on)\b\s*(?:when|or|if)\b", re.I), "the decision's options"),
    (re.compile(r"\b(?:interview )?objective (?:is |was |has been )?(?:achieved|met|reached)\b", re.I), "the objective"),
    (re.compile(r"\b(?:the|this) (?:interview )?objective\b", re.I), "the objective"),
    (re.compile(r"\bwhat the (?:last|previous) answer\b", re.I), "the prompt's task"),
    (re.compile(r"\b(?:scripted question|interviewee|the respondent|reflection notes?|reply with)\b", re.I), "prompt vocabulary"),
    (re.compile(r"\bworth exploring\b", re.I), "the prompt's task"),
    (re.compile(r"^\s*(?:interviewer|interviewee|assistant|user|system|question|answer|follow-?up)\s*:", re.I), "a speaker label"),
]


def _template_ngrams(n: int = 5) -> set[tuple[str, ...]]:
    """Word n-grams of the interviewer prompts' fixed text (placeholders removed)."""
    grams: set[tuple[str, ...]] = set()
    for path in (Path(__file__).parent / "prompts").glob("*.txt"):
        text = re.sub(r"\{[a-z_]+\}", " | ", path.read_text(encoding="utf-8"))
        for chunk in text.split("|"):
            ws = words(chunk)
            grams.update(tuple(ws[i : i + n]) for i in range(len(ws) - n + 1))
    return grams


_TEMPLATE_GRAMS: set[tuple[str, ...]] | None = None


def _prompt_text(text: str) -> str | None:
    for pattern, what in _PROMPT_PATTERNS:
        if pattern.search(text):
            return f"contains {what}"
    global _TEMPLATE_GRAMS
    if _TEMPLATE_GRAMS is None:
        _TEMPLATE_GRAMS = _template_ngrams()
    ws = words(text)
    for i in range(len(ws) - 4):
        if tuple(ws[i : i + 5]) in _TEMPLATE_GRAMS:
            return "repeats the prompt's own words: '" + " ".join(ws[i : i + 5]) + "'"
    return None


# -- wrong party ------------------------------------------------------------------------------------------------
_WRONG_PARTY = re.compile(
    r"\b(?:i'?m|i am) here to (?:answer|help|assist)|\b(?:answer|respond to) your questions?\b|\bas an? (?:ai|language model|assistant)\b"
    r"|\blanguage model\b|\bcontinue (?:the|this|our) (?:interview|conversation)\b|\b(?:i'?m|i am) ready to\b"
    r"|\bhow (?:can|may) i (?:help|assist)\b|\bfeel free to ask\b|\bask me (?:anything|any ?thing|any questions?|a question|more)\b"
    r"|\byour (?:next|first|last) question\b|\b(?:i'?m|i am) (?:an?|the|your) (?:ai|assistant|chatbot)\b"
    r"|\bthank you for (?:your|the|that) question\b|\b(?:that'?s|it'?s|what) a (?:good|great) question\b"
    r"|\bmy (?:answer|response) (?:is|to|would)\b|\bin this interview,? (?:i|we) will\b|\bthis interview will\b",
    re.I,
)


def _wrong_party(text: str) -> str | None:
    match = _WRONG_PARTY.search(text.replace("\u2019", "'"))
    return f"speaks as the one being asked: '{match.group(0)}'" if match else None


# -- repetition loops -------------------------------------------------------------------------------------------
def _loop(text: str, *, spoken: bool = False) -> str | None:
    """A repetition loop. `spoken=True` (a respondent's answer) allows what real speech does: a phrase said
    twice ("it's a habit that ... it's a habit that"); only a sentence said three times, a phrase said four
    times or a long run of the same few words count then."""
    seen: dict[str, int] = {}
    for sentence in sentences(text):
        key = normalise(sentence)
        if len(key.split()) >= (4 if spoken else 2):
            seen[key] = seen.get(key, 0) + 1
            if seen[key] >= (3 if spoken else 2):
                return f"repeats the sentence '{sentence[:60]}'"
    ws = words(text)
    run = 1
    for a, b in zip(ws, ws[1:]):
        run = run + 1 if a == b else 1
        if run >= (4 if spoken else 3):
            return f"repeats the word '{a}'"
    counts: dict[tuple[str, ...], int] = {}
    for i in range(len(ws) - 3):
        gram = tuple(ws[i : i + 4])
        counts[gram] = counts.get(gram, 0) + 1
        if counts[gram] >= (4 if spoken else 2) and sum(1 for w in gram if w not in _STOP) >= 1:
            return "repeats the phrase '" + " ".join(gram) + "'"
    if len(ws) >= 40 and len(set(ws)) / len(ws) < (0.25 if spoken else 0.35):
        return "says the same few words over and over"
    return None


# -- follow-ups -------------------------------------------------------------------------------------------------
def _shape(text: str, s: ValidatorSettings) -> str | None:
    stripped = text.strip().rstrip("\"')]} ")
    if not stripped:
        return "is empty"
    if not stripped.endswith("?"):
        return "does not end with a question mark"
    n_words = len(words(text))
    if n_words < s.min_words:
        return f"is too short to be a question ({n_words} words)"
    if n_words > s.max_words:
        return f"is too long to say ({n_words} words; at most {s.max_words})"
    parts = sentences(text)
    if len(parts) > s.max_sentences:
        return f"has {len(parts)} sentences (at most {s.max_sentences})"
    questions = text.count("?")
    if questions > s.max_questions:
        return f"asks {questions} questions at once (at most {s.max_questions})"
    if "\n" in text.strip():
        return "spans several lines"
    return None


Similarity = Callable[[str, str], float]


def topic_overlap(text: str, context: Iterable[str], *, skip: frozenset[str] = frozenset()) -> tuple[set[str], set[str]]:
    """(the utterance's content stems, those shared with the context)."""
    own = content_stems(text, skip=skip)
    ctx: set[str] = set()
    for part in context:
        ctx |= content_stems(part or "")
    return own, own & ctx


def _off_topic_follow_up(text: str, context: Sequence[str], similarity_fn: Similarity | None, s: ValidatorSettings) -> str | None:
    own, shared = topic_overlap(text, context, skip=_PROBE_WORDS)
    if not own or shared:
        return None  # a generic probe ("Could you tell me more about that?") or a shared word
    if similarity_fn is not None:
        score = similarity_fn(text, " ".join(c for c in context if c))
        if score >= s.embedding_topic_threshold:
            return None
    return "shares no words with the question or the answer (" + ", ".join(sorted(own)[:6]) + ")"


def check_follow_up(
    text: str,
    *,
    question: str,
    answer: str = "",
    objective: str = "",
    block: str = "",
    earlier: Sequence[str] = (),
    settings: ValidatorSettings | None = None,
    similarity_fn: Similarity | None = None,
) -> Verdict:
    """Check a proposed follow-up before it is spoken.

    `question` is the scripted question being discussed, `answer` the respondent's last answer,
    `earlier` what the interviewer already said (any order); `similarity_fn(a, b)`, when given (e.g. an
    embedding cosine), rescues an on-topic follow-up that shares no word with the context.
    """
    s = settings or ValidatorSettings()
    results: list[CheckResult] = []

    def add(name: str, problem: str | None) -> None:
        results.append(CheckResult(name=name, ok=problem is None, detail=problem or ""))

    add("question_shape", _shape(text, s))
    add("on_topic", _off_topic_follow_up(text, [question, answer, objective, block], similarity_fn, s))
    repeat = None
    for before in earlier:
        score = similarity(text, before)
        if score >= s.repeat_similarity:
            repeat = f"was already asked ({score:.2f} alike: '{before[:60]}')"
            break
    add("not_repeat", repeat)
    add("no_loop", _loop(text))
    add("no_prompt_text", _prompt_text(text))
    add("right_party", _wrong_party(text))
    return Verdict(text=text, checks=results)


# -- answers ----------------------------------------------------------------------------------------------------
_FIRST_PERSON = re.compile(r"\b(?:i|i'm|i've|i'd|i'll|me|my|mine|myself|we|we're|we've|our|ours|us)\b", re.I)
_THIRD_PERSON = re.compile(r"\b(?:the|this) (?:person|respondent|interviewee|individual|participant|agent)\b|\bhe or she\b", re.I)
_SHORT_REPLY = re.compile(r"^\s*(?:yes|yeah|yep|no|nope|not really|sure|maybe|never|always|sometimes|none|nobody|nothing)\b", re.I)
_META = re.compile(
    r"\bthis interview\b|\bthe interview(?:er)?\b|\byour questions?\b|\bthe question(?:s)? (?:you|is|was)\b|\bas an? (?:ai|language model|assistant)\b"
    r"|\blanguage model\b|\b(?:i'?m|i am) (?:here|ready) to\b|\bhow (?:can|may) i (?:help|assist)\b|\bfeel free to ask\b",
    re.I,
)
_EMPTY = re.compile(r"^[\W_]*(?:(?:um+|uh+|hmm+|er+|ah+|null)[\W_]*)*$", re.I)  # "None." is an answer


# -- adequacy ------------------------------------------------------------------------------------------------------
# What a line asks for. Open: a story or a view ("tell me about...", "how would you describe...", "how about you?").
# Closed: yes or no ("Do you vote?", "Any babies or small children?"). Short: a fact ("What city were you born in?").
_NARRATIVE = re.compile(
    r"\b(?:tell (?:me|us)|describe|talk(?:ing)? (?:about|more)|story|stories|explain|elaborate|walk (?:me|us) through"
    r"|share (?:with|more|about|your|a)|what (?:was|is|has been|were|would be) (?:it|that|this|life) like|imagine"
    r"|how (?:would|do|did|does|have|has|had|is|was|are|were|can|could) (?:you|it|they|that|this|things|your|people|life)"
    r"|how'?s|why|in what ways?|how about|what about (?:you|for you|people)|what do you (?:think|value|feel|mean|like)"
    r"|what (?:stands out|matters|makes)|what (?:else|other)|anything else|give (?:me|us) an example|looks? like)\b",
    re.I,
)
_CLOSED = re.compile(
    r"^(?:[^,?]{1,40},\s*)?(?:and |so |but |now,? |also,? )?(?:do|does|did|are|is|was|were|have|has|had|can|could"
    r"|would|will|should|may|might|any|anyone|anybody|anything|is there|are there)\b",
    re.I,
)
_ASKS_FOR = re.compile(r"\b(?:could|can|would|will) you (?:please )?(?:provide|give|say|list|name|spell)\b", re.I)
_REQUEST = re.compile(r"\b(?:tell (?:me|us)|describe|talk about|walk (?:me|us) through|explain|imagine)\b", re.I)
_SPLIT = re.compile(r"(?<=[.!?])(?<!\b[A-Z]\.)[\"')\]]*\s+(?=[\"'(\[]?[A-Z])")


def question_kind(line: str) -> str:
    """What an interviewer line asks for: "open" (a story or a view), "closed" (yes or no) or "short" (a fact).
    Judged on its questions (sentences ending in "?") and requests ("Tell me about..."), so a preamble ("That
    sounds like a hard story.") does not change it; a line with neither is judged whole."""
    parts = [p.strip() for p in _SPLIT.split(" ".join(line.split())) if p.strip()]
    questions = [p for p in parts if p.rstrip("\"')] ").endswith("?")]
    asked = questions + [p for p in parts if p not in questions and _REQUEST.search(p)] or [line]
    if any(_NARRATIVE.search(p) for p in asked):
        return "open"
    if questions and all(_CLOSED.match(p) and not _ASKS_FOR.search(p) for p in questions):
        return "closed"
    return "short"


# Bare replies. An acknowledgement answers nothing; "yes" (or "fine", "good") answers only a yes/no question, not a
# question asking for a fact or a story. A negative ("No.", "None.", "Nothing much.") is an answer.
_ACK = ("ok", "okay", "k", "kk", "saved", "save", "got it", "noted", "understood", "i understand", "understand",
        "thanks", "thank you", "thank you so much", "sounds good", "sounds great", "cool", "continue", "next",
        "next question", "no comment", "i see", "mhm", "mm", "uh huh", "will do", "ready", "i'm ready", "let's go",
        "let's start", "let's begin", "let's get started", "get started", "alright", "all right", "done", "perfect",
        "agreed", "hello", "hi", "hey", "same", "same here", "same as before", "as i said", "likewise", "ditto",
        "whatever", "go ahead", "proceed", "acknowledged", "roger", "check", "nice", "wow", "interesting")
_AFFIRM = ("yes", "yeah", "yep", "yup", "ya", "sure", "of course", "absolutely", "certainly", "definitely", "right",
           "correct", "indeed", "true", "exactly", "i do", "i did", "i am", "i have", "i was", "i will", "i would",
           "i can", "it is", "it was", "there is", "there are", "we do", "we did", "we are", "we have")
_MILD = ("fine", "good", "great", "not bad", "pretty good", "very good", "i'm fine", "i'm good", "i'm great",
         "i am fine", "i am good", "all good", "doing well", "doing good", "very well")
_FILLER = frozenset("um uh oh er ah hmm well so and then that's it's that is very all really just sir ma'am again".split())
_BARE_PHRASES = sorted(
    [(tuple(p.split()), "ack") for p in _ACK] + [(tuple(p.split()), "affirm") for p in _AFFIRM]
    + [(tuple(p.split()), "mild") for p in _MILD],
    key=lambda item: -len(item[0]),
)
_NEGATIVE = frozenset("no nope nah none nothing never not nobody neither nowhere".split())
_DONT_KNOW = re.compile(r"\b(?:(?:i )?(?:don'?t|do not) know|not sure|no idea|can'?t (?:say|remember|recall)|(?:i )?(?:don'?t|do not) remember)\b", re.I)


def bare_reply(text: str) -> set[str] | None:
    """The kinds of bare reply ("ack", "affirm", "mild") `text` is made of, or None when it says more than that."""
    ws = words(text)
    kinds: set[str] = set()
    i = 0
    while i < len(ws):
        for phrase, kind in _BARE_PHRASES:
            if tuple(ws[i : i + len(phrase)]) == phrase:
                kinds.add(kind)
                i += len(phrase)
                break
        else:
            if ws[i] not in _FILLER:
                return None
            i += 1
    return kinds or None


def is_negative(text: str) -> bool:
    return any(w in _NEGATIVE or w.endswith("n't") for w in words(text)) or bool(_DONT_KNOW.search(text))


def _acknowledgement(text: str, kind: str) -> str | None:
    kinds = bare_reply(text)
    if not kinds:
        return None
    if kind == "closed" and kinds & {"affirm", "mild"}:
        return None
    asked = {"open": "an open question", "short": "a question asking for a fact", "closed": "a yes/no question"}[kind]
    return f"a bare '{' '.join(words(text))[:40]}' to {asked}"


def open_min_words(budget_share: float, s: ValidatorSettings) -> int:
    """The fewest words that can answer an open question with this budget (its budget / the script's average)."""
    need = 1
    for share, count in s.open_min_words:
        if budget_share >= share:
            need = count
    return need


def _too_short(text: str, kind: str, budget_share: float, s: ValidatorSettings) -> str | None:
    if kind != "open":
        return None
    n = len(words(text))
    need = open_min_words(budget_share, s)
    if n >= need or (is_negative(text) and budget_share < s.negative_answers_up_to_share):
        return None
    return f"{n} word{'s' if n != 1 else ''} to an open question that asks for more (at least {need} for its time budget)"


def _echo(text: str, lines: Sequence[str], earlier_answers: Sequence[str], s: ValidatorSettings) -> str | None:
    """Mostly a run of the interviewer's own words, with no content word of its own ("tell me the story of your
    life"); "Not so much for me." to "...for others not so much" says no content word at all and is an answer,
    and words the interviewer quoted from the respondent ("You said you moved to Boston...") are the respondent's."""
    ws = words(text)
    own = content_stems(text)
    if len(ws) < s.echo_min_run or not own:
        return None
    theirs = [" " + " ".join(words(a)) + " " for a in earlier_answers]
    for line in lines:
        lw = words(line)
        if not lw or not own <= content_stems(line):
            continue
        match = SequenceMatcher(None, ws, lw, autojunk=False).find_longest_match(0, len(ws), 0, len(lw))
        run = match.size
        if run >= s.echo_min_run and run >= s.echo_share * len(ws):
            quoted = " " + " ".join(ws[match.a : match.a + run]) + " "
            if any(quoted in answer for answer in theirs):
                continue
            return f"says back the interviewer's own words ({run} of its {len(ws)} words: '{line[:60]}')"
    return None


def _same_short(text: str, kind: str, earlier: Sequence[str], s: ValidatorSettings) -> str | None:
    key = normalise(text)
    if kind == "closed" or not key or len(key.split()) >= s.min_repeat_words or is_negative(text):
        return None
    times = sum(1 for before in earlier if normalise(before) == key)
    if times >= (s.same_short_open if kind == "open" else s.same_short_other):
        return f"the same short answer ('{text.strip()[:40]}') was given to {times} other question{'s' if times != 1 else ''}"
    return None


def check_answer(
    text: str,
    *,
    question: str,
    objective: str = "",
    block: str = "",
    earlier_answers: Sequence[str] = (),
    asked: Sequence[str] = (),
    agent: bool = False,
    name: str | None = None,
    settings: ValidatorSettings | None = None,
    similarity_fn: Similarity | None = None,
    line: str | None = None,
    budget_share: float = 1.0,
    interviewer_lines: Sequence[str] = (),
) -> Verdict:
    """Is this an answer to `question`? For a person only `empty`, `repeat` and `off_topic` are judged
    (off topic only with a `similarity_fn`, e.g. an embedding cosine, for a longer answer that shares no word
    with the question, its objective, block or what the interviewer said on it, `asked`, and is far from them
    in meaning: word overlap alone misjudges real answers, "I lived in a dorm" to "Who else did you live
    with?"). An agent (`agent=True`) is also held to the first person (a long answer with no "I", "my",
    "we"..., or "<name> is ..."), no talk about the interview or as an assistant (`meta`) and no loops.

    Adequacy, for both: `line` is what the interviewer just said (the question, a follow-up or a rephrase;
    default `question`), judged by `question_kind`; `budget_share` the question's time budget over the script's
    average question budget (1.0 for a follow-up or when unknown: shortening a script keeps it); `interviewer_lines`
    everything the interviewer said (an answer that says it back is an `echo`)."""
    s = settings or ValidatorSettings()
    results: list[CheckResult] = []

    def add(name: str, problem: str | None) -> None:
        results.append(CheckResult(name=name, ok=problem is None, detail=problem or ""))

    stripped = (text or "").strip()
    empty = not stripped or bool(_EMPTY.match(stripped))
    add("empty", "says nothing" if empty else None)
    repeat = None
    if not empty:
        for before in earlier_answers:
            score = similarity(stripped, before, min_run=12)
            if score >= s.answer_repeat_similarity and len(words(before)) >= s.min_repeat_words:
                repeat = f"repeats an earlier answer ({score:.2f} alike: '{before[:60]}')"
                break
    add("repeat", repeat)
    off = None
    if similarity_fn is not None and not empty and len(words(stripped)) >= s.min_answer_words_for_topic:
        own, shared = topic_overlap(stripped, [question, objective, block, *asked])
        if own and not shared:
            score = similarity_fn(stripped, " ".join(p for p in [question, objective, block, *asked] if p))
            if score < s.embedding_topic_threshold:
                off = f"shares no words with the question and is far from it in meaning ({score:.2f})"
    add("off_topic", off)
    said = line if line is not None else question
    kind = question_kind(said)
    adequacy = not empty and not repeat
    add("acknowledgement", _acknowledgement(stripped, kind) if adequacy else None)
    add("too_short", _too_short(stripped, kind, budget_share, s) if adequacy else None)
    add("echo", _echo(stripped, [said, *asked, *interviewer_lines], earlier_answers, s) if adequacy else None)
    add("same_short", _same_short(stripped, kind, earlier_answers, s) if adequacy else None)
    if agent:
        meta = _META.search(stripped) if not empty else None
        add("meta", f"talks about the interview, not the question: '{meta.group(0)}'" if meta else None)
        third = _THIRD_PERSON.search(stripped) or (
            bool(name) and re.search(rf"\b{re.escape(name.split()[0])}\b (?:is|was|has|had|likes|thinks|feels|lives|grew)\b", stripped, re.I)
        )
        mine = _FIRST_PERSON.search(stripped)
        first = empty or mine or (not third and len(words(stripped)) < s.min_words_for_person)
        add("first_person", None if first else "speaks of the person in the third person, not as 'I'")
        add("loop", _loop(stripped, spoken=True) if not empty else None)
    return Verdict(text=text or "", checks=results)


def embedding_similarity(settings: object = None) -> Similarity | None:
    """The cosine of two texts' embeddings (`simulacra.embeddings`, offline all-MiniLM-L6-v2 by default), or
    None when no embedder is available (the checks then judge by words only)."""
    from simulacra.embeddings import open_embedder  # the embedder only when the checks use one
    from simulacra.errors import ConfigError

    try:
        embedder = open_embedder(settings)  # type: ignore[arg-type]
    except ConfigError:
        return None

    def cosine(a: str, b: str) -> float:
        va, vb = embedder.embed([a, b])
        return float(sum(x * y for x, y in zip(va, vb)))

    return cosine


def pick_probe(recent: Sequence[str], *, question: str = "", answer: str = "", settings: ValidatorSettings | None = None) -> str | None:
    """A curated neutral probe not said recently (`recent`: the interviewer's last lines), or None when all were."""
    for probe in NEUTRAL_PROBES:
        verdict = check_follow_up(probe, question=question, answer=answer, earlier=recent, settings=settings)
        if verdict.ok:
            return probe
    return None


__all__ = [
    "SCHEMA_VERSION", "FOLLOW_UP_CHECKS", "ANSWER_CHECKS", "NEUTRAL_PROBES", "CheckResult", "Verdict",
    "ValidatorSettings", "check_follow_up", "check_answer", "pick_probe", "question_kind", "bare_reply", "ADEQUACY_CHECKS", "embedding_similarity", "similarity", "content_stems", "sentences",
]
