"""``openbms run`` and ``openbms demo``: the openbms process."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from openbms.cli.common import DirOption, console, fail, site_dir
from openbms.errors import ConfigError, HistorianError, OpenBMSError

if TYPE_CHECKING:
    from openbms.service.runtime import RuntimeStatus

__all__ = ["register"]

log = logging.getLogger(__name__)


def _load(root: Path) -> list:
    from openbms.config import load_sites

    try:
        return load_sites(root)
    except ConfigError as err:
        for issue in err.issues:
            print(issue)
        raise fail(f"{len(err.issues)} problem(s) in the site configuration: nothing started") from err


TlsCertOption = typer.Option(None, "--tls-cert", envvar="OPENBMS_TLS_CERT", exists=True, dir_okay=False,
                             help="Serve HTTPS with this PEM certificate (chain); needs --tls-key.")
TlsKeyOption = typer.Option(None, "--tls-key", envvar="OPENBMS_TLS_KEY", exists=True, dir_okay=False,
                            help="The certificate's PEM private key (not encrypted).")
TrustedProxyOption = typer.Option(
    None, "--trusted-proxy", help="Address or network of a reverse proxy whose X-Forwarded-For is "
    "believed (repeatable; default: none, or $OPENBMS_TRUSTED_PROXIES, comma-separated).")


def _api_settings(tls_cert: Path | None, tls_key: Path | None, trusted_proxies: list[str] | None) -> object:
    """The API's settings: the environment's, with the command line's TLS files and proxies."""
    from openbms.api.settings import ApiSettings

    overrides: dict[str, object] = {}
    if tls_cert is not None:
        overrides["tls_cert"] = str(tls_cert)
    if tls_key is not None:
        overrides["tls_key"] = str(tls_key)
    if trusted_proxies:
        overrides["trusted_proxies"] = tuple(trusted_proxies)
    try:
        return ApiSettings.from_env(**overrides)
    except ValueError as err:
        raise fail(f"API settings: {err}") from err


def degraded_note(health: dict[str, dict[str, Any]]) -> str:
    """`` · degraded: reasons`` for a status line when a health check is not ok, else nothing."""
    bad = [c for c in health.values() if c.get("status") != "ok"]
    if not bad:
        return ""
    reasons = [r for c in bad for r in c.get("reasons", ())]
    return f" · [yellow]degraded: {'; '.join(reasons) or 'see /api/v1/health'}[/yellow]"


def _serve(root: Path, data: Path | None, status_every: float, show: list[str] | None = None,
           api: tuple[str, int] | None = None, emulator_speed: float | None = None,
           open_browser: bool = False, api_settings: object = None) -> None:
    from openbms.api.server import serve
    from openbms.service.runtime import Runtime

    sites = _load(root)
    last = [time.monotonic(), 0]
    holder: dict[str, Runtime] = {}

    def tick(st: RuntimeStatus) -> None:
        runtime = holder["runtime"]
        now = time.monotonic()
        rate = (st.samples - last[1]) / max(1e-9, now - last[0])
        last[0], last[1] = now, st.samples
        offline = f", [red]{st.devices_offline} offline[/red]" if st.devices_offline else ""
        line = (f"[dim]{time.strftime('%H:%M:%S')}[/dim] {st.points} points on {st.devices} "
                f"devices{offline} · {rate:,.0f} samples/s · {st.stored:,} stored · "
                f"backlog {st.backlog:,}")
        line += degraded_note(runtime.health())
        if show:
            values = runtime.cache.get_many(show)
            parts = [f"{p.split('/')[-2]}/{p.split('/')[-1]}={s.value:.4g}" for p, s in values.items()
                     if s is not None and isinstance(s.value, int | float)]
            line += " · " + " ".join(parts)
        console.print(line)

    def started(st: RuntimeStatus) -> None:
        runtime = holder["runtime"]
        if runtime.api is not None and not announced:
            announced.append(True)
            url = runtime.api.url
            console.print(f"Dashboard: [bold]{url}/[/bold] · API: [bold]{url}/api/v1[/bold] · "
                          f"interactive docs [bold]{url}/docs[/bold]")
            if open_browser:
                import webbrowser

                webbrowser.open(f"{url}/")
        tick(st)

    announced: list[bool] = []

    async def main() -> None:
        state_url = os.environ.get("OPENBMS_DATABASE_URL")
        if emulator_speed is None:
            runtime = holder["runtime"] = Runtime(sites, data or root / "data", state_url=state_url,
                                                  api=api, api_front=serve, api_settings=api_settings)
            await runtime.run_forever(on_tick=started, tick=status_every, freeze_gc=True)
            return
        from openbms.sim.building.fault_catalogue import BuildingFaults
        from openbms.sim.building.live import demo_emulator

        async with demo_emulator(speed=emulator_speed) as emulator:
            assert emulator.face is not None  # started by the context manager
            console.print(f"building emulator: {len(emulator.face.devices)} BACnet devices on "
                          f"127.0.20.x, simulated time ×{emulator_speed:g}; faults: "
                          "'openbms sim fault list' or the dashboard's Admin page")
            # The building's faults go to the API through the runtime (the API may not import sim).
            runtime = holder["runtime"] = Runtime(sites, data or root / "data", state_url=state_url,
                                                  api=api, api_front=serve, clock=emulator.clock,
                                                  api_settings=api_settings,
                                                  faults=BuildingFaults(emulator.building))
            await runtime.run_forever(on_tick=started, tick=status_every, freeze_gc=True)

    try:
        asyncio.run(main())
    except HistorianError as err:
        raise fail(str(err)) from err
    except OpenBMSError as err:
        raise fail(str(err)) from err
    except OSError as err:
        raise fail(f"cannot start: {err}") from err
    console.print("[green]stopped cleanly[/green]: history flushed")


def register(app: typer.Typer) -> None:
    """Add ``run`` and ``demo``."""

    @app.command()
    def run(
        directory: Path = DirOption,
        data: Path | None = typer.Option(None, "--data", help="Data folder (default: DIR/data)."),
        status_every: float = typer.Option(10.0, "--status-every", help="Seconds between status lines."),
        host: str = typer.Option("127.0.0.1", "--host", envvar="OPENBMS_HOST",
                                 help="Address the API listens on (0.0.0.0: every interface)."),
        port: int = typer.Option(8080, "--port", envvar="OPENBMS_PORT", min=0, max=65535,
                                 help="API port (0: any free port)."),
        no_api: bool = typer.Option(False, "--no-api", help="Run without the API."),
        tls_cert: Path | None = TlsCertOption,
        tls_key: Path | None = TlsKeyOption,
        trusted_proxy: list[str] | None = TrustedProxyOption,
    ) -> None:
        """Run openbms for the site folder: drivers, historian, control, API. Ctrl-C stops it cleanly."""
        root = site_dir(directory)
        settings = None if no_api else _api_settings(tls_cert, tls_key, trusted_proxy)
        console.print(f"openbms: running the site in [bold]{root}[/bold] (Ctrl-C to stop)")
        _serve(root, data, status_every, api=None if no_api else (host, port), api_settings=settings)

    @app.command()
    def demo(
        directory: Path = typer.Option(
            Path("demo"), "--dir", "-d", help="Where the demo site folder is created."
        ),
        status_every: float = typer.Option(5.0, "--status-every", help="Seconds between status lines."),
        host: str = typer.Option("127.0.0.1", "--host", envvar="OPENBMS_HOST",
                                 help="Address the API and dashboard listen on."),
        port: int = typer.Option(8080, "--port", envvar="OPENBMS_PORT", min=0, max=65535,
                                 help="API and dashboard port (0: any free port)."),
        speed: float = typer.Option(60.0, "--speed", min=1.0, max=3600.0,
                                    help="Simulated seconds per real second."),
        example: str = typer.Option("building", "--example",
                                    help="building: the emulated building over BACnet; "
                                         "office: the office on simulated values (sim driver)."),
        no_browser: bool = typer.Option(False, "--no-browser", help="Do not open a web browser."),
        tls_cert: Path | None = TlsCertOption,
        tls_key: Path | None = TlsKeyOption,
        trusted_proxy: list[str] | None = TrustedProxyOption,
    ) -> None:
        """A live building on this machine: the emulator, openbms, the API and the dashboard."""
        if example not in ("building", "office"):
            raise fail(f"unknown example {example!r}: expected building or office")
        settings = _api_settings(tls_cert, tls_key, trusted_proxy)
        folder = "demo" if example == "building" else "office"
        root = directory.resolve()
        if not (root / "site.yaml").exists():
            src = resources.files("openbms.examples") / folder
            root.mkdir(parents=True, exist_ok=True)
            with resources.as_file(src) as tree:
                shutil.copytree(tree, root, dirs_exist_ok=True)
            console.print(f"created the demo site in [bold]{root}[/bold] from the {example} example")
        sites = _load(root)
        show = [pid for cfg in sites for pid, eq, p in cfg.points()
                if p.name in ("sat", "oat", "kw", "oa-t", "sa-t", "elec-kw")
                or (eq.type == "vav" and p.name in ("zone-temp", "zn-t"))][:6]
        email, password = _demo_admin(root)
        what = ("the emulated office building, served over BACnet/IP on loopback"
                if example == "building" else "the example office on the sim driver")
        console.print(
            f"openbms demo: {sum(len(s.points()) for s in sites)} points of {what}; history in "
            f"[bold]{root / 'data'}[/bold].\n"
            f"Sign in as [bold]{email}[/bold] with the password [bold]{password}[/bold].\n"
            "Ctrl-C stops it cleanly."
        )
        _serve(root, None, status_every, show, api=(host, port),
               emulator_speed=speed if example == "building" else None, open_browser=not no_browser,
               api_settings=settings)


def _demo_admin(root: Path) -> tuple[str, str]:
    """The demo's admin: the environment's if set, else one with a random password kept in the
    demo folder (so a second start shows the same login). Never a fixed password."""
    import secrets

    if os.environ.get("OPENBMS_ADMIN_EMAIL") and os.environ.get("OPENBMS_ADMIN_PASSWORD"):
        return os.environ["OPENBMS_ADMIN_EMAIL"], "(the one in OPENBMS_ADMIN_PASSWORD)"
    login = root / "data" / "demo-login"
    if login.exists():
        email, password = login.read_text().split("\n")[:2]
    else:
        email, password = "admin@demo.openbms.local", secrets.token_urlsafe(12)
        login.parent.mkdir(parents=True, exist_ok=True)
        login.write_text(f"{email}\n{password}\n")
        login.chmod(0o600)
    os.environ["OPENBMS_ADMIN_EMAIL"], os.environ["OPENBMS_ADMIN_PASSWORD"] = email, password
    return email, password
