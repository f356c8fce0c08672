"""The connection settings shared by the MQTT driver, the site's mqtt: section and the CLI."""

from __future__ import annotations

import pytest

from openbms.drivers.mqtt.connect import secret, tls_context
from openbms.errors import DriverError


def test_a_secret_comes_from_an_environment_variable_or_a_file_and_errors_name_its_place(
        tmp_path, monkeypatch):
    monkeypatch.setenv("OPENBMS_TEST_SECRET", " spaced ")
    assert secret({"password_env": "OPENBMS_TEST_SECRET"}, "password", "mqtt") == " spaced "
    (tmp_path / "pw").write_text("s3cret \r\n")
    assert secret({"password_file": str(tmp_path / "pw")}, "password", "mqtt") == "s3cret "
    assert secret({}, "username", "mqtt") is None
    with pytest.raises(DriverError, match=r"^mqtt: password: secrets are not written"):
        secret({"password": "hunter2"}, "password", "mqtt")
    with pytest.raises(DriverError, match=r"^mqtt: username_env and username_file: give one"):
        secret({"username_env": "A", "username_file": "b"}, "username", "mqtt")
    with pytest.raises(DriverError, match=r"^drivers: mqtt: password_file: cannot read "):
        secret({"password_file": str(tmp_path / "missing")}, "password", "drivers: mqtt")
    monkeypatch.delenv("OPENBMS_TEST_UNSET", raising=False)
    with pytest.raises(DriverError, match=r"^--password-env: the environment variable "
                                          "OPENBMS_TEST_UNSET is not set"):
        secret({"password_env": "OPENBMS_TEST_UNSET"}, "password", "",  # the command line's
               lambda key: "--" + key.replace("_", "-"))


def test_tls_settings_make_a_context_or_an_error_naming_the_setting(tmp_path):
    assert tls_context({}, "mqtt") is None
    assert tls_context({"tls": False, "ca_file": None}, "mqtt") is None
    assert tls_context({"tls": True}, "mqtt") is not None
    with pytest.raises(DriverError, match=r"^mqtt: tls: 'yes'; expected true or false"):
        tls_context({"tls": "yes"}, "mqtt")
    with pytest.raises(DriverError, match=r"^mqtt: ca_file: cannot use .*nothing.pem as a CA bundle"):
        tls_context({"ca_file": str(tmp_path / "nothing.pem")}, "mqtt")
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    with pytest.raises(DriverError, match=r"^mqtt: cert_file, key_file: cannot use .*junk.pem"):
        tls_context({"cert_file": str(tmp_path / "junk.pem")}, "mqtt")
    with pytest.raises(DriverError, match=r"^mqtt: key_file: a key without cert_file"):
        tls_context({"key_file": str(tmp_path / "junk.pem")}, "mqtt")
