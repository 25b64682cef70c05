"""The pages (`/`, `/interview`, `/operator`) and `/api/health`; the page scripts come from `/static`."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from interviewer.study.web import with_study_handoff, with_study_operator_link

STATIC_DIR = Path(str(resources.files("interviewer.web").joinpath("static")))

router = APIRouter()


@router.get("/")
async def home():
    return FileResponse(STATIC_DIR / "home.html", media_type="text/html")


@router.get("/interview")
async def interview_page():  # with the study hand-off script (interviewer/study: surveys after the interview)
    html = with_study_handoff((STATIC_DIR / "interview.html").read_text(encoding="utf-8"))
    return Response(html, media_type="text/html")


@router.get("/operator")
async def operator_page():  # with a link to the study operator page (interviewer/study)
    html = with_study_operator_link((STATIC_DIR / "operator.html").read_text(encoding="utf-8"))
    return Response(html, media_type="text/html")


@router.get("/api/health")
async def health():
    return {"ok": True}  # unauthenticated: says it is up, nothing about which engines run behind it
