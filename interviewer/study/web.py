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
                                retest opens 409 (`retest_not_open`)
- `POST /api/study/stop`        {confirm: true}: the person stops here (nothing more is asked; what they gave is
                                kept unless they withdraw, `POST /api/session/withdraw`)
- `GET  /api/operator/studies`  progress of every participant (operator token)

The clock is `app.state.study_clock` when set (a callable returning an aware datetime: the test clock), else
the wall clock.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel

from interviewer.study.model import Study, StudyError
from interviewer.study.store import AnswerConflict, StudyStore, utcnow
from surveys.model import AnswerValidationError, Question, QuestionKind

log = logging.getLogger(__name__)

STATIC = Path(str(resources.files("interviewer.study").joinpath("static")))
_FILES = {"study.js": "text/javascript", "study.css": "text/css", "handoff.js": "text/javascript",
          "operator.js": "text/javascript"}
MAX_OPEN_CHARS = 2_000
HANDOFF_TAG = '<script src="/study/static/handoff.js" defer></script>'


class StudyApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any):
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


class AnswerIn(BaseModel):
    instrument: str
    question: str
    wave: int
    value: Any = None  # checked by the question's own rules (a JSON true is not the option "1")


class StopIn(BaseModel):
    confirm: bool = False


def with_study_handoff(html: str) -> str:
    """The interview page with the small script that sends a study respondent on to the surveys when the
    interview is finished (nothing happens for a respondent who is in no study)."""
    return html.replace("</head>", f"  {HANDOFF_TAG}\n</head>", 1) if HANDOFF_TAG not in html else html


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
    return store


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
        }
        out.pop("respondent", None)
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

    @router.get("/study/static/{name}")
    async def static_file(name: str):
        if name not in _FILES:
            raise StudyApiError(404, "not_found", "No such file.")
        return FileResponse(STATIC / name, media_type=_FILES[name])

    # -- respondent API -------------------------------------------------------------------------------
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
        if progress.phase == "stopped":
            raise StudyApiError(409, "stopped", "You stopped the study; no more answers are taken.")
        if progress.phase == "interview":
            raise StudyApiError(409, "interview_first", "Please finish the interview first.")
        if body.wave == 2 and progress.phase == "waiting":
            raise StudyApiError(409, "retest_not_open", f"The second round opens on {progress.retest_at}; "
                                "please come back then with the same link.", retest_at=progress.retest_at)
        if progress.phase == "done" or progress.wave != body.wave:
            raise StudyApiError(409, "wrong_wave", f"Answers to round {body.wave} are not being taken now. "
                                "Reload the page to see what is asked.")
        if (body.instrument, body.question) not in study.plan(invitation.respondent):
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
        try:
            await asyncio.to_thread(store.save_answer, study, invitation.respondent, body.wave, body.instrument,
                                    body.question, value, now)
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

    return router


def _friendly(question: Question, exc: AnswerValidationError) -> str:
    if question.kind == QuestionKind.numeric:
        unit = f" {question.unit}" if question.unit else ""
        whole = " (a whole number)" if question.integer else ""
        return f"Please enter a number from {question.min:g} to {question.max:g}{unit}{whole}."
    if question.is_choice:
        return "Please choose one of the options shown."
    return str(exc)


def overview(store: StudyStore, registry: Any, now: datetime | None = None) -> dict[str, Any]:
    """Every study and each participant's progress through both phases (no answers)."""
    out = []
    for study_id in store.ids():
        study = store.load(study_id)
        rows = []
        for participant in store.participants(study_id):
            progress = store.progress(study, participant.respondent, now)
            invitation = registry.get(participant.respondent) if registry is not None else None
            rows.append({
                **progress.as_dict(), "joined_at": participant.joined_at,
                "completed": participant.completed, "conditions": participant.conditions,
                "consented_at": getattr(invitation, "consented_at", None),
                "link_expires_at": invitation.expiry(registry.link_ttl_days).isoformat(timespec="seconds") if invitation else None,
            })
        out.append({"id": study.id, "title": study.spec.title, "retest_days": study.spec.retest_days,
                    "instruments": [i.id for i in study.instruments], "questions": len(study.all_questions()),
                    "interview": study.spec.interview.model_dump(), "participants": rows})
    return {"studies": out}
