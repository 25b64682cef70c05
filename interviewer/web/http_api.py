"""The web app's HTTP conventions: the one error body every refusal has, its handlers, and the security headers."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from interviewer.errors import SessionStateError
from simulacra.errors import SimulacraError

log = logging.getLogger("interviewer.web.app")  # the app's log, whichever module of it writes


class ApiError(Exception):
    """An error the page shows to the person: HTTP status, a short machine code and a sentence."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class ErrorBody(BaseModel):
    """Every refusal of the API (ApiError, the request-validation handler, the limits): a short machine code and
    a sentence the page shows; some add fields (e.g. `retest_at`)."""

    error: str
    detail: str


# Documented on every route (the OpenAPI schema says what the API answers; 422 is our body, not FastAPI's default).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text} for status, text in (
        (400, "Bad request"), (401, "No valid token"), (403, "Not allowed yet (consent first)"), (404, "Not found"),
        (409, "Conflicts with the session's state"), (413, "Too large"), (415, "Unsupported media type"),
        (422, "Invalid request"), (429, "Too many requests"), (501, "Turned off on this server"),
        (503, "Temporarily unavailable"))
}

CONTENT_SECURITY_POLICY = "default-src 'self'; media-src 'self' blob:; img-src 'self' data:; frame-ancestors 'none'"


def bearer(request: Request) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    return JSONResponse({"error": exc.code, "detail": exc.message}, status_code=exc.status)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """FastAPI's own refusals (a body it cannot parse, 404, 405) in the API's error body."""
    code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return JSONResponse({"error": code, "detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)


async def _bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    field = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    return JSONResponse({"error": "bad_request", "detail": f"{field or 'request'}: {first.get('msg')}"}, status_code=422)


async def _simulacra_error(request: Request, exc: SimulacraError) -> JSONResponse:
    if isinstance(exc, SessionStateError):
        return JSONResponse({"error": "session_state", "detail": str(exc)}, status_code=409)
    log.warning("request %s failed: %s", request.url.path, type(exc).__name__)
    log.debug("request failed: %s", exc)
    return JSONResponse(
        {"error": "interviewer_unavailable",
         "detail": "The interviewer is having trouble right now. Everything you said is saved; please try again."},
        status_code=503,
    )


async def _headers(request: Request, call_next: Any) -> Any:
    response = await call_next(request)
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if request.url.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")
    else:
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    return response


def install_error_handlers(app: FastAPI) -> None:
    """Every refusal as `{"error": code, "detail": sentence}` (ErrorBody)."""
    app.exception_handler(ApiError)(_api_error)
    app.exception_handler(StarletteHTTPException)(_http_error)
    app.exception_handler(RequestValidationError)(_bad_request)
    app.exception_handler(SimulacraError)(_simulacra_error)


def add_security_headers(app: FastAPI) -> None:
    """No referrer, no sniffing; API answers are not cached; pages get a strict Content-Security-Policy."""
    app.middleware("http")(_headers)
