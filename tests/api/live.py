"""A running openbms (runtime + API over real HTTP) with two sites and a user of every role.

Use the ``live`` fixture (defined in ``tests/api/conftest.py`` via ``pytest_plugins``-free
import: ``from tests.api.live import live  # noqa: F401``) in resource tests:

    async def test_x(live):
        r = await live.get("operator", "/api/v1/sites/hq/points")

Sites ``hq`` (an AHU with a writable setpoint and fan, a zone temperature with a
high alarm, a schedule) and ``lab`` (one sensor, one writable setpoint), on the
``sim`` driver polled every 0.2 s. Users (password ``PASSWORD``): ``admin`` (admin
on ``*``), ``fm`` (facility manager on hq), ``operator`` (operator on hq),
``viewer`` (viewer on hq), ``labviewer`` (viewer on lab only).

Its passwords are Argon2id at the lowest cost (``FAST_PASSWORDS``): the fixture
logs five users in for every test that uses it, and at the production cost
that was over a second of hashing per test. What a login checks is the same;
the production parameters are tested where they matter (``test_units.py``,
and every test of the ``api`` fixture logs in against them).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

from openbms.api.auth.passwords import Passwords
from openbms.api.server import serve
from openbms.config import load_sites
from openbms.db.accounts import create_user
from openbms.service.runtime import Runtime

PASSWORD = "correct horse battery"

HQ = """\
site: {id: hq, name: Headquarters, timezone: Europe/London, area_m2: 2400}
drivers:
  sim: {poll_interval: 0.2}
spaces:
  - {id: floor-1, kind: floor}
  - {id: zone-1, kind: zone, parent: floor-1}
equipment:
  - id: ahu-1
    type: ahu
    space: floor-1
    points:
      - {name: sat, unit: degC, tags: [discharge, air, temp, sensor],
         binding: "sim://ahu-1/sat?wave=sine&min=12&max=16&period=60"}
      - name: sat-sp
        unit: degC
        tags: [discharge, air, temp, sp]
        writable: true
        relinquish_default: 13
        limits: {min: 10, max: 18}
        binding: "sim://ahu-1/sat-sp?wave=constant&value=13"
      - name: fan-cmd
        kind: bool
        writable: true
        relinquish_default: false
        binding: "sim://ahu-1/fan-cmd?wave=constant&value=0&kind=bool"
  - id: vav-1
    type: vav
    space: zone-1
    points:
      - {name: zone-temp, unit: degC, tags: [zone, air, temp, sensor], brick: Zone_Air_Temperature_Sensor,
         binding: "sim://vav-1/zone-temp?wave=constant&value=29"}
      - name: zone-sp
        unit: degC
        writable: true
        relinquish_default: 22
        limits: {min: 16, max: 28}
        binding: "sim://vav-1/zone-sp?wave=constant&value=22"
schedules:
  - id: ahu-occupancy
    kind: bool
    default: false
    targets: [hq/ahu-1/fan-cmd]
    weekly:
      monday: [{time: "07:00", value: true}, {time: "19:00", value: false}]
      tuesday: [{time: "07:00", value: true}, {time: "19:00", value: false}]
alarms:
  - {id: zone-hot, type: high, point: hq/vav-1/zone-temp, limit: 26, deadband: 1, class: comfort}
"""

LAB = """\
site: {id: lab, name: Laboratory, timezone: UTC}
drivers:
  sim: {poll_interval: 0.2}
equipment:
  - id: fc-1
    type: fcu
    points:
      - {name: temp, unit: degC, binding: "sim://fc-1/temp?wave=constant&value=20"}
      - name: sp
        unit: degC
        writable: true
        relinquish_default: 21
        limits: {min: 15, max: 30}
        binding: "sim://fc-1/sp?wave=constant&value=21"
"""

USERS = {
    "admin": {"*": "admin"},
    "fm": {"hq": "facility_manager"},
    "operator": {"hq": "operator"},
    "viewer": {"hq": "viewer"},
    "labviewer": {"lab": "viewer"},
}


@functools.cache
def password_hash(password: str = PASSWORD) -> str:
    """An Argon2id hash of ``password``, made once per test process.

    Every user of every live runtime may share it (each hash carries its own salt, and
    a login verifies against it as against any other); hashing anew for each user of
    each test cost about a second of Argon2 per test.
    """
    return Passwords().hash(password)


#: The live runtime's hasher: Argon2id, one pass over 8 KiB (argon2-cffi's floor), so its hashes need no
#: rehash at login and a login costs microseconds. For hashes of the live runtime's users only.
FAST_PASSWORDS = Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@functools.cache
def fast_password_hash(password: str = PASSWORD) -> str:
    """A hash of ``password`` for a user of the ``live`` runtime (its logins check it with FAST_PASSWORDS)."""
    return FAST_PASSWORDS.hash(password)


@dataclasses.dataclass
class Live:
    """The running runtime, its API's base URL, and a client per user."""

    runtime: Runtime
    url: str
    clients: dict[str, httpx.AsyncClient]
    folder: Path

    async def get(self, user: str, path: str, **kw: Any) -> httpx.Response:
        return await self.clients[user].get(path, **kw)

    async def post(self, user: str, path: str, **kw: Any) -> httpx.Response:
        return await self.clients[user].post(path, **kw)

    async def put(self, user: str, path: str, **kw: Any) -> httpx.Response:
        return await self.clients[user].put(path, **kw)

    async def patch(self, user: str, path: str, **kw: Any) -> httpx.Response:
        return await self.clients[user].patch(path, **kw)

    async def delete(self, user: str, path: str, **kw: Any) -> httpx.Response:
        return await self.clients[user].delete(path, **kw)


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    folder = tmp_path / "sites"
    folder.mkdir()
    (folder / "hq.yaml").write_text(HQ)
    (folder / "lab.yaml").write_text(LAB)
    runtime = Runtime(load_sites(folder), tmp_path / "data", api=("127.0.0.1", 0), api_front=serve)
    await runtime.start()
    runtime.api.app.state.openbms.passwords = FAST_PASSWORDS
    clients: dict[str, httpx.AsyncClient] = {}
    try:
        for email, grants in USERS.items():
            create_user(runtime.state, f"{email}@example.com", fast_password_hash(), grants=grants)
        url = runtime.api.url
        anonymous = httpx.AsyncClient(base_url=url, timeout=30)
        clients["anonymous"] = anonymous

        async def login(email: str) -> None:
            r = await anonymous.post("/api/v1/auth/login",
                                     json={"email": f"{email}@example.com", "password": PASSWORD})
            assert r.status_code == 200, r.text
            token = r.json()["access_token"]
            clients[email] = httpx.AsyncClient(base_url=url, timeout=30,
                                               headers={"Authorization": f"Bearer {token}"})

        await asyncio.gather(*(login(email) for email in USERS))
        yield Live(runtime, url, clients, folder)
    finally:
        for c in clients.values():
            await c.aclose()
        await runtime.stop()
