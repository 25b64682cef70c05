"""What the web routes use of a live interview: the typed interface between HTTP and the engine.

`InterviewEngine` names every attribute and method the routes (interviewer/web/routes_*.py) call on a live
session, and nothing else; `interviewer.engine.InterviewSession` is the implementation (a test checks it
provides every member). `SessionOpener` is the signature of `create_app(session_opener=...)`, which opens
(or resumes) a respondent's session. The routes call these members directly: no capability is optional, so
nothing probes the engine with `hasattr`/`getattr`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from interviewer.clock import Clock
from interviewer.script import Script
from interviewer.storage import TranscriptStore

if TYPE_CHECKING:  # for annotations only: importing the engine loads the prompt stack (langchain, ~1.5 s)
    from interviewer.engine import Progress


class SpokenLine(Protocol):
    """An interviewer utterance as the page shows it (`interviewer.engine.Utterance`); read-only here."""

    @property
    def text(self) -> str: ...
    @property
    def kind(self) -> str: ...  # "intro" | "scripted" | "follow_up" | "closing" | "acknowledgement"
    @property
    def question_id(self) -> str | None: ...
    @property
    def block(self) -> str | None: ...
    @property
    def block_label(self) -> str | None: ...
    @property
    def turn_index(self) -> int: ...
    @property
    def expects_answer(self) -> bool: ...  # False for the closing line and an acknowledgement


class SavedTurn(Protocol):
    """One line of the transcript (`simulacra.transcript.Turn`), as the speech route reads it; read-only here."""

    @property
    def index(self) -> int: ...
    @property
    def speaker(self) -> str: ...  # "interviewer" | "respondent"
    @property
    def text(self) -> str: ...


@runtime_checkable
class InterviewEngine(Protocol):
    """A respondent's live interview session: everything the web routes call on it."""

    @property
    def progress(self) -> Progress:
        """Where the interview is (a dataclass: the routes send `dataclasses.asdict` of it)."""
        ...

    @property
    def pending(self) -> SpokenLine | None:
        """The utterance waiting for an answer, or None."""
        ...

    @property
    def turns(self) -> Sequence[SavedTurn]:
        """The transcript so far, in order."""
        ...

    @property
    def busy(self) -> bool:
        """Work about the last answer (notes, the interviewer's decision) is still running in the background."""
        ...

    async def next_utterance(self) -> SpokenLine | None:
        """The utterance to say now (the waiting one again until it is answered); None when finished. An
        acknowledgement said while the decision is made expects no answer: the line after it is the next call's."""
        ...

    async def close(self) -> None:
        """Stop background work; nothing is written for this session once it returns."""
        ...

    async def submit_answer(self, text: str, duration_s: float | None = None) -> None:
        """Save the answer to the waiting utterance."""
        ...

    def skip(self) -> None:
        """Leave the waiting question unanswered."""
        ...

    def pause(self) -> None:
        """Stop the interview clock."""
        ...

    def resume(self) -> None:
        """Restart the interview clock (a no-op when it runs)."""
        ...


class SessionOpener(Protocol):
    """Opens (or resumes from its saved transcript) a respondent's session; `InterviewSession.open` is one."""

    def __call__(self, script: Script, respondent: str, llm: Any, store: TranscriptStore, clock: Clock, *,
                 name: str) -> InterviewEngine: ...
