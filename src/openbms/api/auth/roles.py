"""Roles and the permissions each one carries: the table the whole API is checked against.

A user holds one role per site (``site_grants``); a grant on ``"*"`` holds on
every site. Permissions in ``GLOBAL_PERMISSIONS`` concern no single site
(users, the audit log), so they need the role on ``"*"``. The role names and
``ALL_SITES`` are those the state database stores (``openbms.db.accounts``);
this table gives each its permissions, in the same order (a test checks it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from openbms.db.accounts import ALL_SITES, ROLES

__all__ = [
    "ALL_SITES",
    "GLOBAL_PERMISSIONS",
    "PERMISSIONS",
    "ROLES",
    "ROLE_PERMISSIONS",
    "effective_role",
    "role_allows",
    "role_rank",
]

#: Every permission, with what it allows. Read permissions cover lists, searches and exports.
PERMISSIONS: Mapping[str, str] = {
    "sites:read": "see a site, its spaces and equipment",
    "sites:write": "change a site's spaces and equipment",
    "points:read": "see points, their current values and priority arrays",
    "points:write": "create, change and delete points",
    "history:read": "read and export history",
    "commands:read": "see commands and their status",
    "commands:write": "command points, override and release",
    "alarms:read": "see alarms and their history",
    "alarms:ack": "acknowledge, annotate and shelve alarms",
    "alarms:write": "configure alarm rules",
    "schedules:read": "see schedules and their next transitions",
    "schedules:write": "create, change and delete schedules",
    "programs:read": "see logic programs and their versions",
    "programs:write": "create, change and validate logic programs",
    "programs:deploy": "deploy, disable and roll back logic programs, and override them for commissioning",
    "devices:read": "see devices and driver health",
    "analytics:read": "see energy, baselines and fault detection",
    "users:admin": "manage users and their site roles",
    "audit:read": "read the audit log",
}

GLOBAL_PERMISSIONS = frozenset({"users:admin", "audit:read"})

_READ = frozenset(
    {
        "sites:read",
        "points:read",
        "history:read",
        "commands:read",
        "alarms:read",
        "schedules:read",
        "programs:read",
        "devices:read",
        "analytics:read",
    }
)
_OPERATE = _READ | {"commands:write", "alarms:ack"}
_CONFIGURE = _OPERATE | {
    "sites:write",
    "points:write",
    "alarms:write",
    "schedules:write",
    "programs:write",
    "programs:deploy",
}

#: Each role's permissions, from the least to the most (``ROLES``' order).
ROLE_PERMISSIONS: Mapping[str, frozenset[str]] = {
    "viewer": _READ,
    "operator": frozenset(_OPERATE),
    "facility_manager": frozenset(_CONFIGURE),
    "admin": frozenset(PERMISSIONS),
}


def role_rank(role: str) -> int:
    """0 for viewer up to 3 for admin."""
    return ROLES.index(role)


def role_allows(role: str | None, permission: str) -> bool:
    """Whether ``role`` carries ``permission``."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")
    return role is not None and permission in ROLE_PERMISSIONS[role]


def effective_role(grants: Mapping[str, str], site_id: str, cap: str | None = None) -> str | None:
    """The role on ``site_id``: the higher of the site's grant and the ``"*"`` grant, capped by ``cap``.

    ``site_id`` ``"*"`` asks for the all-sites grant only (global permissions).
    """
    candidates: Iterable[str | None] = (
        (grants.get(ALL_SITES),) if site_id == ALL_SITES else (grants.get(site_id), grants.get(ALL_SITES))
    )
    held = [r for r in candidates if r is not None]
    if not held:
        return None
    role = max(held, key=role_rank)
    if cap is not None and role_rank(cap) < role_rank(role):
        role = cap
    return role
