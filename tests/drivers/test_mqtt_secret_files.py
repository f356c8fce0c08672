"""A password or token file every user of the machine can read is said, once, with what to do."""

from __future__ import annotations

import logging

import pytest

from openbms.drivers.mqtt.connect import secret


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "openbms.drivers.mqtt.connect" and r.levelno == logging.WARNING]


def test_a_world_readable_password_file_is_used_with_a_warning_once(tmp_path, caplog):
    loose, tight = tmp_path / "loose-pw", tmp_path / "tight-pw"
    loose.write_text("s3cret\n")
    loose.chmod(0o644)
    tight.write_text("s3cret\n")
    tight.chmod(0o600)
    caplog.set_level(logging.WARNING)
    assert secret({"password_file": str(tight)}, "password", "mqtt") == "s3cret"
    assert _warnings(caplog) == []
    for _ in range(3):  # the link, the command connection, a reconfiguration: said once
        assert secret({"password_file": str(loose)}, "password", "mqtt") == "s3cret"
    assert _warnings(caplog) == [
        f"mqtt: password_file: every user of this machine may read or change {loose} (mode 644): "
        "chmod 600 it (or 640 with a group of its own)"]
    assert "s3cret" not in caplog.text


def test_a_world_readable_token_file_is_said_too_but_not_a_user_name_file(tmp_path, caplog):
    token, user = tmp_path / "ha-token", tmp_path / "user"
    for f in (token, user):
        f.write_text("value\n")
        f.chmod(0o604)
    caplog.set_level(logging.WARNING)
    secret({"username_file": str(user)}, "username", "mqtt")
    assert _warnings(caplog) == []
    secret({"token_file": str(token)}, "token", "site hq: mqtt: homeassistant")
    assert _warnings(caplog) == [
        f"site hq: mqtt: homeassistant: token_file: every user of this machine may read or change "
        f"{token} (mode 604): chmod 600 it (or 640 with a group of its own)"]


def test_the_command_line_s_reading_says_nothing_its_output_is_its_own(tmp_path, caplog):
    pw = tmp_path / "pw"
    pw.write_text("s3cret")
    pw.chmod(0o644)
    caplog.set_level(logging.WARNING)
    assert secret({"password_file": str(pw)}, "password", "", lambda k: "--" + k) == "s3cret"
    assert _warnings(caplog) == []
