"""openbms mqtt sub/discover on a real Mosquitto: decoded plain, JSON and Sparkplug B samples,
malformed messages named and passed over, --count/--seconds, an unreachable broker, and a
discovered site file that `openbms check` takes and the MQTT driver then reads."""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
from pathlib import Path

import yaml
from tests.fixtures.services import MosquittoBroker, free_port, mosquitto_server
from tests.integration.mqtt_helpers import Changes, until
from tests.integration.test_mqtt_sparkplug import metric, payload
from typer.testing import CliRunner

from openbms.cli.main import app
from openbms.config import load_site
from openbms.model import DriverSettings, parse_binding

runner = CliRunner()
T0 = 1_700_000_000.0


def pub(broker: MosquittoBroker, topic: str, message: str | bytes, tmp_path: Path) -> None:
    """Publish a retained message with mosquitto_pub (an independent client)."""
    body = tmp_path / "body"
    body.write_bytes(message.encode() if isinstance(message, str) else message)
    subprocess.run(["mosquitto_pub", "-h", broker.host, "-p", str(broker.port), "-t", topic,
                    "-f", str(body), "-r", "-q", "1"], check=True, timeout=10)


def lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.strip()]


def test_sub_prints_decoded_plain_json_and_sparkplug_samples_and_names_a_bad_message(
        mosquitto, tmp_path):
    pub(mosquitto, "sensors/zone-3/temp", "21.5", tmp_path)
    pub(mosquitto, "sensors/zone-3/occupied", "on", tmp_path)
    pub(mosquitto, "sensors/zone-3/env", json.dumps({"data": {"temp": 22.25, "rh": 41},
                                                     "ts": T0}), tmp_path)
    pub(mosquitto, "sensors/zone-3/bad", '{"data": {"temp": ', tmp_path)
    pub(mosquitto, "spBv1.0/plant/NBIRTH/edge-1", payload(
        metric("bdSeq", None, 8, 0), metric("Supply/Temp", 1, 10, 70.5)), tmp_path)
    result = runner.invoke(app, ["mqtt", "sub", "#", "--broker", f"127.0.0.1:{mosquitto.port}",
                                 "--count", "5"])
    assert result.exit_code == 0, result.output
    # Samples end with their time; the bad message's line ends with what was wrong.
    got = {line if "  error  " in line else line.rsplit("  ", 1)[0] for line in lines(result.output)}
    assert got == {
        "sensors/zone-3/temp  21.5  ok",
        "sensors/zone-3/occupied  true  ok",
        "sensors/zone-3/env#data.temp  22.25  ok",
        "sensors/zone-3/env#data.rh  41  ok",
        "sensors/zone-3/bad  error  json: not JSON (Expecting value: line 1 column 19 (char 18))",
        "spBv1.0/plant/edge-1#bdSeq  0  ok",
        "spBv1.0/plant/edge-1#Supply/Temp  70.5  ok",
    }
    stamped = [line for line in lines(result.output) if "#data." in line or "Supply" in line]
    assert all(line.endswith("2023-11-14T22:13:20.000Z") for line in stamped)  # their own time


def test_sub_with_a_field_and_a_wrong_value_goes_on_to_the_next_message(mosquitto, tmp_path):
    pub(mosquitto, "meters/m1/a", json.dumps({"power": {"kw": "lots"}}), tmp_path)
    pub(mosquitto, "meters/m1/b", json.dumps({"energy": 3}), tmp_path)
    pub(mosquitto, "meters/m1/c", json.dumps({"power": {"kw": 12.5}, "at": "2023-11-14T22:13:20Z"}),
        tmp_path)
    result = runner.invoke(app, ["mqtt", "sub", "meters/m1/+", "-b", f"127.0.0.1:{mosquitto.port}",
                                 "--field", "power.kw", "--time", "at", "-n", "3"])
    assert result.exit_code == 0, result.output
    assert set(lines(result.output)) == {
        "meters/m1/a#power.kw  error  type: field 'power.kw' is \"lots\", expected a number",
        "meters/m1/b#power.kw  error  field: no field 'power.kw'",
        "meters/m1/c#power.kw  12.5  ok  2023-11-14T22:13:20.000Z",
    }
    bad = runner.invoke(app, ["mqtt", "sub", "meters/#", "-p", "json", "--field", "power..kw"])
    assert bad.exit_code == 1
    assert lines(bad.output) == ["error: --field 'power..kw': field='power..kw' is not a field path: "
                                 "expected names separated by dots, with [N] for list items, such "
                                 "as data.temp or readings[0].value"]


def test_sub_ends_after_its_seconds_without_messages(mosquitto):
    result = runner.invoke(app, ["mqtt", "sub", "nobody/#", "-b", f"127.0.0.1:{mosquitto.port}",
                                 "--seconds", "0.3"])
    assert result.exit_code == 0, result.output
    assert result.output == ""


def test_an_unreachable_broker_is_one_line_and_exit_1():
    port = free_port()
    result = runner.invoke(app, ["mqtt", "sub", "#", "--broker", f"127.0.0.1:{port}", "-n", "1"],
                           env={"COLUMNS": "80"})
    assert result.exit_code == 1
    assert len(lines(result.output)) == 1
    assert f"cannot reach the MQTT broker at 127.0.0.1:{port}" in result.output
    assert "--broker HOST:PORT" in result.output
    bad = runner.invoke(app, ["mqtt", "sub", "#", "--broker", "127.0.0.1:x"])
    assert bad.exit_code == 1 and "--broker '127.0.0.1:x': expected host:port" in bad.output


def test_discover_writes_a_site_that_checks_and_the_driver_reads(mosquitto, tmp_path):
    pub(mosquitto, "sensors/zone-3/temp", "21.5", tmp_path)
    pub(mosquitto, "sensors/zone-3/co2", "612", tmp_path)
    pub(mosquitto, "sensors/zone-3/label", "east wing", tmp_path)
    pub(mosquitto, "meters/main", json.dumps({"kw": 42.5, "kwh": 1200, "ts": T0, "ok": True,
                                              "name": "main", "phases": [1, 2, 3], "v.1": 230}),
        tmp_path)
    pub(mosquitto, "spBv1.0/plant/DBIRTH/edge-1/boiler", payload(
        metric("Flow", 3, 3, -5), metric("Running", 4, 11, True)), tmp_path)
    out = tmp_path / "site.yaml"
    result = runner.invoke(app, ["mqtt", "discover", str(out), "--site", "hq", "-b",
                                 f"127.0.0.1:{mosquitto.port}", "--listen", "1"],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "5 topics, 3 equipment, 7 points" in result.output
    assert "skipped 2 text values: meters/main#name, sensors/zone-3/label" in result.output
    assert "skipped 3 values in arrays: meters/main#phases[0]" in result.output
    assert ("skipped 1 topics or fields a binding cannot name (one-level topics, field names with "
            "dots or brackets): meters/main#v.1") in result.output
    doc = yaml.safe_load(out.read_text())
    assert doc["drivers"] == {"mqtt": {"host": "127.0.0.1", "port": mosquitto.port}}
    points = {(e["id"], p["name"]): p for e in doc["equipment"] for p in e["points"]}
    assert {k: p["binding"] for k, p in points.items()} == {
        ("edge-1-boiler", "flow"): "mqtt://spBv1.0/plant/edge-1/boiler#Flow",
        ("edge-1-boiler", "running"): "mqtt://spBv1.0/plant/edge-1/boiler#Running",
        ("meters-main", "kw"): "mqtt://meters/main?field=kw&time=ts",
        ("meters-main", "kwh"): "mqtt://meters/main?field=kwh&time=ts",
        ("meters-main", "ok"): "mqtt://meters/main?field=ok&time=ts",
        ("sensors-zone-3", "temp"): "mqtt://sensors/zone-3/temp",
        ("sensors-zone-3", "co2"): "mqtt://sensors/zone-3/co2",
    }
    assert points[("sensors-zone-3", "co2")]["unit"] == "ppm"
    assert points[("sensors-zone-3", "co2")]["brick"] == "CO2_Sensor"
    assert points[("meters-main", "kwh")]["unit"] == "kWh"
    assert points[("meters-main", "kw")]["brick"] == "Electric_Power_Sensor"
    assert points[("sensors-zone-3", "temp")]["tags"] == ["temp", "sensor"]
    assert points[("edge-1-boiler", "running")]["kind"] == "bool"
    checked = runner.invoke(app, ["check", str(out)])
    assert checked.exit_code == 0, checked.output
    again = runner.invoke(app, ["mqtt", "discover", str(out), "-b", f"127.0.0.1:{mosquitto.port}"])
    assert again.exit_code == 1 and "exists" in again.output

    site = load_site(out)
    asyncio.run(_read_with_the_driver(site, mosquitto))


async def _read_with_the_driver(site, mosquitto):
    from openbms.drivers.mqtt import MQTTDriver

    settings = dict(site.drivers["mqtt"].model_extra or {})
    driver = MQTTDriver(DriverSettings(**settings, timeout=3))
    changes = Changes()
    bindings = [parse_binding(p.binding) for _id, _equip, p in site.points() if p.binding]
    await driver.start()
    try:
        await driver.subscribe("any", bindings, changes)
        await until(lambda: len({u for u, *_ in changes.seen}) == len(bindings),
                    what="every discovered point's retained value")
    finally:
        await driver.stop()
    assert changes.last("mqtt://sensors/zone-3/temp") == (21.5, "ok", None)
    assert changes.last("mqtt://meters/main?field=kw&time=ts") == (42.5, "ok", T0)
    assert changes.last("mqtt://spBv1.0/plant/edge-1/boiler#Flow") == (-5, "ok", T0)
    assert changes.last("mqtt://spBv1.0/plant/edge-1/boiler#Running") == (True, "ok", T0)


def test_a_broker_with_passwords_takes_them_from_the_environment_or_a_file(tmp_path):
    with mosquitto_server(users={"cli": "s3cret"}) as broker:
        pub_with = ["-u", "cli", "-P", "s3cret"]
        subprocess.run(["mosquitto_pub", "-h", broker.host, "-p", str(broker.port), *pub_with,
                        "-t", "sensors/zone-1/co2", "-m", "640", "-r", "-q", "1"],
                       check=True, timeout=10)
        where = ["-b", f"127.0.0.1:{broker.port}"]
        secret = tmp_path / "password"
        secret.write_text("s3cret\n")
        ok = runner.invoke(app, ["mqtt", "sub", "#", *where, "--username-env", "MQTT_USER",
                                 "--password-file", str(secret), "-n", "1"],
                           env={"MQTT_USER": "cli"})
        assert ok.exit_code == 0, ok.output
        assert lines(ok.output)[0].startswith("sensors/zone-1/co2  640  ok  ")
        wrong = runner.invoke(app, ["mqtt", "sub", "#", *where, "--username-env", "MQTT_USER",
                                    "--password-env", "MQTT_PASSWORD", "-n", "1"],
                              env={"MQTT_USER": "cli", "MQTT_PASSWORD": "guess", "COLUMNS": "80"})
        assert wrong.exit_code == 1
        assert len(lines(wrong.output)) == 1
        assert f"the MQTT broker at 127.0.0.1:{broker.port} refused the connection" in wrong.output
        unset = runner.invoke(app, ["mqtt", "sub", "#", *where, "--password-env", "NOT_SET_HERE",
                                    "-n", "1"], env={"NOT_SET_HERE": None})
        assert unset.exit_code == 1
        assert "--password-env NOT_SET_HERE: the environment variable NOT_SET_HERE is not set" \
            in unset.output
        out = tmp_path / "site.yaml"
        found = runner.invoke(app, ["mqtt", "discover", str(out), *where, "--listen", "0.5",
                                    "--username-env", "MQTT_USER", "--password-file", str(secret)],
                              env={"MQTT_USER": "cli"})
        assert found.exit_code == 0, found.output
        assert yaml.safe_load(out.read_text())["drivers"]["mqtt"] == {
            "host": "127.0.0.1", "port": broker.port, "username_env": "MQTT_USER",
            "password_file": str(secret)}
        assert "s3cret" not in out.read_text()


def test_discover_writes_nothing_when_nothing_is_heard(mosquitto, tmp_path):
    out = tmp_path / "site.yaml"
    result = runner.invoke(app, ["mqtt", "discover", str(out), "-b", f"127.0.0.1:{mosquitto.port}",
                                 "--topics", "nobody/#", "--listen", "0.2"], env={"COLUMNS": "300"})
    assert result.exit_code == 1
    assert "nothing to write: no message on nobody/# in 0.2 s" in result.output
    assert not out.exists()


def test_sub_names_sparkplug_data_by_the_aliases_of_the_birth_it_saw(mosquitto, tmp_path):
    pub(mosquitto, "spBv1.0/plant/NBIRTH/edge-1", payload(
        metric("bdSeq", None, 8, 0), metric("Supply/Temp", 1, 10, 70.5)), tmp_path)
    data = tmp_path / "ndata"
    data.write_bytes(payload(metric(alias=1, datatype=10, value=71.25), seq=1))
    done: list[object] = []
    # Two messages: the retained birth, then data by alias alone, published until one arrives.
    worker = threading.Thread(target=lambda: done.append(runner.invoke(
        app, ["mqtt", "sub", "spBv1.0/#", "-b", f"127.0.0.1:{mosquitto.port}", "-n", "2"])))
    worker.start()
    for _ in range(100):  # at most 100 messages: a sub that never ends fails, not hangs
        if not worker.is_alive():
            break
        subprocess.run(["mosquitto_pub", "-h", mosquitto.host, "-p", str(mosquitto.port), "-t",
                        "spBv1.0/plant/NDATA/edge-1", "-f", str(data)], check=True, timeout=10)
        worker.join(0.1)
    worker.join(10)
    result = done[0]
    assert result.exit_code == 0, result.output
    assert [line.rsplit("  ", 1)[0] for line in lines(result.output)] == [
        "spBv1.0/plant/edge-1#bdSeq  0  ok",
        "spBv1.0/plant/edge-1#Supply/Temp  70.5  ok",
        "spBv1.0/plant/edge-1#Supply/Temp  71.25  ok",
    ]


def test_sub_says_so_when_it_loses_the_broker(mosquitto):
    done: list[object] = []
    worker = threading.Thread(target=lambda: done.append(runner.invoke(
        app, ["mqtt", "sub", "#", "-b", f"127.0.0.1:{mosquitto.port}"], env={"COLUMNS": "80"})))
    worker.start()
    for _ in range(200):  # until the broker logs the command's connection
        if "as openbms-cli-" in mosquitto.log.read_text(errors="replace"):
            break
        worker.join(0.05)
    mosquitto.stop()
    worker.join(20)
    result = done[0]
    assert result.exit_code == 1
    assert lines(result.output) == [lines(result.output)[0]]
    assert result.output.startswith(f"error: lost the MQTT broker at 127.0.0.1:{mosquitto.port} (")


def test_sub_goes_on_after_json_nested_too_deeply(mosquitto, tmp_path):
    pub(mosquitto, "bad/deep", "[" * 100_000, tmp_path)
    pub(mosquitto, "good/value", "1", tmp_path)
    result = runner.invoke(app, ["mqtt", "sub", "bad/#", "good/#", "-b",
                                 f"127.0.0.1:{mosquitto.port}", "-n", "2"])
    assert result.exit_code == 0, result.output
    assert {line.rsplit("  ", 1)[0] if " ok " in line else line
            for line in lines(result.output)} == {"bad/deep  error  json: JSON nested too deeply",
                                                  "good/value  1  ok"}


def test_the_commands_explain_themselves():
    for command in ("sub", "discover"):
        result = runner.invoke(app, ["mqtt", command, "--help"], env={"COLUMNS": "120"})
        assert result.exit_code == 0, result.output
        assert "--broker" in result.output and "--password-env" in result.output


def test_sub_refuses_a_sparkplug_time_the_driver_refuses_and_keeps_the_value(mosquitto, tmp_path):
    pub(mosquitto, "spBv1.0/plant/DBIRTH/edge-1/boiler",
        payload(metric("Flow", 3, 10, 2.5, ts=1000)), tmp_path)
    result = runner.invoke(app, ["mqtt", "sub", "spBv1.0/#", "-b", f"127.0.0.1:{mosquitto.port}",
                                 "-n", "1"])
    assert result.exit_code == 0, result.output
    first, second = lines(result.output)
    assert first == ("spBv1.0/plant/edge-1/boiler#Flow  error  time: metric 'Flow': timestamp 1 is "
                     "before 2000 or more than a day ahead of the clock")
    assert second.startswith("spBv1.0/plant/edge-1/boiler#Flow  2.5  ok  ")
    assert not second.endswith("1970-01-01T00:00:01.000Z")  # stamped when it arrived
