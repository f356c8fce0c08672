"""REST webhooks through the API: the emulated vendor service pushes a signed change to
``POST /api/v1/sites/{site}/webhooks/rest/{name}`` and it is a sample at once; a bad or missing
signature is refused (401) and audited; the route reaches the driver only through the service
protocol ``Webhooks``.

The route runs in the real API of a real runtime (``Runtime.webhook_receiver``), with its real
REST driver and the emulated vendor service over loopback.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from openbms.api.server import serve
from openbms.config import load_sites
from openbms.db import audit_entries
from openbms.service.protocols import Webhooks
from openbms.service.runtime import Runtime
from openbms.sim.thermostats import Thermostat, ThermostatService, serve_thermostats, sign
from tests.fixtures.waiting import eventually

SITE = """\
site: {{id: hq, timezone: Europe/London}}
drivers:
  rest:
    base_url: {url}
    auth: {{type: api_key, key_env: VENDOR_KEY}}
    webhook: {{secret_env: HOOK_SECRET}}
    poll_interval: 3600
    devices:
      thermostat-1: {{id: T-100}}
equipment:
  - id: tstat-1
    type: thermostat
    points:
      - {{name: temp, unit: degC, binding: "rest://thermostat-1/status#temperature"}}
      - name: mode
        kind: enum
        states: ["off", heat, cool, auto]
        binding: "rest://thermostat-1/status?states=off,heat,cool,auto#mode"
"""


@pytest.fixture
async def running(tmp_path: Path, monkeypatch) -> AsyncIterator[tuple[ThermostatService, Runtime, str]]:
    monkeypatch.setenv("VENDOR_KEY", "key-1")
    monkeypatch.setenv("HOOK_SECRET", "hook-secret")
    service = ThermostatService([Thermostat("T-100", temperature=21.0)], api_keys=("key-1",),
                                webhook_secret=b"hook-secret")
    async with serve_thermostats(service) as url:
        folder = tmp_path / "sites"
        folder.mkdir()
        (folder / "hq.yaml").write_text(SITE.format(url=url))
        runtime = Runtime(load_sites(folder), tmp_path / "data", api=("127.0.0.1", 0),
                                 api_front=serve)
        await runtime.start()
        try:
            yield service, runtime, runtime.api.url
        finally:
            await runtime.stop()


async def test_a_signed_webhook_from_the_vendor_becomes_a_sample_at_once(running):
    service, runtime, api = running
    assert isinstance(runtime, Webhooks)
    samples = []
    runtime.bus.subscribe_callback("hq/tstat-1/*", samples.extend)
    await eventually(lambda: runtime.cache.get("hq/tstat-1/temp") is not None, "the first poll")
    polls = service.count("/status")
    service.webhook_urls.append(f"{api}/api/v1/sites/hq/webhooks/rest/thermostat")
    await service.change("T-100", temperature=24.5, mode="cool")
    await service.drain()
    assert service.webhooks_sent == [(service.webhook_urls[0], 200)]
    await eventually(lambda: any(s.point == "hq/tstat-1/temp" and s.value == 24.5 for s in samples),
                     "the pushed temperature")
    assert any(s.point == "hq/tstat-1/mode" and s.value == 3 for s in samples)  # cool
    assert service.count("/status") == polls  # pushed, not polled (the poll interval is an hour)


@pytest.mark.parametrize("signature", ["sha256=" + "0" * 64, "", "sha256=wrong"])
async def test_a_webhook_with_a_bad_or_no_signature_is_refused_and_audited(running, signature):
    _, runtime, api = running
    samples = []
    runtime.bus.subscribe_callback("hq/tstat-1/*", samples.extend)
    body = json.dumps({"device": "T-100", "status": {"temperature": 99.0}}).encode()
    headers = {"X-Signature": signature} if signature else {}
    async with httpx.AsyncClient(base_url=api) as client:
        r = await client.post("/api/v1/sites/hq/webhooks/rest/rest", content=body, headers=headers)
        assert r.status_code == 401, r.text
        assert "HMAC-SHA256" in r.json()["detail"]
        # The same body signed with another secret is refused too; with the shared one it is taken.
        r = await client.post("/api/v1/sites/hq/webhooks/rest/rest", content=body,
                              headers={"X-Signature": sign(b"guess", body)})
        assert r.status_code == 401
        assert not [s for s in samples if s.value == 99.0]
        r = await client.post("/api/v1/sites/hq/webhooks/rest/rest", content=body,
                              headers={"X-Signature": sign(b"hook-secret", body)})
        assert (r.status_code, r.json()) == (200, {"changed": 1})
    assert [s.value for s in samples if s.point == "hq/tstat-1/temp"][-1] == 99.0
    rows = audit_entries(runtime.state, action="access.denied")
    reasons = {row["details"]["reason"] for row in rows if row["details"]["via"] == "webhook"}
    assert reasons == ({"bad signature"} if signature else {"no signature", "bad signature"})
    assert all(row["details"]["site"] == "hq" for row in rows)


async def test_an_unknown_site_or_receiver_answers_one_404_and_a_bad_payload_400(running):
    _, _, api = running
    body = b'{"status": {}}'
    signed = {"X-Signature": sign(b"hook-secret", body)}
    async with httpx.AsyncClient(base_url=api) as client:
        r1 = await client.post("/api/v1/sites/nowhere/webhooks/rest/rest", content=body, headers=signed)
        r2 = await client.post("/api/v1/sites/hq/webhooks/rest/acme", content=body, headers=signed)
        assert (r1.status_code, r2.status_code) == (404, 404)
        assert r1.json()["detail"].startswith("no webhook receiver at ")
        r = await client.post("/api/v1/sites/hq/webhooks/rest/rest", content=body, headers=signed)
        assert r.status_code == 400 and "no device id at device" in r.json()["detail"]
        bad = b"not json"
        r = await client.post("/api/v1/sites/hq/webhooks/rest/rest", content=bad,
                              headers={"X-Signature": sign(b"hook-secret", bad)})
        assert r.status_code == 400 and "not JSON" in r.json()["detail"]
