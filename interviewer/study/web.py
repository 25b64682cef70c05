"""The study's web part: surveys after the interview and the retest, on the interview app's link tokens.

`include_study(app, workspace=, registry=, operator_token=)` adds (the web app calls it):

- `/study#<token>`              the respondent's page (the same link token as `/interview`; the token decides
                                the respondent, no API takes a respondent id from the page)
- `/study/operator#<op token>`  every study's participants and their progress through both phases
- `GET  /api/study/session`     the phase (interview, survey, waiting, retest, done, stopped) and the question
                                asked now
- `POST /api/study/answer`      {instrument, question, wave, value}: validated by the instrument's own rules
                                (`Question.validate_value`) and saved at once; the same answer sent again is a
                                no-op, another value for an answered question 409, a retest answer before the
                                retest opens 409 (`retest_not_open`); an adaptive instrument takes only the item
                                chosen now (`not_chosen`, 409) and saves the next choice with the answer
- `POST /api/study/stop`        {confirm: true}: the person stops here (nothing more is asked; what they gave is
                                kept unless they withdraw, `POST /api/session/withdraw`)
- `GET  /api/operator/studies`  progress of every participant (operator token)
- `POST /api/operator/studies/{study}/open-retest`  {respondent?}: open the retest now (logged in the study log)
- `/study/join/<study>?<id_param>=<external id>`  a participant-platform link (the study's `platform`): one
                                participant per external id, a second visit resumes (a fresh link token each
                                visit, from `POST /api/study/join`), the completion code/URL shown at the end;
                                quota cells full -> "this study is full"

The clock is `app.state.study_clock` when set (a callable returning an aware datetime: the test clock), else
the wall clock.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import threading
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field

from interviewer.storage import TranscriptStore
from interviewer.study.adaptive import after_answer
from interviewer.study.adaptive import selector as adaptive_selector
from interviewer.study.model import Quota, Study, StudyError
from interviewer.study.platform import ExternalIdError, ExternalIds, log_event
from interviewer.study.store import AnswerConflict, StudyStore, utcnow
from surveys.model import AnswerValidationError, Question, QuestionKind

log = logging.getLogger(__name__)

STATIC = Path(str(resources.files("interviewer.study").joinpath("static")))
_FILES = {"study.js": "text/javascript", "study.css": "text/css", "handoff.js": "text/javascript",
          "operator.js": "text/javascript", "join.js": "text/javascript", "operator-link.js": "text/javascript"}
MAX_QUERY_CHARS = 4_000  # a platform link's query string (ids and a few more parameters)
MAX_OPEN_CHARS = 2_000
HANDOFF_TAG = '<script src="/study/static/handoff.js" defer></script>'
OPERATOR_LINK_TAG = '<script src="/study/static/operator-link.js" defer></script>'


class StudyApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any):
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


class AnswerIn(BaseModel):
    instrument: str
    question: str
    wave: int = Field(strict=True)  # a JSON integer: not true, "1" or 1.0
    value: Any = None  # checked by the question's own rules (a JSON true is not the option "1")


class StopIn(BaseModel):
    confirm: bool = False


class JoinIn(BaseModel):
    study: str = Field(max_length=200)
    query: str = Field(default="", max_length=MAX_QUERY_CHARS)  # the platform link's query string, as the page got it


class OpenRetestIn(BaseModel):
    respondent: str | None = Field(default=None, max_length=200)


def with_study_handoff(html: str) -> str:
    """The interview page with the small script that sends a study respondent on to the surveys when the
    interview is finished (nothing happens for a respondent who is in no study)."""
    return html.replace("</head>", f"  {HANDOFF_TAG}\n</head>", 1) if HANDOFF_TAG not in html else html


def with_study_operator_link(html: str) -> str:
    """The interview operator page with a link to the study operator page (same operator token)."""
    return html.replace("</head>", f"  {OPERATOR_LINK_TAG}\n</head>", 1) if OPERATOR_LINK_TAG not in html else html


def question_payload(study: Study, instrument_id: str, question: Question, condition: str | None = None) -> dict[str, Any]:
    instrument = study.instrument(instrument_id)
    meta = question.meta or {}
    return {
        "instrument": instrument.id,
        "instrument_title": instrument.title,
        "id": question.id,
        "text": question.text,
        "kind": question.kind.value,
        "options": [{"code": o.code, "label": o.label} for o in question.options] if question.is_choice else [],
        "min": question.min, "max": question.max, "integer": question.integer, "unit": question.unit,
        "stakes": meta.get("range_as_stated") if isinstance(meta.get("range_as_stated"), str) else None,
        "block": question.block,
        "max_chars": MAX_OPEN_CHARS if question.kind == QuestionKind.open else None,
        # an experiment's stimulus as the respondent's condition shows it (read before the step's questions)
        "stimulus": study.experiments[instrument_id].stimulus(condition, question.id) if instrument_id in study.experiments else None,
    }


def include_study(app: FastAPI, *, workspace: Any, registry: Any, operator_token: str,
                  clock: Callable[[], datetime] | None = None) -> StudyStore:
    store = StudyStore(workspace)
    app.state.study_store = store
    if clock is not None:
        app.state.study_clock = clock

    @app.exception_handler(StudyApiError)
    async def _study_error(request: Request, exc: StudyApiError):
        return JSONResponse({"error": exc.code, "detail": exc.message, **exc.extra}, status_code=exc.status)

    app.include_router(study_router(store, registry, operator_token))
    threading.Thread(target=warm_adaptive, args=(store,), name="study-adaptive-warm-up", daemon=True).start()
    return store


def warm_adaptive(store: StudyStore) -> None:
    """Fit the selectors of every adaptive instrument ahead of the first participant (the full GSS: seconds)."""
    try:
        for study_id in store.ids():
            study = store.load(study_id)
            for instrument_id in study.adaptive:
                adaptive_selector(store.folder(study_id), study, instrument_id)
    except Exception:  # noqa: BLE001  (a broken study is reported when it is used, not here)
        log.warning("study: an adaptive selector could not be prepared ahead of time", exc_info=True)


def _now(request: Request) -> datetime:
    clock = getattr(request.app.state, "study_clock", None)
    moment = clock() if clock is not None else utcnow()
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def study_router(store: StudyStore, registry: Any, operator_token: str) -> APIRouter:
    router = APIRouter()

    def _bearer(request: Request) -> str | None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        return value.strip() if scheme.lower() == "bearer" and value.strip() else None

    def member(request: Request) -> tuple[Any, Study]:
        invitation = registry.resolve(_bearer(request), include_expired=True)
        if invitation is None:
            raise StudyApiError(401, "bad_token", "This study link is not valid. Please use the full link you were given.")
        if invitation.expired(registry.link_ttl_days):
            raise StudyApiError(401, "link_expired", "This study link has expired. Please ask the study team to renew it; "
                                "your answers are kept.")
        study_id = store.study_of(invitation.respondent)
        if study_id is None:
            raise StudyApiError(404, "not_in_study", "This link does not belong to a study with surveys.")
        return invitation, store.load(study_id)

    def operator(request: Request) -> None:
        token = _bearer(request) or ""
        if not secrets.compare_digest(token.encode(), operator_token.encode()):
            raise StudyApiError(401, "bad_operator_token", "Operator token missing or wrong.")

    def state(request: Request, invitation: Any, study: Study) -> dict[str, Any]:
        progress = store.progress(study, invitation.respondent, _now(request))
        out: dict[str, Any] = {
            "study": study.id, "title": study.spec.title or "Surveys",
            "consented": invitation.consented_at is not None,
            "interview_required": study.spec.interview.required,
            **progress.as_dict(),
            "consent_text": study.consent_text(),  # the study's own wording, else one stating the retest delay
        }
        out.pop("respondent", None)
        if progress.phase == "waiting":
            out["retest_invitation"] = study.retest_invitation()  # {retest_at}: filled by the page (local time)
        if progress.phase in ("waiting", "done") and study.spec.platform is not None \
                and ExternalIds(store.folder(study.id)).has_respondent(invitation.respondent):
            out["completion"] = study.spec.platform.completion(1 if progress.phase == "waiting" else 2)
        if progress.next_step is not None:
            instrument_id, question_id = progress.next_step
            participant = store.participant(study.id, invitation.respondent)
            condition = participant.conditions.get(instrument_id) if participant else None
            out["question"] = question_payload(study, instrument_id, study.question(instrument_id, question_id), condition)
            out["position"] = progress.answered[progress.wave or 1] + 1
        return out

    # -- pages ----------------------------------------------------------------------------------------
    @router.get("/study")
    async def study_page():
        return FileResponse(STATIC / "study.html", media_type="text/html")

    @router.get("/study/operator")
    async def operator_page():
        return FileResponse(STATIC / "operator.html", media_type="text/html")

    @router.get("/study/join/{study_id}")
    async def join_page(study_id: str):  # a participant-platform link; the page posts its query to /api/study/join
        return FileResponse(STATIC / "join.html", media_type="text/html")

    @router.get("/study/static/{name}")
    async def static_file(name: str):
        if name not in _FILES:
            raise StudyApiError(404, "not_found", "No such file.")
        return FileResponse(STATIC / name, media_type=_FILES[name])

    # -- respondent API -------------------------------------------------------------------------------
    @router.post("/api/study/join")
    async def join(body: JoinIn, request: Request):
        """A platform participant arrives: their external id (the study's `platform.id_param` in the query)
        maps to one respondent (made on the first visit); each visit gets a fresh link token."""
        return await asyncio.to_thread(join_study, store, registry, body.study, body.query, _now(request))

    @router.get("/api/study/session")
    async def session(request: Request, found: tuple = Depends(member)):
        invitation, study = found
        return await asyncio.to_thread(state, request, invitation, study)

    @router.post("/api/study/answer")
    async def answer(body: AnswerIn, request: Request, found: tuple = Depends(member)):
        invitation, study = found
        if invitation.consented_at is None:
            raise StudyApiError(403, "consent_required", "Please read and accept the consent form first.")
        now = _now(request)
        progress = store.progress(study, invitation.respondent, now)
        try:
            question = study.question(body.instrument, body.question)
        except KeyError:
            raise StudyApiError(404, "unknown_question", f"This study asks no question {body.question!r} "
                                f"in {body.instrument!r}.") from None
        saved = store.answers(study.id, invitation.respondent)
        key = (body.wave, body.instrument, body.question)
        if key in saved:  # a resent answer: the same value is a no-op, another value a conflict
            try:
                same = question.validate_value(body.value) == saved[key]
            except AnswerValidationError:
                same = False
            if same:
                return {**state(request, invitation, study), "saved": True, "duplicate": True}
            raise StudyApiError(409, "already_answered", "That question already has a saved answer. "
                                "Reload the page to continue with the next question.")
        if body.wave not in (1, 2):
            raise StudyApiError(422, "bad_wave", "wave must be 1 (the surveys) or 2 (the retest).")
        if progress.phase in ("stopped", "full"):
            raise StudyApiError(409, "stopped", "You stopped the study; no more answers are taken." if progress.phase
                                == "stopped" else FULL_MESSAGE)
        if progress.phase == "interview":
            raise StudyApiError(409, "interview_first", "Please finish the interview first.")
        if body.wave == 2 and progress.phase == "waiting":
            raise StudyApiError(409, "retest_not_open", f"The second round opens on {progress.retest_at}; "
                                "please come back then with the same link.", retest_at=progress.retest_at)
        if progress.phase == "done" or progress.wave != body.wave:
            raise StudyApiError(409, "wrong_wave", f"Answers to round {body.wave} are not being taken now. "
                                "Reload the page to see what is asked.")
        steps, _total, _states = await asyncio.to_thread(store.plan, study, invitation.respondent, body.wave)
        if (body.instrument, body.question) not in steps:
            if body.instrument in study.adaptive and (body.instrument, body.question) in study.plan(invitation.respondent):
                raise StudyApiError(409, "not_chosen", "This question is not the one asked now. "
                                    "Reload the page to continue with the next question.")
            raise StudyApiError(404, "unknown_question", "This question is not asked in this study.")
        value = body.value
        if question.kind == QuestionKind.open:
            value = (value if isinstance(value, str) else "").strip()
            if not value:
                raise StudyApiError(400, "empty_answer", "The answer is empty. Please type something, or skip the study.")
            if len(value) > MAX_OPEN_CHARS:
                raise StudyApiError(413, "answer_too_long", f"An answer can be at most {MAX_OPEN_CHARS:,} characters "
                                    f"(this one has {len(value):,}).")
        elif isinstance(value, str) and question.kind == QuestionKind.numeric:
            value = value.strip()
            if not value:
                raise StudyApiError(422, "invalid_answer", "Please enter a number.")
        quota = next((q for q in study.quotas if (q.instrument, q.question) == (body.instrument, body.question)), None)
        try:
            if quota is not None and body.wave == 1:
                saved_it = await asyncio.to_thread(save_within_quota, store, study, quota, invitation.respondent,
                                                   question, value, now)
                if not saved_it:  # the person's quota cell is full: stopped, shown "this study is full"
                    return {**state(request, invitation, study), "saved": False, "duplicate": False}
            else:
                extra = None
                if body.wave == 1 and body.instrument in study.adaptive:  # saved with it: this choice and the next
                    extra = await asyncio.to_thread(_adaptive_extra, store, study, invitation.respondent, body.instrument,
                                                    question, value)
                await asyncio.to_thread(store.save_answer, study, invitation.respondent, body.wave, body.instrument,
                                        body.question, value, now, extra)
        except AnswerValidationError as exc:
            raise StudyApiError(422, "invalid_answer", _friendly(question, exc)) from None
        except AnswerConflict:
            raise StudyApiError(409, "already_answered", "That question already has a saved answer. "
                                "Reload the page to continue with the next question.") from None
        return {**state(request, invitation, study), "saved": True, "duplicate": False}

    @router.post("/api/study/stop")
    async def stop(body: StopIn, request: Request, found: tuple = Depends(member)):
        invitation, study = found
        if not body.confirm:
            raise StudyApiError(400, "confirm_required", "Confirm that you want to stop.")
        store.stop(study.id, invitation.respondent, _now(request))
        return state(request, invitation, study)

    # -- operator API ---------------------------------------------------------------------------------
    @router.get("/api/operator/studies", dependencies=[Depends(operator)])
    async def studies(request: Request):
        return await asyncio.to_thread(overview, store, registry, _now(request))

    @router.post("/api/operator/studies/{study_id}/open-retest", dependencies=[Depends(operator)])
    async def operator_open_retest(study_id: str, request: Request, body: OpenRetestIn | None = None):
        """Open the retest now for one participant (or every participant waiting for it); logged."""
        if study_id not in store.ids():
            raise StudyApiError(404, "no_study", f"No study {study_id!r}.")
        respondent = body.respondent if body else None
        if respondent is not None and all(p.respondent != respondent for p in store.participants(study_id)):
            raise StudyApiError(404, "not_in_study", f"No participant {respondent!r} in study {study_id}.")
        try:
            opened = await asyncio.to_thread(open_retest, store, study_id, respondent, by="operator page",
                                             now=_now(request))
        except StudyError as exc:
            raise StudyApiError(409, "cannot_open_retest", str(exc)) from None
        return {"study": study_id, "opened": opened}

    return router


def _adaptive_extra(store: StudyStore, study: Study, respondent: str, instrument_id: str, question: Question,
                    value: Any) -> dict[str, Any]:
    """What is saved with a wave-1 answer to an adaptive instrument (the choice that asked it, the next one)."""
    canonical = question.validate_value(value)
    saved = store.answers(study.id, respondent)
    records = store.answer_records(study.id, respondent)
    answers = {q: v for (w, i, q), v in saved.items() if w == 1 and i == instrument_id}
    mine = {q: r for (w, i, q), r in records.items() if w == 1 and i == instrument_id}
    return after_answer(store.folder(study.id), study, instrument_id, respondent, answers, mine, question.id, canonical)


def _friendly(question: Question, exc: AnswerValidationError) -> str:
    if question.kind == QuestionKind.numeric:
        unit = f" {question.unit}" if question.unit else ""
        whole = " (a whole number)" if question.integer else ""
        return f"Please enter a number from {question.min:g} to {question.max:g}{unit}{whole}."
    if question.is_choice:
        return "Please choose one of the options shown."
    return str(exc)


def participant_status(progress: Any, consented: bool, interview_started: bool) -> str:
    """What the person has done, in words (`study status`, the operator page): invited (no consent yet),
    consented (nothing answered yet), interview (under way), survey (round 1), waiting for retest, retest,
    done, stopped, or full (screened out by a quota)."""
    if progress.phase == "stopped":
        return "stopped"
    if progress.phase == "full":
        return "full (quota)"
    if not consented:
        return "invited"
    if progress.phase == "interview":
        return "interview" if interview_started else "consented"
    if progress.phase == "survey":
        started = progress.answered.get(1, 0) > 0 or progress.interview_finished
        return "survey" if started else "consented"
    if progress.phase == "waiting":
        return "waiting for retest"
    return progress.phase  # retest, done


def overview(store: StudyStore, registry: Any, now: datetime | None = None) -> dict[str, Any]:
    """Every study and each participant's progress through both phases (no answers)."""
    out = []
    transcripts = TranscriptStore(store.workspace.transcripts)
    for study_id in store.ids():
        study = store.load(study_id)
        external = ExternalIds(store.folder(study_id))
        via_platform = set(external.mapping().values()) if study.spec.platform is not None else set()
        rows = []
        for participant in store.participants(study_id):
            progress = store.progress(study, participant.respondent, now)
            invitation = registry.get(participant.respondent) if registry is not None else None
            consented = getattr(invitation, "consented_at", None)
            rows.append({
                **progress.as_dict(), "joined_at": participant.joined_at,
                "status": participant_status(progress, consented is not None, transcripts.exists(participant.respondent)),
                "completed": participant.completed, "conditions": participant.conditions,
                "consented_at": consented, "retest_opened_at": participant.retest_opened_at,
                "platform": participant.respondent in via_platform,
                "link_expires_at": invitation.expiry(registry.link_ttl_days).isoformat(timespec="seconds") if invitation else None,
            })
        platform = study.spec.platform
        out.append({"id": study.id, "title": study.spec.title, "retest_days": study.spec.retest_days,
                    "instruments": [i.id for i in study.instruments], "questions": len(study.all_questions()),
                    "interview": study.spec.interview.model_dump(), "participants": rows,
                    "platform_link": join_path(study) if platform is not None else None,
                    "quotas": [{"question": q.question, "cells": q.cells, "taken": quota_counts(store, study, q)}
                               for q in study.quotas]})
    return {"studies": out}


def join_path(study: Study) -> str:
    """The platform link's path and query (the platform fills `{{%<param>%}}`, Prolific's placeholder form)."""
    param = study.spec.platform.id_param if study.spec.platform else "PROLIFIC_PID"
    return f"/study/join/{study.id}?{param}={{{{%{param}%}}}}"


def open_retest(store: StudyStore, study_id: str, respondent: str | None = None, *, by: str = "cli",
                now: datetime | None = None) -> list[str]:
    """Open the retest now for `respondent` (or for every participant waiting for it); each opening is logged
    in the study's log (`studies/<id>/log.jsonl`: respondent, when, by whom). Returns who was opened; a person
    whose retest is already open is left as is. Refused (StudyError) for a person who has not finished round 1
    or has stopped."""
    now = now or utcnow()
    study = store.load(study_id)
    people = [p.respondent for p in store.participants(study_id)]
    if respondent is not None:
        if respondent not in people:
            raise StudyError(f"respondent {respondent} is not in study {study_id}")
        people = [respondent]
    opened = []
    for person in people:
        progress = store.progress(study, person, now)
        if progress.phase != "waiting":
            if respondent is None or progress.phase in ("retest", "done"):
                continue  # nothing to open (all participants), or already open (one participant)
            what = {"stopped": "has stopped", "full": "was screened out by a quota"}.get(
                progress.phase, f"has not finished round 1 (answered {progress.answered.get(1, 0)} of {progress.totals.get(1, 0)})")
            raise StudyError(f"study {study_id}: respondent {person} {what}; the retest opens only after round 1")
        with store._lock:
            participant = store.participant(study_id, person)
            if participant is None:
                continue
            store._update(participant.model_copy(update={"retest_opened_at": now.astimezone(timezone.utc).isoformat(timespec="seconds")}))
        log_event(store.folder(study_id), "retest_opened", respondent=person, by=by)
        log.info("study %s: retest opened early by %s", study_id, by)
        opened.append(person)
    return opened


# -- participant platforms and quotas ---------------------------------------------------------------------
_QUOTA_LOCK = threading.Lock()
FULL_MESSAGE = ("Thank you for your interest. This study already has all the participants it needs, so there is "
                "nothing more to do. You may close this page.")


def quota_counts(store: StudyStore, study: Study, quota: Quota, exclude: str | None = None) -> dict[str, int]:
    """How many participants hold a place in each cell: they gave that answer in round 1 and were not screened
    out or stopped before finishing round 1."""
    counts = {code: 0 for code in quota.cells}
    for participant in store.participants(study.id):
        if participant.respondent == exclude or participant.screened_out:
            continue
        if participant.stopped_at and "1" not in participant.completed:
            continue
        value = store.answers(study.id, participant.respondent).get((1, quota.instrument, quota.question))
        if value in counts:
            counts[value] += 1
    return counts


def quotas_full(store: StudyStore, study: Study) -> bool:
    """True when a quota covers every option of its question and every cell is full (no newcomer fits)."""
    for quota in study.quotas:
        codes = [o.code for o in study.question(quota.instrument, quota.question).options]
        if all(code in quota.cells for code in codes):
            counts = quota_counts(store, study, quota)
            if all(counts[code] >= quota.cells[code] for code in codes):
                return True
    return False


def save_within_quota(store: StudyStore, study: Study, quota: Quota, respondent: str, question: Question,
                      value: Any, now: datetime) -> bool:
    """Save a round-1 answer to a quota question unless its cell is full; then the person is stopped (screened
    out, their answer not kept) and False is returned. Options without a cell are not limited."""
    canonical = question.validate_value(value)
    with _QUOTA_LOCK:
        cap = quota.cells.get(canonical)
        if cap is not None and quota_counts(store, study, quota, exclude=respondent)[canonical] >= cap:
            store.stop(study.id, respondent, now, reason="quota_full")
            log.info("study %s: a participant was screened out (a quota cell is full)", study.id)
            return False
        store.save_answer(study, respondent, 1, quota.instrument, quota.question, value, now)
        return True


def _balanced_conditions(store: StudyStore, study: Study, respondent: str) -> dict[str, str]:
    """Each experiment's condition for a platform newcomer: the least-used one so far (ties broken by a hash
    seeded with the study seed, so the choice is reproducible)."""
    people = store.participants(study.id)
    out = {}
    for experiment, info in study.experiments.items():
        counts = {c: sum(1 for p in people if p.conditions.get(experiment) == c) for c in info.conditions}
        low = min(counts.values())
        candidates = [c for c in info.conditions if counts[c] == low]
        digest = hashlib.sha256(f"{study.spec.seed}:{study.id}:{experiment}:{respondent}".encode()).hexdigest()
        out[experiment] = candidates[int(digest[:8], 16) % len(candidates)]
    return out


def join_study(store: StudyStore, registry: Any, study_id: str, query: str, now: datetime | None = None) -> dict[str, Any]:
    """A platform participant's visit: {token, next} (a fresh link token for their one respondent)."""
    if study_id not in store.ids():
        raise StudyApiError(404, "no_study", "This study link is not valid. Please open the study from the platform again.")
    study = store.load(study_id)
    platform = study.spec.platform
    if platform is None:
        raise StudyApiError(404, "no_platform", "This study takes part through personal links only; please use the "
                            "link you were given.")
    values = [v.strip() for v in parse_qs(query.lstrip("?"), keep_blank_values=True).get(platform.id_param, [])]
    values = [v for v in values if v]
    if not values or len(set(values)) > 1:
        raise StudyApiError(400, "no_participant_id", f"This link carries no participant id ({platform.id_param}). "
                            "Please open the study from the participant platform again.")
    try:
        external = ExternalIds(store.folder(study.id))
        known = external.respondent(values[0])
    except ExternalIdError:
        raise StudyApiError(422, "bad_participant_id", "The participant id in this link is not valid. Please open the "
                            "study from the participant platform again.") from None
    if known is None and quotas_full(store, study):
        raise StudyApiError(409, "study_full", FULL_MESSAGE)
    tokens: dict[str, str] = {}

    def newcomer() -> str:
        token, invitation = registry.invite(None, f"study:{study.id}:platform")
        tokens[invitation.respondent] = token
        return invitation.respondent

    respondent, created = external.assign(values[0], newcomer)
    if respondent in tokens:
        token = tokens[respondent]
    else:
        token, _invitation = registry.invite(respondent)  # a second visit: a fresh token, the old one revoked
    if store.participant(study.id, respondent) is None:
        store.join(study.id, respondent, now, conditions=_balanced_conditions(store, study, respondent))
    log.info("study %s: platform participant %s", study.id, "joined" if created else "came back")
    return {"token": token, "next": "/study"}
