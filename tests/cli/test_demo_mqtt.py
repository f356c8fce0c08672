"""`openbms demo`'s MQTT decisions without starting a demo: the site file's port and switch rewritten in
place, and the MQTT points left unbound when there is no broker."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from openbms.cli.run import _demo_mqtt, _set_mqtt_setting, _without_mqtt
from openbms.config import load_sites

DEMO = Path(__file__).parents[2] / "src" / "openbms" / "examples" / "demo"


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "demo"
    shutil.copytree(DEMO, root)
    return root


def test_a_setting_is_changed_in_the_mqtt_block_only_and_the_rest_of_the_file_is_kept(tmp_path):
    root = _copy(tmp_path)
    site = root / "site.yaml"
    before = site.read_text()
    assert _set_mqtt_setting(site, "port", 23456)
    assert _set_mqtt_setting(site, "enabled", True)
    after = site.read_text()
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b]
    assert changed == [("    enabled: false", "    enabled: true"), ("    port: 18830", "    port: 23456")]
    mqtt = yaml.safe_load(after)["drivers"]["mqtt"]
    assert mqtt["port"] == 23456 and mqtt["enabled"] is True
    assert not _set_mqtt_setting(site, "keepalive", 30)  # no such line: nothing written
    assert site.read_text() == after


def test_a_port_line_elsewhere_is_not_the_mqtt_drivers(tmp_path):
    site = tmp_path / "site.yaml"
    site.write_text("site: {id: x}\ndrivers:\n  other:\n    port: 1\n  mqtt:\n    host: 127.0.0.1\n"
                    "equipment:\n- id: a\n  port: 2\n")
    assert not _set_mqtt_setting(site, "port", 9)
    site.write_text("drivers:\n  mqtt:\n    port: 1883   # the broker\n  other:\n    port: 1\n")
    assert _set_mqtt_setting(site, "port", 9)
    assert site.read_text() == "drivers:\n  mqtt:\n    port: 9   # the broker\n  other:\n    port: 1\n"


def test_without_a_broker_the_mqtt_driver_is_disabled_in_memory_only(tmp_path, monkeypatch, capsys):
    root = _copy(tmp_path)
    _set_mqtt_setting(root / "site.yaml", "enabled", True)
    text = (root / "site.yaml").read_text()
    sites = load_sites(root)
    assert sites[0].drivers["mqtt"].enabled
    assert _without_mqtt(sites)[0].drivers["mqtt"].enabled is False
    monkeypatch.setenv("OPENBMS_MOSQUITTO", str(tmp_path / "none"))
    run, mqtt = _demo_mqtt(root, sites, created=False)
    assert mqtt is None and run[0].drivers["mqtt"].enabled is False
    assert len(run[0].points()) == len(sites[0].points())  # the points stay, unbound
    assert "mosquitto is not installed" in capsys.readouterr().out
    assert (root / "site.yaml").read_text() == text  # the file is not touched


def test_a_demo_folder_whose_mqtt_driver_is_off_stays_off(tmp_path, monkeypatch, capsys):
    root = _copy(tmp_path)  # as shipped: enabled: false, and the folder not new
    fake = tmp_path / "mosquitto"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("OPENBMS_MOSQUITTO", str(fake))
    text = (root / "site.yaml").read_text()
    run, mqtt = _demo_mqtt(root, load_sites(root), created=False)
    assert mqtt is None and run[0].drivers["mqtt"].enabled is False
    assert "enabled: false" in capsys.readouterr().out
    assert (root / "site.yaml").read_text() == text
    run, mqtt = _demo_mqtt(root, load_sites(root), created=True)  # a new copy: switched on
    assert mqtt is not None and mqtt.broker is not None and run[0].drivers["mqtt"].enabled is True
    assert mqtt.broker.program == fake
    assert yaml.safe_load((root / "site.yaml").read_text())["drivers"]["mqtt"]["port"] == mqtt.broker.port
