"""Users, site grants, login failures, refresh-token families and API tokens in the state database.

Synchronous functions over a SQLAlchemy engine, shared by the API (which runs
them in a worker thread) and the ``openbms user`` commands. Password hashing
is the caller's (it is slow and needs no transaction): ``ensure_admin`` takes
a ``PasswordHasher`` (the API's ``openbms.api.auth.passwords.Passwords``).

What a grant may hold is stored here: ``ROLES`` (the API's permission table,
``openbms.api.auth.roles``, gives each its permissions) and ``ALL_SITES``. The
opaque tokens (refresh, API) are made here too and kept only as a SHA-256.
The API reaches the accounts through the functions that take an engine
(``find_user``, ``user_with_grants``, ``api_token_holder``, ``session_holder``…);
those that take a connection are for composing them here and in tests.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import sqlalchemy as sa

from openbms.db.schema import api_tokens, login_failures, refresh_tokens, site_grants, users
from openbms.errors import OpenBMSError

__all__ = [
    "ALL_SITES",
    "API_TOKEN_PREFIX",
    "MAX_PASSWORD",
    "ROLES",
    "AccountError",
    "Holder",
    "PasswordHasher",
    "RefreshOutcome",
    "api_token_holder",
    "check_password",
    "check_role",
    "check_site",
    "create_api_token",
    "create_user",
    "ensure_admin",
    "find_api_token",
    "find_user",
    "grants_of",
    "list_api_tokens",
    "list_users",
    "new_api_token",
    "new_id",
    "new_refresh_token",
    "normalize_email",
    "record_login_failure",
    "record_login_success",
    "refresh_family_of",
    "revoke_api_token",
    "revoke_api_tokens",
    "revoke_family",
    "revoke_grant",
    "revoke_sessions",
    "rotate_refresh",
    "session_alive",
    "session_holder",
    "set_grant",
    "start_session",
    "token_hash",
    "update_user",
    "user_row",
    "user_with_grants",
]

#: A grant on this site id holds on every site.
ALL_SITES = "*"
#: The roles a grant may hold, from the least to the most (``openbms.api.auth.roles`` gives each
#: its permissions; a test checks that both name the same roles).
ROLES: tuple[str, ...] = ("viewer", "operator", "facility_manager", "admin")
#: How an API token starts, so it is told apart from a JWT.
API_TOKEN_PREFIX = "obms_"

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_SITE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
MAX_PASSWORD = 1024


class AccountError(OpenBMSError):
    """A user or token operation was refused; ``reason`` is invalid, exists or not_found."""

    def __init__(self, message: str, reason: Literal["invalid", "exists", "not_found"] = "invalid") -> None:
        super().__init__(message)
        self.reason = reason


class PasswordHasher(Protocol):
    """What ``ensure_admin`` needs of a password hasher (the API's ``Passwords`` is one)."""

    def hash(self, password: str) -> str: ...

    def verify(self, stored: str | None, password: str) -> bool: ...


# ---------------------------------------------------------------------- opaque tokens and ids


def new_id() -> str:
    """A random UUID, as text."""
    return str(uuid.uuid4())


def new_refresh_token() -> str:
    """An opaque refresh token (256 bits)."""
    return secrets.token_urlsafe(32)


def new_api_token() -> str:
    """An API token (256 bits) with a recognisable prefix, so it is told apart from a JWT."""
    return API_TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """SHA-256 of an opaque token: enough for high-entropy random tokens, and indexable."""
    return hashlib.sha256(token.encode()).hexdigest()


# ---------------------------------------------------------------------- validation


def normalize_email(email: str) -> str:
    """The stored form of an e-mail address (trimmed, lower-case), or AccountError."""
    e = email.strip().lower()
    if len(e) > 254 or not _EMAIL.fullmatch(e):
        raise AccountError(f"{email!r} is not an e-mail address")
    return e


def check_password(password: str, min_length: int = 10) -> None:
    """AccountError unless ``password`` is long enough (and not absurdly long)."""
    if len(password) < min_length:
        raise AccountError(f"a password needs at least {min_length} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"a password has at most {MAX_PASSWORD} characters")


def check_role(role: str) -> str:
    """``role`` if it is one of ROLES, else AccountError."""
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}: expected one of {', '.join(ROLES)}")
    return role


def check_site(site_id: str) -> str:
    """``site_id`` if it is a site id or ``"*"``, else AccountError."""
    if site_id != ALL_SITES and not _SITE.fullmatch(site_id):
        raise AccountError(f"{site_id!r} is not a site id (or '*' for every site)")
    return site_id


# ---------------------------------------------------------------------- users and grants


def user_row(
    conn: sa.Connection, *, user_id: str | None = None, email: str | None = None
) -> dict[str, Any] | None:
    """One user, by id or by (normalized) e-mail."""
    cond = users.c.id == user_id if user_id is not None else users.c.email == email
    row = conn.execute(sa.select(users).where(cond)).mappings().first()
    return dict(row) if row else None


def grants_of(conn: sa.Connection, user_id: str) -> dict[str, str]:
    """Site id (or ``"*"``) → role, for one user."""
    rows = conn.execute(
        sa.select(site_grants.c.site_id, site_grants.c.role).where(site_grants.c.user_id == user_id)
    )
    return {site: role for site, role in rows}


@dataclass(frozen=True, slots=True)
class Holder:
    """An enabled user who holds a credential: the user's row, grants, and the API token's row if one."""

    user: dict[str, Any]
    grants: dict[str, str] = field(default_factory=dict)
    token: dict[str, Any] | None = None


def find_user(
    engine: sa.Engine, *, user_id: str | None = None, email: str | None = None
) -> dict[str, Any] | None:
    """One user, by id or by (normalized) e-mail, or None."""
    with engine.connect() as conn:
        return user_row(conn, user_id=user_id, email=email)


def user_with_grants(engine: sa.Engine, user_id: str) -> tuple[dict[str, Any], dict[str, str]] | None:
    """One user and its grants, read together, or None."""
    with engine.connect() as conn:
        row = user_row(conn, user_id=user_id)
        return (row, grants_of(conn, user_id)) if row else None


def api_token_holder(engine: sa.Engine, token: str, now: float) -> Holder | None:
    """Who a presented API token stands for: its live row, its enabled user and grants, or None."""
    with engine.begin() as conn:  # a write: the token's last use
        row = find_api_token(conn, token, now)
        if row is None:
            return None
        user = user_row(conn, user_id=row["user_id"])
        if user is None or user["disabled"]:
            return None
        return Holder(user, grants_of(conn, user["id"]), row)


def session_holder(engine: sa.Engine, user_id: str, session_id: str | None) -> Holder | None:
    """The enabled user ``user_id`` and grants, if the session (when given) was not ended; else None."""
    with engine.connect() as conn:
        user = user_row(conn, user_id=user_id)
        if user is None or user["disabled"]:
            return None
        if session_id is not None and not session_alive(conn, session_id):
            return None
        return Holder(user, grants_of(conn, user_id))


def create_user(
    engine: sa.Engine,
    email: str,
    password_hash: str,
    *,
    name: str = "",
    grants: Mapping[str, str] | None = None,
    by: str = "",
    now: float | None = None,
) -> dict[str, Any]:
    """A new user with its site grants; AccountError(exists) if the e-mail is taken."""
    now = time.time() if now is None else now
    email = normalize_email(email)
    for site, role in (grants or {}).items():
        check_site(site)
        check_role(role)
    uid = new_id()
    try:
        with engine.begin() as conn:
            conn.execute(
                users.insert().values(
                    id=uid,
                    email=email,
                    name=name,
                    password_hash=password_hash,
                    disabled=False,
                    locked_until=None,
                    created_at=now,
                    updated_at=now,
                    password_changed_at=now,
                    last_login_at=None,
                )
            )
            for site, role in (grants or {}).items():
                conn.execute(
                    site_grants.insert().values(
                        user_id=uid, site_id=site, role=role, created_at=now, created_by=by
                    )
                )
            row = user_row(conn, user_id=uid)
    except sa.exc.IntegrityError as err:
        raise AccountError(f"a user with e-mail {email!r} already exists", "exists") from err
    assert row is not None
    return row


def update_user(
    engine: sa.Engine,
    user_id: str,
    *,
    email: str | None = None,
    name: str | None = None,
    password_hash: str | None = None,
    disabled: bool | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """Change a user; disabling ends the user's sessions, a new password forgets the failed logins.

    API tokens are kept either way (``revoke_api_tokens`` ends them): a disabled
    user's tokens are refused while disabled, and work again once re-enabled.
    """
    now = time.time() if now is None else now
    values: dict[str, Any] = {"updated_at": now}
    if email is not None:
        values["email"] = normalize_email(email)
    if name is not None:
        values["name"] = name
    if password_hash is not None:
        values.update(password_hash=password_hash, password_changed_at=now, locked_until=None)
    if disabled is not None:
        values["disabled"] = disabled
    try:
        with engine.begin() as conn:
            if not conn.execute(users.update().where(users.c.id == user_id).values(**values)).rowcount:
                raise AccountError(f"no user {user_id!r}", "not_found")
            if disabled:
                _revoke_sessions(conn, user_id, now)
            if password_hash is not None:  # a reset starts the lockout count afresh
                conn.execute(login_failures.delete().where(login_failures.c.user_id == user_id))
            row = user_row(conn, user_id=user_id)
    except sa.exc.IntegrityError as err:
        raise AccountError(f"a user with e-mail {values.get('email')!r} already exists", "exists") from err
    assert row is not None
    return row


def list_users(
    engine: sa.Engine, *, after_email: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Users ordered by e-mail, after ``after_email``, each with its ``grants``."""
    with engine.connect() as conn:
        q = sa.select(users).order_by(users.c.email).limit(limit)
        if after_email is not None:
            q = q.where(users.c.email > after_email)
        rows = [dict(r) for r in conn.execute(q).mappings()]
        if rows:
            grants: dict[str, dict[str, str]] = {r["id"]: {} for r in rows}
            for uid, site, role in conn.execute(
                sa.select(site_grants.c.user_id, site_grants.c.site_id, site_grants.c.role).where(
                    site_grants.c.user_id.in_(list(grants))
                )
            ):
                grants[uid][site] = role
            for r in rows:
                r["grants"] = grants[r["id"]]
        return rows


def set_grant(
    engine: sa.Engine, user_id: str, site_id: str, role: str, *, by: str = "", now: float | None = None
) -> str | None:
    """Give ``user_id`` ``role`` on ``site_id`` (replacing one held there); the role it had, or None."""
    now = time.time() if now is None else now
    check_site(site_id)
    check_role(role)
    with engine.begin() as conn:
        if user_row(conn, user_id=user_id) is None:
            raise AccountError(f"no user {user_id!r}", "not_found")
        before = grants_of(conn, user_id).get(site_id)
        if before is None:
            conn.execute(
                site_grants.insert().values(
                    user_id=user_id, site_id=site_id, role=role, created_at=now, created_by=by
                )
            )
        else:
            conn.execute(
                site_grants.update()
                .where(site_grants.c.user_id == user_id, site_grants.c.site_id == site_id)
                .values(role=role, created_at=now, created_by=by)
            )
        return before


def revoke_grant(engine: sa.Engine, user_id: str, site_id: str) -> str | None:
    """Remove the user's role on ``site_id``; the role it had, or None if it had none."""
    with engine.begin() as conn:
        before = grants_of(conn, user_id).get(site_id)
        conn.execute(
            site_grants.delete().where(site_grants.c.user_id == user_id, site_grants.c.site_id == site_id)
        )
        return before


def ensure_admin(
    engine: sa.Engine,
    email: str,
    password: str,
    *,
    passwords: PasswordHasher,
    min_length: int = 10,
    now: float | None = None,
) -> tuple[str, bool]:
    """Create, or update, an enabled admin on every site with this password: (user id, created)."""
    now = time.time() if now is None else now
    email = normalize_email(email)
    check_password(password, min_length)
    with engine.connect() as conn:
        existing = user_row(conn, email=email)
    if existing is None:
        row = create_user(engine, email, passwords.hash(password), grants={ALL_SITES: "admin"}, by="setup",
                          now=now)
        return row["id"], True
    new_hash = None if passwords.verify(existing["password_hash"], password) else passwords.hash(password)
    update_user(engine, existing["id"], password_hash=new_hash, disabled=False, now=now)
    set_grant(engine, existing["id"], ALL_SITES, "admin", by="setup", now=now)
    return existing["id"], False


# ---------------------------------------------------------------------- lockout


def record_login_failure(
    engine: sa.Engine,
    user_id: str,
    remote_addr: str | None,
    *,
    now: float,
    window: float,
    threshold: int,
    duration: float,
) -> bool:
    """Count a failed login; lock the account when ``threshold`` failed within ``window``. Locked now?"""
    with engine.begin() as conn:
        conn.execute(login_failures.insert().values(user_id=user_id, ts=now, remote_addr=remote_addr))
        conn.execute(
            login_failures.delete().where(
                login_failures.c.user_id == user_id, login_failures.c.ts <= now - window
            )
        )
        n = conn.execute(
            sa.select(sa.func.count()).select_from(login_failures).where(login_failures.c.user_id == user_id)
        ).scalar_one()
        if n >= threshold:
            conn.execute(users.update().where(users.c.id == user_id).values(locked_until=now + duration))
            conn.execute(login_failures.delete().where(login_failures.c.user_id == user_id))
            return True
        return False


def record_login_success(engine: sa.Engine, user_id: str, *, now: float, new_hash: str | None = None) -> None:
    """Forget failed logins, note the login time, keep a rehashed password."""
    values: dict[str, Any] = {"last_login_at": now, "locked_until": None}
    if new_hash is not None:
        values["password_hash"] = new_hash
    with engine.begin() as conn:
        conn.execute(login_failures.delete().where(login_failures.c.user_id == user_id))
        conn.execute(users.update().where(users.c.id == user_id).values(**values))


# ---------------------------------------------------------------------- sessions (refresh-token families)


def start_session(
    engine: sa.Engine, user_id: str, *, now: float, ttl: float, remote_addr: str | None = None
) -> tuple[str, str]:
    """A new refresh-token family for a login: (refresh token, family id)."""
    family = new_id()
    with engine.begin() as conn:
        token = _issue_refresh(conn, user_id, family, now, ttl, remote_addr)
    return token, family


def _issue_refresh(
    conn: sa.Connection, user_id: str, family: str, now: float, ttl: float, remote_addr: str | None
) -> str:
    token = new_refresh_token()
    conn.execute(
        refresh_tokens.insert().values(
            id=new_id(),
            user_id=user_id,
            family_id=family,
            token_hash=token_hash(token),
            created_at=now,
            expires_at=now + ttl,
            used_at=None,
            revoked_at=None,
            remote_addr=remote_addr,
        )
    )
    return token


@dataclass(frozen=True, slots=True)
class RefreshOutcome:
    """What a refresh did: ``ok`` (with the new token), ``invalid``, or ``reused`` (family revoked)."""

    status: Literal["ok", "invalid", "reused"]
    user_id: str | None = None
    family_id: str | None = None
    token: str | None = None


def rotate_refresh(
    engine: sa.Engine, token: str, *, now: float, ttl: float, remote_addr: str | None = None
) -> RefreshOutcome:
    """Spend a refresh token for a new one of the same family.

    A token already spent means it was stolen or replayed: the whole family
    is revoked, so neither the thief nor the victim can go on with it.
    """
    with engine.begin() as conn:
        row = (
            conn.execute(sa.select(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash(token)))
            .mappings()
            .first()
        )
        if row is None or row["revoked_at"] is not None or row["expires_at"] <= now:
            return RefreshOutcome("invalid")
        spent = (
            row["used_at"] is None
            and conn.execute(
                refresh_tokens.update()
                .where(refresh_tokens.c.id == row["id"], refresh_tokens.c.used_at.is_(None))
                .values(used_at=now)
            ).rowcount
            == 1
        )
        if not spent:
            _revoke_family(conn, row["family_id"], now)
            return RefreshOutcome("reused", row["user_id"], row["family_id"])
        user = user_row(conn, user_id=row["user_id"])
        if user is None or user["disabled"]:
            return RefreshOutcome("invalid")
        new = _issue_refresh(conn, row["user_id"], row["family_id"], now, ttl, remote_addr)
        return RefreshOutcome("ok", row["user_id"], row["family_id"], new)


def _revoke_family(conn: sa.Connection, family_id: str, now: float) -> int:
    return conn.execute(
        refresh_tokens.update()
        .where(refresh_tokens.c.family_id == family_id, refresh_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    ).rowcount


def _revoke_sessions(conn: sa.Connection, user_id: str, now: float, except_family: str | None = None) -> int:
    q = refresh_tokens.update().where(
        refresh_tokens.c.user_id == user_id, refresh_tokens.c.revoked_at.is_(None)
    )
    if except_family is not None:
        q = q.where(refresh_tokens.c.family_id != except_family)
    return conn.execute(q.values(revoked_at=now)).rowcount


def revoke_family(engine: sa.Engine, family_id: str, *, now: float, user_id: str | None = None) -> int:
    """End one session (of ``user_id`` if given): how many tokens were revoked."""
    with engine.begin() as conn:
        if user_id is not None:
            owner = conn.execute(
                sa.select(refresh_tokens.c.user_id).where(refresh_tokens.c.family_id == family_id).limit(1)
            ).scalar()
            if owner != user_id:
                return 0
        return _revoke_family(conn, family_id, now)


def revoke_sessions(engine: sa.Engine, user_id: str, *, now: float, except_family: str | None = None) -> int:
    """End every session of a user but ``except_family``."""
    with engine.begin() as conn:
        return _revoke_sessions(conn, user_id, now, except_family)


def session_alive(conn: sa.Connection, family_id: str) -> bool:
    """Whether a session (refresh family) was neither logged out nor revoked."""
    return (
        conn.execute(
            sa.select(refresh_tokens.c.id)
            .where(refresh_tokens.c.family_id == family_id, refresh_tokens.c.revoked_at.is_(None))
            .limit(1)
        ).first()
        is not None
    )


def refresh_family_of(engine: sa.Engine, token: str) -> tuple[str, str] | None:
    """(user id, family id) of a refresh token, spent or not."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(refresh_tokens.c.user_id, refresh_tokens.c.family_id).where(
                refresh_tokens.c.token_hash == token_hash(token)
            )
        ).first()
    return (row[0], row[1]) if row else None


# ---------------------------------------------------------------------- API tokens


def create_api_token(
    engine: sa.Engine,
    user_id: str,
    name: str,
    *,
    role: str | None = None,
    expires_at: float | None = None,
    now: float | None = None,
) -> tuple[str, dict[str, Any]]:
    """A new API token (the secret, shown once) and its stored row (which keeps only a hash)."""
    now = time.time() if now is None else now
    if role is not None:
        check_role(role)
    token = new_api_token()
    row = {
        "id": new_id(),
        "user_id": user_id,
        "name": name,
        "token_hash": token_hash(token),
        "prefix": token[:12],
        "role": role,
        "created_at": now,
        "expires_at": expires_at,
        "last_used_at": None,
        "revoked_at": None,
    }
    with engine.begin() as conn:
        conn.execute(api_tokens.insert().values(**row))
    return token, row


def list_api_tokens(
    engine: sa.Engine, user_id: str, *, after: tuple[float, str] | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """A user's API tokens, newest first (revoked ones too), after (created_at, id) ``after``."""
    q = (
        sa.select(api_tokens)
        .where(api_tokens.c.user_id == user_id)
        .order_by(api_tokens.c.created_at.desc(), api_tokens.c.id)
        .limit(limit)
    )
    if after is not None:
        q = q.where(
            sa.or_(
                api_tokens.c.created_at < after[0],
                sa.and_(api_tokens.c.created_at == after[0], api_tokens.c.id > after[1]),
            )
        )
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def revoke_api_token(
    engine: sa.Engine, token_id: str, *, now: float, user_id: str | None = None
) -> dict[str, Any] | None:
    """Revoke a token (of ``user_id`` if given); its row, or None if there is no such token."""
    with engine.begin() as conn:
        q = sa.select(api_tokens).where(api_tokens.c.id == token_id)
        if user_id is not None:
            q = q.where(api_tokens.c.user_id == user_id)
        row = conn.execute(q).mappings().first()
        if row is None:
            return None
        if row["revoked_at"] is None:
            conn.execute(api_tokens.update().where(api_tokens.c.id == token_id).values(revoked_at=now))
        return {**row, "revoked_at": row["revoked_at"] or now}


def revoke_api_tokens(engine: sa.Engine, user_id: str, *, now: float) -> int:
    """Revoke every live API token of a user: how many were revoked."""
    with engine.begin() as conn:
        return conn.execute(
            api_tokens.update()
            .where(api_tokens.c.user_id == user_id, api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now)
        ).rowcount


def find_api_token(conn: sa.Connection, token: str, now: float) -> dict[str, Any] | None:
    """The live (not revoked, not expired) token row for a presented API token."""
    row = (
        conn.execute(sa.select(api_tokens).where(api_tokens.c.token_hash == token_hash(token)))
        .mappings()
        .first()
    )
    if (
        row is None
        or row["revoked_at"] is not None
        or (row["expires_at"] is not None and row["expires_at"] <= now)
    ):
        return None
    if row["last_used_at"] is None or now - row["last_used_at"] > 60:  # at most one write a minute
        conn.execute(api_tokens.update().where(api_tokens.c.id == row["id"]).values(last_used_at=now))
    return dict(row)
