"""The REST driver against the emulated vendor service on loopback: reads of every field, sign-in
and token refresh, 429 with Retry-After, 5xx retried then unreachable, a slow device alone, writes,
and webhook payloads handed to the change callback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from openbms.drivers.rest.driver import RestDriver, WebhookError
from openbms.errors import DeviceUnreachable, DriverError, WriteRefused
from openbms.model import DriverSettings, parse_binding
from openbms.sim.thermostats import Thermostat, ThermostatService, serve_thermostats, sign

MODES = "off,heat,cool,auto"


class StepClock:
    """A clock whose sleeps return at once and move it forward: waits are counted, not waited."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.slept: list[float] = []

    def now(self) -> float:
        return 1_700_000_000.0 + self.t

    def monotonic(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += max(0.0, seconds)
        await asyncio.sleep(0)


@pytest.fixture
def wall() -> StepClock:
    return StepClock()


@pytest.fixture
async def vendor(wall) -> AsyncIterator[tuple[ThermostatService, str]]:
    service = ThermostatService([Thermostat("T-100", temperature=22.25, setpoint=21.5,
                                            humidity=41.0, mode="cool"),
                                 Thermostat("T-101", temperature=19.0)],
                                api_keys=("key-1",), bearer_tokens=("fixed-token",),
                                token_ttl=100.0, clock=wall.monotonic)
    async with serve_thermostats(service) as url:
        yield service, url


def driver(url: str, wall: StepClock, auth: dict | None = None, **extra) -> RestDriver:
    settings = {"base_url": url, "profile": "thermostat",
                "auth": auth or {"type": "api_key", "key_env": "VENDOR_KEY"},
                "devices": {"thermostat-1": {"id": "T-100"}, "thermostat-2": {"id": "T-101"}},
                **extra}
    return RestDriver(DriverSettings(timeout=5.0, **settings), wall=wall)


@pytest.fixture(autouse=True)
def secrets(monkeypatch):
    monkeypatch.setenv("VENDOR_KEY", "key-1")
    monkeypatch.setenv("VENDOR_SECRET", "s3cret")
    monkeypatch.setenv("VENDOR_TOKEN", "fixed-token")
    monkeypatch.setenv("HOOK_SECRET", "hook-secret")


def b(uri: str):
    return parse_binding(uri)


OAUTH = {"type": "oauth2", "token_url": "/oauth/token", "client_id": "openbms",
         "client_secret_env": "VENDOR_SECRET", "refresh_margin": 10}


async def test_every_status_field_and_a_schedule_entry_are_read_with_one_request_per_resource(
        vendor, wall):
    service, url = vendor
    bindings = [b(f"rest://thermostat-1/status#{f}") for f in
                ("temperature", "setpoint", "humidity", "fan", "unit", "online", "limits.max_setpoint")]
    bindings += [b(f"rest://thermostat-1/status?states={MODES}#mode"),
                 b("rest://thermostat-1/schedule#monday.1.setpoint"),
                 b("rest://thermostat-1/status#nothing")]
    async with driver(url, wall) as d:
        readings = await d.read("thermostat-1", bindings)
    assert [r.value for r in readings[:-1]] == [22.25, 21.5, 41.0, "auto", "C", True, 35.0, 3, 17.0]
    assert readings[-1].status == "fault" and "no field nothing" in readings[-1].error
    assert service.count("/devices/T-100/status") == 1 and service.count("/schedule") == 1


@pytest.mark.parametrize("auth", [{"type": "api_key", "key_env": "VENDOR_KEY"},
                                  {"type": "bearer", "token_env": "VENDOR_TOKEN"}, OAUTH])
async def test_each_sign_in_is_accepted(vendor, wall, auth):
    _, url = vendor
    async with driver(url, wall, auth) as d:
        (r,) = await d.read("thermostat-2", [b("rest://thermostat-2/status#temperature")])
    assert r.value == 19.0


async def test_a_wrong_api_key_is_unreachable_saying_to_check_the_auth(vendor, wall, monkeypatch):
    _, url = vendor
    monkeypatch.setenv("VENDOR_KEY", "wrong")
    async with driver(url, wall) as d:
        with pytest.raises(DeviceUnreachable, match=r"refused the credentials \(401\); check "
                                                    "drivers: rest: auth"):
            await d.read("thermostat-1", [b("rest://thermostat-1/status#temperature")])


async def test_a_missing_secret_fails_the_start_naming_the_variable(vendor, wall, monkeypatch):
    _, url = vendor
    monkeypatch.delenv("VENDOR_KEY")
    with pytest.raises(DriverError, match="drivers: rest: auth: key_env: the environment variable "
                                          "VENDOR_KEY is not set"):
        await driver(url, wall).start()


async def test_the_oauth_token_is_fetched_once_and_renewed_before_it_expires(vendor, wall):
    service, url = vendor
    binding = [b("rest://thermostat-1/status#temperature")]
    async with driver(url, wall, OAUTH) as d:
        await d.read("thermostat-1", binding)
        await d.read("thermostat-1", binding)
        assert service.count("/oauth/token") == 1
        wall.t += 91  # 100 s tokens, renewed 10 s before they expire
        await d.read("thermostat-1", binding)
    assert service.count("/oauth/token") == 2
    assert [s for _, _, s in service.requests] == [200] * 5  # never refused: renewed in time


async def test_a_revoked_token_is_renewed_on_401_and_the_request_sent_again(vendor, wall):
    service, url = vendor
    binding = [b("rest://thermostat-1/status#temperature")]
    async with driver(url, wall, OAUTH) as d:
        await d.read("thermostat-1", binding)
        service.revoke_tokens()
        (r,) = await d.read("thermostat-1", binding)
    assert r.value == 22.25
    assert service.requests[2:] == [("GET", "/devices/T-100/status", 401),
                                    ("POST", "/oauth/token", 200),
                                    ("GET", "/devices/T-100/status", 200)]


async def test_429_waits_retry_after_before_sending_again(vendor, wall):
    service, url = vendor
    service.limit_next(2, retry_after=7)
    async with driver(url, wall) as d:
        (r,) = await d.read("thermostat-1", [b("rest://thermostat-1/status#temperature")])
        assert r.value == 22.25
        assert [s for _, _, s in service.requests] == [429, 429, 200]
        assert d.api.limit.waited >= 14  # each 429 held the host for its 7 s
        assert wall.slept == [7, 7]


async def test_a_5xx_is_retried_and_a_device_still_failing_is_unreachable(vendor, wall):
    service, url = vendor
    binding = [b("rest://thermostat-1/status#temperature")]
    async with driver(url, wall, http_retries=2, backoff=0.5) as d:
        service.fail("T-100", 503, count=1)
        (r,) = await d.read("thermostat-1", binding)
        assert r.value == 22.25
        assert [s for _, _, s in service.requests] == [503, 200]
        service.requests.clear()
        service.fail("T-100", 502)
        with pytest.raises(DeviceUnreachable, match="GET /devices/T-100/status: answered 502"):
            await d.read("thermostat-1", binding)
        assert [s for _, _, s in service.requests] == [502, 502, 502]  # 1 + http_retries
        # Backoff 0.5 s, then 1 s, each ±50 % at random (jitter).
        assert len(wall.slept) == 3
        assert 0.25 <= wall.slept[1] <= 0.75 and 0.5 <= wall.slept[2] <= 1.5
        (r,) = await d.read("thermostat-2", [b("rest://thermostat-2/status#temperature")])
        assert r.value == 19.0  # the other device is not affected


async def test_a_slow_device_does_not_delay_another(vendor, wall):
    service, url = vendor
    gate = service.hold("T-100")
    async with driver(url, wall) as d:
        slow = asyncio.create_task(d.read("thermostat-1", [b("rest://thermostat-1/status#temperature")]))
        (fast,) = await d.read("thermostat-2", [b("rest://thermostat-2/status#temperature")])
        assert fast.value == 19.0
        assert not slow.done()  # the slow device's answer is still awaited
        gate.set()
        (r,) = await slow
    assert r.value == 22.25


async def test_setpoint_and_mode_writes_reach_the_thermostat(vendor, wall):
    service, url = vendor
    async with driver(url, wall) as d:
        await d.write(b("rest://thermostat-1/status#setpoint"), 23.5, 8)
        await d.write(b(f"rest://thermostat-1/status?states={MODES}#mode"), 4, 8)
        await d.write(b("rest://thermostat-2/status?unit=F#setpoint"), 68, None)
        with pytest.raises(WriteRefused, match=r"answered 422: .*outside 5\.\.35"):
            await d.write(b("rest://thermostat-1/status#setpoint"), 60, 8)
        with pytest.raises(WriteRefused, match="no write for humidity"):
            await d.write(b("rest://thermostat-1/status#humidity"), 50, 8)
        with pytest.raises(WriteRefused, match="not a state number 1 to 4"):
            await d.write(b(f"rest://thermostat-1/status?states={MODES}#mode"), 7, 8)
    t1, t2 = service.devices["T-100"], service.devices["T-101"]
    assert (t1.setpoint, t1.mode, t2.setpoint) == (23.5, "auto", 20.0)


async def test_a_webhook_payload_becomes_changes_of_the_subscribed_points(vendor, wall):
    _, url = vendor
    changes = []
    async with driver(url, wall, webhook={"secret_env": "HOOK_SECRET"}) as d:
        temp, mode = b("rest://thermostat-1/status#temperature"), b(f"rest://thermostat-1/status?states={MODES}#mode")
        assert await d.subscribe("thermostat-1", [temp, mode], lambda *c: changes.append(c)) is False
        payload = {"device": "T-100", "status": {"temperature": 24.0, "mode": "heat"}}
        assert d.deliver(payload) == 2
        assert changes == [(temp, 24.0, "ok"), (mode, 2, "ok")]
        assert d.deliver({"device": "T-101", "status": {"temperature": 1.0}}) == 0  # not subscribed
        with pytest.raises(WebhookError, match="no device id at device"):
            d.deliver({"status": {}})
        body = b'{"device": "T-100"}'
        assert d.verify(body, sign(b"hook-secret", body))
        assert not d.verify(body, sign(b"other", body))
        assert not d.verify(body, "")


async def test_devices_polled_at_once_share_one_token_fetch_and_one_renewal(vendor, wall):
    service, url = vendor
    temps = [b("rest://thermostat-1/status#temperature"), b("rest://thermostat-2/status#temperature")]
    async with driver(url, wall, OAUTH) as d:
        await asyncio.gather(*(d.read(t.device, [t]) for t in temps for _ in range(3)))
        assert service.count("/oauth/token") == 1
        service.revoke_tokens()
        readings = await asyncio.gather(*(d.read(t.device, [t]) for t in temps for _ in range(3)))
    assert [r.value for (r,) in readings] == [22.25] * 3 + [19.0] * 3
    assert service.count("/oauth/token") == 2  # the refused requests renewed it once between them


async def test_the_host_rate_limit_spaces_requests_of_every_device(vendor, wall):
    service, url = vendor
    temps = [b("rest://thermostat-1/status#temperature"), b("rest://thermostat-2/status#temperature")]
    start = wall.t
    async with driver(url, wall, rate_limit=4) as d:
        await asyncio.gather(*(d.read(t.device, [t]) for t in temps for _ in range(2)))
    assert service.count("/status") == 4
    # The first at once, then one each 1/4 s: the last could not go before 3/4 s had passed.
    assert (len(wall.slept), wall.t - start) == (3, 0.75)


async def test_a_retry_after_date_is_honoured_and_a_missing_one_waits_a_second():
    import email.utils

    import httpx

    from openbms.drivers.rest.http import retry_after

    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert retry_after(httpx.Response(429, headers={"Retry-After": date}), now) == 30
    assert retry_after(httpx.Response(429), now) == 1
    assert retry_after(httpx.Response(429, headers={"Retry-After": "86400"}), now) == 300
    assert retry_after(httpx.Response(429, headers={"Retry-After": "soon"}), now) == 1


async def test_a_refused_connection_and_a_request_timeout_are_unreachable(vendor, wall):
    service, url = vendor
    binding = [b("rest://thermostat-1/status#temperature")]
    async with driver(url, wall, http_retries=0, request_timeout=0.2) as d:
        service.hold("T-100")
        with pytest.raises(DeviceUnreachable, match=r"GET /devices/T-100/status: no answer within "
                                                    r"0.2 s \(ReadTimeout\)"):
            await d.read("thermostat-1", binding)
    async with driver(url.rsplit(":", 1)[0] + ":1", wall, http_retries=1) as d:
        with pytest.raises(DeviceUnreachable, match="GET /devices/T-100/status: cannot reach it"):
            await d.read("thermostat-1", binding)
        assert len(wall.slept) == 1  # retried once, after a backoff


async def test_refused_credentials_and_a_long_hold_are_the_drivers_problems_until_they_pass(
        vendor, wall, monkeypatch):
    service, url = vendor
    binding = [b("rest://thermostat-1/status#temperature")]
    monkeypatch.setenv("VENDOR_SECRET", "wrong")
    async with driver(url, wall, OAUTH) as d:
        assert d.problems() == []
        with pytest.raises(DeviceUnreachable, match="no access token"):
            await d.read("thermostat-1", binding)
        (problem,) = d.problems()
        assert problem.startswith(f"{url}/oauth/token: no access token (401 ")
        monkeypatch.setenv("VENDOR_SECRET", "s3cret")  # the secret is read at each sign-in
        await d.read("thermostat-1", binding)
        assert d.problems() == []
        service.limit_next(1, retry_after=60)
        await d.read("thermostat-1", binding)  # waited the 60 s (the step clock moved)
        assert d.problems() == []  # the hold has passed
        d.api.limit.hold(60)  # as the 429 did: held from now
        assert d.problems() == [f"{url}: requests wait 60 s (the vendor's Retry-After, or "
                                "requests queued behind drivers: rest: rate_limit)"]


async def test_schedule_entries_are_written_back_into_the_whole_schedule_one_at_a_time(vendor, wall):
    service, url = vendor
    before = service.devices["T-100"].schedule
    async with driver(url, wall) as d:
        await asyncio.gather(d.write(b("rest://thermostat-1/schedule#monday.0.setpoint"), 22.5, 8),
                             d.write(b("rest://thermostat-1/schedule#tuesday.1.time"), "19:30", 8))
        with pytest.raises(WriteRefused, match=r"no field monday\.5\.setpoint in the schedule"):
            await d.write(b("rest://thermostat-1/schedule#monday.5.setpoint"), 20, 8)
    after = service.devices["T-100"].schedule
    assert after["monday"][0] == {"time": "07:00", "setpoint": 22.5}
    assert after["tuesday"][1] == {"time": "19:30", "setpoint": 17.0}  # both kept: not undone
    assert {day: after[day] for day in after if day not in ("monday", "tuesday")} == {
        day: before[day] for day in before if day not in ("monday", "tuesday")}
    assert service.count("/schedule", "PUT") == 2


async def test_a_webhook_secret_gone_after_the_start_refuses_webhooks_instead_of_raising(
        vendor, wall, tmp_path, monkeypatch):
    _, url = vendor
    secret = tmp_path / "hook.secret"
    secret.write_text("hook-secret\n")
    body = b'{"device": "T-100"}'
    async with driver(url, wall, webhook={"secret_file": str(secret)}) as d:
        assert d.verify(body, sign(b"hook-secret", body))
        secret.unlink()
        assert not d.verify(body, sign(b"hook-secret", body))
    monkeypatch.delenv("HOOK_SECRET")
    with pytest.raises(DriverError, match="webhook: secret_env: the environment variable "
                                          "HOOK_SECRET is not set"):
        await driver(url, wall, webhook={"secret_env": "HOOK_SECRET"}).start()
