"""``openbms central acl`` on a real Mosquitto and PostgreSQL: with the file it writes, an edge's
credentials publish only under its own site's topics (the broker drops another site's), the central
user reads every site through its shared subscription, and what an edge sends of another site's
points under its own topic is refused by the central: only the edge's own samples are stored."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import aiomqtt
import orjson
import pytest
from typer.testing import CliRunner

from openbms.central import IngestWorker
from openbms.cli.main import app
from openbms.drivers.mqtt.ingest import SharedSubscriber
from openbms.model.sample import Sample
from openbms.model.site import SiteConfig
from tests.central.test_ingest import T0, counts, edge_site, edges
from tests.fixtures.services import MosquittoBroker, mosquitto_server
from tests.historian.conftest import fresh_postgres_database
from tests.integration.mqtt_helpers import until

USERS = {"a": "password of a", "b": "password of b", "central": "password of the centre"}


def acl_for(*sites: str) -> str:
    result = CliRunner().invoke(app, ["central", "acl", *(f"--site={s}" for s in sites)])
    assert result.exit_code == 0, result.output
    return result.output


def batch(site: str, point: str, t: float) -> bytes:
    return orjson.dumps({"site": site, "device": "d", "samples": [
        {"point": point, "value": 1.0, "status": "ok", "time": t}]})


def signed_in_site(sid: str, port: int) -> SiteConfig:
    data = edge_site(sid, port).model_dump(mode="json", exclude_defaults=True)
    data["mqtt"].update(username_env=f"TEST_MQTT_USER_{sid}", password_env=f"TEST_MQTT_PASSWORD_{sid}")
    return SiteConfig.model_validate(data)


async def test_an_edge_reaches_only_its_sites_topics_and_the_central_only_keeps_its_points(
        postgres_url, tmp_path, monkeypatch):
    for user, password in USERS.items():
        monkeypatch.setenv(f"TEST_MQTT_USER_{user}", user)
        monkeypatch.setenv(f"TEST_MQTT_PASSWORD_{user}", password)
    url = fresh_postgres_database(postgres_url)
    with mosquitto_server(USERS, acl=acl_for("a", "b")) as broker:
        worker = IngestWorker(url, connect_as_central(broker), flush_interval=0.05)
        await worker.start()
        try:
            assert worker.ingest is not None and worker.historian is not None
            ingest = worker.ingest
            async with edges([signed_in_site("a", broker.port)], tmp_path) as (ea,):
                ea.bus.publish([Sample("a/ahu-1/sat", T0, 12.0)])  # through a's bridge
                async with aiomqtt.Client(broker.host, broker.port, username="a",
                                          password=USERS["a"], identifier="rogue-a") as rogue:
                    # another site's topic: dropped by the broker; b's point under a's: by the centre
                    await rogue.publish("openbms/b/devices/d", batch("b", "b/ahu-1/sat", T0), qos=1)
                    await rogue.publish("openbms/a/devices/d", batch("a", "b/ahu-1/sat", T0), qos=1)
                    await rogue.publish("openbms/a/devices/d", batch("a", "a/meter/kw", T0), qos=1)
                async with aiomqtt.Client(broker.host, broker.port, username="b",
                                          password=USERS["b"], identifier="site-b") as b:
                    await b.publish("openbms/b/devices/d", batch("b", "b/meter/kw", T0), qos=1)
                await until(lambda: ingest.samples == 3 and ingest.refused == 1,
                            what="a's two samples and b's own taken, b's under a's refused")
                await asyncio.sleep(0.2)  # what the broker would have let through would be here now
                await worker.historian.flush()
                taken, refused = ingest.samples, ingest.refused
        finally:
            await worker.stop()
    assert (taken, refused) == (3, 1)
    assert counts(url) == {"a/ahu-1/sat": 1, "a/meter/kw": 1, "b/meter/kw": 1}


def connect_as_central(broker: MosquittoBroker) -> Any:
    def connect(filters: Sequence[str], handler: Any) -> SharedSubscriber:
        return SharedSubscriber({"host": broker.host, "port": broker.port, "timeout": 5,
                                 "username_env": "TEST_MQTT_USER_central",
                                 "password_env": "TEST_MQTT_PASSWORD_central"},
                                filters, handler, client_id="central-1", reconnect_min=0.1)
    return connect


def test_the_acl_names_every_site_and_refuses_what_cannot_be_a_site():
    text = acl_for("b", "a")
    assert text.index("user a\n") < text.index("user b\n") < text.index("user central\n")
    assert "topic write openbms/a/+/+\n" in text and "topic read openbms/#\n" in text
    assert "spBv1.0" not in text
    for bad, why in (("a/b", "expected one topic level"), ("central", "the central user's name"),
                     ("x+", "expected one topic level")):
        result = CliRunner().invoke(app, ["central", "acl", "--site", bad], env={"COLUMNS": "200"})
        assert result.exit_code == 1 and why in result.output, result.output
    result = CliRunner().invoke(app, ["central", "acl"], env={"OPENBMS_HISTORY_URL": "",
                                                               "COLUMNS": "200"})
    assert result.exit_code == 1 and "no site: give --site ID" in result.output


@pytest.mark.parametrize("sparkplug", [False, True])
def test_the_acl_file_is_written_where_asked(tmp_path, sparkplug):
    out = tmp_path / "openbms.acl"
    args = ["central", "acl", "--site", "hq", "--prefix", "acme/eu", "-o", str(out)]
    result = CliRunner().invoke(app, args + (["--sparkplug"] if sparkplug else []))
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "user hq\ntopic write acme/eu/hq/+\n" in text
    assert ("topic read spBv1.0/+/NCMD/hq" in text) is sparkplug
