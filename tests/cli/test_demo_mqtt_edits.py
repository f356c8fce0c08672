"""`openbms demo` rewrites one setting of the demo folder's site file: the blocks are found where a
user's comments follow their headers too, and the file's line endings are kept."""

from __future__ import annotations

import yaml

from openbms.cli.run import _set_mqtt_setting


def test_comments_after_the_block_headers_do_not_hide_the_mqtt_driver(tmp_path):
    site = tmp_path / "site.yaml"
    site.write_text("site: {id: x}\ndrivers:   # what the building speaks\n  bacnet: {}\n"
                    "  mqtt:  # the demo's sensors\n    enabled: false\n    port: 18830  # ours\n")
    assert _set_mqtt_setting(site, "port", 23456)
    assert _set_mqtt_setting(site, "enabled", True)
    assert site.read_text() == ("site: {id: x}\ndrivers:   # what the building speaks\n  bacnet: {}\n"
                                "  mqtt:  # the demo's sensors\n    enabled: true\n"
                                "    port: 23456  # ours\n")
    assert yaml.safe_load(site.read_text())["drivers"]["mqtt"] == {"enabled": True, "port": 23456}


def test_a_file_with_windows_line_endings_keeps_them(tmp_path):
    site = tmp_path / "site.yaml"
    site.write_bytes(b"site: {id: x}\r\ndrivers:\r\n  mqtt:\r\n    port: 18830\r\n    host: 127.0.0.1\r\n")
    assert _set_mqtt_setting(site, "port", 23456)
    assert site.read_bytes() == (b"site: {id: x}\r\ndrivers:\r\n  mqtt:\r\n    port: 23456\r\n"
                                 b"    host: 127.0.0.1\r\n")
