"""A Mosquitto ACL for a central openbms and its edges (``openbms central acl``).

Each edge signs in with its site id as user name (a password, or a client
certificate whose CN is the site id with ``use_identity_as_username true``)
and may publish and read only under its own site's topics; the central user
reads every site's topics and sends the command requests. The lines are the
ones docs/examples/mosquitto.acl gives as patterns, written out per site, so
the file says which sites exist and a site id that is not there gets nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["acl_text"]

_SAFE = re.compile(r"^[^+#/\s\x00]+$")


def _check(what: str, value: str) -> None:
    if not _SAFE.match(value):
        raise ValueError(f"{what} {value!r}: expected one topic level without '+', '#', '/' or "
                         "spaces")


def acl_text(sites: Sequence[str], *, prefix: str = "openbms", central_user: str = "central",
             sparkplug: bool = False) -> str:
    """The ACL file: one ``user`` block per site, then the central user's; ValueError names a site
    id or user name that cannot be one (a wildcard, a slash, a site named like the central user)."""
    for level in prefix.split("/"):
        _check("prefix level", level)
    _check("central user", central_user)
    for site in sites:
        _check("site", site)
        if site == central_user:
            raise ValueError(f"site {site!r} has the central user's name: a site's credentials "
                             "would read every site")
    lines = ["# Mosquitto ACL made by openbms central acl: each edge (user name = its site id)",
             f"# reaches only {prefix}/{{its site}}/...; the user {central_user} reads every site",
             "# and sends command requests. In mosquitto.conf: acl_file /etc/mosquitto/openbms.acl",
             ""]
    for site in sorted(set(sites)):
        base = f"{prefix}/{site}"
        lines += [f"user {site}",
                  f"topic write {base}/+",  # status, alarms, commands, config
                  f"topic write {base}/+/+",  # samples {equipment}/{point}, devices/{device}
                  f"topic write {base}/command/+/response",
                  f"topic read {base}/command/+/request"]
        if sparkplug:
            lines += [f"topic write spBv1.0/+/+/{site}", f"topic write spBv1.0/+/+/{site}/+",
                      f"topic read spBv1.0/+/NCMD/{site}"]
        lines.append("")
    lines += [f"user {central_user}", f"topic read {prefix}/#",
              f"topic write {prefix}/+/command/+/request", ""]
    return "\n".join(lines)
