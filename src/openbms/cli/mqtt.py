"""``openbms mqtt sub|discover|command``: what a broker carries, decoded as the MQTT driver decodes
it, and command requests to a site (``command``: see ``openbms.drivers.mqtt.requests``).

::

    broker ──messages──▶ decode(topic, payload)  (the driver's decoders: payload.py, sparkplug.py)
                              │ rows: source (topic, topic#field, spBv1.0/G/N[/D]#metric),
                              │       value, status, time — or a bad message (kind, what)
                 ┌────────────┴─────────────┐
                 ▼                          ▼
            sub: one line each        discover: points grouped into equipment,
                                      written as a site file that `openbms check` takes

Nothing here keeps a connection alive across outages: a command connects once,
and a broker that cannot be reached (or that refuses the client) is one line
and exit status 1.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import typer

from openbms.cli.common import console, err_console

__all__ = ["decode", "register"]

mqtt_app = typer.Typer(help="MQTT: watch decoded samples, propose points for the topics seen, "
                                     "send command requests to a site.",
                       no_args_is_help=True)

DEFAULT_BROKER = "127.0.0.1:1883"
#: The driver's default max_payload: a bigger message is refused the same way.
MAX_PAYLOAD = 1_048_576
#: JSON fields that stamp their message rather than being a value of it (discover).
_TIME_FIELDS = ("ts", "time", "timestamp", "t")
#: Sparkplug B metrics that are the session's bookkeeping, not values of the plant.
_SPARKPLUG_SKIP = re.compile(r"^(bdSeq$|Node Control/|Device Control/|Properties/)")

BrokerOption = typer.Option(
    os.environ.get("OPENBMS_MQTT_BROKER", DEFAULT_BROKER), "--broker", "-b",
    help="The broker, host:port ($OPENBMS_MQTT_BROKER).")
UserEnvOption = typer.Option(None, "--username-env", metavar="VAR", show_default=False,
                             help="The user name from this environment variable.")
UserFileOption = typer.Option(None, "--username-file", metavar="FILE", show_default=False,
                              help="The user name from this file.")
PasswordEnvOption = typer.Option(None, "--password-env", metavar="VAR", show_default=False,
                                 help="The password from this environment variable.")
PasswordFileOption = typer.Option(None, "--password-file", metavar="FILE", show_default=False,
                                  help="The password from this file (its trailing newline is "
                                       "dropped).")
TLSOption = typer.Option(False, "--tls", help="TLS with the system's CA certificates.")
CAOption = typer.Option(None, "--ca-file", show_default=False, help="TLS with this CA bundle (PEM).")
CertOption = typer.Option(None, "--cert-file", show_default=False,
                          help="A client certificate (PEM), for brokers that require one.")
KeyOption = typer.Option(None, "--key-file", show_default=False,
                         help="The client certificate's key (PEM).")
TimeoutOption = typer.Option(5.0, "--timeout", min=0.1,
                             help="Seconds for the connection and the subscription.")


def fail(message: str) -> typer.Exit:
    """Print an error on one line (scripts grep it; rich would wrap it) and return the Exit."""
    from rich.markup import escape

    err_console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True, highlight=False)
    return typer.Exit(1)


# ---------------------------------------------------------------------- the connection


@dataclass(frozen=True, slots=True)
class Connection:
    """Where the broker is and how to sign in, as given on the command line."""

    host: str
    port: int
    secrets: dict[str, str] = field(default_factory=dict)  # username_env, password_file, ...
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    timeout: float = 5.0

    def settings(self) -> dict[str, Any]:
        """The ``drivers: mqtt:`` settings that reach the broker the same way (no secrets)."""
        out: dict[str, Any] = {"host": self.host, "port": self.port, **self.secrets}
        if self.tls:
            out["tls"] = True
        out.update({k: v for k, v in (("ca_file", self.ca_file), ("cert_file", self.cert_file),
                                      ("key_file", self.key_file)) if v})
        return out


def _connection(broker: str, username_env: str | None, username_file: str | None,
                password_env: str | None, password_file: str | None, tls: bool,
                ca_file: Path | None, cert_file: Path | None, key_file: Path | None,
                timeout: float) -> Connection:
    host, sep, port_text = broker.strip().rpartition(":")
    if not sep:
        host, port_text = broker.strip(), "1883"
    host = host.strip("[]")
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise fail(f"--broker {broker!r}: expected host:port, such as {DEFAULT_BROKER}")
    secrets = {k: v for k, v in (("username_env", username_env), ("username_file", username_file),
                                 ("password_env", password_env), ("password_file", password_file))
               if v}
    return Connection(host, int(port_text), secrets, tls, str(ca_file) if ca_file else None,
                      str(cert_file) if cert_file else None, str(key_file) if key_file else None,
                      timeout)


def _sign_in(conn: Connection) -> tuple[str | None, str | None, ssl.SSLContext | None]:
    """The user name, password and TLS context of ``conn``, read as the driver reads them
    (``openbms.drivers.mqtt.connect``: a file's one trailing newline dropped, one source per
    secret, a key only with its certificate); what cannot be used is one line naming the option."""
    from openbms.drivers.mqtt.connect import secret, tls_context
    from openbms.errors import DriverError

    settings = conn.settings()

    def option(key: str) -> str:  # username_env → "--username-env VAR" (the variable it names)
        name = "--" + key.replace("_", "-")
        return f"{name} {settings[key]}" if key.endswith("_env") and key in settings else name

    try:
        return (secret(settings, "username", "", option), secret(settings, "password", "", option),
                tls_context(settings, "", option))
    except DriverError as err:
        raise fail(str(err)) from None


def _unreachable(conn: Connection, err: Exception) -> typer.Exit:
    """One line: the broker, what happened and what to try."""
    why = str(err) or type(err).__name__
    where = f"{conn.host}:{conn.port}"
    if "code:" in why or "not authori" in why.lower() or "password" in why.lower():
        return fail(f"the MQTT broker at {where} refused the connection ({why}): check "
                    "--username-env/--username-file and --password-env/--password-file")
    return fail(f"cannot reach the MQTT broker at {where} ({why}): is it running there? Try "
                "--broker HOST:PORT (default $OPENBMS_MQTT_BROKER or 127.0.0.1:1883), and --tls or "
                "--ca-file for a TLS port")


async def _messages(conn: Connection, patterns: Sequence[str], take: Callable[[str, bytes], bool],
                    seconds: float | None) -> None:
    """Subscribe to ``patterns`` and give every message to ``take`` until it returns False or
    ``seconds`` (real time) pass."""
    from openbms.drivers.mqtt.client import BrokerError, subscribe

    username, password, tls = _sign_in(conn)
    try:
        await subscribe(conn.host, conn.port, patterns, take, seconds, username=username,
                        password=password, tls_context=tls, connect_timeout=conn.timeout)
    except BrokerError as err:
        if err.connected:
            raise fail(f"lost the MQTT broker at {conn.host}:{conn.port} ({err})") from None
        raise _unreachable(conn, err) from None


# ---------------------------------------------------------------------- decoding


@dataclass(frozen=True, slots=True)
class Row:
    """One decoded value: ``source`` is what a binding names (topic, topic#field, Sparkplug
    topic#metric); ``ts`` the message's own time (None: it has none)."""

    source: str
    value: Any
    status: str = "ok"
    ts: float | None = None
    # For discover: the topic, the JSON field path or Sparkplug metric, and the time field.
    topic: str = ""
    field: str = ""
    time_field: str = ""
    under_list: bool = False
    steps: tuple[str | int, ...] = ()  # JSON: the field's path as the driver walks it


@dataclass(frozen=True, slots=True)
class Bad:
    """A message that cannot be decoded: the kind (as the driver counts it) and what is wrong."""

    source: str
    kind: str
    message: str


@dataclass(slots=True)
class SparkplugState:
    """Metric names learnt from births, by (group, node, device, alias)."""

    aliases: dict[tuple[str, str, str, int], str] = field(default_factory=dict)


Steps = tuple[str | int, ...]


def _leaves(doc: Any, path: str = "", steps: Steps = (),
            in_list: bool = False) -> Iterator[tuple[str, Steps, Any, bool]]:
    """Every scalar of a JSON document with its field path (``data.temp``, ``readings[1].v``) and
    the steps the driver takes to it."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from _leaves(value, f"{path}.{key}" if path else str(key), (*steps, str(key)),
                               in_list)
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield from _leaves(value, f"{path}[{i}]", (*steps, i), True)
    else:
        yield path, steps, doc, in_list


def _is_value(value: Any) -> bool:
    return isinstance(value, bool) or (isinstance(value, int | float) and math.isfinite(value))


def _json_rows(topic: str, text: str, field_text: str, time_text: str, now: float) -> list[Row | Bad]:
    from openbms.drivers.mqtt.payload import BadPayload, extract, json_value, parse_time
    from openbms.errors import BindingError

    try:
        doc = json.loads(text)
    except ValueError as err:
        return [Bad(topic, "json", f"not JSON ({err})")]
    except RecursionError:
        return [Bad(topic, "json", "JSON nested too deeply")]
    ts: float | None = None
    if field_text:  # the value, then its time, as the driver takes them
        source = f"{topic}#{field_text}"
        try:
            value = json_value(extract(doc, _path("field", field_text), field_text), "number",
                               field_text)
            if time_text:
                ts = parse_time(extract(doc, _path("time", time_text), time_text), now, time_text)
        except BadPayload as err:
            return [Bad(source, err.kind, str(err))]
        except BindingError as err:  # a path the driver would refuse
            return [Bad(source, "field", str(err))]
        return [Row(source, value, "ok", ts, topic, field_text, time_text)]
    if time_text:
        try:
            ts = parse_time(extract(doc, _path("time", time_text), time_text), now, time_text)
        except BadPayload as err:
            return [Bad(topic, err.kind, str(err))]
    if not time_text and isinstance(doc, dict):  # a message's own time, as discover proposes it
        for name in _TIME_FIELDS:
            if name in doc and not isinstance(doc[name], bool):
                try:
                    ts = parse_time(doc[name], now, name)
                    time_text = name
                    break
                except BadPayload:
                    continue
    rows: list[Row | Bad] = []
    for path, steps, value, in_list in _leaves(doc):
        if path == time_text:
            continue
        rows.append(Row(f"{topic}#{path}" if path else topic, value, "ok", ts, topic, path,
                        time_text, in_list, steps))
    return rows


@lru_cache(maxsize=256)
def _path(option: str, text: str) -> Steps:
    """A JSON ``field`` or ``time`` path as the driver parses it (once per path, not per message);
    BindingError, saying what was expected, when the driver would refuse it."""
    from openbms.drivers.mqtt.payload import point_spec
    from openbms.model import parse_binding

    quoted = quote(text, safe="")
    spec = point_spec(parse_binding(f"mqtt://x/y?field={quoted}" if option == "field"
                                    else f"mqtt://x/y?field=x&time={quoted}"))
    return spec.field if option == "field" else spec.time


def _check_paths(field_text: str, time_text: str) -> None:
    """Refuse --field and --time paths the driver would refuse, saying what was expected."""
    from openbms.errors import BindingError

    for option, text in (("field", field_text), ("time", time_text)):
        if text:
            try:
                _path(option, text)
            except BindingError as err:
                raise fail(f"--{option} {text!r}: {str(err).split(': ', 1)[1]}") from None


def _sparkplug_rows(topic: str, payload: bytes, metric_name: str, state: SparkplugState,
                    now: float) -> list[Row | Bad]:
    from openbms.drivers.mqtt import sparkplug as sp
    from openbms.drivers.mqtt.payload import EARLIEST

    levels = topic.split("/")
    if len(levels) not in (4, 5):
        return []
    group, kind, node = levels[1], levels[2], levels[3]
    device = levels[4] if len(levels) == 5 else ""
    base = f"spBv1.0/{group}/{node}" + (f"/{device}" if device else "")
    if kind not in ("NBIRTH", "NDATA", "NDEATH", "DBIRTH", "DDATA", "DDEATH"):
        return []  # commands and STATE: not samples
    try:
        msg = sp.parse(payload)
    except ValueError as err:
        return [Bad(topic, "protobuf", str(err))]
    if kind.endswith("DEATH"):
        return [Row(base, None, "offline", None, topic)]
    sent = msg.timestamp / 1000.0 if msg.timestamp else None
    rows: list[Row | Bad] = []
    for m in msg.metrics:
        name = m.name
        if kind.endswith("BIRTH") and m.HasField("alias"):
            state.aliases[(group, node, device, m.alias)] = name
        if not name:
            found = state.aliases.get((group, node, device, m.alias))
            if found is None:
                rows.append(Bad(topic, "alias", f"metric alias {m.alias} was not in a birth "
                                "certificate seen since this command started"))
                continue
            name = found
        if metric_name and name != metric_name:
            continue
        ts = m.timestamp / 1000.0 if m.timestamp else sent
        if ts is not None and not EARLIEST <= ts <= now + 86_400.0:  # as the driver refuses it
            rows.append(Bad(f"{base}#{name}", "time", f"metric {name!r}: timestamp {ts:.0f} is "
                            "before 2000 or more than a day ahead of the clock"))
            ts = None
        rows.append(Row(f"{base}#{name}", sp.metric_value(m), "ok", ts, base, name))
    return rows


def decode(topic: str, payload: bytes, mode: str = "auto", field_text: str = "",
           time_text: str = "", state: SparkplugState | None = None, *,
           now: float) -> list[Row | Bad]:
    """A message's values as the MQTT driver would read them (``mode``: auto, plain, json or
    sparkplug). Auto: Sparkplug B for ``spBv1.0/`` topics, JSON for a payload that starts with
    ``{`` or ``[`` (or when a field is given), else plain. JSON without a field gives every scalar
    field with its path. Nothing a publisher sends raises: a failure is a ``handler`` Bad."""
    try:
        return _decode(topic, payload, mode, field_text, time_text, state, now)
    except Exception as err:  # a message must not end the command, whatever it holds
        return [Bad(topic, "handler", f"{type(err).__name__}: {err}")]


def _decode(topic: str, payload: bytes, mode: str, field_text: str, time_text: str,
            state: SparkplugState | None, now: float) -> list[Row | Bad]:
    from openbms.drivers.mqtt.payload import SPARKPLUG_PREFIX, BadPayload, plain_value

    if len(payload) > MAX_PAYLOAD:
        return [Bad(topic, "too_large", f"{len(payload)} bytes, more than max_payload "
                    f"({MAX_PAYLOAD})")]
    if mode == "sparkplug" or (mode == "auto" and topic.startswith(SPARKPLUG_PREFIX)):
        return _sparkplug_rows(topic, payload, field_text, state or SparkplugState(), now)
    try:
        text = payload.decode()
    except UnicodeDecodeError:
        return [Bad(topic, "encoding", "the payload is not UTF-8 text")]
    if mode == "json" or (mode == "auto" and (field_text or text.lstrip()[:1] in ("{", "["))):
        return _json_rows(topic, text, field_text, time_text, now)
    try:
        return [Row(topic, plain_value(text, "number"), "ok", None, topic)]
    except BadPayload as err:
        return [Bad(topic, err.kind, str(err))]


def _value_text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, str) else str(value)


def _time_text(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---------------------------------------------------------------------- sub


@mqtt_app.command("sub")
def sub(
    pattern: list[str] = typer.Argument(..., help="Topic filters (+ one level, # the rest)."),
    broker: str = BrokerOption,
    payload: str = typer.Option("auto", "--payload", "-p",
                                help="auto, plain, json or sparkplug (auto: sparkplug for spBv1.0/ "
                                     "topics, json for payloads starting with { or [)."),
    field_text: str = typer.Option("", "--field", "-f", help="JSON: the field's path (data.temp, "
                                   "readings[0].v); Sparkplug B: the metric's name."),
    time_text: str = typer.Option("", "--time", help="JSON: the path of the message's timestamp."),
    count: int | None = typer.Option(None, "--count", "-n", min=1,
                                     help="Stop after this many messages."),
    seconds: float | None = typer.Option(None, "--seconds", "-s", min=0,
                                         help="Stop after this many seconds."),
    username_env: str | None = UserEnvOption, username_file: str | None = UserFileOption,
    password_env: str | None = PasswordEnvOption, password_file: str | None = PasswordFileOption,
    tls: bool = TLSOption, ca_file: Path | None = CAOption, cert_file: Path | None = CertOption,
    key_file: Path | None = KeyOption, timeout: float = TimeoutOption,
) -> None:
    """Print each message's decoded values, one line each: SOURCE  VALUE  STATUS  TIME.

    SOURCE is what a binding names (mqtt://SOURCE): the topic, topic#field for JSON, and
    spBv1.0/GROUP/NODE#METRIC or spBv1.0/GROUP/NODE/DEVICE#METRIC for Sparkplug B. TIME is the
    message's own time when it carries one, else when it arrived. A message the driver could
    not read is one line, SOURCE  error  KIND: what is wrong; it goes on.
    """
    from openbms.runtime.clock import WallClock

    if payload not in ("auto", "plain", "json", "sparkplug"):
        raise fail(f"--payload {payload!r}: expected auto, plain, json or sparkplug")
    if time_text and payload in ("plain", "sparkplug"):
        raise fail("--time needs JSON payloads (--payload json or auto)")
    if field_text and payload == "plain":
        raise fail("--field needs --payload json or sparkplug")
    if payload == "json" or time_text:
        _check_paths(field_text if payload == "json" else "", time_text)
    conn = _connection(broker, username_env, username_file, password_env, password_file, tls,
                       ca_file, cert_file, key_file, timeout)
    clock = WallClock()
    state = SparkplugState()
    seen = [0]

    def take(topic: str, data: bytes) -> bool:
        now = clock.now()
        for row in decode(topic, data, payload, field_text, time_text, state, now=now):
            if isinstance(row, Bad):
                typer.echo(f"{row.source}  error  {row.kind}: {row.message}")
            else:
                stamp = row.ts if row.ts is not None else now
                typer.echo(f"{row.source}  {_value_text(row.value)}  {row.status}  "
                           f"{_time_text(stamp)}")
        seen[0] += 1
        return count is None or seen[0] < count

    try:
        asyncio.run(_messages(conn, pattern, take, seconds))
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


# ---------------------------------------------------------------------- discover


@dataclass(frozen=True, slots=True)
class Word:
    """A whole word of a topic or field name (as IoT publishers spell them: zigbee2mqtt,
    Tasmota, Home Assistant) and what it tells: tags, a Brick class, a unit when it is clear."""

    word: str
    tags: tuple[str, ...]
    brick: str | None = None
    unit: str | None = None


#: Checked before BACnet discovery's abbreviations (SA-TEMP, ZN-T, FAN-CMD ...).
WORDS: tuple[Word, ...] = (
    Word("temperature", ("temp", "sensor"), "Temperature_Sensor"),
    Word("temp", ("temp", "sensor"), "Temperature_Sensor"),
    Word("humidity", ("humidity", "sensor"), "Humidity_Sensor", "%RH"),
    Word("co2", ("co2", "sensor"), "CO2_Sensor", "ppm"),
    Word("pressure", ("pressure", "sensor"), "Pressure_Sensor"),
    Word("illuminance", ("illuminance", "sensor"), "Illuminance_Sensor", "lx"),
    Word("occupancy", ("occupied", "sensor"), "Occupancy_Sensor"),
    Word("flow", ("flow", "sensor"), "Flow_Sensor"),
    Word("power", ("elec", "power", "sensor"), "Electric_Power_Sensor"),
    Word("kw", ("elec", "power", "sensor"), "Electric_Power_Sensor", "kW"),
    Word("energy", ("elec", "energy", "sensor"), "Electric_Energy_Sensor"),
    Word("kwh", ("elec", "energy", "sensor"), "Electric_Energy_Sensor", "kWh"),
    Word("voltage", ("elec", "volt", "sensor"), "Voltage_Sensor"),
    Word("current", ("elec", "current", "sensor"), "Current_Sensor"),
    Word("battery", ("battery", "sensor"), None, "%"),
)
_WORDS = {w.word: w for w in WORDS}


def _describe(name: str) -> tuple[tuple[str, ...], str | None, str | None]:
    """Tags, Brick class and unit for a value's name, where the name makes them clear."""
    from openbms.drivers.bacnet.discovery import RULES

    for token in reversed(re.split(r"[^a-z0-9]+", name.lower())):  # the last word says most
        if token in _WORDS:
            w = _WORDS[token]
            return w.tags, w.brick, w.unit
    upper = name.upper()
    for rule in RULES:  # only a whole abbreviation: "RAT" inside "TEMPERATURE" is not return air
        m = re.search(rule.pattern, upper)
        if m and (m.start() == 0 or not upper[m.start() - 1].isalnum()) and (
                m.end() == len(upper) or not upper[m.end()].isalnum()):
            return rule.tags, rule.brick, None
    return ("sensor",), None, None


@dataclass(slots=True)
class Proposal:
    """A point discover proposes: its binding, kind and where its name comes from."""

    binding: str
    name_hint: str
    kind: str
    source: str


@dataclass(slots=True)
class Findings:
    """What discover saw: proposals by equipment key, topics, and what it skipped (reason →
    the sources)."""

    equipment: dict[str, dict[str, Proposal]] = field(default_factory=dict)
    topics: set[str] = field(default_factory=set)
    skipped: dict[str, set[str]] = field(default_factory=dict)
    refused: set[str] = field(default_factory=set)  # binding URIs the driver could not read

    def skip(self, reason: str, source: str) -> None:
        self.skipped.setdefault(reason, set()).add(source)

    def take(self, rows: Sequence[Row | Bad]) -> None:
        for row in rows:
            if isinstance(row, Bad):  # plain text that is not a number is text, not malformed
                self.skip("text values" if row.kind == "type" else f"malformed ({row.kind})",
                          row.source)
            elif row.status != "ok":
                continue
            elif row.under_list:
                self.skip("values in arrays", row.source)
            elif not _is_value(row.value):
                self.skip("text values" if isinstance(row.value, str)
                          else "nulls and empty objects", row.source)
            else:
                self._propose(row)

    def _propose(self, row: Row) -> None:
        from openbms.drivers.mqtt.payload import SPARKPLUG_PREFIX, check_binding, point_spec
        from openbms.errors import BindingError
        from openbms.model import parse_binding

        topic = row.topic
        if topic.startswith(SPARKPLUG_PREFIX):
            uri = f"mqtt://{quote(topic, safe='/')}#{quote(row.field, safe='/ ')}"
            key, hint = topic, row.field
            if _SPARKPLUG_SKIP.match(row.field):
                return
        elif row.field:
            query = f"field={quote(row.field, safe='.[]')}"
            if row.time_field:
                query += f"&time={quote(row.time_field, safe='.[]')}"
            uri = f"mqtt://{quote(topic, safe='/')}?{query}"
            key, hint = topic, row.field.rsplit(".", 1)[-1]
        else:
            uri = f"mqtt://{quote(topic, safe='/')}"
            key, hint = topic.rpartition("/")[0] or topic, topic.rpartition("/")[2]
        points = self.equipment.get(key, {})
        if uri in points or uri in self.refused:  # checked once, not at every message
            return
        try:
            binding = parse_binding(uri)
            check_binding(binding)
            spec = point_spec(binding)
            if spec.topic != topic or (row.steps and spec.field != row.steps):
                raise BindingError("the topic or field does not survive the binding URI")
        except BindingError:
            self.refused.add(uri)
            self.skip("topics or fields a binding cannot name (one-level topics, field names "
                      "with dots or brackets)", row.source)
            return
        kind = "bool" if isinstance(row.value, bool) else "number"
        self.equipment.setdefault(key, {})[uri] = Proposal(uri, hint, kind, row.source)


def _point(p: Proposal) -> dict[str, Any]:
    from openbms.drivers.bacnet.discovery import slug

    tags, brick, unit = _describe(p.name_hint)
    out: dict[str, Any] = {"name": slug(p.name_hint)}
    if p.kind == "bool":
        out["kind"] = "bool"
    elif unit:
        out["unit"] = unit
    out["description"] = p.source
    out["tags"] = list(tags)
    if brick:
        out["brick"] = brick
    out["binding"] = p.binding
    return out


def site_document(site_id: str, found: Findings, settings: dict[str, Any]) -> dict[str, Any]:
    """A site document (ready for YAML): one equipment per topic prefix, JSON topic or Sparkplug
    node/device, one read-only point per value."""
    from openbms.drivers.bacnet.discovery import equipment_type, slug

    equipment = []
    used: set[str] = set()
    for key in sorted(found.equipment):
        parts = key.split("/")
        label = "/".join(parts[2:]) if key.startswith("spBv1.0/") else key
        base = slug(label.replace("/", "-"))
        eid, n = base, 2
        while eid in used:
            eid, n = f"{base}-{n}", n + 1
        used.add(eid)
        points: list[dict[str, Any]] = []
        names: set[str] = set()
        for proposal in found.equipment[key].values():
            point = _point(proposal)
            unique, n = point["name"], 2
            while unique in names:
                unique, n = f"{point['name']}-{n}", n + 1
            names.add(unique)
            point["name"] = unique
            points.append(point)
        kind = equipment_type(label)
        equipment.append({"id": eid, "type": kind if kind != "other" else "sensor",
                          "name": label, "points": points})
    return {"site": {"id": slug(site_id), "name": site_id, "timezone": "UTC"},
            "drivers": {"mqtt": settings}, "equipment": equipment}


@mqtt_app.command("discover")
def discover(
    output: Path = typer.Argument(..., help="The site file to write."),
    site_id: str = typer.Option("discovered", "--site", help="The site id."),
    broker: str = BrokerOption,
    listen: float = typer.Option(10.0, "--listen", min=0, help="Seconds to listen."),
    topics: list[str] = typer.Option(["#"], "--topics", "-t",
                                     help="Topic filters to listen to (repeatable; default #)."),
    force: bool = typer.Option(False, "--force", help="Overwrite the output file."),
    username_env: str | None = UserEnvOption, username_file: str | None = UserFileOption,
    password_env: str | None = PasswordEnvOption, password_file: str | None = PasswordFileOption,
    tls: bool = TLSOption, ca_file: Path | None = CAOption, cert_file: Path | None = CertOption,
    key_file: Path | None = KeyOption, timeout: float = TimeoutOption,
) -> None:
    """Listen to the broker for a while and write a site file with a point for each number or
    boolean seen: plain values, JSON fields, Sparkplug B metrics. Review it, then run
    'openbms check' on it."""
    import yaml
    from rich.markup import escape
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from openbms.runtime.clock import WallClock

    if output.exists() and not force:
        raise fail(f"{output} exists: choose another file or use --force")
    conn = _connection(broker, username_env, username_file, password_env, password_file, tls,
                       ca_file, cert_file, key_file, timeout)
    clock = WallClock()
    state = SparkplugState()
    found = Findings()

    def take(topic: str, data: bytes) -> bool:
        found.topics.add(topic)
        found.take(decode(topic, data, "auto", state=state, now=clock.now()))
        return True

    async def go() -> None:
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TimeRemainingColumn(),
                      console=console) as progress:
            task = progress.add_task("listening", total=listen or 1)
            listening = asyncio.create_task(_messages(conn, topics, take, listen))
            start = time.monotonic()
            while not listening.done():
                progress.update(task, completed=min(time.monotonic() - start, listen),
                                description=f"listening: {len(found.topics)} topics")
                await asyncio.wait([listening], timeout=0.1)
            progress.update(task, completed=listen or 1,
                            description=f"listened: {len(found.topics)} topics")
            await listening

    asyncio.run(go())
    points = sum(len(p) for p in found.equipment.values())
    if not points:
        why = (f"no message on {', '.join(topics)} in {listen:g} s" if not found.topics else
               f"{len(found.topics)} topics, none with a number or a boolean")
        raise fail(f"nothing to write: {why}. Try a longer --listen, other --topics, or "
                   "'openbms mqtt sub' to see what the broker carries")
    doc = site_document(site_id, found, conn.settings())
    output.write_text("# Written by openbms mqtt discover: review names, units and tags (and add\n"
                      "# writable: true with ?command=TOPIC where a device takes commands), then\n"
                      "# run 'openbms check' on it.\n" + yaml.safe_dump(doc, sort_keys=False))
    console.print(f"[green]wrote {escape(str(output))}[/green]: {len(found.topics)} topics, "
                  f"{len(doc['equipment'])} equipment, {points} points", highlight=False)
    for reason, sources in sorted(found.skipped.items()):
        shown = ", ".join(sorted(sources)[:3]) + (", ..." if len(sources) > 3 else "")
        console.print(f"[yellow]skipped[/yellow] {escape(f'{len(sources)} {reason}: {shown}')}",
                      highlight=False, soft_wrap=True)


# ---------------------------------------------------------------------- command


def _request_body(args: list[str], body: str | None, cid: str) -> dict[str, Any]:
    """The request: ``--json`` as given, else the ``--arg key=value`` pairs (a value that reads
    as JSON is taken as JSON: 15, true, ["a", "b"]; anything else is text), and the ``id``."""
    if body is not None and args:
        raise fail("give --json or --arg, not both")
    if body is not None:
        try:
            doc = json.loads(body)
        except ValueError as err:
            raise fail(f"--json: not JSON ({err})") from None
        if not isinstance(doc, dict):
            raise fail("--json: expected a JSON object, such as '{\"point\": \"ahu-1/sat-sp\"}'")
    else:
        doc = {}
        for item in args:
            key, sep, text = item.partition("=")
            if not sep or not key.strip():
                raise fail(f"--arg {item!r}: expected key=value, such as point=ahu-1/sat-sp")
            try:
                doc[key.strip()] = json.loads(text)
            except ValueError:
                doc[key.strip()] = text
    doc.setdefault("id", cid)
    return doc


def _topic_part(what: str, text: str, example: str, *, one_level: bool) -> None:
    """Refuse a SITE, NAME or --prefix that would not make the request's topic what it says:
    MQTT wildcards, NUL, an empty level, or (one level only) a '/'."""
    if not text or any(c in text for c in "+#\0") or "" in text.split("/") or (
            one_level and "/" in text):
        shape = "one topic level" if one_level else "topic levels"
        slash = "'/', " if one_level else ""
        raise fail(f"{what} {text!r}: expected {shape} such as {example}, without {slash}'+', "
                   "'#' or an empty level")


@mqtt_app.command("command")
def command(
    site: str = typer.Argument(..., help="The site's id (the topic level after the prefix)."),
    name: str = typer.Argument(..., help="write, release, read, priority-array, program-get, "
                                          "program-deploy or config."),
    arg: list[str] = typer.Option([], "--arg", "-a", metavar="KEY=VALUE",
                                  help="An argument of the request (repeat it): point=ahu-1/sat-sp, "
                                       "value=15, priority=8, points='[\"ahu-1/sat\"]'."),
    body: str | None = typer.Option(None, "--json", metavar="JSON", show_default=False,
                                    help="The whole request as a JSON object (instead of --arg)."),
    broker: str = BrokerOption,
    prefix: str = typer.Option("openbms", "--prefix", help="The site's topic prefix (mqtt.prefix)."),
    token_env: str = typer.Option("OPENBMS_TOKEN", "--token-env", metavar="VAR",
                                  help="The environment variable holding an openbms API token."),
    raw: bool = typer.Option(False, "--raw", help="Print the response's JSON as it came."),
    username_env: str | None = UserEnvOption, username_file: str | None = UserFileOption,
    password_env: str | None = PasswordEnvOption, password_file: str | None = PasswordFileOption,
    tls: bool = TLSOption, ca_file: Path | None = CAOption, cert_file: Path | None = CertOption,
    key_file: Path | None = KeyOption,
    timeout: float = typer.Option(10.0, "--timeout", min=0.1,
                                  help="Seconds for the connection and for the response."),
) -> None:
    """Send a command request to a site over MQTT (v5) and print the response; exit status 1 on
    an error response.

    The request goes to PREFIX/SITE/command/NAME/request with a response topic and correlation
    data of its own; the API token (from --token-env, default $OPENBMS_TOKEN) goes in the
    user property 'authorization: Bearer …'. See docs/mqtt.md, "Command/response".
    """
    import random

    from rich.markup import escape

    from openbms.drivers.mqtt.requests import Requester
    from openbms.errors import DriverError

    _topic_part("SITE", site, "hq", one_level=True)
    _topic_part("NAME", name, "write", one_level=True)
    _topic_part("--prefix", prefix, "openbms or acme/eu", one_level=False)
    token = os.environ.get(token_env)
    if not token:
        raise fail(f"--token-env {token_env}: the environment variable {token_env} is not set: put "
                   "an openbms API token there (created on the dashboard's Users page or with "
                   "POST /api/v1/tokens)")
    conn = _connection(broker, username_env, username_file, password_env, password_file, tls,
                       ca_file, cert_file, key_file, timeout)
    doc = _request_body(arg, body, f"cli-{random.getrandbits(48):012x}")
    payload = json.dumps(doc).encode()
    username, password, tls_ctx = _sign_in(conn)

    async def ask() -> bytes:
        async with Requester(conn.host, conn.port, prefix, site, username=username,
                             password=password, tls=tls_ctx, timeout=timeout) as client:
            return await client.ask(name, payload,
                                    user_properties=[("authorization", f"Bearer {token}")])

    try:
        answer = asyncio.run(ask())
    except DriverError as err:
        raise _unreachable(conn, err) from None
    except TimeoutError:
        raise fail(f"no response from site {site!r} within {timeout:g} s: is openbms running with "
                   f"mqtt.commands enabled for it, on this broker and prefix ({prefix!r})?") from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    try:
        response = json.loads(answer)
    except ValueError:
        raise fail(f"the response is not JSON: {answer[:200]!r}") from None
    ok = isinstance(response, dict) and response.get("ok") is True
    if raw:
        typer.echo(answer.decode(errors="replace"))
    elif ok:
        console.print(f"[green]ok[/green] {escape(str(response.get('id')))}", highlight=False)
        console.print_json(data=response.get("result"))
    else:
        error = response.get("error") if isinstance(response, dict) else None
        error = error if isinstance(error, dict) else {}
        where = f" ({error['field']})" if error.get("field") else ""
        err_console.print(f"[red]error[/red] {escape(str(error.get('code')))}{escape(where)}: "
                          f"{escape(str(error.get('message')))}", soft_wrap=True, highlight=False)
    if not ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the ``mqtt`` command group."""
    app.add_typer(mqtt_app, name="mqtt")
