"""Every error the API answers is ``application/problem+json`` (RFC 9457).

``{type, title, status, detail, instance}``, plus ``errors`` — a list of
``{loc, msg, type}`` — for validation errors. Routes raise ``ApiError`` (or a
helper below); FastAPI's own HTTP and validation errors, unknown routes and
unexpected exceptions are translated here too, so no other shape escapes.

A write that fails because the disk or the database is full (SQLite's
SQLITE_FULL, PostgreSQL's disk_full, ENOSPC/EDQUOT from the file system), from
any route, answers 503 ``urn:openbms:problem:storage-full`` with a
Retry-After, not 500: the server is fine, its storage is not, and the request
can be repeated once space is freed. It is logged once per minute, not per request.
"""

from __future__ import annotations

import errno
import logging
import sqlite3
import threading
import time
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from openbms.db import STORAGE_ERRORS

__all__ = [
    "PROBLEM_JSON",
    "STORAGE_FULL",
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
    "storage_full",
    "unauthorized",
]

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
#: The problem type of a write refused because the disk or the database is full.
STORAGE_FULL = "urn:openbms:problem:storage-full"
#: Seconds a client is told to wait before repeating a request refused for a full storage.
STORAGE_RETRY_AFTER = 30
#: At most one log line per this many seconds about requests refused for a full storage.
STORAGE_LOG_EVERY = 60.0


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


def storage_full(exc: BaseException) -> bool:
    """Whether ``exc``, or an error it wraps or was raised from, says the storage is full."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        err = todo.pop()
        if err is None or id(err) in seen:
            continue
        seen.add(id(err))
        if isinstance(err, sqlite3.Error) and getattr(err, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
            return True
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if getattr(err, "sqlstate", None) == "53100":  # PostgreSQL disk_full (psycopg)
            return True
        orig = getattr(err, "orig", None)  # SQLAlchemy's DBAPIError wraps the driver's error
        todo += [orig if isinstance(orig, BaseException) else None, err.__cause__, err.__context__]
    return False


class _Throttle:
    """Say something at most once per ``every`` seconds; count what was not said."""

    def __init__(self, every: float) -> None:
        self.every = every
        self._last = -float("inf")
        self._quiet = 0
        self._lock = threading.Lock()

    def due(self) -> int | None:
        """None: stay quiet; else how many were kept quiet since the last time."""
        with self._lock:
            now = time.monotonic()
            if now - self._last < self.every:
                self._quiet += 1
                return None
            self._last, quiet, self._quiet = now, self._quiet, 0
            return quiet


_storage_log = _Throttle(STORAGE_LOG_EVERY)


def _storage_full_response(request: Request, exc: BaseException) -> JSONResponse:
    quiet = _storage_log.due()
    if quiet is not None:
        log.error("storage full: %s %s refused with 503 (%s: %s)%s", request.method,
                  request.url.path, type(exc).__name__, exc,
                  f"; {quiet} more refused since the last message" if quiet else "")
    return problem_response(
        request, 503,
        "the server's storage is full (database or disk is full): nothing was changed; "
        "repeat the request once space is freed",
        type=STORAGE_FULL, title="Storage full",
        headers={"Retry-After": str(STORAGE_RETRY_AFTER)},
    )


async def _storage_error(request: Request, exc: Exception) -> JSONResponse:
    """Database errors: 503 when the storage is full, else as unexpected."""
    if request.scope.get("type") != "http":  # a WebSocket's errors are its session's to handle
        raise exc
    if storage_full(exc):
        return _storage_full_response(request, exc)
    return await _unexpected(request, exc)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    if storage_full(exc):  # wrapped in another error on its way here
        return _storage_full_response(request, exc)
    log.exception("unexpected error in %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(request, 500, "an unexpected error happened; it has been logged")


def install_error_handlers(app: FastAPI) -> None:
    """Make every error of ``app`` problem+json."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    # Handled before the catch-all, so a full storage is answered (and logged) once, not re-raised.
    # (A full disk met otherwise, ENOSPC say, reaches the catch-all, which checks for it too.)
    for storage in STORAGE_ERRORS:
        app.add_exception_handler(storage, _storage_error)
    app.add_exception_handler(Exception, _unexpected)
