"""Clocks the session engine measures interview time on.

The engine only asks `now()` (seconds, any origin) and keeps its own offset, so a resumed session
continues from the time saved with its transcript, and time spent paused or away does not count.

- `WallClock`: real time, for live (voice or typed) sessions.
- `SpeakingRateClock`: time estimated from the words said at a speaking rate, so a typed session, or an
  agent answering, keeps the pace the script's budgets assume for speech (a typed 150-word answer
  "takes" a minute, however long the typing took).
- `FakeClock`: moved by hand, for tests.

A clock that also has `spoken(text, duration_s)` (the `SpeechClock` protocol) is told about each
utterance and answer; that is how the speaking-rate estimate advances.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

WORDS_PER_MINUTE = 150.0  # conversational English speech


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since an arbitrary origin; never goes backwards."""
        ...


@runtime_checkable
class SpeechClock(Protocol):
    def now(self) -> float: ...

    def spoken(self, text: str, duration_s: float | None = None) -> None:
        """Account for `text` having been said (taking `duration_s` when it is known)."""
        ...


class WallClock:
    """Real elapsed time (monotonic: unaffected by changes of the system clock)."""

    def now(self) -> float:
        return time.monotonic()


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, start: float = 0.0):
        self.t = float(start)

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self.t += seconds
        return self.t


def speaking_seconds(text: str, words_per_minute: float = WORDS_PER_MINUTE) -> float:
    return len(text.split()) / words_per_minute * 60.0


class SpeakingRateClock:
    """Time as it would pass if every utterance and answer were spoken at `words_per_minute`.

    Each turn also costs `turn_gap_s` (the pause before someone starts talking). A known duration (e.g. a
    recording's length) is used as given instead of the estimate.
    """

    def __init__(self, words_per_minute: float = WORDS_PER_MINUTE, turn_gap_s: float = 1.0):
        if words_per_minute <= 0:
            raise ValueError("words_per_minute must be positive")
        self.words_per_minute = words_per_minute
        self.turn_gap_s = turn_gap_s
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def spoken(self, text: str, duration_s: float | None = None) -> None:
        seconds = duration_s if duration_s is not None else speaking_seconds(text, self.words_per_minute)
        self.t += self.turn_gap_s + max(0.0, seconds)
