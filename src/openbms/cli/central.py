"""``openbms central run|serve|sites|command|commands|backfill|acl``: the central openbms many edge
sites report to.

::

    openbms central run    one ingest worker: the edges' bridges (MQTT v5 shared subscription
                           $share/GROUP/PREFIX/...) into the PostgreSQL history; start it more
                           than once (same --group) and the workers split the load
    openbms central serve  the API and dashboard of every site whose configuration the centre
                           holds, fed by one ingest worker of the group
    openbms central sites  the sites whose configuration the centre holds
    openbms central acl    a Mosquitto ACL: each edge only its site's topics
    openbms central command|commands   queue a command for an edge, list the centre's commands
    openbms central backfill   fill the centre's history from an edge's historian over a range
                           (per-hour counts compared, the missing hours' samples fetched)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import typer

from openbms.cli.common import console, fail, parse_time
from openbms.cli.mqtt import (
    BrokerOption,
    CAOption,
    CertOption,
    Connection,
    KeyOption,
    PasswordEnvOption,
    PasswordFileOption,
    TLSOption,
    UserEnvOption,
    UserFileOption,
    _connection,
    _sign_in,
)
from openbms.cli.run import TlsCertOption, TlsKeyOption, TrustedProxyOption, _api_settings

__all__ = ["register"]

central_app = typer.Typer(help="The central openbms: many edge sites into one PostgreSQL over MQTT.",
                          no_args_is_help=True)

HistoryUrlOption = typer.Option(
    None, "--history-url", envvar="OPENBMS_HISTORY_URL", show_default=False,
    help="The PostgreSQL database, postgresql://USER@HOST[:PORT]/DB ($OPENBMS_HISTORY_URL).")
PrefixOption = typer.Option("openbms", "--prefix", help="The edges' topic prefix (their mqtt: prefix).")


TokensOption = typer.Option(
    None, "--tokens", file_okay=False, show_default=False,
    help="A folder of the sites' API tokens, one file per site named after it (a user with a role "
         "on that site only; chmod 600): with it, this process sends the centre's commands.")
_SITE_FILE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def _token_reader(folder: Path | None) -> Callable[[str], str | None] | None:
    """``token(site)``: the token in ``folder/site`` (read at each use: a rotated token is taken),
    None when there is none."""
    if folder is None:
        return None
    if not folder.is_dir():
        raise fail(f"--tokens {folder}: not a folder (one file per site, named after it)")

    def token(site: str) -> str | None:
        if not _SITE_FILE.match(site):
            return None
        try:
            text = (folder / site).read_text().strip()
        except (OSError, UnicodeDecodeError):
            return None
        return text or None

    return token


def _asker(conn: Connection, prefix: str) -> Callable[[str, str, bytes, str], Awaitable[bytes]]:
    """``ask(site, name, payload, token)``: one command request to a site over MQTT v5."""
    from openbms.drivers.mqtt.requests import Requester

    username, password, tls = _sign_in(conn)
    host, port = conn.host, conn.port

    async def ask(site: str, name: str, payload: bytes, token: str) -> bytes:
        async with Requester(host, port, prefix, site, username=username, password=password,
                             tls=tls, timeout=10.0) as requester:
            return await requester.ask(name, payload,
                                       user_properties=[("authorization", f"Bearer {token}")])

    return ask


def _history_url(url: str | None) -> str:
    if not url:
        raise fail("no database: give --history-url postgresql://USER@HOST/DB or set "
                   "OPENBMS_HISTORY_URL")
    if not url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        raise fail(f"--history-url: the central runs on PostgreSQL: expected postgresql://USER@HOST/DB, "
                   f"not {url.split(':', 1)[0]}:")
    return url


KeepCommandsOption = typer.Option(
    90.0, "--keep-commands-days", min=1.0, max=3650.0,
    help="With --tokens: days the centre keeps a command done with (answered, unanswered, "
         "expired; a superseded one a day); older ones are pruned each hour. The edge keeps "
         "its own audit.")
BackfillHoursOption = typer.Option(
    24.0, "--backfill-hours", envvar="OPENBMS_BACKFILL_HOURS", min=0.0, max=744.0,
    help="With --tokens: when an edge comes online (and for each one online at the start), "
         "backfill this many hours before now from its historian; 0: never.")


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
    tokens: Path | None = TokensOption,
    backfill_hours: float = BackfillHoursOption,
    keep_commands_days: float = KeepCommandsOption,
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
        token = _token_reader(tokens)
        worker = IngestWorker(url, connect, prefix=prefix, group=group, token=token,
                              ask=_asker(conn, prefix) if token is not None else None,
                              backfill_hours=backfill_hours,
                              keep_commands_s=keep_commands_days * 86400)
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
        30.0, "--refresh-every", min=1.0, max=86400.0,
        help="Seconds between looks for newer configurations of the served sites (and of the "
             "centre's own schedules in DATA/sites/)."),
    lag_warning: float = typer.Option(
        300.0, "--lag-warning", min=1.0, max=30 * 86400.0,
        help="Seconds behind after which a site is shown behind (dashboard, /sites, /metrics)."),
    lag_every: float = typer.Option(
        60.0, "--lag-every", min=1.0, max=86400.0,
        help="Seconds between reads of every site's newest stored sample (a query over every "
             "point's latest value: seldom at thousands of sites)."),
    backfill_hours: float = BackfillHoursOption,
    keep_commands_days: float = KeepCommandsOption,
    lease: float = typer.Option(
        900.0, "--lease", min=60.0, max=86400.0,
        help="Seconds a command of the centre's schedules and programs holds at its edge "
             "unless renewed (renewed every half of it): the edge falls back to its own control "
             "this long after it stops hearing from the centre."),
    command_interval: float = typer.Option(
        60.0, "--command-interval", min=0.0, max=43200.0,
        help="The least seconds between two commands of one point and priority from the "
             "centre's schedules and programs (a newer value meanwhile waits, the latest wins); "
             "at most half the lease."),
    tokens: Path | None = TokensOption,
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

    token = _token_reader(tokens)

    async def main() -> None:
        server = CentralServer(url, connect, data, prefix=prefix, group=group,
                               state_url=os.environ.get("OPENBMS_DATABASE_URL") or None,
                               api=(host, port), api_front=serve, api_settings=api_settings,
                               refresh_every=refresh_every, token=token,
                               ask=_asker(conn, prefix) if token is not None else None,
                               lag_warning_s=lag_warning, lag_every=lag_every,
                               backfill_hours=backfill_hours, lease_s=lease,
                               command_interval_s=command_interval,
                               keep_commands_s=keep_commands_days * 86400)
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


@central_app.command("command")
def command(
    site: str = typer.Argument(..., help="The site."),
    point: str = typer.Argument(..., help="The point, equipment/name or site/equipment/name."),
    value: str | None = typer.Argument(None, help="The value (a number, true/false or text); "
                                                 "none with --release."),
    priority: int = typer.Option(12, "--priority", min=9, max=16,
                                 help="Its priority at the edge: 9 to 16 (1 to 8 stay the edge's: "
                                      "life safety and its own operators)."),
    release: bool = typer.Option(False, "--release", help="Release the priority instead."),
    expires: float = typer.Option(600.0, "--expires", min=1.0,
                                  help="Seconds it may wait for its edge; then it is never sent."),
    reason: str = typer.Option("", "--reason", help="Why (kept with it, and at the edge)."),
    by: str = typer.Option(os.environ.get("USER", ""), "--by", help="Who asks."),
    history_url: str | None = HistoryUrlOption,
) -> None:
    """Queue a command for a site's point: a worker with --tokens sends it when the edge is online
    (the edge's arbiter executes it); past --expires it is never sent."""
    import json
    import time as clock

    from openbms.central.commands import CommandQueue
    from openbms.central.worker import libpq_url
    from openbms.errors import OpenBMSError

    url = _history_url(history_url)
    if (value is None) != release:
        raise fail("give a VALUE, or --release without one")
    parsed: object = None
    if value is not None:
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = value  # text (a state's name)
    pid = point if point.startswith(site + "/") else f"{site}/{point}"

    async def main() -> int:
        queue = CommandQueue(libpq_url(url))
        await queue.create()
        return await queue.submit(site, pid, parsed, now=clock.time(), expires_s=expires,
                                  priority=priority, release=release, reason=reason,
                                  requested_by=by)

    try:
        cid = asyncio.run(main())
    except (OpenBMSError, ValueError) as err:
        raise fail(str(err)) from err
    what = "release" if release else f"{parsed!r}"
    console.print(f"queued command {cid}: {pid} ← {what}, expires in {expires:g} s",
                  highlight=False)


@central_app.command("commands")
def commands(
    site: str | None = typer.Argument(None, help="Only this site's."),
    history_url: str | None = HistoryUrlOption,
) -> None:
    """The centre's commands, oldest first, one a line, tab-separated: id, point, value, status
    (queued, sending, answered, unanswered, expired), the edge's answer."""
    from openbms.central.commands import CommandQueue
    from openbms.central.worker import libpq_url
    from openbms.errors import OpenBMSError

    url = _history_url(history_url)

    async def main() -> list[dict]:
        queue = CommandQueue(libpq_url(url))
        await queue.create()
        return await queue.commands(site)

    try:
        found = asyncio.run(main())
    except OpenBMSError as err:
        raise fail(str(err)) from err
    for c in found:
        answer = c["answer"] or {}
        if answer.get("ok"):
            edge = (answer.get("result") or {}).get("command") or {}
            said = f"edge command {edge.get('id')}: {edge.get('status')}"
        elif answer:
            said = f"{(answer.get('error') or {}).get('code')}: {(answer.get('error') or {}).get('message')}"
        else:
            said = ""
        value = "release" if c["release"] else repr(c["value"])
        typer.echo(f"{c['id']}\t{c['point']}\t{value}\t{c['status']}\t{said}")


@central_app.command("backfill")
def backfill(
    site: str = typer.Option(..., "--site", help="The site whose edge is asked."),
    since: str | None = typer.Option(
        None, "--since", show_default=False,
        help="From: ISO 8601 (UTC if no zone), or a duration ago such as 6h or 7d (default: 24 h "
             "before now); widened to the whole hour."),
    until: str | None = typer.Option(None, "--until", show_default=False,
                                     help="Until: as --since (default: now)."),
    point: list[str] | None = typer.Option(
        None, "--point", show_default=False,
        help="Only this point, equipment/name (repeatable; default: every point of the edge)."),
    tokens: Path | None = TokensOption,
    history_url: str | None = HistoryUrlOption,
    broker: str = BrokerOption,
    prefix: str = PrefixOption,
    timeout: float = typer.Option(30.0, "--timeout", min=1.0,
                                  help="Seconds to wait for each answer of the edge."),
    username_env: str | None = UserEnvOption,
    username_file: str | None = UserFileOption,
    password_env: str | None = PasswordEnvOption,
    password_file: str | None = PasswordFileOption,
    tls: bool = TLSOption,
    ca_file: Path | None = CAOption,
    cert_file: Path | None = CertOption,
    key_file: Path | None = KeyOption,
) -> None:
    """Fill the centre's history from the edge's: per point and hour, the edge's sample count is
    compared with the centre's, and each hour with fewer here is fetched from the edge (over its
    MQTT history request, with the site's token) and written; then the edge's alarm and command
    changes in the range (each command at its latest change) are kept as bridged ones are. What
    the centre holds already is kept as it is, so running it again writes nothing."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from openbms.central.backfill import Backfill, BackfillError
    from openbms.central.store import CentralStore
    from openbms.central.worker import libpq_url
    from openbms.drivers.mqtt.requests import Requester
    from openbms.errors import OpenBMSError
    from openbms.historian import open_historian
    from openbms.runtime.clock import WallClock

    url = _history_url(history_url)
    token = _token_reader(tokens)
    if token is None:
        raise fail("--tokens DIR is needed: the folder holding the site's API token (a file named "
                   "after the site), which the edge checks")
    if token(site) is None:
        raise fail(f"--tokens {tokens}: no token for site {site!r} (a file {tokens}/{site})")
    clock = WallClock()
    now = clock.now()
    start = parse_time(since, now) if since is not None else now - 86400.0
    end = parse_time(until, now)
    if not end > start:
        raise fail(f"--until must be after --since (the range is [since, until)), not "
                   f"{since or '24 h ago'} to {until or 'now'}")
    conn = _connection(broker, username_env, username_file, password_env, password_file, tls,
                       ca_file, cert_file, key_file, 10.0)

    async def main(bar: Progress) -> Any:
        task = bar.add_task(f"{site}: point-hours compared", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=max(total, 1))

        username, password, tls_context = _sign_in(conn)
        async with Requester(conn.host, conn.port, prefix, site, username=username,
                             password=password, tls=tls_context, timeout=timeout) as requester:

            async def ask(_site: str, name: str, payload: bytes, token_: str) -> bytes:
                # one connection for the whole run, not one per request
                return await requester.ask(name, payload,
                                           user_properties=[("authorization", f"Bearer {token_}")])

            history = open_historian(libpq_url(url), clock=clock)
            await history.start()
            store = CentralStore(libpq_url(url))
            try:
                await store.start()
                return await Backfill(history, ask, token, clock, timeout=timeout,
                                      store=store).run(site, start, end, points=point or None,
                                                       progress=progress)
            finally:
                await store.stop()
                await history.stop()

    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console, transient=True) as bar:
            result = asyncio.run(main(bar))
    except (BackfillError, OpenBMSError) as err:
        raise fail(str(err)) from err
    except (OSError, ValueError) as err:
        raise fail(f"cannot backfill: {err}") from err
    from datetime import UTC, datetime

    def day(ts: float) -> str:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")

    console.print(f"site {site}, {day(result.since)} to {day(result.until)}: "
                  f"{result.hours_checked} hours checked, {result.hours_filled} filled, "
                  f"{result.samples_written} samples written; {result.alarm_changes} alarm "
                  f"changes, {result.alarm_changes_written} written; {result.command_changes} "
                  f"command changes, {result.command_changes_written} written", highlight=False)


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

