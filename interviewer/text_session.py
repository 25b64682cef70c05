"""The terminal transport: a typed interview with the engine, in rich.

Commands typed instead of an answer: `/pause` (stop the clock until Enter), `/skip` (next question),
`/quit` (leave now; run the same command later to resume where it stopped), `/end` (end the interview
for good), `/help`. Ctrl-D or Ctrl-C behave like `/quit`. Everything said is already saved.
"""

from __future__ import annotations

from typing import Callable, Literal

from rich.console import Console
from rich.markup import escape

from interviewer.engine import InterviewSession, Progress, Utterance

ReadLine = Callable[[str], str]
Outcome = Literal["finished", "quit", "ended"]

HELP = (
    "Type your answer and press Enter. Commands: /pause (stop the clock), /skip (next question), "
    "/quit (leave now, resume later with the same command), /end (end the interview for good), /help."
)


def format_clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def progress_line(progress: Progress) -> str:
    parts = []
    if progress.block_label:
        parts.append(progress.block_label)
    if progress.question_number:
        parts.append(f"question {progress.question_number}/{progress.total_questions}")
    parts.append(f"{format_clock(progress.elapsed_s)} of {format_clock(progress.planned_s)}")
    if progress.question_left_s is not None and progress.question_number:
        parts.append(f"{format_clock(progress.question_left_s)} left on this question")
    return " · ".join(parts)


def _show(console: Console, session: InterviewSession, utterance: Utterance) -> None:
    console.print(f"[dim]{escape(progress_line(session.progress))}[/dim]")
    console.print(f"[bold cyan]{escape(session.script.interviewer_name)}:[/bold cyan] {escape(utterance.text)}")


async def run_text_session(session: InterviewSession, console: Console, read_line: ReadLine) -> Outcome:
    """Drive `session` from typed input until it finishes or the respondent leaves."""
    if session.turns:
        console.print(f"[green]Resuming[/green] the interview of {escape(session.respondent)} "
                      f"({len(session.turns)} turns saved).")
    console.print(f"[dim]{escape(HELP)}[/dim]\n")
    while True:
        utterance = await session.next_utterance()
        if utterance is None:
            return "finished"
        _show(console, session, utterance)
        if not utterance.expects_answer:
            continue
        while True:
            try:
                line = read_line("You: ").strip()
            except (EOFError, KeyboardInterrupt):
                line = "/quit"
            command = line.casefold()
            if not line:
                continue
            if command == "/help":
                console.print(f"[dim]{escape(HELP)}[/dim]")
                continue
            if command == "/pause":
                session.pause()
                console.print("[yellow]Paused[/yellow]: the interview clock is stopped and everything is saved. "
                              "Press Enter to continue (or /quit to leave and resume later).")
                try:
                    again = read_line("").strip().casefold()
                except (EOFError, KeyboardInterrupt):
                    again = "/quit"
                session.resume()
                if again == "/quit":
                    return _quit(console, session)
                _show(console, session, utterance)
                continue
            if command == "/quit":
                return _quit(console, session)
            if command == "/end":
                session.end("ended")
                console.print("[yellow]Interview ended.[/yellow] The transcript keeps everything said.")
                return "ended"
            if command == "/skip":
                session.skip()
                console.print("[dim](skipped)[/dim]")
                break
            await session.submit_answer(line)
            break


def _quit(console: Console, session: InterviewSession) -> Outcome:
    session.pause()  # saves the clock as it stands
    console.print(
        f"[yellow]Stopped.[/yellow] Everything so far is saved ({len(session.turns)} turns). "
        f"Run the same command to resume."
    )
    return "quit"
