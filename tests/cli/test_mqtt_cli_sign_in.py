"""The command line signs in to a broker exactly as the driver does (drivers/mqtt/connect.py):
the same secret from the same file, and the same refusals of what cannot be used, as one line."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.fixtures.services import free_port, mosquitto_server
from typer.testing import CliRunner

from openbms.cli.main import app
from openbms.drivers.mqtt.connect import secret

runner = CliRunner()


def _one_line_error(result, *needles: str) -> None:
    assert result.exit_code == 1, (result.output, result.exception)
    assert not isinstance(result.exception, UnicodeError), result.exception  # not a traceback
    text = [line for line in result.output.splitlines() if line.strip()]
    assert len(text) == 1, result.output
    for needle in needles:
        assert needle in text[0], text[0]


def test_a_password_file_ending_in_a_space_signs_in_with_the_password_the_driver_reads(tmp_path):
    # A password may end in a space: the driver keeps it (only the file's newline is dropped).
    # The command line stripped it and could not sign in where openbms itself can.
    with mosquitto_server(users={"cli": "s3cret "}) as broker:
        subprocess.run(["mosquitto_pub", "-h", broker.host, "-p", str(broker.port), "-u", "cli",
                        "-P", "s3cret ", "-t", "sensors/zone-1/co2", "-m", "640", "-r", "-q", "1"],
                       check=True, timeout=10)
        file = tmp_path / "password"
        file.write_text("s3cret \n")
        assert secret({"password_file": str(file)}, "password", "drivers: mqtt") == "s3cret "
        result = runner.invoke(app, ["mqtt", "sub", "#", "-b", f"127.0.0.1:{broker.port}",
                                     "--username-env", "MQTT_USER", "--password-file", str(file),
                                     "-n", "1"], env={"MQTT_USER": "cli"})
        assert result.exit_code == 0, result.output
        assert result.output.splitlines()[0].startswith("sensors/zone-1/co2  640  ok  ")


def test_a_password_file_that_is_not_text_is_one_line_not_a_traceback(tmp_path):
    file = tmp_path / "password"
    file.write_bytes(b"\xff\xfe\x00secret")
    port = free_port()  # nothing listens: the file is read before any connection
    for args in (["sub", "#", "-n", "1"], ["command", "hq", "read", "-a", "points=ahu-1/sat"]):
        result = runner.invoke(app, ["mqtt", *args, "-b", f"127.0.0.1:{port}", "--password-file",
                                     str(file)], env={"OPENBMS_TOKEN": "obms_x", "COLUMNS": "200"})
        _one_line_error(result, f"--password-file: {file} is not UTF-8 text")


def test_a_secret_given_twice_or_a_key_without_its_certificate_is_refused(tmp_path):
    file = tmp_path / "password"
    file.write_text("from-the-file\n")
    key = tmp_path / "client.key"
    key.write_text("not used\n")
    port = free_port()
    both = runner.invoke(app, ["mqtt", "sub", "#", "-b", f"127.0.0.1:{port}", "--password-env",
                               "MQTT_PASSWORD", "--password-file", str(file), "-n", "1"],
                         env={"MQTT_PASSWORD": "from-the-environment", "COLUMNS": "200"})
    _one_line_error(both, "--password-env MQTT_PASSWORD and --password-file", "not both")
    lone_key = runner.invoke(app, ["mqtt", "command", "hq", "config", "-b", f"127.0.0.1:{port}",
                                   "--key-file", str(key)],
                             env={"OPENBMS_TOKEN": "obms_x", "COLUMNS": "200"})
    _one_line_error(lone_key, "--key-file: a key without --cert-file")


def test_an_unset_variable_names_the_option_and_the_variable(tmp_path: Path):
    result = runner.invoke(app, ["mqtt", "sub", "#", "-b", f"127.0.0.1:{free_port()}",
                                 "--username-env", "NOT_SET_HERE_EITHER", "-n", "1"],
                           env={"NOT_SET_HERE_EITHER": None, "COLUMNS": "200"})
    _one_line_error(result, "--username-env NOT_SET_HERE_EITHER: the environment variable "
                            "NOT_SET_HERE_EITHER is not set")
