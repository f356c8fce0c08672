"""Checks that need the whole site: ids, references, units, bindings, drivers, time zones.

The schema (``openbms.model.site``) checks each value on its own; this module
checks how they fit together. ``check_site`` takes a validated
:class:`~openbms.model.site.SiteConfig` (as the API has after an edit) or the
site in document form, plain dicts and lists as read from YAML. The document
form lets the loader report these problems in the same run as the schema's,
even when the schema found others, so a user fixing a file sees every problem
at once; parts of the wrong type are skipped here because the schema already
reports them.

Each problem is ``(location, message)``. The location is a path in the input
document, e.g. ``("equipment", 2, "points", 0, "unit")``; the message says
what is wrong and what was expected.

``site_warnings`` finds what is allowed but unsafe (a writable number point
without write limits; a BACnet device with neither a static address nor a
broadcast that can reach it): ``openbms check`` prints these as warnings, and they
never stop a site from loading.
"""

from __future__ import annotations

import difflib
import ipaddress
import zoneinfo
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any, TypeGuard

from openbms.errors import BindingError
from openbms.model.binding import parse_binding
from openbms.model.fields import state_number
from openbms.model.schemes import binding_check, settings_check
from openbms.model.site import SiteConfig
from openbms.model.units import close_matches, lookup

__all__ = ["Location", "Problem", "check_site", "site_warnings"]

#: Where a problem is in the input document: keys and list indices from the top.
Location = tuple[str | int, ...]
Problem = tuple[Location, str]

#: How many known names a message lists before it says "…".
_LIST_AT_MOST = 8


def check_site(cfg: SiteConfig | Mapping[str, Any], drivers: Collection[str]) -> list[Problem]:
    """Every whole-site problem of a site, in document order.

    ``drivers`` are the names a binding's scheme and a ``drivers:`` key may
    use. An empty list means the site is consistent.
    """
    data: Any = cfg.model_dump() if isinstance(cfg, SiteConfig) else cfg
    if not isinstance(data, Mapping):
        return []
    known_drivers = sorted(drivers)
    problems: list[Problem] = []
    problems += _check_site_block(data.get("site"))
    problems += _check_driver_names(data.get("drivers"), known_drivers)
    problems += _check_driver_settings(data.get("drivers"))

    spaces = _entries(data.get("spaces"))
    space_ids, found = _unique_ids("space", spaces, ("spaces",), "id")
    problems += found
    for i, space in spaces:
        problems += _reference(space.get("parent"), space_ids, ("spaces", i, "parent"), "space")
    problems += _parent_cycles(spaces)

    equipment = _entries(data.get("equipment"))
    equipment_ids, found = _unique_ids("equipment", equipment, ("equipment",), "id")
    problems += found
    for i, equip in equipment:
        at: Location = ("equipment", i)
        problems += _reference(equip.get("space"), space_ids, (*at, "space"), "space")
        feeds = equip.get("feeds")
        if _is_list(feeds):
            for j, target in enumerate(feeds):
                if target == equip.get("id"):
                    problems.append(((*at, "feeds", j), f"equipment {target!r} feeds itself: "
                                     "expected the ids of the equipment it serves"))
                else:
                    problems += _reference(target, equipment_ids, (*at, "feeds", j), "equipment")
        points = _entries(equip.get("points"))
        _, found = _unique_ids("point", points, (*at, "points"), "name",
                               scope=f" in equipment {equip.get('id')!r}")
        problems += found
        for j, point in points:
            problems += _check_point(point, (*at, "points", j), drivers, known_drivers,
                                     data.get("drivers"))
    return problems


def site_warnings(cfg: SiteConfig) -> list[Problem]:
    """What a valid site allows but should not: each writable number point without ``min`` or
    ``max`` write limits (the arbiter then bounds it only by ±1e9)."""
    warnings: list[Problem] = []
    for i, equip in enumerate(cfg.equipment):
        for j, point in enumerate(equip.points):
            if not point.writable or point.kind != "number":
                continue
            limits = point.limits
            missing = [k for k in ("min", "max") if limits is None or getattr(limits, k) is None]
            if missing:
                at: Location = ("equipment", i, "points", j) if limits is None else \
                    ("equipment", i, "points", j, "limits")
                words = " and ".join(f"'{k}'" for k in missing)
                warnings.append((at, f"writable point '{cfg.point_id(equip, point)}' has no {words} "
                                 f"write limit{'s' if len(missing) > 1 else ''}: any command up to "
                                 "±1e9 reaches the device; add limits: {min: …, max: …} with the "
                                 "range the equipment is safe in"))
    return warnings + _bacnet_forms(cfg) + _bacnet_unreachable(cfg)


def _ipv4_with_port(text: str, prefix_allowed: bool) -> bool:
    """Whether ``text`` is ``ip[:port]`` (or ``ip[/prefix][:port]``) with an IPv4 ip."""
    host, colon, port = text.rpartition(":")
    host = host if colon else text
    ip, slash, prefix = host.partition("/")
    try:
        ipaddress.IPv4Address(ip)
        if slash and (not prefix_allowed or not 0 <= int(prefix) <= 32):
            return False
        return not colon or 0 < int(port) < 65536
    except ValueError:
        return False


def _bacnet_device_address(text: str) -> bool:
    """Whether ``text`` is a device's BACnet address: ``ip[:port]``, or ``net:mac`` (network
    1–65534; MAC a number 0–255, hex ``0x…`` of 1 to 8 octets, or ``ip[:port]`` on a routed
    BACnet/IP network); the forms the driver takes."""
    if _ipv4_with_port(text, False):
        return not text.startswith(("255.255.255.255", "0.0.0.0"))
    net, colon, mac = text.partition(":")
    if not colon or not net.isdigit() or not 1 <= int(net) <= 65_534:
        return False
    if mac.isdigit():
        return int(mac) <= 255
    if mac[:2].lower() == "0x":
        digits = mac[2:]
        return 2 <= len(digits) <= 16 and len(digits) % 2 == 0 and all(
            c in "0123456789abcdefABCDEF" for c in digits)
    return _ipv4_with_port(mac, False)


def _routed_network(text: str) -> int | None:
    """The network of a ``net:mac`` address (None for a local ``ip:port``)."""
    net, colon, _mac = text.partition(":")
    return int(net) if colon and net.isdigit() and "." not in net else None


_DEVICE_FORMS = ("ip:port (192.168.1.31:47808), or network:mac for a device behind a router "
                 "(2:5, 2:0x1a, 3:10.0.0.5:47808)")


def _bacnet_bindings(cfg: SiteConfig) -> Iterator[tuple[Location, str, str]]:
    """Each ``bacnet://`` binding of the site: where it is, the binding, its device (bindings
    that do not parse are reported as problems already)."""
    for i, equip in enumerate(cfg.equipment):
        for j, point in enumerate(equip.points):
            if not point.binding or not point.binding.startswith("bacnet://"):
                continue
            try:
                device = parse_binding(point.binding).device
            except BindingError:
                continue
            yield ("equipment", i, "points", j, "binding"), point.binding, device


def _bacnet_forms(cfg: SiteConfig) -> list[Problem]:
    """BACnet settings the driver cannot use: it would fail only at run time (an address that does
    not parse stops the driver, a broadcast that does not parse stops every Who-Is, a device
    address, router or BBMD that does not parse stops the driver)."""
    settings = cfg.drivers.get("bacnet")
    extra = (settings.model_extra or {}) if settings is not None and settings.enabled else {}
    found: list[Problem] = []
    for key, form, prefix, then in (
            ("address", "ip/prefix:port, e.g. 192.168.1.20/24:47808", True,
             "the driver would not start"),
            ("broadcast", "ip:port, e.g. 192.168.1.255:47808", False,
             "devices without a 'devices:' address would never be found"),
            ("bbmd", "ip:port, e.g. 10.1.0.2:47808", False, "the driver would not start")):
        if key in extra and not _ipv4_with_port(str(extra[key]), prefix):
            found.append((("drivers", "bacnet", key), f"bacnet {key} {extra[key]!r} is not a "
                          f"BACnet/IP {key}: expected {form}; {then}"))
    devices = extra.get("devices")
    if devices is not None and not isinstance(devices, Mapping):
        found.append((("drivers", "bacnet", "devices"), "bacnet devices: expected a map of device "
                      "instance to its address, e.g. {1001: 192.168.1.31:47808}; the driver "
                      "would not start"))
    elif isinstance(devices, Mapping):
        for key, text in devices.items():
            if isinstance(text, int) and not isinstance(text, bool):
                found.append((("drivers", "bacnet", "devices", key),
                               f"bacnet device {key}'s address is the number {text}: YAML reads "
                               "an unquoted 2:5 as a number (base 60); quote it, e.g. '2:5'; the "
                               "driver would not start"))
            elif not _bacnet_device_address(str(text)):
                found.append((("drivers", "bacnet", "devices", key),
                               f"bacnet device {key}'s address {text!r} is not a BACnet address: "
                               f"expected {_DEVICE_FORMS}; the driver would not start"))
    ttl = extra.get("bbmd_ttl")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int | float)
                            or not 1 <= ttl <= 65_535):
        found.append((("drivers", "bacnet", "bbmd_ttl"), f"bacnet bbmd_ttl {ttl!r}: expected "
                      "seconds from 1 to 65535; the driver would not start"))
    for at, binding, device in _bacnet_bindings(cfg):
        if not device.isdigit() and not _bacnet_device_address(device):
            found.append((at, f"bacnet binding {binding!r}: {device!r} is neither a device "
                              f"instance nor a BACnet address ({_DEVICE_FORMS}); the point "
                              "would never be read"))
    routers = extra.get("routers")
    if routers is not None and not isinstance(routers, Mapping):
        found.append((("drivers", "bacnet", "routers"), "bacnet routers: expected a map of network "
                      "number to the router's ip:port, e.g. {2: 192.168.1.40:47808}"))
    elif isinstance(routers, Mapping):
        for key, text in routers.items():
            number = str(key)
            if isinstance(key, bool) or not number.isdigit() or not 1 <= int(number) <= 65_534:
                found.append((("drivers", "bacnet", "routers", key), f"bacnet routers: {key!r} "
                              "is not a network number (1–65534)"))
            elif not _ipv4_with_port(str(text), False):
                found.append((("drivers", "bacnet", "routers", key), f"bacnet router to network "
                              f"{key}: {text!r} is not a BACnet/IP address: expected ip:port, "
                              "e.g. 192.168.1.40:47808"))
    return found


def _broadcast_reach(address: str, broadcast: str) -> str | None:
    """Why Who-Is sent from ``address`` (``ip/prefix:port``) to ``broadcast`` (``ip:port``)
    reaches no device, or None when it may (or either is not an IPv4 address to judge)."""
    host = address.rpartition(":")[0] or address
    ip, _slash, prefix = host.partition("/")
    try:
        iface = ipaddress.IPv4Interface(f"{ip}/{prefix or 32}")
        target = ipaddress.IPv4Address(broadcast.rpartition(":")[0] or broadcast)
    except ValueError:
        return None
    if target == ipaddress.IPv4Address("255.255.255.255"):
        if iface.ip.is_loopback:
            return (f"is the limited broadcast, which no device on loopback receives "
                    f"(the client is {iface.ip}): use {iface.network.broadcast_address}:47808 "
                    "or the devices' own port")
        return None
    if prefix and target not in iface.network:
        return (f"is outside the client's network {iface.network} (address {address}), and "
                "routers do not pass broadcasts: use that network's broadcast, or a BBMD")
    return None


def _bacnet_unreachable(cfg: SiteConfig) -> list[Problem]:
    """A BACnet site whose driver can resolve some bound devices neither by a static
    ``devices:`` address nor by a broadcast that reaches them, or whose routed devices
    (``net:mac``) have no router under ``routers:`` and a broadcast that cannot find one
    (Who-Is-Router-To-Network): their points stay offline."""
    settings = cfg.drivers.get("bacnet")
    if settings is not None and not settings.enabled:
        return []
    extra = settings.model_extra or {} if settings is not None else {}
    if extra.get("bbmd"):
        return []  # broadcasts go through the BBMD, wherever it is
    static = extra.get("devices")
    static = {str(k): str(v) for k, v in static.items()} if isinstance(static, Mapping) else {}
    routers = extra.get("routers")
    routed = {str(k) for k in routers} if isinstance(routers, Mapping) else set()
    first: Location | None = None
    missing: set[str] = set()
    unrouted: dict[int, set[str]] = {}
    for binding_at, _binding, device in _bacnet_bindings(cfg):
        address = static.get(device, None if device.isdigit() else device)
        if address is None:
            missing.add(device)
            first = first or binding_at
            continue
        network = _routed_network(address)
        if network is not None and str(network) not in routed:
            unrouted.setdefault(network, set()).add(device)
            first = first or binding_at
    if not missing and not unrouted:
        return []
    address = str(extra.get("address", "127.0.0.1/8:47809"))
    broadcast = str(extra.get("broadcast", "255.255.255.255:47808"))
    why = _broadcast_reach(address, broadcast)
    if why is None:
        return []
    at: Location = ("drivers", "bacnet", "broadcast") if "broadcast" in extra else \
        ("drivers", "bacnet") if settings is not None else first or ()
    out: list[Problem] = []
    if missing:
        shown = sorted(missing, key=lambda d: (len(d), d))
        names = ", ".join(shown[:_LIST_AT_MOST]) + (", …" if len(shown) > _LIST_AT_MOST else "")
        many = len(shown) > 1
        out.append((at, f"bacnet: {len(shown)} device{'s' if many else ''} ({names}) "
                        f"{'have' if many else 'has'} no address under 'devices:' and the broadcast "
                        f"{broadcast} {why}; "
                        "Who-Is will not find them and their points stay offline. Add "
                        "'devices: {instance: ip:port}' or a broadcast that reaches them"))
    for network, devices in sorted(unrouted.items()):
        shown = sorted(devices, key=lambda d: (len(d), d))
        names = ", ".join(shown[:_LIST_AT_MOST]) + (", …" if len(shown) > _LIST_AT_MOST else "")
        out.append((at, f"bacnet: network {network} (devices {names}) has no router under "
                        f"'routers:' and the broadcast {broadcast} {why}; "
                        "Who-Is-Router-To-Network will not find its router and the points stay "
                        f"offline. Add 'routers: {{{network}: ip:port}}'"))
    return out


# ---------------------------------------------------------------------------- site and drivers


def _check_site_block(site: Any) -> list[Problem]:
    if not isinstance(site, Mapping) or not isinstance(site.get("timezone"), str):
        return []
    tz = site["timezone"]
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        hint = difflib.get_close_matches(tz, sorted(zoneinfo.available_timezones()), n=1)
        return [(("site", "timezone"), f"unknown time zone {tz!r}"
                 + (f": did you mean {hint[0]!r}?" if hint else "")
                 + " (expected an IANA name such as 'Europe/London' or 'America/New_York')")]
    return []


def _check_driver_names(section: Any, known: list[str]) -> list[Problem]:
    if not isinstance(section, Mapping):
        return []
    return [(("drivers", name), f"unknown driver {name!r}{_did_you_mean(name, known)} "
             f"(expected one of: {', '.join(known)})")
            for name in section if name not in known]


def _check_driver_settings(section: Any) -> list[Problem]:
    """What each driver with a registered settings check finds in its ``drivers:`` entry."""
    if not isinstance(section, Mapping):
        return []
    problems: list[Problem] = []
    for name, settings in section.items():
        check = settings_check(name) if isinstance(name, str) else None
        if check is not None and isinstance(settings, Mapping):
            problems += [(("drivers", name, *loc), message) for loc, message in check(settings)]
    return problems


# ---------------------------------------------------------------------------- ids and references


def _is_list(value: Any) -> TypeGuard[Sequence[Any]]:
    return isinstance(value, Sequence) and not isinstance(value, str)


def _entries(value: Any) -> list[tuple[int, Mapping[str, Any]]]:
    """The mapping entries of a list with their indices (anything else is the schema's business)."""
    if not _is_list(value):
        return []
    return [(i, x) for i, x in enumerate(value) if isinstance(x, Mapping)]


def _unique_ids(kind: str, entries: list[tuple[int, Mapping[str, Any]]], base: Location, key: str,
                scope: str = "") -> tuple[list[str], list[Problem]]:
    """The ids of ``entries`` in order, and a problem for every id seen before."""
    first: dict[str, int] = {}
    problems: list[Problem] = []
    for i, entry in entries:
        ident = entry.get(key)
        if not isinstance(ident, str):
            continue
        if ident in first:
            problems.append(((*base, i, key), f"duplicate {kind} {key} {ident!r}{scope} (entry "
                             f"{i + 1}; entry {first[ident] + 1} has it already): expected each "
                             f"{kind} {key} once"))
        else:
            first[ident] = i
    return list(first), problems


def _reference(value: Any, known: list[str], at: Location, kind: str) -> list[Problem]:
    """A problem when ``value`` names an id that is not one of ``known``."""
    if not isinstance(value, str) or value in known:
        return []
    if not known:
        return [(at, f"unknown {kind} {value!r}: this site defines no {kind} ids")]
    return [(at, f"unknown {kind} {value!r}{_did_you_mean(value, known)} "
             f"(expected one of the {kind} ids: {_listing(known)})")]


def _did_you_mean(value: str, known: Sequence[str]) -> str:
    hint = difflib.get_close_matches(value, list(known), n=1)
    return f": did you mean {hint[0]!r}?" if hint else ""


def _listing(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_LIST_AT_MOST])
    return shown + (", …" if len(names) > _LIST_AT_MOST else "")


def _parent_cycles(spaces: list[tuple[int, Mapping[str, Any]]]) -> list[Problem]:
    """A problem for every space that is, through its parents, inside itself."""
    parent: dict[str, str] = {}
    for _, space in spaces:
        ident, up = space.get("id"), space.get("parent")
        if isinstance(ident, str) and isinstance(up, str) and ident not in parent:
            parent[ident] = up
    problems: list[Problem] = []
    for i, space in spaces:
        start = space.get("id")
        if not isinstance(start, str) or parent.get(start) is None:
            continue
        chain = [start]
        node = parent.get(start)
        # Stops: at the top, at an unknown parent, or on meeting any space twice. Only a
        # space on the loop is reported; one merely below a loop is not itself wrong.
        while node is not None and node not in chain:
            chain.append(node)
            node = parent.get(node)
        if node == start:
            loop = " → ".join([*chain, start])
            problems.append((("spaces", i, "parent"), f"space {start!r} is inside itself ({loop}): "
                             "expected parents to lead up to a space without a parent"))
    return problems


# ---------------------------------------------------------------------------- points


def _check_point(point: Mapping[str, Any], at: Location, drivers: Collection[str],
                 known_drivers: list[str], settings: Any = None) -> list[Problem]:
    problems: list[Problem] = []
    unit = point.get("unit")
    if isinstance(unit, str) and lookup(unit) is None:
        hint = close_matches(unit)
        problems.append(((*at, "unit"), f"unknown unit {unit!r}"
                         + (f": did you mean {' or '.join(map(repr, hint))}?" if hint else "")
                         + " (expected a unit symbol such as degC, %, kW, Pa or L/s; "
                           "docs/configuration.md lists them all)"))

    binding = point.get("binding")
    if isinstance(binding, str):
        try:
            parsed = parse_binding(binding)
        except BindingError as err:
            problems.append(((*at, "binding"), str(err)))
        else:
            if parsed.scheme not in drivers:
                problems.append(((*at, "binding"), f"unknown driver {parsed.scheme!r} in binding "
                                 f"{binding!r}{_did_you_mean(parsed.scheme, known_drivers)} "
                                 f"(expected one of: {', '.join(known_drivers)})"))
            elif (check := binding_check(parsed.scheme)) is not None:
                own = settings.get(parsed.scheme) if isinstance(settings, Mapping) else None
                try:
                    check(parsed, own if isinstance(own, Mapping) else None)
                except BindingError as err:
                    problems.append(((*at, "binding"), str(err)))

    kind = point.get("kind", "number")
    states = point.get("states")
    default = point.get("relinquish_default")
    if default is not None:
        problems += _check_default(default, kind, states, (*at, "relinquish_default"))

    limits = point.get("limits")
    if isinstance(limits, Mapping):
        bounds = [k for k in ("min", "max") if limits.get(k) is not None]
        if kind != "number" and bounds:
            problems.append(((*at, "limits", bounds[0]), f"'{bounds[0]}' limits a {kind} point: "
                             "min and max apply to number points only (a bool point may have "
                             "min_on, min_off and min_interval)"))
        elif kind == "number" and _is_number(default):
            lo, hi = limits.get("min"), limits.get("max")
            if (_is_number(lo) and default < lo) or (_is_number(hi) and default > hi):
                problems.append(((*at, "relinquish_default"), f"relinquish_default {default:g} is "
                                 f"outside the write limits: expected a value from "
                                 f"{_bound(lo)} to {_bound(hi)}"))
    return problems


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _bound(value: Any) -> str:
    return f"{value:g}" if _is_number(value) else "any"


def _check_default(default: Any, kind: Any, states: Any, at: Location) -> list[Problem]:
    """The relinquish default must be a value the point can take."""
    if not isinstance(default, int | float | str):
        return []  # a list or mapping: the schema reports it
    if kind == "number" and not _is_number(default):
        return [(at, f"relinquish_default {default!r} is not a number: a number point needs a "
                 "number here")]
    if kind == "bool" and not isinstance(default, bool):
        return [(at, f"relinquish_default {default!r} is not true or false: a bool point needs "
                 "true or false here")]
    if kind == "enum" and _is_list(states) and state_number(states, default) is None:
        labels = ", ".join(repr(s) for s in states)
        return [(at, f"relinquish_default {default!r} is not a state of this enum point: "
                 f"expected one of {labels}, or its number (1 to {len(states)})")]
    return []
