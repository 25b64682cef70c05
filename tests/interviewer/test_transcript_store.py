"""Transcript storage: safe file names, 0600 files, appended turns read back, torn lines set aside."""

from __future__ import annotations

import stat

import pytest

from interviewer.errors import RespondentIdError
from interviewer.storage import TranscriptStore, validate_respondent
from simulacra.transcript import InterviewNotes, Turn, read_transcript
from simulacra.workspace import Workspace


@pytest.mark.parametrize("bad", ["", "../etc/passwd", "a b", "a/b", "ana..txt", "é", "x" * 129, ".hidden", "-flag"])
def test_unsafe_respondent_ids_are_refused(bad, store):
    with pytest.raises(RespondentIdError, match="letters, digits"):
        store.path(bad)


def test_safe_ids_pass():
    for good in ["p001", "Ada_Lovelace", "agent-42", "X", "ana.b", "a@b.org", "x" * 128]:
        assert validate_respondent(good) == good


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_turns_append_and_read_back_private(store):
    store.write_header("p1", script="small", name="Ada")
    store.append("p1", Turn(index=0, speaker="interviewer", text="How are you?", question_id="a", kind="scripted"))
    store.append("p1", Turn(index=1, speaker="respondent", text="Fine.", question_id="a"))
    store.save_notes("p1", InterviewNotes(bullets=["Feels fine"], updated_at_turn=1))
    store.save_state("p1", {"elapsed_s": 12.5})
    transcript = store.load("p1")
    assert [t.text for t in transcript.turns] == ["How are you?", "Fine."]
    assert transcript.meta["script"] == "small" and transcript.notes.bullets == ["Feels fine"]
    assert store.load_state("p1") == {"elapsed_s": 12.5}
    for path in (store.path("p1"), store.notes_path("p1"), store.state_path("p1")):
        assert _mode(path) == 0o600, path
    assert _mode(store.folder) == 0o700
    assert read_transcript(store.path("p1")).exchanges() == [("How are you?", "Fine.", "a")]
    assert store.respondents() == ["p1"] and store.load("nobody") is None


def test_a_torn_last_line_is_moved_aside_not_read(store):
    store.append("p2", Turn(index=0, speaker="interviewer", text="Q?", question_id="a", kind="scripted"))
    with open(store.path("p2"), "a", encoding="utf-8") as handle:
        handle.write('{"index": 1, "speaker": "respon')  # a crash mid-write
    transcript = store.load("p2")
    assert len(transcript.turns) == 1
    torn = store.path("p2").with_name("p2.jsonl.torn")
    assert '"speaker": "respon' in torn.read_text() and _mode(torn) == 0o600


def test_default_folder_is_the_workspace_transcripts(isolated_workspace):
    assert TranscriptStore().folder == Workspace.default().transcripts
    assert str(TranscriptStore().folder).startswith(str(isolated_workspace))
