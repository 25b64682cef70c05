"""The interview session engine: asks the script verbatim, decides follow-ups, keeps time and notes.

One `InterviewSession` per respondent. Transports (terminal, web, agent loop) only call
`next_utterance()` and `submit_answer()`; the engine saves every turn (flushed) before handing it out,
so a crash loses nothing said, and `InterviewSession.open` on the same files resumes exactly there.

Time (see interviewer/README.md, "Time budgets"). Each question has a budget; its *allowance* is the
budget plus the block's carry: the time earlier questions of the same block left unused (or minus what
they overran). A follow-up is only considered while the allowance has at least `min_follow_up_s` left,
so a question overruns by at most one answer. Unused time never leaves its block: what is left when a
block ends is written in the first turn of the next block (`previous_block_unused_s`), not spent.

Decisions. After each answer: script lines without a budget (intro) and declined questions move on
without asking the model (a respondent who declines is never pushed); out of time or follow-ups moves
on; otherwise the model reads the notes, the last `tail_chars` characters of the conversation, the
question, its objective and the time left, and returns an assessment plus follow-up-or-move-on. The
decision travels in the `meta["decision"]` of the interviewer turn it leads to (the answer itself is
saved before the model is asked).

Notes. Every `notes_every` answers the model rewrites its short bullet notes on the respondent from the
conversation since the last refresh; notes are capped, so prompts stay bounded however long the talk.

Voice (`EngineSettings.decide_in_background`, set by the web app). `submit_answer` saves the answer and
decides at once where a rule decides; the notes refresh and a model decision then run in the background, so
nothing the model does delays a line it cannot change. When the model is still deciding
`acknowledge_after_s` after the answer, `next_utterance` says a short neutral acknowledgement first ("I see.":
an `acknowledgement` turn, saved before it is returned, expecting no answer), and the next call returns the
decision's line: the follow-up, or the next scripted question. Prompts and checks leave acknowledgements out,
so the decision is the same whether or not one was said; the transcript keeps them, in the order said.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple, TypeVar

from pydantic import BaseModel

from simulacra.errors import EndpointError, StructuredOutputError
from simulacra.llm import LLM, provenance
from simulacra.prompts import render_prompt
from simulacra.transcript import InterviewNotes, Transcript, Turn
from simulacra.workspace import append_line
from interviewer.clock import Clock, SpeechClock, WallClock
from interviewer.errors import SessionStateError
from interviewer.script import Block, Script, ScriptQuestion
from interviewer.storage import TranscriptStore, now_iso, validate_respondent
from interviewer.validation import (
    SCHEMA_VERSION as CHECKS_VERSION, Similarity, ValidatorSettings, Verdict, check_answer, check_follow_up, pick_probe,
    question_kind, sentences, similarity,
)

log = logging.getLogger(__name__)
PROMPTS = Path(__file__).parent / "prompts"
T = TypeVar("T", bound=BaseModel)
STATE_VERSION = 1

# Explicit refusals. The model is also told not to push, but a refusal is honoured even if it is not.
_DECLINE = re.compile(
    r"\b(i'?d rather not|i would rather not|prefer not to|rather not (say|answer|talk|discuss|share|get into)"
    r"|(do not|don'?t) (want|wish|feel comfortable) to (talk|answer|discuss|say|share|get into|go into)"
    r"|not comfortable (talking|answering|sharing|discussing)|none of your business|that'?s (private|personal)"
    r"|no comment|i'?ll pass|pass on (this|that)|skip (this|that)( one| question)?|decline to)\b",
    re.I,
)


def is_decline(text: str) -> bool:
    """True for an explicit refusal to answer (short answers only: a long story that says "I'd rather not
    have moved" is not a refusal)."""
    stripped = text.strip()
    if stripped.casefold().strip(".! ") in {"pass", "skip", "no comment", "private"}:
        return True
    return len(stripped.split()) <= 30 and bool(_DECLINE.search(stripped))


@dataclass
class Utterance:
    text: str
    kind: str  # "intro" | "scripted" | "follow_up" | "closing" | "acknowledgement"
    question_id: str | None
    block: str | None
    turn_index: int
    expects_answer: bool = True  # False for the closing line and an acknowledgement
    block_label: str | None = None


@dataclass
class Progress:
    question_number: int  # 1-based position among the script's questions (0 before the first)
    total_questions: int
    block: str | None
    elapsed_s: float
    finished: bool
    block_label: str | None = None
    question_left_s: float | None = None  # allowance left on the current question
    planned_s: float = 0.0  # the script's total budget


@dataclass
class EngineSettings:
    notes_every: int = 4  # answers between reflection-note refreshes
    tail_chars: int = 5000  # conversation tail the next-utterance prompt sees (as in the paper)
    notes_input_chars: int = 6000  # conversation the notes prompt sees at most
    max_bullets: int = 20
    bullet_chars: int = 120
    max_follow_ups: int = 8  # per question; a guard, time is the real limit
    min_follow_up_s: float = 20.0  # a follow-up is asked only with at least this much allowance left
    assessment_chars: int = 400  # 3-4 sentences
    follow_up_chars: int = 250
    candidates: int = 3  # follow-ups the model offers in one reply; the first that passes the checks is said
    attempts: int = 2  # per model call: one repair, then move on (decisions) or keep the old notes
    regenerate: int = 1  # a single proposed follow-up that fails the checks is asked for again this many times
    # (a reply that offered several candidates, all refused, goes straight to the safe move), then the safe move
    probe_window: int = 8  # a curated probe is not said again within this many interviewer lines
    check_answers: bool = True  # notice empty, repeated or off-topic answers: rephrase once, then move on
    rephrase_with_model: bool = True  # the rephrase is written by the model (checked), else a curated re-ask
    rephrase_chars: int = 200
    validation: ValidatorSettings = field(default_factory=ValidatorSettings)
    # Voice. decide_in_background: `submit_answer` returns once the answer is saved (and a rule decision made);
    # the notes refresh and a model decision run in the background, and `next_utterance` waits for the decision.
    # acknowledge_after_s (with it): a model decision not done this long after `next_utterance` is called gets a
    # short neutral acknowledgement said first (None: never).
    decide_in_background: bool = False
    acknowledge_after_s: float | None = None

    # Token limits follow from the schema's length bounds (about 2 characters a token, the worst case
    # seen from a rambling small model, plus JSON syntax), so a grammar-constrained reply always
    # finishes instead of being cut off and retried.
    @property
    def decision_max_tokens(self) -> int:
        return (self.assessment_chars + max(1, self.candidates) * (self.follow_up_chars + 4)) // 2 + 64

    @property
    def notes_max_tokens(self) -> int:
        return self.max_bullets * (self.bullet_chars // 2 + 8) + 32


class FollowUpDecision(BaseModel):
    """What the model returns after an answer (fields in reasoning-first order): `follow_ups`, the candidate
    follow-ups, best first (`decision_schema` asks for these); `follow_up`, a single one (older replies and
    endpoints that ignore the schema), used when no candidate is given."""

    assessment: str
    action: Literal["follow_up", "move_on"]
    follow_ups: list[str] = []
    follow_up: str = ""

    def candidates(self) -> list[str]:
        """The proposed follow-ups, in order, blanks and exact duplicates left out."""
        out: list[str] = []
        for raw in self.follow_ups or [self.follow_up]:
            text = " ".join(raw.split())
            if text and text.casefold() not in {o.casefold() for o in out}:
                out.append(text)
        return out


class NotesUpdate(BaseModel):
    bullets: list[str]


class Rephrase(BaseModel):
    question: str


DECISION_SCHEMA_VERSION = 1
DecisionAction = Literal["follow_up", "move_on", "rephrase", "skip"]


class Proposal(BaseModel):
    """A follow-up the model proposed, and what the checks said of it."""

    text: str
    ok: bool
    problems: list[str] = []
    detail: str = ""
    trimmed: str = ""  # what `trim_follow_up` took off the model's text before the checks (an opening of thanks...)


class Decision(BaseModel):
    """What the interviewer decided after an answer, and why (stored in the `meta["decision"]` of the
    interviewer turn it leads to).

    reason: no_budget | declined | time | follow_up_limit | closed_answered (an adequate answer to a yes/no
    question) | skipped (no model asked); model (a follow-up that
    passed the checks, first time or regenerated: see `proposals`); objective_met (the model chose to move
    on); probe (the model's follow-ups failed the checks: a curated neutral probe instead); failed_checks (they
    failed and no probe was left: move on); model_error (no valid reply); answer_<problem> (the answer was
    empty, a repeat, off topic...: a rephrase); not_answered (still not an answer after a rephrase: move on).
    """

    schema_version: int = DECISION_SCHEMA_VERSION
    action: DecisionAction
    reason: str
    assessment: str = ""
    about_turn: int | None = None
    question_id: str | None = None
    question_left_s: float | None = None
    block_left_s: float | None = None
    follow_up: str | None = None  # the text to say, for follow_up and rephrase
    source: Literal["model", "regenerated", "probe", "curated"] | None = None
    proposals: list[Proposal] = []  # every follow-up the model proposed, in order, with the checks' verdict
    answer_problems: list[str] = []  # what the answer check found (empty when it was an answer)
    answer_detail: str = ""
    checks_version: int = CHECKS_VERSION
    model_s: float | None = None  # seconds spent in model calls for this decision
    error: str | None = None

    def record(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True, exclude_defaults=False)


def decision_schema(settings: "EngineSettings") -> dict[str, Any]:
    """The reply schema with length limits, so a grammar-constrained local model always finishes its JSON."""
    return {
        "type": "object",
        "properties": {
            "assessment": {"type": "string", "minLength": 10, "maxLength": settings.assessment_chars},
            "action": {"type": "string", "enum": ["follow_up", "move_on"]},
            "follow_ups": {
                "type": "array",
                "items": {"type": "string", "minLength": 10, "maxLength": settings.follow_up_chars},
                "maxItems": max(1, settings.candidates),
            },
        },
        "required": ["assessment", "action", "follow_ups"],
        "additionalProperties": False,
    }


def notes_schema(settings: "EngineSettings") -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "bullets": {
                "type": "array",
                "items": {"type": "string", "minLength": 3, "maxLength": settings.bullet_chars},
                "maxItems": settings.max_bullets,
            }
        },
        "required": ["bullets"],
        "additionalProperties": False,
    }


_KIND_OF = {"intro": "intro", "question": "scripted", "closing": "closing"}
ACKNOWLEDGEMENT = "acknowledgement"
# Said while the model decides (voice): neutral, no judgement of the answer, fine before a follow-up, a rephrase
# or the next question alike; the first one not said in the last `probe_window` lines is used.
ACKNOWLEDGEMENTS = ("I see.", "Okay.", "All right.", "Right.")


async def ask_structured(
    llm: LLM,
    messages: list[dict[str, str]],
    output_type: type[T],
    *,
    json_schema: dict[str, Any],
    max_tokens: int,
    attempts: int,
    validate: Any = None,
    retry_round: int = 0,
) -> T:
    """Ask for JSON matching `output_type` (repaired and retried by `LLM.structured`); raises
    `StructuredOutputError` when the reply stays invalid. `retry_round` > 0 asks anew (a new sampling round:
    a deterministic model would otherwise give the refused reply again)."""
    extra: dict[str, Any] = {"retry_round": retry_round} if retry_round else {}
    out = await llm.structured(
        messages, output_type, validate=validate, json_schema=json_schema, max_tokens=max_tokens, attempts=max(1, attempts),
        **extra,
    )
    return out.value


class _DecisionInputs(NamedTuple):
    answer: Turn
    block: Block
    question: ScriptQuestion
    left: float  # seconds of the question's allowance left
    block_left: float
    base: dict[str, Any]  # the decision's common fields
    answer_info: dict[str, Any]  # what the answer check found (empty for an answer)


class InterviewSession:
    def __init__(
        self,
        script: Script,
        respondent: str,
        llm: LLM,
        store: TranscriptStore,
        clock: Clock | None = None,
        *,
        name: str | None = None,
        settings: EngineSettings | None = None,
        similarity_fn: Similarity | None = None,
    ):
        self.script = script
        self.similarity_fn = similarity_fn  # e.g. an embedding cosine: judges answers off topic (else words only)
        self._respondent = validate_respondent(respondent)
        self.llm = llm
        self.store = store
        self.clock: Clock = clock or WallClock()
        self.settings = settings or EngineSettings()
        self.name = name or _display_name(respondent)
        self._items: list[tuple[Block, ScriptQuestion]] = list(script.items())
        self._position_of = {q.id: i for i, (_, q) in enumerate(self._items)}
        self._turns: list[Turn] = []
        self._notes = InterviewNotes()
        self._pos = -1  # index into _items of the question being discussed
        self._question_started = 0.0  # session time the current question was first asked
        self._follow_ups = 0
        self._used: dict[int, float] = {}  # item index -> seconds it took (questions already left)
        self._pending: Utterance | None = None  # asked, not yet answered
        self._decision: dict[str, Any] | None = None  # about the last answer (or a skip)
        self._needs_decision = False
        self._finished = False
        self._ended: str | None = None
        self._base = 0.0  # session time at `_origin` on the clock
        self._origin = self.clock.now()
        self._paused_at: float | None = None
        self._skip: dict[str, Any] | None = None  # the last skip request: {"turn": index it came after}
        self._lock = asyncio.Lock()
        budgets = [q.budget_s for _, q in self._items if q.kind == "question" and q.budget_s > 0]
        self._mean_budget = sum(budgets) / len(budgets) if budgets else 0.0  # a question's budget share is over this
        self._judged: tuple[int, str, Verdict | None] | None = None  # (turn, answer text, verdict) last judged
        self._unusable: str | None = None  # why the transcript was marked unusable (closed loop of non-answers)
        self._work: asyncio.Task[Decision | None] | None = None  # background notes refresh (+ model decision)
        self._work_decides = False  # `_work` ends in the decision about the last answer
        self._tasks: set[asyncio.Task[Decision | None]] = set()  # all background work not yet finished

    # -- opening and resuming ---------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        script: Script,
        respondent: str,
        llm: LLM,
        store: TranscriptStore,
        clock: Clock | None = None,
        *,
        name: str | None = None,
        settings: EngineSettings | None = None,
        meta: dict[str, Any] | None = None,
        similarity_fn: Similarity | None = None,
    ) -> "InterviewSession":
        """A new session, or the saved one resumed (same turns, notes, clock and pending question).

        `name` fills the script's {name}; `meta` adds fields to a new transcript's header line (e.g.
        `demographics`, `persona`, which `simulacra agents build` reads).
        """
        validate_respondent(respondent)
        transcript = store.load(respondent)
        state = store.load_state(respondent) or {}
        if transcript is not None:
            recorded = transcript.meta.get("script")
            if recorded and recorded != script.id:
                raise SessionStateError(
                    f"{store.path(respondent)} was recorded with script {recorded!r}, not {script.id!r}: "
                    f"resume it with that script, or use another respondent id"
                )
            name = name or transcript.meta.get("name")
        session = cls(script, respondent, llm, store, clock, name=name, settings=settings, similarity_fn=similarity_fn)
        if transcript is None:
            store.write_header(
                respondent, script=script.id, script_title=script.title, name=session.name,
                interviewer=script.interviewer_name, planned_s=script.total_budget_s, **(meta or {}),
            )
        else:
            session._restore(transcript, state)
        return session

    def _restore(self, transcript: Transcript, state: dict[str, Any]) -> None:
        self._turns = list(transcript.turns)
        self._notes = transcript.notes
        if transcript.meta.get("unusable"):
            self._unusable = str(transcript.meta.get("unusable_reason") or "marked unusable")
        last_time = 0.0
        for turn in self._turns:
            last_time = max(last_time, turn.ended_at or 0.0, turn.started_at or 0.0)
            if turn.speaker != "interviewer":
                continue
            if turn.question_id not in self._position_of:
                raise SessionStateError(
                    f"{self.store.path(self._respondent)}: turn {turn.index} belongs to question "
                    f"{turn.question_id!r}, which script {self.script.id!r} does not have"
                )
            position = self._position_of[turn.question_id]
            if turn.kind == "follow_up":
                self._follow_ups += 1
            elif position != self._pos:
                if self._pos >= 0:
                    self._used[self._pos] = (turn.started_at or 0.0) - self._question_started
                self._pos, self._question_started, self._follow_ups = position, turn.started_at or 0.0, 0
        self._base = max(last_time, float(state.get("elapsed_s") or 0.0))
        self._finished = bool(state.get("finished"))
        self._ended = state.get("ended")
        if not self._turns:
            return
        last = self._turns[-1]
        if last.kind == ACKNOWLEDGEMENT:  # said while deciding: the decision is about the answer before it
            last = self._last_answer()
        self._skip = state.get("skip")
        skipped = self._skipped_since(last.index)
        if last.speaker == "interviewer":
            if last.kind == "closing":
                self._finished, self._ended = True, self._ended or "completed"
            elif skipped:
                self._decision = {"action": "skip", "reason": "skipped", "about_turn": last.index}
            else:
                block, question = self._items[self._pos]
                self._pending = self._utterance(last, block, question)
        elif skipped:
            self._decision = {"action": "skip", "reason": "skipped", "about_turn": last.index}
        else:
            decision = state.get("decision")
            if decision and decision.get("about_turn") == last.index:
                self._decision = decision
            else:
                self._needs_decision = True  # killed between saving the answer and deciding

    # -- public API --------------------------------------------------------------------------------------
    @property
    def respondent(self) -> str:
        return self._respondent

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def ended(self) -> str | None:
        """Why the session finished: "completed", or the reason given to `end()` (None while it runs)."""
        return self._ended

    @property
    def notes(self) -> InterviewNotes:
        return self._notes

    @property
    def turns(self) -> list[Turn]:
        return list(self._turns)

    @property
    def pending(self) -> Utterance | None:
        return self._pending

    def current_item(self) -> tuple[Block, ScriptQuestion]:
        """The block and script question being discussed (the first one before the interview starts)."""
        return self._items[max(self._pos, 0)]

    @property
    def progress(self) -> Progress:
        block = self._items[self._pos][0] if self._pos >= 0 else None
        number = sum(1 for _, q in self._items[: self._pos + 1] if q.kind == "question")
        return Progress(
            question_number=number,
            total_questions=self.script.question_count,
            block=block.id if block else None,
            elapsed_s=round(self.elapsed(), 3),
            finished=self._finished,
            block_label=block.label if block else None,
            question_left_s=None if self._pos < 0 or self._finished else round(self.question_left(), 3),
            planned_s=self.script.total_budget_s,
        )

    def elapsed(self) -> float:
        """Interview time so far on the session clock (pauses and time away excluded)."""
        now = self._paused_at if self._paused_at is not None else self.clock.now()
        return self._base + now - self._origin

    def pause(self) -> None:
        """Stop the interview clock (e.g. the respondent asked for a break); `resume()` restarts it."""
        if self._paused_at is None:
            self._paused_at = self.clock.now()
            self._save_state()

    def resume(self) -> None:
        if self._paused_at is not None:
            self._origin += self.clock.now() - self._paused_at
            self._paused_at = None

    @property
    def busy(self) -> bool:
        """Background work (notes, a decision) is running for this session (`decide_in_background`)."""
        return bool(self._tasks)

    async def close(self) -> None:
        """Stop background work and wait until it has stopped (nothing is written for this session after)."""
        self._work, tasks = None, set(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    def _drop_decision_work(self) -> None:
        if self._work is not None and self._work_decides:
            self._work.cancel()  # its decision is no longer wanted (a skip or the end)
            self._work = None

    def skip(self) -> None:
        """Leave the current question: no (more) follow-ups; the next utterance is the next scripted line."""
        if self._finished or not self._turns:
            return
        self._drop_decision_work()
        last = self._turns[-1]
        self._pending = None
        self._needs_decision = False
        self._decision = {"action": "skip", "reason": "skipped", "about_turn": last.index}
        self._skip = {"turn": last.index, "at": now_iso()}
        self._save_state()

    def end(self, reason: str = "ended") -> None:
        """Finish the session now (the respondent quit); the transcript keeps everything said."""
        if not self._finished:
            self._drop_decision_work()
            self._finished, self._ended, self._pending = True, reason, None
            self._save_state()

    @property
    def unusable_reason(self) -> str | None:
        """Why the transcript was marked unusable (`mark_unusable`), or None."""
        return self._unusable

    def mark_unusable(self, reason: str) -> None:
        """End the session and mark its transcript unusable: a `{"type": "status", "unusable": true}` line that
        `simulacra agents build` refuses without --force (`simulacra.transcript.check_usable`)."""
        record = {"type": "status", "unusable": True, "unusable_reason": reason, "unusable_at": now_iso()}
        append_line(self.store.path(self._respondent), json.dumps(record, ensure_ascii=False))
        self._unusable = reason
        self.end("unusable")

    def judge_answer(self, text: str, *, agent: bool = False) -> Verdict | None:
        """The answer checks (`validation.check_answer`, adequacy included) on `text` as the answer to the line
        now waiting; None when that line is not judged (the intro or closing, a line with no budget, or
        `EngineSettings.check_answers` off). `submit_answer` stores the outcome in the turn's `adequacy`."""
        pending = self._pending
        text = (text or "").strip()
        if pending is None or self._pos < 0 or not self.settings.check_answers:
            return None
        block, question = self._items[self._pos]
        if question.kind != "question" or question.budget_s <= 0:
            return None
        if self._judged is not None and self._judged[:2] == (pending.turn_index, text):
            return self._judged[2]
        # the question's share of the script's time (1 for a follow-up): kept by `shorten`, which scales every budget
        share = question.budget_s / self._mean_budget if pending.kind == "scripted" and self._mean_budget > 0 else 1.0
        verdict = check_answer(
            text,
            question=question.text.replace("{name}", self.name),
            objective=question.objective or "",
            block=block.label or block.id,
            earlier_answers=[t.text for t in self._turns if t.speaker == "respondent" and t.text],
            asked=[t.text for t in self._question_turns()],
            agent=agent,
            name=self.name,
            settings=self.settings.validation,
            similarity_fn=self.similarity_fn,
            line=pending.text,
            budget_share=share,
            interviewer_lines=self._interviewer_lines(),
        )
        self._judged = (pending.turn_index, text, verdict)
        return verdict

    async def next_utterance(self) -> Utterance | None:
        """The interviewer's next line, saved before it is returned; the same one again until answered."""
        async with self._lock, provenance.about(self._respondent):  # model calls here are made from their words
            if self._finished:
                return None
            if self._pending is not None:
                return self._pending
            if self.settings.decide_in_background:
                acknowledgement = await self._settle_decision()
                if acknowledgement is not None:
                    return acknowledgement
            elif self._needs_decision:
                await self._decide()
            decision = self._decision
            if decision and decision.get("action") in ("follow_up", "rephrase") and self._pos >= 0:
                block, question = self._items[self._pos]
                text, kind, meta = decision["follow_up"], "follow_up", {"decision": decision}
                self._follow_ups += 1
            else:
                if not self._advance():
                    return None
                block, question = self._items[self._pos]
                text = question.text.replace("{name}", self.name)
                kind = _KIND_OF[question.kind]
                meta = self._timing_meta()
                if decision:
                    meta["decision"] = decision
            turn = self._say(text, kind, block, question, meta)
            self._decision = None
            if question.kind == "closing":
                self._finished, self._ended = True, "completed"
            else:
                self._pending = self._utterance(turn, block, question)
            self._save_state()
            return self._utterance(turn, block, question)

    async def submit_answer(self, text: str, duration_s: float | None = None, meta: dict[str, Any] | None = None) -> None:
        """Save the respondent's answer (flushed), then refresh notes if due and decide what comes next."""
        async with self._lock, provenance.about(self._respondent):  # model calls here are made from their words
            if self._finished:
                raise SessionStateError(f"the interview of {self._respondent} is finished")
            pending = self._pending
            if pending is None or not pending.expects_answer:
                raise SessionStateError("no question is waiting for an answer: call next_utterance() first")
            text = (text or "").strip()
            before = self.elapsed()
            if isinstance(self.clock, SpeechClock):
                self.clock.spoken(text, duration_s)
            after = self.elapsed()
            started = after - duration_s if duration_s is not None else (before if after > before else None)
            info: dict[str, Any] = {"words": len(text.split())}
            if duration_s is not None:
                info["duration_s"] = duration_s
            info.update(meta or {})
            verdict = self.judge_answer(text, agent=bool(info.get("respondent_agent")))
            if verdict is not None and not verdict.ok:
                info["answer_check"] = {"problems": verdict.problems, "detail": verdict.explain()[:300]}
            turn = Turn(
                index=len(self._turns), speaker="respondent", text=text, question_id=pending.question_id,
                block=pending.block, kind="answer", started_at=started, ended_at=after, meta=info,
                adequacy=None if verdict is None else "adequate" if verdict.ok else "non_answer",
            )
            self.store.append(self._respondent, turn)
            self._turns.append(turn)
            self._pending = None
            self._decision = None
            self._needs_decision = True
            self._save_state()
            if self.settings.decide_in_background:
                self._decide_soon()
                return
            await self._refresh_notes_if_due()
            await self._decide()
            self._save_state()

    # -- time -----------------------------------------------------------------------------------------------
    def _carry(self, position: int) -> float:
        """Unused (or, if negative, overrun) time of the questions before `position` in its block."""
        block = self._items[position][0]
        carry = 0.0
        for index in range(position - 1, -1, -1):
            earlier_block, question = self._items[index]
            if earlier_block is not block:
                break
            carry += question.budget_s - self._used.get(index, question.budget_s)
        return carry

    def allowance(self, position: int | None = None) -> float:
        position = self._pos if position is None else position
        return self._items[position][1].budget_s + self._carry(position)

    def question_left(self) -> float:
        """Seconds of the current question's allowance not yet used (negative when over)."""
        return self.allowance() - (self.elapsed() - self._question_started)

    def block_left(self) -> float:
        block = self._items[self._pos][0]
        later = sum(q.budget_s for b, q in self._items[self._pos + 1 :] if b is block)
        return self.question_left() + later

    def _timing_meta(self) -> dict[str, Any]:
        question = self._items[self._pos][1]
        meta: dict[str, Any] = {"budget_s": question.budget_s, "carry_s": round(self._carry(self._pos), 3)}
        previous = self._pos - 1
        if previous >= 0 and self._items[previous][0] is not self._items[self._pos][0]:
            block = self._items[previous][0]
            used = sum(self._used.get(i, 0.0) for i, (b, _) in enumerate(self._items) if b is block)
            meta["previous_block_unused_s"] = round(block.budget_s - used, 3)
        return meta

    def _advance(self) -> bool:
        """Close the current question and move to the next script line; False (and finished) at the end."""
        now = self.elapsed()
        if self._pos >= 0:
            self._used[self._pos] = now - self._question_started
        if self._pos + 1 >= len(self._items):
            self._finished, self._ended = True, "completed"
            self._save_state()
            return False
        self._pos += 1
        self._question_started = now
        self._follow_ups = 0
        return True

    # -- turns ----------------------------------------------------------------------------------------------
    def _say(self, text: str, kind: str, block: Block, question: ScriptQuestion, meta: dict[str, Any]) -> Turn:
        started = self.elapsed()
        ended = None
        if isinstance(self.clock, SpeechClock):
            self.clock.spoken(text)
            ended = self.elapsed()
        turn = Turn(
            index=len(self._turns), speaker="interviewer", text=text, question_id=question.id,
            block=block.id, kind=kind, started_at=started, ended_at=ended, meta=meta,
        )
        self.store.append(self._respondent, turn)
        self._turns.append(turn)
        return turn

    def _utterance(self, turn: Turn, block: Block, question: ScriptQuestion) -> Utterance:
        return Utterance(
            text=turn.text, kind=turn.kind, question_id=question.id, block=block.id, turn_index=turn.index,
            expects_answer=question.expects_answer, block_label=block.label,
        )

    def _save_state(self) -> None:
        state = {
            "version": STATE_VERSION,
            "script": self.script.id,
            "respondent": self._respondent,
            "name": self.name,
            "elapsed_s": round(self.elapsed(), 3),
            "turns": len(self._turns),
            "position": self._pos,
            "decision": self._decision,
            "skip": self._skip,
            "finished": self._finished,
            "ended": self._ended,
            "saved": now_iso(),
        }
        self.store.save_state(self._respondent, state)

    # -- model calls ------------------------------------------------------------------------------------------
    def conversation_tail(
        self, chars: int | None = None, since_turn: int = -1, until_turn: int | None = None,
        leave_out: tuple[str, ...] = (ACKNOWLEDGEMENT,),
    ) -> str:
        """The last `chars` characters of the conversation (whole turns where they fit), from after `since_turn`
        to `until_turn` (included), without turns of the kinds in `leave_out` (acknowledgements say nothing)."""
        limit = self.settings.tail_chars if chars is None else chars
        parts: list[str] = []
        size = 0
        for turn in reversed(self._turns):
            if turn.index <= since_turn:
                break
            if (until_turn is not None and turn.index > until_turn) or turn.kind in leave_out:
                continue
            speaker = self.script.interviewer_name if turn.speaker == "interviewer" else "Interviewee"
            line = f"{speaker}: {turn.text}"
            if size + len(line) + 2 > limit:
                room = limit - size - 2
                if room > 40:
                    parts.append("..." + line[-(room - 3):])
                break
            parts.append(line)
            size += len(line) + 2
        return "\n\n".join(reversed(parts))

    def _notes_text(self) -> str:
        return "\n".join(f"- {b}" for b in self._notes.bullets) or "(none yet)"

    def _notes_due(self, until: int) -> bool:
        since = self._notes.updated_at_turn
        answers = sum(1 for t in self._turns if since < t.index <= until and t.speaker == "respondent" and t.text)
        return answers >= self.settings.notes_every

    async def _refresh_notes_if_due(self, until: int | None = None) -> None:
        """Rewrite the notes from the conversation since the last refresh, up to turn `until` (the last answer)."""
        until = self._turns[-1].index if until is None else until
        if not self._notes_due(until):
            return
        since = self._notes.updated_at_turn
        s = self.settings
        messages = render_prompt(
            PROMPTS / "notes.txt",
            notes=self._notes_text(),
            conversation=self.conversation_tail(s.notes_input_chars, since_turn=since, until_turn=until),
            max_bullets=s.max_bullets,
        )
        try:
            value = await ask_structured(
                self.llm, messages, NotesUpdate, json_schema=notes_schema(s), max_tokens=s.notes_max_tokens, attempts=s.attempts
            )
        except (StructuredOutputError, EndpointError) as exc:
            log.warning("reflection notes for %s not refreshed (will retry next turn): %s", self._respondent, exc)
            return
        bullets: list[str] = []
        seen: set[str] = set()
        for bullet in value.bullets:
            clean = " ".join(bullet.strip().lstrip("-*• ").split())[: s.bullet_chars]
            if clean and clean.casefold() not in seen:
                seen.add(clean.casefold())
                bullets.append(clean)
        if not bullets:
            bullets = list(self._notes.bullets)
        self._notes = InterviewNotes(bullets=bullets[: s.max_bullets], updated_at_turn=until)
        self.store.save_notes(self._respondent, self._notes)
        log.debug("notes for %s: %s", self._respondent, self._notes.bullets)

    # -- decisions ---------------------------------------------------------------------------------------------
    def _decision_inputs(self) -> _DecisionInputs:
        """The last answer, its block and question, the time left, the decision's common fields and what the answer
        check found."""
        answer = self._last_answer()
        block, question = self._items[self._pos]
        left, block_left = self.question_left(), self.block_left()
        base: dict[str, Any] = {
            "about_turn": answer.index,
            "question_id": question.id,
            "question_left_s": round(left, 1),
            "block_left_s": round(block_left, 1),
        }
        answer_info: dict[str, Any] = {}
        if answer.adequacy == "non_answer" and self.settings.check_answers:  # judged when submitted (`judge_answer`)
            check = answer.meta.get("answer_check") or {}
            answer_info = {"answer_problems": list(check.get("problems") or ["other"]), "answer_detail": str(check.get("detail") or "")}
        return _DecisionInputs(answer, block, question, left, block_left, base, answer_info)

    def _rule_decision(self) -> Decision | None:
        """The decision where a rule makes it (no model asked), else None: a rephrase or the model's decision."""
        answer, _, question, left, _, base, answer_info = self._decision_inputs()
        s = self.settings
        if question.kind != "question" or question.budget_s <= 0:
            return Decision(**base, action="move_on", reason="no_budget")
        if is_decline(answer.text):
            return Decision(**base, action="move_on", reason="declined",
                            assessment="The interviewee declined to answer; not pressing them.")
        if answer_info and (answer.meta.get("agent_check") or {}).get("regenerated"):  # an agent, asked twice
            return Decision(**base, **answer_info, action="move_on", reason="not_answered",
                            assessment="The agent was asked again once and still gave no answer; moving on.")
        if answer_info and not self._rephrased():
            return None  # a rephrase (written by the model, or curated)
        if answer_info:
            return Decision(**base, **answer_info, action="move_on", reason="not_answered",
                            assessment="Still no answer after a rephrase; moving on.")
        if left < s.min_follow_up_s:
            return Decision(**base, action="move_on", reason="time",
                            assessment=f"This question's time is used up ({left:.0f} s of its allowance left).")
        if self._follow_ups >= s.max_follow_ups:
            return Decision(**base, action="move_on", reason="follow_up_limit")
        if answer.adequacy == "adequate" and question_kind(self._question_turns()[-1].text) == "closed":
            return Decision(**base, action="move_on", reason="closed_answered",
                            assessment="A yes/no question, answered; moving on without asking the model.")
        return None

    async def _make_decision(self) -> Decision:
        """Follow up, rephrase or move on, after the last answer: by rule where one decides, else with the model."""
        decision = self._rule_decision()
        if decision is not None:
            return decision
        _, block, question, left, block_left, base, answer_info = self._decision_inputs()
        if answer_info:
            return Decision(**base, **answer_info, **await self._rephrase(block, question, answer_info))
        return Decision(**base, **await self._ask_model(block, question, left, block_left))

    def _record_decision(self, decision: Decision) -> None:
        if self._skipped_since(decision.about_turn if decision.about_turn is not None else len(self._turns)):
            decision = Decision(  # skipped while the model was thinking
                about_turn=decision.about_turn, question_id=decision.question_id, question_left_s=decision.question_left_s,
                block_left_s=decision.block_left_s, action="skip", reason="skipped", assessment=decision.assessment,
            )
        self._decision = decision.record()
        self._needs_decision = False

    async def _decide(self) -> None:
        """Decide about the last answer now; the result waits in `_decision`."""
        self._record_decision(await self._make_decision())

    def _skipped_since(self, index: int) -> bool:
        turn = (self._skip or {}).get("turn")
        return isinstance(turn, int) and turn >= index

    # -- deciding in the background (voice) ----------------------------------------------------------------------
    def _decide_soon(self) -> None:
        """After an answer (`decide_in_background`): a rule decision now; notes and a model decision in the background."""
        until = self._turns[-1].index
        decision = self._rule_decision()
        if decision is not None:
            self._record_decision(decision)
            self._save_state()
            if self._notes_due(until):
                self._start_work(until, decide=False)
        else:
            self._start_work(until, decide=True)

    def _start_work(self, until: int, *, decide: bool) -> None:
        previous = self._work

        async def work() -> Decision | None:
            async with provenance.about(self._respondent):
                if previous is not None and not previous.done():
                    await asyncio.wait({previous})  # the notes refresh of an earlier answer
                await self._refresh_notes_if_due(until)
                return await self._make_decision() if decide else None

        self._work = task = asyncio.create_task(work())
        self._work_decides = decide
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_report_failure)

    async def _settle_decision(self) -> Utterance | None:
        """Wait for the decision about the last answer (started now after a restart). Returns an acknowledgement
        to say first when the decision takes longer than `acknowledge_after_s` and none was said yet."""
        if not self._needs_decision:
            return None
        if self._work is None or not self._work_decides:
            self._start_work(self._last_answer().index, decide=True)
        work = self._work
        assert work is not None
        grace = self.settings.acknowledge_after_s
        if grace is not None and self._turns[-1].speaker == "respondent":
            done, _ = await asyncio.wait({work}, timeout=grace)
            if not done:
                return self._acknowledge()
        await asyncio.wait({work})
        if self._work is work:
            self._work = None
        if work.cancelled():  # a skip or the end took over
            return None
        decision = work.result()
        if decision is not None and self._needs_decision:
            self._record_decision(decision)
            self._save_state()
        return None

    def _acknowledge(self) -> Utterance:
        """Say a short neutral acknowledgement (saved first), while the decision is being made."""
        block, question = self._items[self._pos]
        recent = [t.text for t in self._turns if t.speaker == "interviewer"][-self.settings.probe_window :]
        said = sum(1 for t in self._turns if t.kind == ACKNOWLEDGEMENT)
        order = ACKNOWLEDGEMENTS[said % len(ACKNOWLEDGEMENTS):] + ACKNOWLEDGEMENTS[: said % len(ACKNOWLEDGEMENTS)]
        text = next((a for a in order if a not in recent), order[0])
        turn = self._say(text, ACKNOWLEDGEMENT, block, question, {"acknowledges": self._last_answer().index})
        self._save_state()
        return Utterance(text=turn.text, kind=turn.kind, question_id=question.id, block=block.id, turn_index=turn.index,
                         expects_answer=False, block_label=block.label)

    # -- what the respondent said ----------------------------------------------------------------------------
    def _last_answer(self) -> Turn:
        return next(t for t in reversed(self._turns) if t.speaker == "respondent")

    def _question_turns(self) -> list[Turn]:
        """The interviewer's lines on the current question (the scripted one first; no acknowledgements)."""
        question_id = self._items[self._pos][1].id
        return [t for t in self._turns if t.speaker == "interviewer" and t.question_id == question_id and t.kind != ACKNOWLEDGEMENT]

    def _rephrased(self) -> bool:
        return any((t.meta.get("decision") or {}).get("action") == "rephrase" for t in self._question_turns())

    def _interviewer_lines(self) -> list[str]:
        return [t.text for t in self._turns if t.speaker == "interviewer" and t.kind != ACKNOWLEDGEMENT]

    async def _rephrase(self, block: Block, question: ScriptQuestion, answer_info: dict[str, Any]) -> dict[str, Any]:
        """Ask the last line again in other words (once per question), after an answer that was not one."""
        target = self._question_turns()[-1].text
        problem = answer_info["answer_problems"][0]
        out: dict[str, Any] = {"action": "rephrase", "reason": f"answer_{problem}"}
        proposals: list[Proposal] = []
        started = time.perf_counter()
        if self.settings.rephrase_with_model:
            messages = render_prompt(
                PROMPTS / "rephrase.txt",
                interviewer_name=self.script.interviewer_name,
                language=self.script.language,
                question=target,
                answer=self._last_answer().text[-600:] or "(nothing)",
                problem=_ANSWER_PROBLEM_WORDS.get(problem, problem),
            )
            try:
                value = await ask_structured(
                    self.llm, messages, Rephrase, json_schema=rephrase_schema(self.settings),
                    max_tokens=self.settings.rephrase_chars // 2 + 32, attempts=self.settings.attempts,
                )
                text = " ".join(value.question.split())
                earlier = [line for line in self._interviewer_lines() if line != target]
                check = check_follow_up(
                    text, question=target, answer="", objective=question.objective or "", block=block.label or block.id,
                    earlier=earlier, settings=self.settings.validation,
                )
                ok = check.ok and similarity(text, target) < 0.95
                proposals.append(Proposal(text=text, ok=ok, problems=check.problems or ([] if ok else ["not_repeat"]),
                                          detail=check.explain() or ("" if ok else "the same question again")))
                if ok:
                    out.update(follow_up=text, source="model")
            except (StructuredOutputError, EndpointError) as exc:
                out["error"] = str(exc)[:300]
        if "follow_up" not in out:
            out.update(follow_up=_CURATED_REPHRASE.get(problem, _CURATED_REPHRASE["other"]) + " " + target, source="curated")
        out["proposals"] = proposals
        out["assessment"] = f"The answer was not an answer to the question ({answer_info['answer_detail'][:200]}); asking it again once."
        out["model_s"] = round(time.perf_counter() - started, 3)
        return out

    # -- follow-ups --------------------------------------------------------------------------------------------
    def _check_follow_up(self, text: str, block: Block, question: ScriptQuestion) -> Verdict:
        answer = self._last_answer()
        return check_follow_up(
            text,
            question=question.text.replace("{name}", self.name),
            answer=answer.text,
            objective=question.objective or "",
            block=block.label or block.id,
            earlier=self._interviewer_lines(),
            settings=self.settings.validation,
            similarity_fn=self.similarity_fn,
        )

    async def _ask_model(self, block: Block, question: ScriptQuestion, left: float, block_left: float) -> dict[str, Any]:
        """The model's decision. It offers up to `candidates` follow-ups in one reply, best first; each is checked
        (`interviewer.validation`, after a formulaic opening and extra questions are taken off: `trim_follow_up`)
        and the first that passes is said. When none passes, a reply that offered a single follow-up is asked for again once with the
        checks' complaints (`regenerate`); then a curated neutral probe is said (or the interview moves on).
        Every candidate checked is recorded in `proposals`."""
        messages = render_prompt(
            PROMPTS / "next_utterance.txt",
            interviewer_name=self.script.interviewer_name,
            language=self.script.language,
            notes=self._notes_text(),
            # the interviewer's own intro (1,783 characters of the paper's script, about 420 tokens) tells nothing
            # about the interviewee: left out, it no longer costs each early decision its prompt time
            conversation=self.conversation_tail(leave_out=(ACKNOWLEDGEMENT, "intro")),
            question=question.text.replace("{name}", self.name),
            objective=question.objective or "learn the interviewee's full answer to: " + question.text.replace("{name}", self.name),
            question_left=max(0, round(left)),
            block_left=max(0, round(block_left)),
            block=block.label or block.id,
            follow_ups=self._follow_ups,
        )
        proposals: list[Proposal] = []
        started = time.perf_counter()
        assessment = ""
        error: str | None = None
        for attempt in range(1 + max(0, self.settings.regenerate)):
            try:
                value = await ask_structured(
                    self.llm, messages, FollowUpDecision, json_schema=decision_schema(self.settings),
                    max_tokens=self.settings.decision_max_tokens, attempts=self.settings.attempts, retry_round=attempt,
                )
            except (StructuredOutputError, EndpointError) as exc:
                log.warning("follow-up decision failed for %s: %s", self._respondent, exc)
                error = str(exc)[:300]
                break
            assessment = " ".join(value.assessment.split())[: self.settings.assessment_chars]
            if value.action == "move_on":
                return {"action": "move_on", "reason": "objective_met", "assessment": assessment, "proposals": proposals,
                        "model_s": round(time.perf_counter() - started, 3)}
            offered = value.candidates()[: max(1, self.settings.candidates)] or [""]  # none: an empty proposal, refused
            chosen: str | None = None
            refused: list[str] = []
            for candidate in offered:
                text, trimmed = trim_follow_up(candidate[: self.settings.follow_up_chars])
                verdict = self._check_follow_up(text, block, question)
                proposals.append(Proposal(text=text, ok=verdict.ok, problems=verdict.problems, detail=verdict.explain()[:400],
                                          trimmed=trimmed))
                if not verdict.ok:
                    log.info("follow-up refused for %s (%s)", self._respondent, verdict.problems)
                    refused.append(verdict.explain()[:400 // len(offered)])
                elif chosen is None:
                    chosen = text
            if chosen is not None:
                return {"action": "follow_up", "reason": "model", "assessment": assessment, "follow_up": chosen,
                        "source": "model" if attempt == 0 else "regenerated", "proposals": proposals,
                        "model_s": round(time.perf_counter() - started, 3)}
            if len(offered) > 1:  # several candidates, all refused: no round trip, the safe move
                break
            messages = [
                *messages,
                {"role": "assistant", "content": value.model_dump_json(exclude_defaults=True)},
                {"role": "user", "content": _REGENERATE.format(problems="; ".join(refused))},
            ]
        spent = round(time.perf_counter() - started, 3)
        if not proposals:  # no usable reply at all
            return {"action": "move_on", "reason": "model_error", "assessment": assessment, "error": error, "model_s": spent}
        recent = self._interviewer_lines()[-self.settings.probe_window :]
        probe = pick_probe(recent, question=question.text, answer=self._last_answer().text, settings=self.settings.validation)
        if probe is not None:
            return {"action": "follow_up", "reason": "probe", "assessment": assessment, "follow_up": probe, "source": "probe",
                    "proposals": proposals, "error": error, "model_s": spent}
        return {"action": "move_on", "reason": "failed_checks", "assessment": assessment, "proposals": proposals,
                "error": error, "model_s": spent}


_REGENERATE = (
    "That follow-up cannot be said to the interviewee: {problems}. Reply again with the same JSON fields. Each of "
    "the follow_ups must be one short, specific question, in plain spoken words, about a detail the interviewee just "
    "named, with no thanks or praise first, and not one already asked; or choose move_on."
)

# A formulaic opening a small model puts before every follow-up ("Thank you for sharing your life story."): said
# each time, it makes each follow-up too like the last (`not_repeat`), and it tells the respondent nothing.
_OPENING = re.compile(
    r"^(?:thank(?:s|\s+you)\b|i\s+(?:really\s+|truly\s+)?appreciate\b"
    r"|(?:that'?s|that\s+is|this\s+is|it'?s|it\s+is|what|how)\s+(?:(?:very|so|really|truly|such|an?)\s+)*"
    r"(?:great|wonderful|interesting|fascinating|amazing|lovely|nice|inspiring|impressive|beautiful|remarkable"
    r"|incredible|touching|moving|insightful|helpful)\b"
    r"|(?:great|wonderful|wow|fascinating|amazing|lovely|excellent|perfect)\b)",
    re.I,
)
_QUESTION_START = re.compile(
    r"^(?:could|can|would|will|what|how|why|when|where|who|whom|which|whose|did|do|does|was|were|is|are|have|has"
    r"|had|tell|in\s+what)\b",
    re.I,
)


def _is_question(sentence: str) -> bool:
    return sentence.rstrip("\"')] ").endswith("?")


def trim_follow_up(text: str) -> tuple[str, str]:
    """Take off a proposed follow-up what a small model wraps around its question: a formulaic opening (leading
    sentences of thanks or praise, "Thank you for sharing your story.", "That's fascinating!", or a leading clause of
    thanks, "Thank you for sharing that, what did you..."), sentences after the last question ("...? I'm curious
    about the exact quantities.") and, when it asks more than two questions at once, every question after the first.
    Returns (what is left, what was taken off, pieces joined by " / "); the text unchanged and "" when there is
    nothing to take off or no question would be left. The checks then judge what is left, which is what is said."""
    text = " ".join(text.split())
    parts = sentences(text)
    removed: list[str] = []
    cut = 0
    while cut < len(parts) - 1 and not _is_question(parts[cut]) and _OPENING.match(parts[cut]):
        cut += 1
    removed += parts[:cut]
    kept = parts[cut:]
    if kept and re.match(r"thanks?\b|thank\s+you\b", kept[0], re.I) and ", " in kept[0]:
        head, tail = kept[0].split(", ", 1)
        if _QUESTION_START.match(tail) and "?" not in head:
            removed.append(head + ",")
            kept[0] = tail[:1].upper() + tail[1:]
    asked = [i for i, part in enumerate(kept) if _is_question(part)]
    if not asked:
        return text, ""
    end = asked[0] if len(asked) > 2 else asked[-1]
    removed += kept[end + 1 :]
    rest = " ".join(kept[: end + 1])
    if not removed or rest == text:
        return text, ""
    return rest, " / ".join(removed)


_ANSWER_PROBLEM_WORDS = {
    "empty": "the interviewee said nothing",
    "acknowledgement": "the interviewee only acknowledged the question and did not answer it",
    "too_short": "the answer was too short for what the question asks",
    "echo": "the interviewee repeated the question's own words instead of answering",
    "same_short": "the interviewee gave the same short reply as to earlier questions",
    "repeat": "the interviewee repeated an earlier answer",
    "off_topic": "the interviewee talked about something else",
    "meta": "the interviewee talked about the interview instead of answering",
    "first_person": "the interviewee did not answer about themselves",
    "loop": "the interviewee repeated themselves",
}
_CURATED_REPHRASE = {
    "empty": "Take your time.",
    "repeat": "I think you told me that a moment ago. Let me ask it again:",
    "other": "Sorry, I may not have been clear.",
}


def rephrase_schema(settings: EngineSettings) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"question": {"type": "string", "minLength": 10, "maxLength": settings.rephrase_chars}},
        "required": ["question"],
        "additionalProperties": False,
    }


def _report_failure(task: asyncio.Task[Any]) -> None:
    """Log background work that failed unexpectedly (the caller waiting for its decision gets the error too)."""
    if not task.cancelled() and task.exception() is not None:
        log.error("background interviewer work failed: %r", task.exception())


def _display_name(respondent: str) -> str:
    """How the script's {name} is filled when no name is given: the id, made readable."""
    return " ".join(part.capitalize() for part in re.split(r"[_-]+", respondent) if part) or respondent


__all__ = [
    "InterviewSession", "Utterance", "Progress", "EngineSettings", "FollowUpDecision", "NotesUpdate", "Decision",
    "Proposal", "is_decline", "trim_follow_up",
]


def progress_dict(progress: Progress) -> dict[str, Any]:
    """A JSON-ready view of `Progress` (for transports)."""
    return asdict(progress)
