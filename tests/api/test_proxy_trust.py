"""Who the API believes a client is: X-Forwarded-For counts only from configured proxies.

uvicorn believes the header from 127.0.0.1 by default, so any local client (or a
proxy passing the header through) could pick the address that the login rate
limit and the audit see. These tests talk to the API over real HTTP on loopback.
"""

from __future__ import annotations

import httpx
import pytest

from openbms.api import ApiSettings
from openbms.api.settings import Rate
from tests.api.conftest import Api, MakeApi

#: Three logins from one address, then 429; no refill during the test (per_minute 0).
TIGHT = Rate(burst=3, per_minute=0)


async def _failed_logins(client: httpx.AsyncClient, forwarded: list[str]) -> list[int]:
    """One wrong login per spoofed address (each for another account, so only the IP limit counts)."""
    codes = []
    for i, addr in enumerate(forwarded):
        r = await client.post("/api/v1/auth/login", headers={"X-Forwarded-For": addr},
                              json={"email": f"nobody{i}@example.com", "password": "wrong password"})
        codes.append(r.status_code)
    return codes


def _audited_addresses(api: Api) -> set[str | None]:
    return {row["remote_addr"] for row in api.audit("auth.login_failed")}


async def test_a_spoofed_forwarded_for_neither_escapes_the_login_limit_nor_reaches_the_audit(
        make_api: MakeApi):
    api = await make_api(login_rate_ip=TIGHT)
    spoofed = [f"203.0.113.{i}" for i in range(1, 7)]
    codes = await _failed_logins(api.client, spoofed)
    assert codes == [401, 401, 401, 429, 429, 429]
    assert _audited_addresses(api) == {"127.0.0.1"}


async def test_a_trusted_proxy_s_forwarded_for_is_the_client_address(make_api: MakeApi):
    api = await make_api(login_rate_ip=TIGHT, trusted_proxies=("127.0.0.1",))
    clients = [f"203.0.113.{i}" for i in range(1, 7)]
    codes = await _failed_logins(api.client, clients)
    assert codes == [401] * 6  # each client has its own bucket
    assert _audited_addresses(api) == set(clients)
    # The same client through the proxy again: its own bucket runs out, not the proxy's.
    codes = await _failed_logins(api.client, ["198.51.100.7"] * 4)
    assert codes == [401, 401, 401, 429]


async def test_an_address_the_client_put_before_the_proxy_s_is_not_the_client(make_api: MakeApi):
    api = await make_api(trusted_proxies=("127.0.0.1",))
    # A proxy appending to the header: the client wrote the first address, the proxy the last.
    r = await api.client.post("/api/v1/auth/login", headers={"X-Forwarded-For": "10.9.9.9, 198.51.100.7"},
                              json={"email": "someone@example.com", "password": "wrong password"})
    assert r.status_code == 401
    assert _audited_addresses(api) == {"198.51.100.7"}


async def test_only_the_listed_proxies_are_believed(make_api: MakeApi):
    api = await make_api(login_rate_ip=TIGHT, trusted_proxies=("127.0.0.1",))
    # A client on another loopback address is not the proxy: its header is ignored.
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    async with httpx.AsyncClient(base_url=api.url, timeout=30, transport=transport) as other:
        codes = await _failed_logins(other, [f"203.0.113.{i}" for i in range(1, 5)])
    assert codes == [401, 401, 401, 429]
    assert _audited_addresses(api) == {"127.0.0.2"}


async def test_a_network_of_proxies_may_be_trusted(make_api: MakeApi):
    api = await make_api(trusted_proxies=("127.0.0.0/8",))
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    async with httpx.AsyncClient(base_url=api.url, timeout=30, transport=transport) as proxy:
        assert await _failed_logins(proxy, ["192.0.2.1"]) == [401]
    assert _audited_addresses(api) == {"192.0.2.1"}


@pytest.mark.parametrize("bad", ["localhost", "10.0.0.300", "10.0.0.0/40"])
def test_a_trusted_proxy_that_is_not_an_address_is_refused_with_what_was_expected(bad):
    with pytest.raises(ValueError, match=rf"trusted proxy '{bad}' is not an address.*expected"):
        ApiSettings(trusted_proxies=(bad,))


def test_trusted_proxies_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("OPENBMS_TRUSTED_PROXIES", "10.0.0.5, 192.168.0.0/24")
    assert ApiSettings.from_env().trusted_proxies == ("10.0.0.5", "192.168.0.0/24")
    monkeypatch.delenv("OPENBMS_TRUSTED_PROXIES")
    assert ApiSettings.from_env().trusted_proxies == ()
