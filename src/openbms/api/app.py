"""The FastAPI application: ``create_app`` mounts every router on one state database.

To add a resource: write ``openbms/api/routes/<name>.py`` with a ``router``
whose every route declares ``public()``, ``authenticated()`` or
``require(permission, site_param=…)`` (see ``openbms.api.auth.permissions``), and
add its router to ``ROUTERS`` in ``openbms.api.routes``. A route that declares
nothing is caught by ``undeclared_routes`` (and the permission-matrix test).

The app runs in the runtime's process and event loop (``openbms run``); given
a ``runtime``, it uses the runtime's state database and reports its health
and metrics. Blocking work (SQL, Argon2) goes to worker threads.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.concurrency import run_in_threadpool

from openbms import __version__
from openbms.api.auth.passwords import Passwords
from openbms.api.auth.permissions import PUBLIC, access_table
from openbms.api.auth.refusals import Refusals
from openbms.api.auth.tokens import new_secret
from openbms.api.body_limit import BodyLimitMiddleware, BodyLimits
from openbms.api.context import ApiContext
from openbms.api.errors import FieldError, Problem, install_error_handlers
from openbms.api.metrics import MetricsMiddleware
from openbms.api.mqtt_commands import MqttCommands
from openbms.api.ratelimit import RateLimiter
from openbms.api.routes import ROUTERS
from openbms.api.settings import ApiSettings
from openbms.db import StateEngine, load_state, migrate, open_state, save_state
from openbms.db.accounts import AccountError, ensure_admin
from openbms.service.protocols import CommandRequests

__all__ = ["BodyLimits", "body_limits_of", "create_app", "ensure_admin_from_env", "resolve_secret"]

log = logging.getLogger(__name__)

SECRET_STATE_KEY = "api:secret"
_MIN_SECRET = {"HS256": 32, "HS384": 48, "HS512": 64}


def resolve_secret(engine: StateEngine, settings: ApiSettings) -> str:
    """The signing key: the configured one, else the one kept in the state database (made on first use)."""
    if settings.secret_key:
        need = _MIN_SECRET.get(settings.algorithm, 32)
        if len(settings.secret_key.encode()) < need:
            raise ValueError(
                f"OPENBMS_SECRET_KEY is too short for {settings.algorithm}: use at least {need} "
                "random bytes, e.g. python -c 'import secrets; print(secrets.token_urlsafe(64))'"
            )
        return settings.secret_key
    stored = load_state(engine, SECRET_STATE_KEY)
    if isinstance(stored, str) and stored:
        return stored
    secret = new_secret()
    save_state(engine, SECRET_STATE_KEY, secret, settings.now())
    log.info("generated the API signing key and kept it in the state database")
    return secret


def ensure_admin_from_env(
    engine: StateEngine,
    *,
    environ: Mapping[str, str] | None = None,
    passwords: Passwords | None = None,
    now: float | None = None,
) -> str | None:
    """Create or update the admin named by OPENBMS_ADMIN_EMAIL / OPENBMS_ADMIN_PASSWORD; its id, or None.

    Both must be set (one without the other is an error: a half-configured
    unattended setup should not start with no way in).
    """
    env = os.environ if environ is None else environ
    email, password = env.get("OPENBMS_ADMIN_EMAIL"), env.get("OPENBMS_ADMIN_PASSWORD")
    if not email and not password:
        return None
    if not email or not password:
        raise AccountError("set both OPENBMS_ADMIN_EMAIL and OPENBMS_ADMIN_PASSWORD, or neither")
    uid, _created = ensure_admin(engine, email, password, passwords=passwords or Passwords(), now=now)
    return uid


def body_limits_of(settings: ApiSettings) -> BodyLimits:
    """The request body limits: the settings' ``max_body_bytes`` and ``max_program_body_bytes``."""
    return BodyLimits(default=settings.max_body_bytes, programs=settings.max_program_body_bytes)


def create_app(
    runtime: Any = None,
    *,
    state_url: str | None = None,
    engine: StateEngine | None = None,
    settings: ApiSettings | None = None,
    routers: Iterable[APIRouter] = (),
    body_limits: BodyLimits | None = None,
) -> FastAPI:
    """The openbms API.

    The state database is ``engine``, else ``state_url`` (migrated and opened at
    start, closed at stop), else the runtime's (which must be started before
    the app). ``routers`` are mounted after the built-in ones (tests use it).
    ``body_limits`` caps request bodies (default: ``body_limits_of(settings)``).
    """
    settings = settings or ApiSettings.from_env()
    ctx = ApiContext(
        settings=settings,
        passwords=Passwords(),
        limiter=RateLimiter(settings.now),
        runtime=runtime,
        state_engine=engine,
    )
    if engine is None and state_url is None and runtime is None:
        raise ValueError("create_app needs a state database: engine=, state_url= or a runtime")

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        owned: StateEngine | None = None
        try:
            if ctx.state_engine is None and state_url is not None:
                await run_in_threadpool(migrate, state_url)
                ctx.state_engine = owned = open_state(state_url)
            ctx.secret = await ctx.run(resolve_secret, ctx.engine, settings)
            admin = await ctx.run(ensure_admin_from_env, ctx.engine, passwords=ctx.passwords, now=ctx.now())
            if admin is not None:
                log.info("admin account from OPENBMS_ADMIN_EMAIL is ready")
            if isinstance(runtime, CommandRequests):  # command/response over MQTT: answered here
                runtime.serve_command_requests(MqttCommands(ctx, refusals_of).handle)
        except Exception as err:
            ctx.startup_error = err
            if owned is not None:
                owned.dispose()
                ctx.state_engine = None
            raise
        try:
            yield
        finally:
            if isinstance(runtime, CommandRequests):
                runtime.serve_command_requests(None)
            try:
                await refusals_of.flush(ctx)
            except Exception as err:  # the database went first: the counts since the last write are lost
                log.warning("could not write the last counts of refused requests: %s", err)
            await ctx.close()
            if owned is not None:
                owned.dispose()
                ctx.state_engine = None

    app = FastAPI(
        title="openbms",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        swagger_ui_oauth2_redirect_url=None,
        description="Building management API. Errors are application/problem+json.",
    )
    app.state.openbms = ctx
    app.state.refusals = refusals_of = Refusals()
    install_error_handlers(app)
    for router in (*ROUTERS, *routers):
        app.include_router(router)
    app.add_middleware(BodyLimitMiddleware, limits=body_limits or body_limits_of(settings))
    app.add_middleware(MetricsMiddleware, metrics=ctx.metrics)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, plus: bearer security on non-public operations, problem+json error bodies."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["FieldError"] = FieldError.model_json_schema()
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    problem.pop("$defs", None)
    schemas["Problem"] = problem
    components["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "An access token from /api/v1/auth/login, or an API token (obms_…).",
        }
    }
    problem_body = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    secured = {
        (r.path, method.lower())
        for r in access_table(app)
        if r.access and PUBLIC not in r.access
        for method in r.methods
    }
    for path, operations in schema.get("paths", {}).items():
        for method, op in operations.items():
            responses = op.setdefault("responses", {})
            if "422" in responses:
                responses["422"] = {"description": "Validation error", "content": problem_body}
            responses.setdefault("default", {"description": "Error", "content": problem_body})
            if (path, method) in secured:
                op["security"] = [{"bearer": []}]
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    app.openapi_schema = schema
    return schema
