"""The API over real HTTP: uvicorn on a free loopback port, in the test's event loop, and httpx."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import APIRouter, FastAPI

from openbms.api import ApiSettings, create_app
from openbms.api.server import ApiServer
from openbms.db import migrate, open_state
from openbms.db.accounts import create_user
from openbms.db.schema import sites
from tests.api.live import password_hash

PASSWORD = "correct horse battery"


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: float | None = None) -> None:
        self.t = time.time() if start is None else start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@dataclasses.dataclass
class Api:
    """A running app: its client, base URL, state database and clock."""

    app: FastAPI
    client: httpx.AsyncClient
    url: str
    engine: sa.Engine
    clock: FakeClock

    def add_user(self, email: str, grants: dict[str, str], password: str = PASSWORD) -> str:
        """A user straight in the database; its id."""
        return create_user(self.engine, email, password_hash(password), grants=grants)["id"]

    async def login(self, email: str, password: str = PASSWORD) -> dict[str, Any]:
        """The token pair of a successful login."""
        r = await self.client.post("/api/v1/auth/login", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        return r.json()

    async def bearer(self, email: str, password: str = PASSWORD) -> dict[str, str]:
        """Authorization headers for a fresh login."""
        return {"Authorization": f"Bearer {(await self.login(email, password))['access_token']}"}

    def audit(self, action: str | None = None) -> list[dict[str, Any]]:
        """Audit rows, oldest first (optionally of one action)."""
        from openbms.db.schema import audit_log

        q = sa.select(audit_log).order_by(audit_log.c.id)
        if action:
            q = q.where(audit_log.c.action == action)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]


async def serve(app: FastAPI) -> ApiServer:
    """Start ``app`` on a free 127.0.0.1 port and wait until it listens."""
    server = ApiServer(app, "127.0.0.1", 0, log_level="warning")
    await server.start()
    return server


MakeApi = Callable[..., Awaitable[Api]]


def add_sites(engine: sa.Engine, *site_ids: str) -> None:
    """Rows in the sites table, as the runtime's configuration sync would make them."""
    with engine.begin() as conn:
        for sid in site_ids:
            conn.execute(sites.insert().values(id=sid, name=sid, timezone="UTC", updated_at=time.time()))


@pytest.fixture
def state_url(sqlite_url: str) -> str:
    """The state database the API tests use (SQLite; the PostgreSQL tests override it)."""
    return sqlite_url


@pytest.fixture
def engine(state_url: str) -> Iterator[sa.Engine]:
    migrate(state_url)
    eng = open_state(state_url)
    yield eng
    eng.dispose()


@pytest.fixture
async def make_api(engine: sa.Engine) -> AsyncIterator[MakeApi]:
    """Start the API on the test's state database; ``make_api(routers=[...], **settings)``."""
    running: list[tuple[ApiServer, httpx.AsyncClient]] = []

    async def make(
        routers: tuple[APIRouter, ...] = (), clock: FakeClock | None = None, **settings: Any
    ) -> Api:
        clock = clock or FakeClock()
        app = create_app(engine=engine, settings=ApiSettings(now=clock, **settings), routers=routers)
        served = await serve(app)
        client = httpx.AsyncClient(base_url=served.url, timeout=30)
        running.append((served, client))
        return Api(app, client, served.url, engine, clock)

    yield make
    for served, client in running:
        await client.aclose()
        await served.stop()


@pytest.fixture
async def api(make_api: MakeApi) -> Api:
    """The API with default settings, an admin (admin@example.com on every site) and sites hq and lab."""
    a = await make_api()
    a.add_user("admin@example.com", {"*": "admin"})
    add_sites(a.engine, "hq", "lab")
    return a
