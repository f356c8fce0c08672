"""A live demo building for browser tests, and a headless Chromium to drive the dashboard.

The building runs as ``openbms demo`` runs it — the emulator served over
BACnet/IP on loopback, the runtime polling it, the API serving the built
dashboard — but on an event loop in a background thread of the test process,
so a test holds the ``Building`` and can inject a fault. The devices live on
a loopback subnet of their own and the driver on a free UDP port, so a demo
already running on the machine is not disturbed.

A second site (the office example on the sim driver) is there to show that a
user granted one site never sees the other. Chromium is Debian's
``/usr/bin/chromium`` (``OPENBMS_CHROMIUM`` to change); without it, or
without a built dashboard, the tests skip — and fail under
OPENBMS_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import pytest

from openbms.api.settings import ApiSettings, Rate
from tests.fixtures.services import require_service

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
WEB_STATIC = ROOT / "src" / "openbms" / "web_static"
CHROMIUM = os.environ.get("OPENBMS_CHROMIUM", "/usr/bin/chromium")

#: Simulated seconds per real second. Slow enough that a 10-minute override is still in force a
#: minute later while the test looks at it; fast enough that polls (every 10 simulated seconds)
#: bring new samples every second.
SPEED = 10.0
#: Playwright's auto-waiting bound (ms): generous, only there to stop a broken test hanging.
WAIT_MS = 30_000

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}

ADMIN = ("admin@e2e.openbms.local", "e2e-admin-password-1")
VIEWER = ("viewer@e2e.openbms.local", "e2e-viewer-password-1")


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Demo:
    """The running demo: its URL, the accounts, and a way into its event loop."""

    url: str
    loop: asyncio.AbstractEventLoop
    runtime: Any
    emulator: Any
    root: Path
    users: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def building(self) -> Any:
        return self.emulator.building

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the building's event loop (the emulator is not thread-safe)."""

        async def run() -> T:
            return fn(*args)

        return self.run(run())

    def run(self, coro: Any, timeout: float = 60.0) -> Any:
        """Await ``coro`` on the building's event loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


def _copy_example(name: str, dest: Path) -> Path:
    src = resources.files("openbms.examples") / name
    with resources.as_file(src) as tree:
        shutil.copytree(tree, dest, dirs_exist_ok=True)
    return dest


def _check_services() -> None:
    if not Path(CHROMIUM).exists():
        require_service("Chromium", f"no browser at {CHROMIUM} (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        require_service("Chromium", "Python playwright is not installed (pip install playwright)")
    if not (WEB_STATIC / "index.html").exists():
        require_service("dashboard build",
                        "no src/openbms/web_static/index.html: cd web && npm ci && npm run build")


@contextmanager
def running_demo(base: Path) -> Iterator[Demo]:
    """Start the demo building under ``base`` on a background event loop; stop it on exit.

    Used by the ``demo`` fixture and by ``bench_dashboard.py``.
    """
    from openbms.api.auth.passwords import Passwords
    from openbms.api.server import serve
    from openbms.config import load_sites
    from openbms.db.accounts import create_user, ensure_admin
    from openbms.service.runtime import Runtime
    from openbms.sim.building.live import demo_emulator

    subnet = f"127.0.{random.randint(100, 250)}"
    driver_port = _free_udp_port()
    demo_dir = _copy_example("demo", base / "demo")
    site_file = demo_dir / "site.yaml"
    site_file.write_text(site_file.read_text()
                         .replace("127.0.20.", f"{subnet}.")
                         .replace("127.0.0.1/8:47809", f"127.0.0.1/8:{driver_port}"))
    office_dir = _copy_example("office", base / "office")

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="e2e-demo-loop", daemon=True)
    thread.start()

    async def start() -> tuple[Any, Any]:
        emulator = demo_emulator(speed=SPEED, subnet=subnet)
        await emulator.start()
        try:
            sites = load_sites(demo_dir) + load_sites(office_dir)
            # One browser signs in for every page at two widths: more than the login rate
            # limit allows one address (tested in tests/api/test_auth.py).
            settings = ApiSettings.from_env(login_rate_ip=Rate(burst=1000, per_minute=1000),
                                            login_rate_account=Rate(burst=1000, per_minute=1000))
            runtime = Runtime(sites, base / "data", api=("127.0.0.1", 0), api_front=serve,
                              clock=emulator.clock, api_settings=settings)
            await runtime.start()
        except BaseException:
            await emulator.stop()
            raise
        return emulator, runtime

    try:
        emulator, runtime = asyncio.run_coroutine_threadsafe(start(), loop).result(120)
    except BaseException:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        raise
    demo = Demo(url=runtime.api.url, loop=loop, runtime=runtime, emulator=emulator, root=demo_dir)
    try:
        passwords = Passwords()
        ensure_admin(runtime.state, *ADMIN, passwords=passwords)
        create_user(runtime.state, VIEWER[0], passwords.hash(VIEWER[1]), name="Vic Viewer",
                    grants={"demo": "viewer"}, by="e2e")
        demo.users = {"admin": ADMIN, "viewer": VIEWER}
        yield demo
    finally:
        async def stop() -> None:
            await runtime.stop()
            await emulator.stop()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(120)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()


# Module scope, not session: Playwright's sync API keeps an event loop running on the main
# thread while it is open, which would break every asyncio test that runs after these.
@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo building (emulator + runtime + API + dashboard) for the whole session."""
    _check_services()
    with running_demo(tmp_path_factory.mktemp("e2e-demo")) as running:
        yield running


@pytest.fixture(scope="module")
def browser(demo: Demo) -> Iterator[Any]:
    """Headless Chromium (Debian's; no Playwright browser download)."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                      args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no tokens kept) at desktop size."""
    context = browser.new_context(viewport=DESKTOP, reduced_motion="reduce")
    context.set_default_timeout(WAIT_MS)
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()


def sign_in(page: Any, demo: Demo, who: str = "admin", path: str = "/") -> None:
    """Sign in through the form and land on ``path``."""
    from playwright.sync_api import expect

    email, password = demo.users[who]
    # Encoded as the dashboard's own signInPath does: a path with a query keeps all of it.
    target = f"/sign-in?next={quote(path, safe='/')}" if path != "/" else "/sign-in"
    page.goto(f"{demo.url}/#{target}")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def shoot(page: Any, name: str) -> None:
    """Screenshots of the page as it is, at desktop and phone widths (artifacts/screenshots/)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    before = page.viewport_size or DESKTOP
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.wait_for_timeout(150)  # let the layout (and uPlot's resize) settle; not an assertion
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(before)


@contextmanager
def admin_api(demo: Demo) -> Iterator[Any]:
    """An httpx client of the demo's API signed in as its admin (a person: its commands are an operator's)."""
    import httpx

    with httpx.Client(base_url=demo.url, timeout=30) as client:
        email, password = demo.users["admin"]
        r = client.post("/api/v1/auth/login", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        yield client
