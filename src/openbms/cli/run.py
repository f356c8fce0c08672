"""``openbms run`` and ``openbms demo``: the openbms process."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from openbms.cli.common import DirOption, console, fail, site_dir
from openbms.errors import ConfigError, HistorianError, OpenBMSError

if TYPE_CHECKING:
    from openbms.runtime.app import RuntimeStatus

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


def _serve(root: Path, data: Path | None, status_every: float, show: list[str] | None = None,
           api: tuple[str, int] | None = None) -> None:
    from openbms.runtime.app import Runtime

    sites = _load(root)
    runtime = Runtime(sites, data or root / "data", state_url=os.environ.get("OPENBMS_DATABASE_URL"),
                      api=api)
    last = [time.monotonic(), 0]

    def tick(st: RuntimeStatus) -> None:
        now = time.monotonic()
        rate = (st.samples - last[1]) / max(1e-9, now - last[0])
        last[0], last[1] = now, st.samples
        offline = f", [red]{st.devices_offline} offline[/red]" if st.devices_offline else ""
        line = (f"[dim]{time.strftime('%H:%M:%S')}[/dim] {st.points} points on {st.devices} "
                f"devices{offline} · {rate:,.0f} samples/s · {st.stored:,} stored · "
                f"backlog {st.backlog:,}")
        if show:
            values = runtime.cache.get_many(show)
            parts = [f"{p.split('/')[-2]}/{p.split('/')[-1]}={s.value:.4g}" for p, s in values.items()
                     if s is not None and isinstance(s.value, int | float)]
            line += " · " + " ".join(parts)
        console.print(line)

    def started(st: RuntimeStatus) -> None:
        if runtime.api is not None and not announced:
            announced.append(True)
            console.print(f"API: [bold]{runtime.api.url}/api/v1[/bold] · interactive docs "
                          f"[bold]{runtime.api.url}/docs[/bold]")
        tick(st)

    announced: list[bool] = []
    try:
        asyncio.run(runtime.run_forever(on_tick=started, tick=status_every))
    except HistorianError as err:
        raise fail(str(err)) from err
    except OpenBMSError as err:
        raise fail(str(err)) from err
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
    ) -> None:
        """Run openbms for the site folder: drivers, historian, control, API. Ctrl-C stops it cleanly."""
        root = site_dir(directory)
        console.print(f"openbms: running the site in [bold]{root}[/bold] (Ctrl-C to stop)")
        _serve(root, data, status_every, api=None if no_api else (host, port))

    @app.command()
    def demo(
        directory: Path = typer.Option(
            Path("demo"), "--dir", "-d", help="Where the demo site folder is created."
        ),
        status_every: float = typer.Option(5.0, "--status-every", help="Seconds between status lines."),
        host: str = typer.Option("127.0.0.1", "--host", envvar="OPENBMS_HOST",
                                 help="Address the API listens on."),
        port: int = typer.Option(8080, "--port", envvar="OPENBMS_PORT", min=0, max=65535,
                                 help="API port (0: any free port)."),
    ) -> None:
        """Run the example office on simulated equipment and show what it is doing."""
        root = directory.resolve()
        if not (root / "site.yaml").exists():
            src = resources.files("openbms.examples") / "office"
            root.mkdir(parents=True, exist_ok=True)
            with resources.as_file(src) as folder:
                shutil.copytree(folder, root, dirs_exist_ok=True)
            console.print(f"created the demo site in [bold]{root}[/bold] from the example office")
        sites = _load(root)
        show = [pid for cfg in sites for pid, eq, p in cfg.points()
                if p.name in ("sat", "oat", "kw") or (eq.type == "vav" and p.name == "zone-temp")][:6]
        email, password = _demo_admin(root)
        console.print(
            f"openbms demo: {sum(len(s.points()) for s in sites)} points of the example office "
            "on the [bold]sim[/bold] driver (simulated equipment), history in "
            f"[bold]{root / 'data'}[/bold].\n"
            f"Sign in to the API as [bold]{email}[/bold] with the password [bold]{password}[/bold].\n"
            "Ctrl-C stops it cleanly."
        )
        _serve(root, None, status_every, show, api=(host, port))


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
