"""A command's text value at the centre is checked as the edge's arbiter checks it, at once:
text is only ever a state label of an enum point (``Arbiter._checked``: a bool point takes true
or false, a number point a number), so a text that is no label of the point as its edge published
it is a 422 naming ``body.value``, audited (the text cut short) and never queued. The centre
queued any text before, however long (100 000 characters here), for the edge to refuse. On a real
PostgreSQL and Mosquitto, through the centre's API, with no edge online (nothing is sent)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from openbms.api.server import serve
from openbms.central.decode import SiteDocument
from openbms.central.server import CentralServer
from openbms.central.store import CentralStore
from openbms.db.accounts import create_user
from openbms.drivers.mqtt.bridge import site_document
from openbms.model.site import SiteConfig
from tests.api.live import password_hash
from tests.central.test_server import PASSWORD, connect_for, signed_in
from tests.historian.conftest import fresh_postgres_database

T0 = 1_765_000_000.0

SITE = SiteConfig.model_validate({
    "site": {"id": "hq", "timezone": "UTC"},
    "equipment": [{"id": "ahu-1", "type": "ahu", "points": [
        {"name": "mode", "kind": "enum", "states": ["off", "auto", "on"], "writable": True,
         "binding": "sim://ahu-1/mode"},
        {"name": "sp", "unit": "degC", "writable": True, "limits": {"min": 10, "max": 30},
         "binding": "sim://ahu-1/sp"},
        {"name": "enable", "kind": "bool", "writable": True, "binding": "sim://ahu-1/enable"}]}]})


async def test_a_text_value_that_is_no_state_of_the_point_is_a_422_at_the_centre_and_not_queued(
        mosquitto, postgres_url, tmp_path: Path):
    url = fresh_postgres_database(postgres_url)
    store = CentralStore(url)
    await store.start()
    try:
        digest, _payload = site_document(SITE, T0)
        await store.put_site(SiteDocument("hq", digest, T0, SITE.model_dump(
            mode="json", exclude_defaults=True)), T0)
    finally:
        await store.stop()
    server = CentralServer(url, connect_for(mosquitto), tmp_path / "central", api=("127.0.0.1", 0),
                           api_front=serve, historian_options={"flush_interval": 0.05},
                           refresh_every=3600)
    await server.start()
    try:
        runtime = server.runtime
        assert runtime is not None and runtime.api is not None and runtime.state is not None
        hashed = password_hash(PASSWORD)
        create_user(runtime.state, "op@example.com", hashed, grants={"hq": "operator"})
        create_user(runtime.state, "admin@example.com", hashed, grants={"*": "admin"})
        base = "/api/v1/sites/hq/points/ahu-1"
        async with httpx.AsyncClient(base_url=runtime.api.url, timeout=30) as client:
            op = await signed_in(client, "op@example.com")
            admin = await signed_in(client, "admin@example.com")

            async def command(point: str, value: Any) -> httpx.Response:
                return await client.post(f"{base}/{point}/commands", headers=op, json={
                    "value": value, "priority": 12, "reason": "from the dialog"})

            huge = await command("mode", "x" * 100_000)
            unknown = await command("mode", "boost")
            on_number = await command("sp", "21")
            on_bool = await command("enable", "true")
            label = await command("mode", "auto")
            number = await command("sp", 21.5)
            queued = (await client.get("/api/v1/sites/hq/commands", headers=op)).json()["items"]
            audit = (await client.get("/api/v1/audit", headers=admin, params={
                "action": "command.write", "target": "hq/ahu-1/mode"})).json()["items"]
    finally:
        await server.stop()

    for refused in (huge, unknown, on_number, on_bool):
        assert refused.status_code == 422, refused.text[:500]
        problem = refused.json()
        assert problem["type"] == "urn:openbms:problem:command-refused"
        assert [e["loc"] for e in problem["errors"]] == [["body", "value"]]
    assert len(huge.content) < 2000  # the answer says what was expected, not the text sent back
    assert "expected a state 1–3 or one of off, auto, on" in huge.json()["errors"][0]["msg"]
    assert "'boost'" in unknown.json()["errors"][0]["msg"]
    assert "expected a number" in on_number.json()["errors"][0]["msg"]
    assert "expected true or false" in on_bool.json()["errors"][0]["msg"]
    # a label and a number are queued for the edge, as before (its arbiter checks the rest)
    assert (label.status_code, number.status_code) == (201, 201), (label.text[:500], number.text[:500])
    assert sorted((c["point"], c["value"]) for c in queued) == [
        ("hq/ahu-1/mode", "auto"), ("hq/ahu-1/sp", 21.5)]
    # the refusals are audited, the text cut short
    refusals = [a["details"] for a in audit if "refused" in a["details"]]
    assert len(refusals) == 2
    assert all(len(str(d["value"])) <= 80 for d in refusals)
