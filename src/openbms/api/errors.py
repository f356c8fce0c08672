"""Every error the API answers is ``application/problem+json`` (RFC 9457).

``{type, title, status, detail, instance}``, plus ``errors`` — a list of
``{loc, msg, type}`` — for validation errors. Routes raise ``ApiError`` (or a
helper below); FastAPI's own HTTP and validation errors, unknown routes and
unexpected exceptions are translated here too, so no other shape escapes.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = [
    "PROBLEM_JSON",
    "ApiError",
    "FieldError",
    "Problem",
    "bad_request",
    "conflict",
    "forbidden",
    "install_error_handlers",
    "invalid_field",
    "not_found",
    "problem_response",
    "site_not_found",
    "unauthorized",
]

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class FieldError(BaseModel):
    """One invalid field: where (``loc``), what is wrong (``msg``) and its kind (``type``)."""

    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """The body of every error response."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str = ""
    instance: str = ""
    errors: list[FieldError] | None = None


class ApiError(Exception):
    """An error answered as problem+json; ``headers`` go on the response (Retry-After, …)."""

    def __init__(
        self,
        status: int,
        detail: str = "",
        *,
        type: str = "about:blank",
        title: str | None = None,
        headers: dict[str, str] | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(detail or HTTPStatus(status).phrase)
        self.errors = errors
        self.status = status
        self.detail = detail
        self.type = type
        self.title = title or HTTPStatus(status).phrase
        self.headers = headers or {}


def unauthorized(detail: str = "authentication required") -> ApiError:
    """401 with the Bearer challenge."""
    return ApiError(401, detail, headers={"WWW-Authenticate": "Bearer"})


def forbidden(detail: str = "you do not have permission for this") -> ApiError:
    """403: the caller may see the resource but not do this to it."""
    return ApiError(403, detail)


def not_found(detail: str = "not found") -> ApiError:
    """404."""
    return ApiError(404, detail)


def site_not_found(site_id: str) -> ApiError:
    """The one 404 for a site that does not exist *and* for a site the caller was not granted."""
    return ApiError(404, f"no site {site_id!r}")


def invalid_field(loc: list[str | int], msg: str, type: str = "value_error") -> ApiError:
    """422 for one field the schema could not check (a password policy, say), shaped like FastAPI's."""
    return ApiError(
        422,
        "1 invalid field(s)",
        type="urn:openbms:problem:validation-error",
        errors=[{"loc": loc, "msg": msg, "type": type}],
    )


def conflict(detail: str) -> ApiError:
    """409."""
    return ApiError(409, detail)


def bad_request(detail: str) -> ApiError:
    """400."""
    return ApiError(400, detail)


def problem_response(
    request: Request,
    status: int,
    detail: str = "",
    *,
    type: str = "about:blank",
    title: str | None = None,
    headers: dict[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    """A problem+json response for ``request``."""
    body: dict[str, Any] = {
        "type": type,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _loc(loc: Any) -> list[str | int]:
    return [part if isinstance(part, int) else str(part) for part in loc]


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return problem_response(
        request,
        exc.status,
        exc.detail,
        type=exc.type,
        title=exc.title,
        headers=exc.headers,
        errors=exc.errors,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else ""
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no such resource: {request.url.path}"
    return problem_response(request, exc.status_code, detail, headers=dict(exc.headers or {}))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": _loc(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
        for e in exc.errors()
    ]
    return problem_response(
        request,
        422,
        f"{len(errors)} invalid field(s)",
        type="urn:openbms:problem:validation-error",
        errors=errors,
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error in %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(request, 500, "an unexpected error happened; it has been logged")


def install_error_handlers(app: FastAPI) -> None:
    """Make every error of ``app`` problem+json."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
