"""Site configurations at the centre, on a real Mosquitto and PostgreSQL: an edge's bridge publishes
its configuration (retained, versioned) at start and when it changes; the centre keeps each site's
newest; a worker started later gets it from the broker; an older version or another site's
configuration under a site's topic replaces nothing; ``openbms central sites`` lists them."""

from __future__ import annotations

import asyncio

import aiomqtt
import orjson
from typer.testing import CliRunner

from openbms.cli.main import app
from openbms.drivers.mqtt.bridge import site_document
from openbms.model.site import SiteConfig
from tests.central.test_ingest import edge_site, edges, rows, workers
from tests.historian.conftest import fresh_postgres_database
from tests.integration.mqtt_helpers import until


def with_config(cfg: SiteConfig, **changes: object) -> SiteConfig:
    data = cfg.model_dump(mode="json", exclude_defaults=True)
    data["mqtt"]["bridge"]["config"] = True
    data.update(changes)
    return SiteConfig.model_validate(data)


def stored(url: str) -> dict[str, tuple[str, float]]:
    return {site: (digest, version) for site, digest, version in
            rows(url, "SELECT site, hash, version FROM central_sites")}


async def test_the_centre_keeps_each_sites_newest_configuration(mosquitto, postgres_url, tmp_path):
    url = fresh_postgres_database(postgres_url)
    late_url = fresh_postgres_database(postgres_url)
    a = with_config(edge_site("a", mosquitto.port))
    b = with_config(edge_site("b", mosquitto.port), site={"id": "b", "name": "Depot",
                                                           "timezone": "Europe/Paris"})
    async with workers(mosquitto, url) as ws, edges([a, b], tmp_path) as (ea, _eb):
        await until(lambda: set(stored(url)) == {"a", "b"}, what="both sites' configurations")
        first_hash, first_version = stored(url)["a"]
        # a new point at site a: the bridge follows it and announces the new configuration
        grown = a.model_dump(mode="json", exclude_defaults=True)
        grown["equipment"][0]["points"].append({"name": "rat", "unit": "degC"})
        ea.bridges["a"].follow(SiteConfig.model_validate(grown))
        await until(lambda: stored(url)["a"][0] != first_hash, what="site a's new configuration")
        assert ws[0].store is not None
        kept = {s.site: s for s in await ws[0].store.sites()}
        # a worker started now, on another database, gets the retained configurations
        async with workers(mosquitto, late_url, n=1, name="late"):
            await until(lambda: set(stored(late_url)) == {"a", "b"}, what="retained configurations")
    new_hash, new_version = stored(url)["a"]
    assert new_hash == site_document(SiteConfig.model_validate(grown), 0.0)[0]
    assert new_version > first_version
    back = SiteConfig.model_validate(kept["a"].config)
    assert [pid for pid, _e, _p in back.points()] == [
        "a/ahu-1/sat", "a/ahu-1/fan", "a/ahu-1/rat", "a/meter/kw", "a/meter/mode"]
    assert SiteConfig.model_validate(kept["b"].config).site.name == "Depot"
    assert stored(late_url)["a"][0] == new_hash

    result = await asyncio.to_thread(  # the command runs its own event loop
        CliRunner().invoke, app, ["central", "sites"], env={"OPENBMS_HISTORY_URL": url,
                                                            "COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert [line.split("\t")[:3] for line in lines] == [["a", "", "5 points"],
                                                        ["b", "Depot", "4 points"]]


async def test_an_older_version_or_another_sites_configuration_replaces_nothing(
        mosquitto, postgres_url):
    url = fresh_postgres_database(postgres_url)
    a = edge_site("a", mosquitto.port)
    digest, payload = site_document(a, 1_765_000_100.0)
    other_digest, old = site_document(edge_site("a", 1884), 1_765_000_000.0)  # older, other content
    _, foreign = site_document(edge_site("b", mosquitto.port), 1_765_000_200.0)
    async with workers(mosquitto, url, n=1) as (w,):
        assert w.ingest is not None
        ingest = w.ingest
        async with aiomqtt.Client(mosquitto.host, mosquitto.port, identifier="test-edge") as client:
            await client.publish("openbms/a/config", payload, qos=1)
            await until(lambda: stored(url).get("a", ("",))[0] == digest, what="the configuration")
            await client.publish("openbms/a/config", old, qos=1)
            await client.publish("openbms/a/config", foreign, qos=1)
            await client.publish("openbms/a/config", orjson.dumps({"site": "a"}), qos=1)
            await until(lambda: ingest.bad["site"] == 1 and ingest.bad["shape"] == 1,
                        what="two configurations refused")
            await ingest.flush()
    assert other_digest != digest
    assert stored(url) == {"a": (digest, 1_765_000_100.0)}
    assert ingest.configs == 1
