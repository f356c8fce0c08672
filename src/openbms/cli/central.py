"""``openbms central run|sites``: the central openbms that many edge sites report to (docs/multi-site.md).

::

    openbms central run    one ingest worker: the edges' bridges (MQTT v5 shared subscription
                           $share/GROUP/PREFIX/...) into the PostgreSQL history; start it more
                           than once (same --group) and the workers split the load
    openbms central serve  the API and dashboard of every site whose configuration the centre
                           holds, fed by one ingest worker of the group
    openbms central sites  the sites whose configuration the centre holds
    openbms central acl    a Mosquitto ACL: each edge only its site's topics
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import typer

from openbms.cli.common import console, fail
from openbms.cli.mqtt import (
    BrokerOption,
    CAOption,
    CertOption,
    KeyOption,
    PasswordEnvOption,
    PasswordFileOption,
    TLSOption,
    UserEnvOption,
    UserFileOption,
    _connection,
)
from openbms.cli.run import TlsCertOption, TlsKeyOption, TrustedProxyOption, _api_settings

__all__ = ["register"]

central_app = typer.Typer(help="The central openbms: many edge sites into one PostgreSQL over MQTT.",
                          no_args_is_help=True)

HistoryUrlOption = typer.Option(
    None, "--history-url", envvar="OPENBMS_HISTORY_URL", show_default=False,
    help="The PostgreSQL database, postgresql://USER@HOST[:PORT]/DB ($OPENBMS_HISTORY_URL).")
PrefixOption = typer.Option("openbms", "--prefix", help="The edges' topic prefix (their mqtt: prefix).")


def _history_url(url: str | None) -> str:
    if not url:
        raise fail("no database: give --history-url postgresql://USER@HOST/DB or set "
                   "OPENBMS_HISTORY_URL")
    if not url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        raise fail(f"--history-url: the central runs on PostgreSQL: expected postgresql://USER@HOST/DB, "
                   f"not {url.split(':', 1)[0]}:")
    return url


@central_app.command("run")
def run(
    history_url: str | None = HistoryUrlOption,
    broker: str = BrokerOption,
    prefix: str = PrefixOption,
    group: str = typer.Option("openbms-central", "--group",
                              help="The shared subscription group: workers with the same one split "
                                   "the load."),
    client_id: str | None = typer.Option(
        None, "--client-id", show_default=False,
        help="This worker's MQTT client id (default: a random one); with --session-expiry, the "
             "same id gets the messages queued while it was away."),
    session_expiry: int = typer.Option(
        0, "--session-expiry", min=0, help="Seconds the broker keeps this worker's session and "
                                           "queues its messages after a disconnection (0: none)."),
    status_every: float = typer.Option(10.0, "--status-every", min=0.1,
                                       help="Seconds between status lines."),
    username_env: str | None = UserEnvOption,
    username_file: str | None = UserFileOption,
    password_env: str | None = PasswordEnvOption,
    password_file: str | None = PasswordFileOption,
    tls: bool = TLSOption,
    ca_file: Path | None = CAOption,
    cert_file: Path | None = CertOption,
    key_file: Path | None = KeyOption,
) -> None:
    """One ingest worker: the edges' samples, alarm and command changes and site configurations
    into PostgreSQL. Ctrl-C (or SIGTERM) stops it cleanly."""
    url = _history_url(history_url)
    conn = _connection(broker, username_env, username_file, password_env, password_file, tls,
                       ca_file, cert_file, key_file, 10.0)
    from openbms.central import IngestWorker
    from openbms.drivers.mqtt.ingest import SharedSubscriber
    from openbms.errors import OpenBMSError

    settings = conn.settings()

    def connect(filters: Sequence[str], handler: Callable[[str, bytes], None]) -> SharedSubscriber:
        return SharedSubscriber(settings, filters, handler, client_id=client_id,
                                session_expiry=session_expiry)

    async def main() -> None:
        worker = IngestWorker(url, connect, prefix=prefix, group=group)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await worker.start()
        console.print(f"openbms central: ingesting {prefix}/+/... from {conn.host}:{conn.port} as "
                      f"group {group} into PostgreSQL (Ctrl-C to stop)", highlight=False)
        last, seen = time.monotonic(), 0
        try:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), status_every)
                h = worker.health()
                ingest, broker_h = h.get("ingest", {}), h.get("broker", {})
                now = time.monotonic()
                rate = (ingest.get("samples", 0) - seen) / max(1e-9, now - last)
                last, seen = now, ingest.get("samples", 0)
                bad = sum(ingest.get("bad", {}).values())
                console.print(
                    f"[dim]{time.strftime('%H:%M:%S')}[/dim] "
                    f"{'connected' if broker_h.get('connected') else '[red]not connected[/red]'} · "
                    f"{ingest.get('sites', 0)} sites · {rate:,.0f} samples/s · "
                    f"{h.get('history', {}).get('stored', 0):,} stored · "
                    f"{ingest.get('events', 0):,} events · {ingest.get('refused', 0):,} refused · "
                    f"{bad:,} bad messages · lag {ingest.get('lag_max_s', 0.0):,.1f} s at most",
                    highlight=False)
        finally:
            taken.update(worker.health().get("ingest", {}))
            await worker.stop()

    taken: dict[str, object] = {}
    try:
        asyncio.run(main())
    except OpenBMSError as err:
        raise fail(str(err)) from err
    except (OSError, ValueError) as err:
        raise fail(f"cannot start: {err}") from err
    console.print(f"[green]stopped cleanly[/green]: {taken.get('samples', 0)} samples and "
                  f"{taken.get('events', 0)} events taken; history flushed", highlight=False)


@central_app.command("serve")
def serve_central(
    history_url: str | None = HistoryUrlOption,
    broker: str = BrokerOption,
    prefix: str = PrefixOption,
    group: str = typer.Option("openbms-central", "--group",
                              help="The shared subscription group of this process's ingest."),
    data: Path = typer.Option(Path("central-data"), "--data",
                              help="The centre's data folder: its state database (users, audit), "
                                   "unless $OPENBMS_DATABASE_URL names another."),
    host: str = typer.Option("127.0.0.1", "--host", envvar="OPENBMS_HOST",
                             help="Address the API listens on (0.0.0.0: every interface)."),
    port: int = typer.Option(8080, "--port", envvar="OPENBMS_PORT", min=0, max=65535,
                             help="API port (0: any free port)."),
    refresh_every: float = typer.Option(
        30.0, "--refresh-every", min=1.0,
        help="Seconds between looks for newer configurations of the served sites."),
    username_env: str | None = UserEnvOption,
    username_file: str | None = UserFileOption,
    password_env: str | None = PasswordEnvOption,
    password_file: str | None = PasswordFileOption,
    tls: bool = TLSOption,
    ca_file: Path | None = CAOption,
    cert_file: Path | None = CertOption,
    key_file: Path | None = KeyOption,
    tls_cert: Path | None = TlsCertOption,
    tls_key: Path | None = TlsKeyOption,
    trusted_proxy: list[str] | None = TrustedProxyOption,
) -> None:
    """The centre's API and dashboard for every site whose configuration it holds (with per-site
    roles, as openbms run), fed live by one ingest worker. Ctrl-C (or SIGTERM) stops it cleanly."""
    url = _history_url(history_url)
    conn = _connection(broker, username_env, username_file, password_env, password_file, tls,
                       ca_file, cert_file, key_file, 10.0)
    api_settings = _api_settings(tls_cert, tls_key, trusted_proxy)
    from openbms.api.server import serve
    from openbms.central.server import CentralServer
    from openbms.drivers.mqtt.ingest import SharedSubscriber
    from openbms.errors import OpenBMSError

    settings = conn.settings()

    def connect(filters: Sequence[str], handler: Callable[[str, bytes], None]) -> SharedSubscriber:
        return SharedSubscriber(settings, filters, handler)

    async def main() -> None:
        server = CentralServer(url, connect, data, prefix=prefix, group=group,
                               state_url=os.environ.get("OPENBMS_DATABASE_URL") or None,
                               api=(host, port), api_front=serve, api_settings=api_settings,
                               refresh_every=refresh_every)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await server.start()
        try:
            api = server.runtime.api if server.runtime is not None else None
            served = server.health()["served"]
            console.print(f"openbms central: {len(served)} sites ({', '.join(served) or 'none yet'}); "
                          f"dashboard {api.url if api else '?'}/ · ingesting {prefix}/+/... from "
                          f"{conn.host}:{conn.port} (Ctrl-C to stop)", highlight=False)
            await stop.wait()
        finally:
            await server.stop()

    try:
        asyncio.run(main())
    except OpenBMSError as err:
        raise fail(str(err)) from err
    except (OSError, ValueError) as err:
        raise fail(f"cannot start: {err}") from err
    console.print("[green]stopped cleanly[/green]: history flushed")


@central_app.command("sites")
def sites(history_url: str | None = HistoryUrlOption) -> None:
    """The sites whose configuration the centre holds, one a line, tab-separated: id, name,
    points, version (when its edge sent it), the start of its hash."""
    url = _history_url(history_url)
    from datetime import UTC, datetime

    stored = _stored_sites(url)
    if not stored:
        console.print("no site has published its configuration yet")
        return
    for s in stored:
        config = s.config
        points = sum(len(e.get("points", ())) for e in config.get("equipment", ()))
        when = datetime.fromtimestamp(s.version, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        name = (config.get("site") or {}).get("name") or ""
        typer.echo(f"{s.site}\t{name}\t{points} points\tversion {when}\t{s.hash[:12]}")


@central_app.command("acl")
def acl(
    site: list[str] | None = typer.Option(
        None, "--site", show_default=False,
        help="A site id (repeatable); default: every site whose configuration the centre holds."),
    history_url: str | None = HistoryUrlOption,
    prefix: str = PrefixOption,
    central_user: str = typer.Option("central", "--central-user",
                                     help="The central's user name at the broker."),
    sparkplug: bool = typer.Option(False, "--sparkplug",
                                   help="Also each site's Sparkplug B topics (bridge format: sparkplug)."),
    output: Path | None = typer.Option(None, "--output", "-o", show_default=False,
                                       help="Write the file here (default: print it)."),
) -> None:
    """A Mosquitto ACL file: each edge (user name = its site id) reaches only its own site's
    topics; the central user reads them all and sends the command requests."""
    from openbms.central.acl import acl_text

    sites_ = list(site or ())
    if not sites_:
        if not history_url:
            raise fail("no site: give --site ID (repeatable), or --history-url (or "
                       "OPENBMS_HISTORY_URL) to take the sites the centre holds")
        sites_ = [s.site for s in _stored_sites(_history_url(history_url))]
        if not sites_:
            raise fail("the centre holds no site's configuration yet: give --site ID")
    try:
        text = acl_text(sites_, prefix=prefix, central_user=central_user, sparkplug=sparkplug)
    except ValueError as err:
        raise fail(str(err)) from err
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text)
    except OSError as err:
        raise fail(f"cannot write {output}: {err.strerror}") from err
    console.print(f"wrote {output}: {len(set(sites_))} sites and the user {central_user}",
                  highlight=False)


def _stored_sites(url: str) -> list:
    from openbms.central import CentralStore
    from openbms.central.worker import libpq_url
    from openbms.errors import OpenBMSError

    async def main() -> list:
        store = CentralStore(libpq_url(url))
        await store.start()
        try:
            return await store.sites()
        finally:
            await store.stop()

    try:
        return asyncio.run(main())
    except OpenBMSError as err:
        raise fail(str(err)) from err


def register(app: typer.Typer) -> None:
    """Add ``central``."""
    app.add_typer(central_app, name="central")

