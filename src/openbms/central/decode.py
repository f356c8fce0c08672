"""What the edges' bridges publish, read back at the centre (``drivers/mqtt/bridge.py`` writes it).

::

    {prefix}/{site}/devices/{device}     {"site", "device", "samples": [{"point", "value", "status",
                                          "time", "key", ...}, ...]}          ─▶ samples
    {prefix}/{site}/{equipment}/{point}  {"value", "status", "time", "key", ...} ─▶ one sample
    {prefix}/{site}/alarms               an alarm change      ─▶ Event("alarm", key, ts, body)
    {prefix}/{site}/commands             a command change     ─▶ Event("command", key, ts, body)
    {prefix}/{site}/config               the site's configuration (retained) ─▶ SiteDocument

The point id at the centre is the edge's own (``site/equipment/point``): the
site id is its first part, so ids of different sites never meet. Every message
is checked against the site of its topic (the only part a broker's ACL ties to
the edge's credentials): a sample of a point of another site is refused, not
stored, and counted. A message that cannot be read raises ``BadMessage`` with
its kind (``json``, ``shape``, ``site``, ``value``) and what was expected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import orjson

from openbms.model.sample import STATUS_CODES, Sample

__all__ = ["BadMessage", "Event", "SiteDocument", "decode_batch", "decode_event", "decode_point",
           "decode_sample", "decode_site_document"]

#: Timestamps before 2000 are not believed (a clock that never synchronised).
_EARLIEST = 946_684_800.0
_INF = math.inf
#: Values taken as they are (JSON has no NaN or infinity: a float is finite).
_PLAIN = frozenset({float, int, bool, str, type(None)})


class BadMessage(ValueError):
    """A message the centre cannot take: ``kind`` counts it (json, shape, site, value)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Event:
    """An alarm or command change of one site: kept once per ``key`` (resends are ignored)."""

    site: str
    kind: str  # "alarm" or "command"
    key: str
    ts: float | None
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SiteDocument:
    """A site's configuration as its edge published it: ``hash`` names the content, ``version``
    (the edge's clock when the content last changed) orders versions."""

    site: str
    hash: str
    version: float
    config: dict[str, Any]


def _json(payload: bytes, topic: str) -> Any:
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as err:
        raise BadMessage("json", f"{topic}: not JSON ({err})") from None


def decode_sample(point: str, item: dict[str, Any], where: str) -> Sample:
    """One sample of ``point`` from ``{"time", "value", "status"}``, checked (BadMessage naming
    ``where`` and what was expected)."""
    ts = item.get("time")
    if ts.__class__ not in (float, int) or isinstance(ts, bool) or not (
            math.isfinite(ts) and ts >= _EARLIEST):
        raise BadMessage("value", f"{where}: time {ts!r}: expected seconds since the epoch "
                         "(a number, after 2000)")
    status = item.get("status", "ok")
    if status not in STATUS_CODES:
        raise BadMessage("value", f"{where}: status {status!r}: expected one of "
                         f"{', '.join(STATUS_CODES)}")
    value = item.get("value")
    if value.__class__ in (dict, list):
        raise BadMessage("value", f"{where}: value is a JSON {value.__class__.__name__}; expected "
                         "a number, a boolean, text or null")
    if value.__class__ is float and not math.isfinite(value):  # pragma: no cover - JSON has none
        value = None
    return Sample(point, float(ts), value, status)


def decode_batch(site: str, payload: bytes, topic: str) -> tuple[list[Sample], int]:
    """A per-device message of ``site``: its samples, and how many were refused because their
    point is not the site's (another site's data under this site's topic)."""
    doc = _json(payload, topic)
    if not isinstance(doc, dict) or not isinstance(doc.get("samples"), list):
        raise BadMessage("shape", f"{topic}: expected {{\"site\", \"device\", \"samples\": [...]}}")
    if doc.get("site", site) != site:
        raise BadMessage("site", f"{topic}: the message says site {doc.get('site')!r}, its topic "
                         f"{site!r}: refused")
    mine = site + "/"
    out: list[Sample] = []
    append = out.append
    refused = 0
    for i, item in enumerate(doc["samples"]):
        # the common case in one test (a float time after 2000, a known status, a plain value of
        # one of this site's points): about half the cost of the checks one by one below
        if item.__class__ is dict:
            point = item.get("point")
            ts = item.get("time")
            status = item.get("status", "ok")
            value = item.get("value")
            if (ts.__class__ is float and _EARLIEST <= ts < _INF and value.__class__ in _PLAIN
                    and status in STATUS_CODES and point.__class__ is str
                    and point.startswith(mine)):
                append(Sample(point, ts, value, status))
                continue
        if not isinstance(item, dict) or not isinstance(item.get("point"), str):
            raise BadMessage("shape", f"{topic}: samples[{i}]: expected an object with a point")
        point = item["point"]
        if not point.startswith(mine):
            refused += 1
            continue
        append(decode_sample(point, item, f"{topic}: samples[{i}] ({point})"))
    return out, refused


def decode_point(site: str, equipment: str, name: str, payload: bytes, topic: str) -> Sample:
    """A per-point message: the sample of ``site/equipment/name``."""
    doc = _json(payload, topic)
    if not isinstance(doc, dict) or "time" not in doc:
        raise BadMessage("shape", f"{topic}: expected {{\"value\", \"status\", \"time\", \"key\"}}")
    return decode_sample(f"{site}/{equipment}/{name}", doc, topic)


def decode_event(site: str, kind: str, payload: bytes, topic: str) -> Event:
    """An alarm or command change of ``site`` (a command of another site's point is refused)."""
    doc = _json(payload, topic)
    if not isinstance(doc, dict):
        raise BadMessage("shape", f"{topic}: expected a JSON object")
    if kind == "alarm":
        if doc.get("site", site) != site:
            raise BadMessage("site", f"{topic}: an alarm of site {doc.get('site')!r}: refused")
        key = f"{doc.get('alarm_id')}:{doc.get('action')}@{doc.get('ts')!r}"
        ts = doc.get("ts")
    else:
        if not str(doc.get("point", "")).startswith(site + "/"):
            raise BadMessage("site", f"{topic}: a command of point {doc.get('point')!r}, not of "
                             f"site {site!r}: refused")
        key = f"{doc.get('id')}:{doc.get('status')}"
        ts = doc.get("updated_at")
    if doc.get("id" if kind == "command" else "alarm_id") is None:
        raise BadMessage("shape", f"{topic}: expected an object with "
                         f"{'id' if kind == 'command' else 'alarm_id'}")
    return Event(site, kind, key, float(ts) if ts.__class__ in (float, int) else None, doc)


def decode_site_document(site: str, payload: bytes, topic: str) -> SiteDocument:
    """A site configuration message (``{"site", "hash", "version", "config"}``)."""
    doc = _json(payload, topic)
    if not (isinstance(doc, dict) and isinstance(doc.get("hash"), str)
            and isinstance(doc.get("config"), dict)
            and doc.get("version").__class__ in (float, int)):
        raise BadMessage("shape", f"{topic}: expected {{\"site\", \"hash\", \"version\", "
                         "\"config\": {...}}")
    if doc.get("site") != site or (doc["config"].get("site") or {}).get("id") != site:
        raise BadMessage("site", f"{topic}: a configuration of site {doc.get('site')!r}, under "
                         f"site {site!r}'s topic: refused")
    return SiteDocument(site, doc["hash"], float(doc["version"]), doc["config"])
