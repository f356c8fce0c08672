"""The REST driver's HTTP side: one httpx client, its sign-in, the host's rate limit, retries.

::

    request(method, path, body)
      └─ attempt (1 + http_retries, plus one more after a 401 and after each 429):
           pace ── wait for the host's next free slot (rate_limit; a 429's Retry-After holds
           │       every request to the host, not only the one refused)
           sign ── X-API-Key | Authorization: Bearer (a fixed token, or an OAuth2 client-credentials
           │       token fetched when missing and again refresh_margin seconds before it expires)
           send ── 2xx/3xx/4xx: the answer (the caller decides) │ 401: forget the token, sign in again
                   429: wait Retry-After │ 5xx, timeout, transport error: back off (doubling, ±50 %)
      └─ still failing: DeviceUnreachable saying what the last attempt met

Waiting uses a ``Clock`` of its own (real time by default), not the
runtime's: a vendor's rate limits and token lifetimes are in the wall's
seconds even when the demo's clock runs faster. Secrets are read here, from
``KEY_env``/``KEY_file``, never from the site file.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from openbms.drivers.rest.settings import PLACE, RestConfig
from openbms.errors import DeviceUnreachable, DriverError
from openbms.runtime.clock import Clock

__all__ = ["Api", "RateLimit", "secret"]

log = logging.getLogger(__name__)

#: Longest a Retry-After is honoured for; a longer one is capped (and the device goes offline).
MAX_RETRY_AFTER = 300.0


def secret(block: Mapping[str, Any], key: str, where: str) -> str | None:
    """The secret ``key`` from ``KEY_env`` (a variable's name) or ``KEY_file``; None when neither."""
    env, path = block.get(f"{key}_env"), block.get(f"{key}_file")
    if env:
        value = os.environ.get(str(env))
        if value is None:
            raise DriverError(f"{PLACE}: {where}: {key}_env: the environment variable {env} is not set")
        return value
    if path:
        try:
            return Path(str(path)).read_text(encoding="utf-8").strip()
        except OSError as err:
            raise DriverError(f"{PLACE}: {where}: {key}_file: cannot read {path}: {err.strerror}"
                              ) from None
        except UnicodeDecodeError:
            raise DriverError(f"{PLACE}: {where}: {key}_file: {path} is not UTF-8 text") from None
    return None


def retry_after(answer: httpx.Response, now: float) -> float:
    """Seconds a 429 asks to wait: Retry-After in seconds or as a date (1 s when absent)."""
    text = answer.headers.get("retry-after", "").strip()
    if not text:
        return 1.0
    try:
        wait = float(text)
    except ValueError:
        try:
            wait = email.utils.parsedate_to_datetime(text).timestamp() - now
        except (TypeError, ValueError):
            return 1.0
    return min(MAX_RETRY_AFTER, max(0.0, wait))


class RateLimit:
    """A host's request pace: at most ``rate`` requests a second, and none while a 429 holds."""

    def __init__(self, rate: float, clock: Clock) -> None:
        self.gap = 1.0 / rate if rate > 0 else 0.0
        self.clock = clock
        self.next_at = float("-inf")  # clock.monotonic() of the next free slot
        self.waited = 0.0  # seconds requests spent waiting, in total (for tests and health)

    async def slot(self) -> None:
        """Wait for the next free slot; the slot is taken before waiting, so callers queue fairly."""
        now = self.clock.monotonic()
        at = max(now, self.next_at)
        self.next_at = at + self.gap
        if at > now:
            self.waited += at - now
            await self.clock.sleep(at - now)

    def hold(self, seconds: float) -> None:
        """No request before ``seconds`` from now (a 429's Retry-After)."""
        self.next_at = max(self.next_at, self.clock.monotonic() + seconds)


class _Token:
    """An OAuth2 client-credentials access token and when to fetch the next one; one fetch at a
    time, so devices polled at once (or refused at once) share it."""

    def __init__(self) -> None:
        self.value: str | None = None
        self.renew_at = float("-inf")
        self.lock = asyncio.Lock()

    def forget(self, refused: str | None) -> None:
        """The API refused ``refused``: fetch another, unless another request did already."""
        if refused is not None and refused == self.value:
            self.value = None


class Api:
    """Requests to one vendor API: signed, paced, retried; errors translated to openbms's."""

    def __init__(self, config: RestConfig, timeout: float, clock: Clock,
                 rng: random.Random | None = None) -> None:
        self.config = config
        self.clock = clock
        self.rng = rng or random.Random()
        self.limit = RateLimit(config.rate_limit, clock)
        self.token = _Token()
        self.client = httpx.AsyncClient(
            base_url=config.base_url, timeout=config.request_timeout or timeout,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
            follow_redirects=False)
        auth = dict(config.auth.options or {})
        self._auth = auth
        self._fixed: dict[str, str] = {}  # headers of api_key and bearer, read once at start
        self.token_fetches = 0
        #: Why the API last refused our credentials (None: it has not, or answered since).
        self.refused: str | None = None

    async def start(self) -> None:
        """Read the fixed credentials (a missing secret is an error now, not at the first poll)."""
        kind, auth = self.config.auth.type, self._auth
        if kind == "api_key":
            self._fixed = {str(auth.get("header") or "X-API-Key"): secret(auth, "key", "auth") or ""}
        elif kind == "bearer":
            self._fixed = {"Authorization": f"Bearer {secret(auth, 'token', 'auth')}"}
        elif kind == "oauth2":
            secret(auth, "client_secret", "auth")

    async def close(self) -> None:
        """Close the connections."""
        await self.client.aclose()

    def _stale(self) -> bool:
        return self.token.value is None or self.clock.monotonic() >= self.token.renew_at

    async def _headers(self) -> dict[str, str]:
        if self.config.auth.type != "oauth2":
            return self._fixed
        if self._stale():
            async with self.token.lock:
                if self._stale():  # not fetched meanwhile by a request that held the lock
                    await self._fetch_token()
        return {"Authorization": f"Bearer {self.token.value}"}

    async def _fetch_token(self) -> None:
        auth = self._auth
        form = {"grant_type": "client_credentials", "client_id": str(auth["client_id"]),
                "client_secret": secret(auth, "client_secret", "auth") or ""}
        if auth.get("scope"):
            form["scope"] = str(auth["scope"])
        await self.limit.slot()
        self.token_fetches += 1
        try:
            answer = await self.client.post(str(auth["token_url"]), data=form)
        except httpx.TimeoutException as err:
            raise DeviceUnreachable(f"{self.config.base_url}: no answer from the token endpoint "
                                    f"({type(err).__name__})") from err
        except httpx.HTTPError as err:
            raise DeviceUnreachable(f"{self.config.base_url}: cannot reach the token endpoint: "
                                    f"{err or type(err).__name__}") from err
        if answer.status_code == 429:
            self.limit.hold(retry_after(answer, self.clock.now()))
            raise DeviceUnreachable(f"{self.config.base_url}{auth['token_url']}: rate limited (429)")
        try:
            body = answer.json()
            token, ttl = body["access_token"], float(body.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError):
            token, ttl = None, 0.0
        if answer.status_code != 200 or not isinstance(token, str):
            self.refused = (f"{self.config.base_url}{auth['token_url']}: no access token "
                            f"({answer.status_code} {answer.text[:120]!r}); check {PLACE}: auth: "
                            "client_id and client_secret")
            raise DeviceUnreachable(self.refused)
        margin = float(auth.get("refresh_margin", min(60.0, ttl / 10)))
        self.token.value = token
        self.token.renew_at = self.clock.monotonic() + max(0.0, ttl - margin)

    async def request(self, method: str, path: str, body: Any = None) -> httpx.Response:
        """Send one request, retried as the module's drawing says; any answer but 401, 429 and 5xx
        is returned; DeviceUnreachable when none came."""
        retries = self.config.http_retries
        failures = 0
        renewed = False
        held = 0
        while True:
            await self.limit.slot()
            headers = await self._headers()
            used = self.token.value
            try:
                answer = await self.client.request(method, path, json=body, headers=headers)
            except httpx.TimeoutException as err:
                error = f"no answer within {self.client.timeout.read:g} s ({type(err).__name__})"
            except httpx.HTTPError as err:
                error = f"cannot reach it: {err or type(err).__name__}"
            else:
                status = answer.status_code
                if status == 401 and self.config.auth.type == "oauth2" and not renewed:
                    renewed = True
                    self.token.forget(used)  # signed in again before the next attempt
                    continue
                if status == 401:
                    self.refused = (f"{self.config.base_url}: the API refused the credentials (401); "
                                    f"check {PLACE}: auth")
                    raise DeviceUnreachable(f"{method} {path}: the API refused the credentials "
                                            f"(401); check {PLACE}: auth")
                self.refused = None
                if status == 429 and held <= retries:
                    held += 1
                    self.limit.hold(retry_after(answer, self.clock.now()))
                    continue
                if status < 500 and status != 429:
                    return answer
                error = f"answered {status} {answer.reason_phrase}".rstrip()
            failures += 1
            if failures > retries:
                raise DeviceUnreachable(f"{method} {path}: {error}")
            wait = self.config.backoff * 2 ** (failures - 1) * self.rng.uniform(0.5, 1.5)
            await self.clock.sleep(wait)
