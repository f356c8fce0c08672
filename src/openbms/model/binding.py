"""Binding URIs: where a point lives on the wire, e.g. ``bacnet://1001/analog-input,3``."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from openbms.errors import BindingError

__all__ = ["Binding", "parse_binding"]

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")
#: A binding ``urlsplit`` would take apart without a surprise: ASCII letters, digits and the
#: sub-delimiters, no query, fragment, escape, IPv6 bracket or white space. Nearly every binding of a
#: site is one, and splitting it by hand costs a fifth of urlsplit, unquote and parse_qsl: 100 000 of
#: them were seconds of a start (issue 15).
_PLAIN = re.compile(r"([a-z][a-z0-9+.-]*)://([A-Za-z0-9._~!$&'()*+,;=:@-]+)/([A-Za-z0-9._~!$&'()*+,;=:@/-]*)")


@dataclass(frozen=True, slots=True)
class Binding:
    """A parsed binding URI.

    ``scheme`` names the driver, ``device`` the device the driver groups reads
    by (the URI authority), ``path`` the object on it, ``params`` the query
    options and ``fragment`` a selector inside a payload (``#value``).
    """

    scheme: str
    device: str
    path: str
    params: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    fragment: str = ""
    uri: str = ""

    def __str__(self) -> str:
        return self.uri


def parse_binding(uri: str) -> Binding:
    """Parse ``scheme://device/path?k=v#fragment``; raise BindingError saying what is wrong."""
    plain = _PLAIN.fullmatch(uri) if isinstance(uri, str) else None
    if plain is not None and (path := plain[3].lstrip("/")):
        # One string for each driver, device and object name however many points share it: a
        # site of 1 000 devices x 100 points has 1 100 of them, not 300 000 (17 MB).
        return Binding(sys.intern(plain[1]), sys.intern(plain[2]), sys.intern(path), {}, "", uri)
    if not isinstance(uri, str) or not uri.strip():
        raise BindingError("a binding must be a non-empty URI such as 'sim://hq/zone-1/temp'")
    if "://" not in uri:
        raise BindingError(f"binding {uri!r} has no scheme: expected 'driver://device/path'")
    scheme = uri.split("://", 1)[0]
    if not _SCHEME.match(scheme):
        raise BindingError(
            f"binding {uri!r} has an invalid driver name {scheme!r}: expected lower-case "
            "letters and digits such as 'bacnet' or 'sim'"
        )
    try:
        parts = urlsplit(uri)
    except ValueError as err:  # e.g. "Invalid IPv6 URL" for a '[' in the device
        raise BindingError(f"binding {uri!r} is not a valid URI ({err}): expected 'driver://device/path'"
                           ) from err
    device = unquote(parts.netloc)
    if not device:
        raise BindingError(f"binding {uri!r} names no device: expected 'driver://device/path'")
    path = unquote(parts.path.lstrip("/"))
    if not path:
        raise BindingError(f"binding {uri!r} names no object: expected a path after the device")
    try:
        params = dict(parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query)))
    except ValueError as err:
        raise BindingError(f"binding {uri!r} has a malformed query: {err}") from err
    return Binding(scheme, device, path, params, unquote(parts.fragment), uri)
