"""A size limit on every request body, answered ``413`` problem+json before a route sees the body.

::

    request ──▶ Content-Length over the limit? ──yes──▶ 413 (the app is not called)
                   │ no (or no Content-Length: a chunked body)
                   ▼
              the app reads the body through a counting receive
                   │ more bytes than the limit ──▶ BodyTooLarge (an HTTPException: the
                   ▼                                 error handlers answer 413 problem+json)
              the route

The bytes are counted as they stream in, so a chunked body without a
Content-Length is held to the same limit. The limit is per route prefix: 1 MiB
by default, more for the routes that take a program document (``BodyLimits``),
and 64 KiB for a request without an ``Authorization`` header (signing in needs
no more; FastAPI reads and decodes a body before it checks who sent it, so an
anonymous sender must not get to make the loop decode megabytes).

Before answering 413, up to ``DRAIN_BYTES`` more of the body are read and
dropped: a client still sending when the server closes would otherwise see
the connection reset instead of the answer. A bigger body is answered and
the connection closed at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openbms.api.errors import problem_response

__all__ = ["BodyLimitMiddleware", "BodyLimits", "BodyTooLarge"]

#: Bytes of a refused body read (and dropped) so that its client receives the 413.
DRAIN_BYTES = 16 << 20

_PROGRAMS = re.compile(r"^/api/v1/sites/[^/]+/programs(/|$)")


@dataclass(frozen=True, slots=True)
class BodyLimits:
    """The most bytes a request body may have: ``programs`` on the program routes, ``default`` elsewhere,
    and at most ``anonymous`` without credentials."""

    default: int = 1 << 20
    programs: int = 2 << 20  # a program document is at most 1 MB (programs.LIMITS), with its envelope
    anonymous: int = 64 << 10

    def __post_init__(self) -> None:
        for name in ("default", "programs", "anonymous"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"BodyLimits.{name} must be a positive number of bytes, not {value!r}")

    def for_path(self, path: str, signed: bool = True) -> int:
        """The limit for a request to ``path``, with credentials (``signed``) or without."""
        limit = self.programs if _PROGRAMS.match(path) else self.default
        return limit if signed else min(limit, self.anonymous)


class BodyTooLarge(HTTPException):
    """413: the body has more bytes than the route takes."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            f"the request body is larger than this route takes ({limit} bytes)",
            headers={"Connection": "close"},
        )
        self.limit = limit


class BodyLimitMiddleware:
    """Pure ASGI middleware holding every HTTP request body to ``limits`` (see the module docstring)."""

    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits
        #: Requests refused for their size, since the start (a metric).
        self.refused = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        limit = self.limits.for_path(scope.get("path", ""), "authorization" in headers)
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            if declared.isdigit() and int(declared) <= limit + DRAIN_BYTES:
                await _drain(receive, DRAIN_BYTES)
            await self._refuse(scope, receive, send, limit)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    if message.get("more_body", False):
                        await _drain(receive, DRAIN_BYTES)
                    raise BodyTooLarge(limit)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if received > limit:
                    self.refused += 1
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send, limit)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        self.refused += 1
        err = BodyTooLarge(limit)
        response = problem_response(Request(scope), 413, err.detail, headers=dict(err.headers or {}))
        await response(scope, receive, send)


async def _drain(receive: Receive, most: int) -> None:
    """Read and drop the rest of a request body, at most ``most`` bytes of it."""
    drained = 0
    while drained <= most:
        message = await receive()
        if message["type"] != "http.request":
            return
        drained += len(message.get("body", b""))
        if not message.get("more_body", False):
            return
