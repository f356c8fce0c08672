"""Property-based tests of the API against its own OpenAPI schema (schemathesis; issue 5).

For every operation of ``/openapi.json``, Hypothesis generates requests —
valid ones and, as schemathesis does by default, invalid ones — and each
answer must not be a 5xx, must match the schema declared for its status
(problem+json for errors) and must carry a declared content type.

* The schema is the one the running app serves (the fixture checks that the
  document parametrising the tests is exactly that one).
* openbms runs in a thread of its own with its own event loop: schemathesis
  calls it synchronously over real HTTP, which would block an event loop it
  shared with the test.
* Path parameters are steered: each draw is either what Hypothesis generated
  or an id that exists (``hq``, ``ahu-1``/``sat-sp``, a command's id…), so
  the requests reach the handlers instead of stopping at "no site 'x7Q'".
* Not tested here: ``/api/v1/ws`` (a WebSocket, not in the OpenAPI document;
  tests/api/test_ws.py), and nothing else — history downloads are bounded by
  the little history a test instance has.
* Destructive operations (every DELETE — user disable and token revoke among
  them —, logout, password change) would end the session or remove what the
  other operations are steered to: they run against a second, separate
  instance, after the rest.

Settings: ``EXAMPLES`` examples per operation, no deadline, derandomised (the
same cases every run), no example database. The instances' passwords are
Argon2id at the lowest cost (``FAST_PASSWORDS`` of ``tests/api/live.py``): the
answers are under test here, not the hashing cost.
"""

from __future__ import annotations

import ast
import asyncio
import dataclasses
import threading
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from schemathesis import checks

from openbms.api import create_app
from openbms.api.ratelimit import Rate
from openbms.api.server import serve
from openbms.config import load_sites
from openbms.db.accounts import create_user
from openbms.model.expression import AST_LOCK
from openbms.service.runtime import Runtime
from tests.api.live import FAST_PASSWORDS, HQ, LAB, PASSWORD, USERS, fast_password_hash

EXAMPLES = 25
CHECKS = [checks.not_a_server_error, checks.response_schema_conformance, checks.content_type_conformance,
          checks.status_code_conformance]


def _is_destructive(ctx: Any) -> bool:
    op = ctx.operation
    return op.method.upper() == "DELETE" or op.path in ("/api/v1/auth/logout", "/api/v1/auth/password")


schema = schemathesis.openapi.from_dict(create_app(engine=sa.create_engine("sqlite://")).openapi())

#: Ids that exist once the instance is set up, per combination of path parameters (filled by ``_setup``).
REAL: list[dict[str, str]] = []


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
    """Ids that exist (the fullest combinations that fit) or, as often, the generated parameters."""
    if not path_parameters:
        return st.just(path_parameters)
    fitting = [real for real in REAL if set(real) <= set(path_parameters)]
    if not fitting:
        return st.just(path_parameters)
    most = max(len(real) for real in fitting)
    best = [{**path_parameters, **real} for real in fitting if len(real) == most]
    return st.one_of(st.sampled_from(best), st.just(path_parameters))


#: Query values that exist, for the query parameters that name points or sites.
REAL_QUERY: dict[str, list[str]] = {
    "points": ["ahu-1/sat,vav-1/zone-temp", "hq/ahu-1/sat-sp"],
    "point": ["hq/ahu-1/sat-sp"],
    "site": ["hq", "lab"],
    "equipment": ["ahu-1"],
}


@schema.hook
def flatmap_query(context: Any, query: dict[str, Any] | None) -> Any:
    """Like the path parameters: a point or site that exists, or what was generated."""
    steerable = [name for name in REAL_QUERY if name in (query or {})]
    if not query or not steerable:
        return st.just(query)
    real = st.fixed_dictionaries({name: st.sampled_from(REAL_QUERY[name]) for name in steerable})
    return st.one_of(real.map(lambda values: {**query, **values}), st.just(query))


#: Framing headers belong to the HTTP server: uvicorn's parser refuses a malformed one with its own
#: text/plain 400 before openbms sees the request.
_FRAMING = frozenset({"content-length", "transfer-encoding", "host", "connection", "expect"})


@schema.hook
def map_headers(context: Any, headers: dict[str, Any] | None) -> dict[str, Any] | None:
    """Generated headers without the framing ones (see _FRAMING)."""
    if not headers:
        return headers
    return {k: v for k, v in headers.items() if k.lower() not in _FRAMING}


# ------------------------------------------------------------------------------ a running openbms


@dataclasses.dataclass
class Served:
    """An openbms runtime with its API, running in a thread, and a bearer token per user."""

    url: str
    runtime: Runtime
    run: Callable[[Coroutine[Any, Any, Any]], Any]
    tokens: dict[str, str]
    session: requests.Session

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def login(self, user: str) -> str:
        r = httpx.post(f"{self.url}/api/v1/auth/login",
                       json={"email": f"{user}@example.com", "password": PASSWORD}, timeout=30)
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])


def _site_files(folder: Path) -> Path:
    folder.mkdir()
    (folder / "hq.yaml").write_text(HQ)
    (folder / "lab.yaml").write_text(LAB)
    return folder


async def _start(folder: Path, data: Path) -> Runtime:
    runtime = Runtime(load_sites(folder), data, api=("127.0.0.1", 0), api_front=serve)
    await runtime.start()
    for email, grants in USERS.items():
        create_user(runtime.state, f"{email}@example.com", fast_password_hash(), grants=grants)
    # Thousands of requests from one address in a few seconds: this checks answers, not rate limits.
    # Nor password hashing: each logout case logs in first, and each password change checks one; at
    # the production cost of Argon2 that was most of the destructive test's time (see tests/api/live.py).
    ctx = runtime.api.app.state.openbms
    ctx.passwords = FAST_PASSWORDS
    unlimited = Rate(burst=1_000_000, per_minute=1_000_000)
    ctx.settings = dataclasses.replace(ctx.settings, login_rate_ip=unlimited, login_rate_account=unlimited,
                                       write_rate_user=unlimited, write_rate_ip=unlimited)
    return runtime


@pytest.fixture(scope="module", autouse=True)
def _one_syntax_tree_at_a_time() -> Iterator[None]:
    """openbms runs in a thread of this process, and hypothesis parses lambdas' source in the
    test's: CPython 3.11.7 (gh-106905) may fail one of two ``ast.parse`` running at once with
    "AST constructor recursion depth mismatch" (it failed this test twice in CI). Both take
    openbms's lock around it here, as openbms's own threads do."""
    original = ast.parse

    def parse(*args: Any, **kwargs: Any) -> Any:
        with AST_LOCK:
            return original(*args, **kwargs)

    ast.parse = parse  # type: ignore[assignment]
    try:
        yield
    finally:
        ast.parse = original


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from _serve(tmp_path_factory.mktemp("schemathesis"))


@pytest.fixture(scope="module")
def served_for_destruction(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from _serve(tmp_path_factory.mktemp("schemathesis-destructive"))


def _serve(tmp: Path) -> Iterator[Served]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="openbms under test", daemon=True)
    thread.start()

    def run(coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=120)

    runtime: Runtime | None = None
    try:
        runtime = run(_start(_site_files(tmp / "sites"), tmp / "data"))
        with requests.Session() as session:
            served = Served(runtime.api.url, runtime, run, {}, session)
            served.tokens = {user: served.login(user) for user in USERS}
            # 30 s, not httpx's 5: the first /openapi.json builds the document, slow on a loaded machine.
            assert httpx.get(f"{served.url}/openapi.json", timeout=30).json() == schema.raw_schema
            _setup(served)
            yield served
    finally:
        if runtime is not None:
            run(runtime.stop())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()


def _setup(served: Served) -> None:
    """Objects for the path parameters to be steered to (``REAL``)."""
    admin = httpx.Client(base_url=served.url, headers=served.auth("admin"), timeout=30)
    with admin:
        def ok(method: str, path: str, **kw: Any) -> Any:
            r = admin.request(method, path, **kw)
            assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text}"
            return r.json() if r.content else None

        program = {"name": "hold", "period_s": 1, "constants": [{"id": "sp", "value": 14}],
                   "outputs": [{"id": "out", "point": "hq/ahu-1/sat-sp"}],
                   "wires": [{"from": "sp", "to": "out"}]}
        ok("PUT", "/api/v1/sites/hq/programs/sat-hold", json={"program": program})
        ok("POST", "/api/v1/sites/hq/programs/sat-hold/deploy", json={"version": 1, "reason": "schemathesis"})
        ok("PUT", "/api/v1/sites/hq/calendars/holidays", json={"entries": ["12-25"]})
        command = ok("POST", "/api/v1/sites/hq/points/vav-1/zone-sp/commands",
                     json={"value": 23, "reason": "schemathesis", "duration_s": 3600})
        target = ok("POST", "/api/v1/users", json={"email": "target@example.com", "password": PASSWORD,
                                                    "grants": {"hq": "viewer"}})
        token = ok("POST", "/api/v1/tokens", json={"name": "schemathesis"})
    REAL[:] = [
        {"site_id": "hq"}, {"site_id": "lab"},
        *({"site_id": "hq", "equip_id": e, "name": n} for e, n in
          (("ahu-1", "sat-sp"), ("ahu-1", "fan-cmd"), ("vav-1", "zone-temp"), ("vav-1", "zone-sp"))),
        {"site_id": "lab", "equip_id": "fc-1", "name": "sp"},
        {"site_id": "hq", "equip_id": "ahu-1"}, {"site_id": "lab", "equip_id": "fc-1"},
        {"site_id": "hq", "space_id": "floor-1"}, {"site_id": "hq", "space_id": "zone-1"},
        {"site_id": "hq", "alarm_id": "zone-hot"},
        {"site_id": "hq", "schedule_id": "ahu-occupancy"},
        {"site_id": "hq", "calendar_id": "holidays"},
        {"site_id": "hq", "program_id": "sat-hold"},
        {"site_id": "hq", "command_id": command["id"]},
        # Only a throwaway account is steered to: disabling or re-granting a user of the run would
        # change what the rest of it may do.
        {"user_id": target["id"]}, {"user_id": target["id"], "site_id": "hq"},
        {"token_id": token["id"]},
    ]


# ------------------------------------------------------------------------------ the tests

_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
)


@schema.exclude(func=_is_destructive).parametrize()
@_SETTINGS
def test_as_admin_every_answer_matches_the_schema(case: schemathesis.Case, served: Served) -> None:
    case.call_and_validate(base_url=served.url, session=served.session, headers=served.auth("admin"),
                           checks=CHECKS)


@schema.include(method="GET").parametrize()
@_SETTINGS
def test_as_viewer_every_read_matches_the_schema(case: schemathesis.Case, served: Served) -> None:
    case.call_and_validate(base_url=served.url, session=served.session, headers=served.auth("viewer"),
                           checks=CHECKS)


@schema.include(func=_is_destructive).parametrize()
@_SETTINGS
def test_destructive_operations_match_the_schema(case: schemathesis.Case,
                                                 served_for_destruction: Served) -> None:
    served = served_for_destruction
    if case.operation.path == "/api/v1/auth/logout":
        headers = {"Authorization": f"Bearer {served.login('fm')}"}  # it may end every session of fm
    elif case.operation.path == "/api/v1/auth/password":
        headers = served.auth("operator")  # a wrong current password counts as a failed login
    else:
        headers = served.auth("admin")
    case.call_and_validate(base_url=served.url, session=served.session, headers=headers, checks=CHECKS)
