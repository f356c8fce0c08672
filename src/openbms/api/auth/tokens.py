"""Access tokens (JWT, one configured HMAC algorithm) and their signing key.

Pure functions and small classes: no database, no request. The clock is
passed in, so expiry is tested without sleeping. The opaque tokens (refresh,
API) are made and kept hashed with the accounts: ``openbms.db.accounts``.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import jwt

__all__ = [
    "AccessClaims",
    "InvalidToken",
    "decode_access_token",
    "encode_access_token",
    "new_secret",
]

_HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})


class InvalidToken(Exception):
    """A token that is malformed, tampered with, expired, of the wrong kind or algorithm."""


def new_secret() -> str:
    """A random signing key (512 bits)."""
    return secrets.token_urlsafe(64)


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """What an access token says: whose it is, its id, its session (refresh family) and times."""

    sub: str
    jti: str
    sid: str | None
    iat: float
    exp: float


def encode_access_token(
    secret: str, algorithm: str, *, sub: str, sid: str | None, now: float, ttl: float, issuer: str = "openbms"
) -> tuple[str, AccessClaims]:
    """A signed access token and its claims."""
    if algorithm not in _HMAC_ALGORITHMS:
        raise ValueError(f"unsupported JWT algorithm {algorithm!r}: use one of {sorted(_HMAC_ALGORITHMS)}")
    claims = AccessClaims(sub=sub, jti=uuid.uuid4().hex, sid=sid, iat=int(now), exp=int(now + ttl))
    payload: dict[str, Any] = {
        "sub": sub,
        "jti": claims.jti,
        "iat": claims.iat,
        "exp": claims.exp,
        "typ": "access",
        "iss": issuer,
    }
    if sid is not None:
        payload["sid"] = sid
    return jwt.encode(payload, secret, algorithm=algorithm), claims


def decode_access_token(
    token: str, secret: str, algorithm: str, *, now: float, issuer: str = "openbms", leeway: float = 0.0
) -> AccessClaims:
    """The claims of a valid access token, else InvalidToken.

    Only ``algorithm`` is accepted (never ``none``, never another one, whatever
    the header says); expiry is checked against ``now``, not the wall clock.
    """
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as err:
        raise InvalidToken("malformed token") from err
    if header.get("alg") != algorithm:
        raise InvalidToken(f"token algorithm {header.get('alg')!r} is not accepted")
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[algorithm],
            issuer=issuer,
            options={
                "require": ["sub", "jti", "iat", "exp", "typ"],
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.InvalidTokenError as err:
        raise InvalidToken("invalid token") from err
    if payload.get("typ") != "access":
        raise InvalidToken("not an access token")
    exp, iat = payload["exp"], payload["iat"]
    if not isinstance(exp, int | float) or not isinstance(iat, int | float):
        raise InvalidToken("invalid token times")
    if now >= exp + leeway:
        raise InvalidToken("token expired")
    if iat > now + 60 + leeway:
        raise InvalidToken("token issued in the future")
    sid = payload.get("sid")
    return AccessClaims(
        sub=str(payload["sub"]),
        jti=str(payload["jti"]),
        sid=str(sid) if sid is not None else None,
        iat=float(iat),
        exp=float(exp),
    )
