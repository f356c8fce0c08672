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
    import openbms.drivers.registry  # noqa: F401 - the drivers' checks and site expansions (profiles)
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
           open_browser: bool = False, api_settings: object = None,
           loaded: list | None = None, mqtt: DemoMqtt | None = None,
           faces: DemoFaces | None = None) -> None:
    from openbms.api.server import serve
    from openbms.service.runtime import Runtime

    sites: list = _load(root) if loaded is None else loaded
    last = [time.monotonic(), 0]
    holder: dict[str, Runtime] = {}
    emulated: list[Any] = []  # the demo's emulator, once started

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
            thermostats = emulated[0].thermostats if emulated else None
            if faces is not None and thermostats is not None:  # the vendor pushes changes to our API
                thermostats.register_webhook(f"{url}/api/v1/sites/{faces.site}/webhooks/rest/thermostat")
            if open_browser:
                import webbrowser

                webbrowser.open(f"{url}/")
        tick(st)

    announced: list[bool] = []

    async def main() -> None:
        nonlocal sites
        state_url = os.environ.get("OPENBMS_DATABASE_URL")
        history_url = os.environ.get("OPENBMS_HISTORY_URL") or None
        if emulator_speed is None:
            runtime = holder["runtime"] = Runtime(sites, data or root / "data", state_url=state_url,
                                                  history_url=history_url,
                                                  api=api, api_front=serve, api_settings=api_settings)
            await runtime.run_forever(on_tick=started, tick=status_every, freeze_gc=True)
            return
        from openbms.sim.building.fault_catalogue import BuildingFaults
        from openbms.sim.building.live import demo_emulator

        broker = mqtt.broker if mqtt is not None else None
        async with demo_emulator(speed=emulator_speed,
                                 mqtt=(broker.host, broker.port) if broker else None,
                                 modbus=faces.modbus_port if faces else None,
                                 thermostats=faces.account if faces else None) as emulator:
            assert emulator.face is not None  # started by the context manager
            emulated.append(emulator)
            console.print(f"building emulator: {len(emulator.face.devices)} BACnet devices on "
                          f"127.0.20.x, simulated time ×{emulator_speed:g}; faults: "
                          "'openbms sim fault list' or the dashboard's Admin page")
            if faces is not None:
                sites = faces.announce(emulator, sites)
            if broker is not None and emulator.sensors is not None:
                address = f"{broker.host}:{broker.port}"
                console.print(f"MQTT sensors: {len(emulator.sensors.topics) * 2} topics (each zone's "
                              f"CO2 and people) on Mosquitto at {address}; watch them with "
                              f"'openbms mqtt sub \"sensors/#\" -b {address}'", highlight=False)
            # The building's faults go to the API through the runtime (the API may not import sim).
            runtime = holder["runtime"] = Runtime(sites, data or root / "data", state_url=state_url,
                                                  api=api, api_front=serve, clock=emulator.clock,
                                                  api_settings=api_settings,
                                                  faults=BuildingFaults(emulator.building))
            await runtime.run_forever(on_tick=started, tick=status_every, freeze_gc=True)

    try:
        if mqtt is not None and mqtt.broker is not None:
            sites = mqtt.start_broker(sites)
        asyncio.run(main())
    except HistorianError as err:
        raise fail(str(err)) from err
    except OpenBMSError as err:
        raise fail(str(err)) from err
    except OSError as err:
        raise fail(f"cannot start: {err}") from err
    finally:  # after openbms has stopped (Ctrl-C, SIGTERM, an error): no broker outlives the demo
        if mqtt is not None:
            mqtt.stop_broker()
    console.print("[green]stopped cleanly[/green]: history flushed")


class DemoMqtt:
    """The demo's MQTT sensors: its own Mosquitto (``broker``) when it is installed and the site's
    ``mqtt`` driver points at loopback, else nothing, with the site's MQTT points left unbound."""

    def __init__(self, broker: object | None) -> None:
        from openbms.sim.mosquitto import DemoBroker

        self.broker: DemoBroker | None = broker if isinstance(broker, DemoBroker) else None

    def start_broker(self, sites: list) -> list:
        """Start the broker; if it will not start, say so and run without the MQTT sensors."""
        from openbms.sim.mosquitto import BrokerError

        assert self.broker is not None
        try:
            self.broker.start()
        except (BrokerError, OSError) as err:
            console.print(f"mosquitto did not start ({err}): the demo runs without its MQTT sensors",
                          highlight=False)
            self.broker = None
            return _without_mqtt(sites)
        return sites

    def stop_broker(self) -> None:
        if self.broker is not None:
            self.broker.stop()


def _without_mqtt(sites: list) -> list:
    """The sites with their ``mqtt`` driver disabled (in memory): its points get no samples, so they
    show no value rather than offline."""
    out = []
    for cfg in sites:
        settings = cfg.drivers.get("mqtt")
        if settings is not None and settings.enabled:
            drivers = {**cfg.drivers, "mqtt": settings.model_copy(update={"enabled": False})}
            cfg = cfg.model_copy(update={"drivers": drivers})
        out.append(cfg)
    return out


def _without_driver(sites: list, name: str) -> list:
    """The sites with driver ``name`` disabled (in memory): its points get no samples."""
    out = []
    for cfg in sites:
        settings = cfg.drivers.get(name)
        if settings is not None and settings.enabled:
            drivers = {**cfg.drivers, name: settings.model_copy(update={"enabled": False})}
            cfg = cfg.model_copy(update={"drivers": drivers})
        out.append(cfg)
    return out


class DemoFaces:
    """The emulator's Modbus devices and REST thermostats as the demo serves them: the Modbus
    server's port and the vendor account (None: not served), and the site they are read by."""

    def __init__(self, site: str, modbus_port: int | None, account: object | None) -> None:
        from openbms.sim.building.rest import ThermostatAccount

        self.site = site
        self.modbus_port = modbus_port
        self.account: ThermostatAccount | None = account if isinstance(account, ThermostatAccount) else None

    def announce(self, emulator: Any, sites: list) -> list:
        """Say what the emulator serves; a face that did not start is said and its driver disabled."""
        from openbms.sim.building.modbus import MODBUS_UNITS

        for name, what in (("modbus", "Modbus devices"), ("rest", "REST thermostats")):
            if name in emulator.unavailable:
                console.print(f"the emulator's {what} did not start ({emulator.unavailable[name]}): the "
                              f"demo runs without them", highlight=False)
                sites = _without_driver(sites, name)
        if emulator.modbus is not None:
            port = emulator.modbus.port
            units = ", ".join(f"{unit} {device}" for unit, (device, _profile) in MODBUS_UNITS.items())
            console.print(f"Modbus TCP devices on 127.0.0.1:{port} (unit ids {units}); read the "
                          f"electricity meter's power with 'openbms modbus read 127.0.0.1:{port} 1 input 52 "
                          "--type float32 --order CDAB' (watts)", highlight=False)
        if emulator.thermostats is not None:
            t = emulator.thermostats
            tstats = ", ".join(f"{vid} (zone {zone.upper()})" for vid, zone in t.zones.items())
            console.print(f"REST thermostats {tstats}: an emulated vendor cloud at {t.url} (OAuth2; "
                          "webhooks to this demo's API)", highlight=False)
        return sites


_DEMO_SECRETS = "demo-thermostats"


def _demo_thermostat_account(root: Path, port: int) -> object:
    """The demo's account at its emulated vendor cloud: secrets from the environment if set, else
    random ones kept in the demo's data folder (0600, so a second start uses the same), passed to
    the site's ``drivers: rest:`` through the environment. Never written in the site file."""
    import secrets

    from openbms.sim.building.rest import CLIENT_SECRET_ENV, WEBHOOK_SECRET_ENV, account_from_env

    path = root / "data" / _DEMO_SECRETS
    kept: list[str] = []
    if path.exists():
        kept = path.read_text().split("\n")[:2]
    if len(kept) < 2 or not all(kept):
        kept = [secrets.token_urlsafe(24), secrets.token_urlsafe(24)]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{kept[0]}\n{kept[1]}\n")
        path.chmod(0o600)
    for name, value in zip((CLIENT_SECRET_ENV, WEBHOOK_SECRET_ENV), kept, strict=True):
        os.environ.setdefault(name, value)
    return account_from_env(port)


def _set_in_driver(path: Path, driver: str, key: str, new: object, old: str | None = None,
                   every: bool = False) -> int:
    """Write ``key: new`` over ``key: old`` (``old`` None: any value) in the ``drivers: DRIVER:``
    block of a site file, at any depth, on the first such line (``every``: on all of them),
    keeping everything else (comments, the user's edits, the line endings) as it is; how many
    lines changed."""
    import re

    header = re.compile(r"^([\w-]+):\s*(#.*)?$")  # a block's first line, perhaps with a comment
    lines = path.read_bytes().decode("utf-8").splitlines(keepends=True)  # \r\n stays \r\n
    text = str(new).lower() if isinstance(new, bool) else str(new)
    value = r"[^#\s]+" if old is None else re.escape(old)
    pattern = re.compile(rf"^(\s+){re.escape(key)}:\s*{value}(\s*(#.*)?)$")
    in_drivers = in_block = False
    block_indent = changed = 0
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        block = header.match(stripped)
        if indent == 0:
            in_drivers, in_block = block is not None and block.group(1) == "drivers", False
            continue
        if in_drivers and not in_block and block is not None and block.group(1) == driver:
            in_block, block_indent = True, indent
            continue
        if in_block:
            if indent <= block_indent:
                in_block = False
                continue
            body = line.rstrip("\r\n")
            found = pattern.match(body)
            if found:
                lines[i] = f"{found.group(1)}{key}: {text}{found.group(2)}{line[len(body):]}"
                changed += 1
                if not every:
                    break
    if changed:
        path.write_bytes("".join(lines).encode("utf-8"))
    return changed


def _demo_faces(root: Path, sites: list, created: bool) -> tuple[list, DemoFaces | None]:
    """Decide what the demo serves of the emulator's Modbus devices and REST thermostats; the
    sites to run (reloaded when the site file was changed: the drivers enabled in a new copy, a
    taken port replaced by a free one)."""
    from urllib.parse import urlsplit

    from openbms.sim.mosquitto import free_port, port_is_free

    cfg = next((c for c in sites if "modbus" in c.drivers or "rest" in c.drivers), None)
    if cfg is None:
        return sites, None  # a demo folder made by an older openbms
    path = cfg.source or root / "site.yaml"
    changed = False
    served: dict[str, int] = {}
    for name, what in (("modbus", "Modbus devices"), ("rest", "REST thermostats")):
        settings = cfg.drivers.get(name)
        if settings is None:
            continue
        extra = settings.model_extra or {}
        if name == "modbus":
            ports = {int(d.get("port", 502)) for d in (extra.get("devices") or {}).values()
                     if isinstance(d, dict) and d.get("host") in _LOOPBACK}
            if len(ports) != 1:
                continue  # devices of the user's own, or on several ports: not the emulator's
            port = ports.pop()
        else:
            url = urlsplit(str(extra.get("base_url", "")))
            if url.hostname not in _LOOPBACK or url.port is None:
                continue  # a vendor of the user's own
            port = url.port
        if not settings.enabled:
            if not created:
                console.print(f"the emulator's {what} are off: drivers: {name}: has enabled: false in "
                              f"{path} (set it to true to see them)", highlight=False)
                continue
            if not _set_in_driver(path, name, "enabled", "true", old="false", every=True):
                console.print(f"could not enable drivers: {name}: in {path}: the demo runs without "
                              f"the emulator's {what}", highlight=False)
                continue
            changed = True
        if not port_is_free(port, "127.0.0.1"):
            taken, port = port, free_port()
            old, new = ((str(taken), str(port)) if name == "modbus" else
                        (f"http://127.0.0.1:{taken}", f"http://127.0.0.1:{port}"))
            if not _set_in_driver(path, name, "port" if name == "modbus" else "base_url", new, old=old,
                                  every=True):
                console.print(f"port {taken} is taken and {path} has no drivers: {name}: line to change: "
                              f"the demo runs without the emulator's {what}", highlight=False)
                sites = _without_driver(sites, name)
                continue
            console.print(f"port {taken} is taken: the emulator's {what} listen on {port} "
                          f"(written in {path})", highlight=False)
            changed = True
        served[name] = port
    if changed:
        sites = _load(root)
    account = _demo_thermostat_account(root, served["rest"]) if "rest" in served else None
    return sites, DemoFaces(cfg.site.id, served.get("modbus"), account)


_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _set_mqtt_setting(path: Path, key: str, value: object) -> bool:
    """Write ``key: value`` in the ``drivers: mqtt:`` block of a site file (its first ``key:``
    line), keeping everything else as it is; False when the file has no such line to change."""
    return _set_in_driver(path, "mqtt", key, value) > 0


def _demo_mqtt(root: Path, sites: list, created: bool) -> tuple[list, DemoMqtt | None]:
    """Decide what the demo does for its MQTT sensors; the sites to run (reloaded when the site
    file was changed: the driver enabled in a new copy, a taken port replaced)."""
    from openbms.model.binding import parse_binding
    from openbms.sim.mosquitto import DemoBroker, find_mosquitto, free_port, port_is_free, stop_left_behind

    cfg = next((c for c in sites if "mqtt" in c.drivers and any(
        p.binding and parse_binding(p.binding).scheme == "mqtt" for _pid, _eq, p in c.points())), None)
    if cfg is None:
        return sites, None  # a site without MQTT points (a demo folder made by an older openbms)
    settings = cfg.drivers["mqtt"]
    extra = settings.model_extra or {}
    host, port = str(extra.get("host", "127.0.0.1")), int(extra.get("port", 1883))
    if host not in _LOOPBACK:
        return sites, None  # pointed at a broker of the user's: theirs to run
    program = find_mosquitto()
    if program is None:
        console.print("mosquitto is not installed: the demo runs without its MQTT sensors; "
                      "apt-get install mosquitto", highlight=False)
        return _without_mqtt(sites), None
    path = cfg.source or root / "site.yaml"
    changed = False
    if not settings.enabled:
        if not created:
            console.print(f"the MQTT sensors are off: drivers: mqtt: has enabled: false in {path} "
                          "(set it to true to see them)", highlight=False)
            return sites, None
        changed = _set_mqtt_setting(path, "enabled", True)
        if not changed:
            console.print(f"could not enable drivers: mqtt: in {path}: the demo runs without its "
                          "MQTT sensors", highlight=False)
            return sites, None
    left = stop_left_behind(root / "data")  # before the port is judged taken: it may be ours
    if left is not None:
        console.print(f"stopped the MQTT broker a previous demo left running (pid {left})",
                      highlight=False)
    if not port_is_free(port, "127.0.0.1"):
        taken, port = port, free_port()
        if not _set_mqtt_setting(path, "port", port):
            console.print(f"port {taken} is taken and {path} has no drivers: mqtt: port: line to "
                          "change: the demo runs without its MQTT sensors", highlight=False)
            return _without_mqtt(sites), None
        console.print(f"port {taken} is taken: the demo's MQTT broker listens on {port} "
                      f"(written in {path})", highlight=False)
        changed = True
    if changed:
        sites = _load(root)
    return sites, DemoMqtt(DemoBroker(root / "data", port, program))


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
        created = not (root / "site.yaml").exists()
        if created:
            src = resources.files("openbms.examples") / folder
            root.mkdir(parents=True, exist_ok=True)
            with resources.as_file(src) as tree:
                shutil.copytree(tree, root, dirs_exist_ok=True)
            console.print(f"created the demo site in [bold]{root}[/bold] from the {example} example")
        sites = _load(root)
        mqtt = faces = None
        if example == "building":
            sites, faces = _demo_faces(root, sites, created)
            sites, mqtt = _demo_mqtt(root, sites, created)
        show = _status_points(sites)
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
               api_settings=settings, loaded=sites, mqtt=mqtt, faces=faces)


def _status_points(sites: list) -> list[str]:
    """The points the demo's status line shows: a few of the building's (BACnet or sim), then a
    Modbus meter's power and a REST thermostat's temperature when the site has them."""
    from openbms.model.binding import parse_binding

    def scheme(p: Any) -> str:
        return parse_binding(p.binding).scheme if p.binding else ""

    points = [(pid, eq, p) for cfg in sites for pid, eq, p in cfg.points()]
    show = [pid for pid, eq, p in points if scheme(p) not in ("modbus", "rest") and (
        p.name in ("sat", "oat", "kw", "oa-t", "sa-t", "elec-kw")
        or (eq.type == "vav" and p.name in ("zone-temp", "zn-t")))][:5]
    for wanted, name in (("modbus", "kw"), ("rest", "temp")):
        show += [pid for pid, _eq, p in points if scheme(p) == wanted and p.name == name][:1]
    return show


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
