"""The MQTT driver's settings and bindings: what each refusal says, where and what was expected."""

from __future__ import annotations

import pytest

from openbms.drivers.mqtt import MQTTDriver
from openbms.drivers.mqtt.payload import BadPayload, encode, parse_time, plain_value, point_spec
from openbms.errors import BindingError, DriverError
from openbms.model import DriverSettings, parse_binding


def spec(uri: str, decoders=()):
    return point_spec(parse_binding(uri), decoders)


def test_a_topic_its_device_and_its_decoder_come_from_the_binding_or_the_first_matching_pattern():
    s = spec("mqtt://sensors/zone-3/temp")
    assert (s.topic, s.device, s.payload, s.kind) == ("sensors/zone-3/temp", "sensors", "plain",
                                                      "number")
    decoders = [{"match": "sensors/+/env", "payload": "json", "field": "data.temp", "time": "ts"},
                {"match": "sensors/#", "payload": "json", "field": "other"}]
    s = spec("mqtt://sensors/zone-3/env", decoders)
    assert (s.payload, s.field, s.time) == ("json", ("data", "temp"), ("ts",))
    s = spec("mqtt://sensors/zone-3/env?field=readings[2].v&device=zone-3", decoders)
    assert (s.field, s.device) == (("readings", 2, "v"), "zone-3")
    assert spec("mqtt://sensors/zone-3/env#$.data.rh").field == ("data", "rh")
    s = spec("mqtt://spBv1.0/plant/edge-1/boiler#Supply/Temp")
    assert (s.payload, s.group, s.node, s.sp_device, s.field_text, s.device) == (
        "sparkplug", "plant", "edge-1", "boiler", "Supply/Temp", "plant/edge-1/boiler")
    s = spec("mqtt://a/b?expect=60")
    assert (s.expect, s.offline) == (60.0, 180.0)


@pytest.mark.parametrize(("uri", "message"), [
    ("mqtt://sensors/+/temp", "has a wildcard: a point reads one topic"),
    ("mqtt://a/b?payload=xml", "payload='xml'; expected one of plain, json, sparkplug"),
    ("mqtt://a/b?kind=enum", "kind='enum'; expected one of number, bool, text"),
    ("mqtt://a/b?field=data..temp", "field='data..temp' is not a field path"),
    ("mqtt://a/b?payload=plain&field=x", "field='x' needs payload=json"),
    ("mqtt://a/b?time=ts", "time='ts' needs payload=json"),
    ("mqtt://a/b?expect=soon", "expect='soon': expected seconds"),
    ("mqtt://a/b?expect=60&offline=30", "offline=30 s is before expect=60 s"),
    ("mqtt://a/b?command=a/%2B/set", "a command topic has no wildcards"),
    ("mqtt://a/b?qos=1", "unknown option(s) qos; expected payload, field"),
    ("mqtt://spBv1.0/plant/edge-1", "a Sparkplug B binding is mqtt://spBv1.0/GROUP/NODE"),
])
def test_a_binding_that_cannot_work_is_refused_saying_what_was_expected(uri, message):
    with pytest.raises(BindingError, match=r"^" + uri.replace("?", r"\?").replace("+", r"\+")) as err:
        spec(uri)
    assert message in str(err.value)


def test_plain_and_time_values_and_what_is_refused():
    assert [plain_value(t, "number") for t in ("21.5", "-3", "on", "OFF", " 7 ")] == [
        21.5, -3, True, False, 7]
    assert plain_value("1", "bool") is True
    assert plain_value("warm", "text") == "warm"
    with pytest.raises(BadPayload, match="'warm' is not a number or a boolean"):
        plain_value("warm", "number")
    now = 1_700_000_000.0
    assert parse_time(now - 1, now, "ts") == now - 1
    assert parse_time(int(now * 1000), now, "ts") == now
    assert parse_time("2023-11-14T22:13:20+00:00", now, "ts") == now
    for bad, why in [("2023-11-14T22:13:20", "without a time zone"), ("yesterday", "not ISO 8601"),
                     (12, "before 2000"), (now + 3 * 86400, "more than a day ahead"),
                     ([1], "not a number or ISO 8601")]:
        with pytest.raises(BadPayload, match=why):
            parse_time(bad, now, "ts")


def test_writes_encode_the_value_as_the_binding_reads_it():
    assert encode(spec("mqtt://a/b"), 21.5) == b"21.5"
    assert encode(spec("mqtt://a/b"), True) == b"true"
    assert encode(spec("mqtt://a/b"), None) == b""
    assert encode(spec("mqtt://a/b?field=set.temp"), 20) == b'{"set": {"temp": 20}}'


def settings(**extra) -> DriverSettings:
    return DriverSettings(**extra)


def test_secrets_come_from_the_environment_or_a_file_never_the_site_file(tmp_path, monkeypatch):
    with pytest.raises(DriverError, match="drivers: mqtt: password: secrets are not written in "
                                          "the site file; give password_env"):
        MQTTDriver(settings(password="hunter2"))
    with pytest.raises(DriverError, match="password_env: the environment variable OPENBMS_TEST_PW "
                                          "is not set"):
        MQTTDriver(settings(password_env="OPENBMS_TEST_PW"))
    monkeypatch.setenv("OPENBMS_TEST_PW", "s3cret")
    (tmp_path / "user").write_text("openbms\n")
    d = MQTTDriver(settings(password_env="OPENBMS_TEST_PW", username_file=str(tmp_path / "user")))
    assert (d.username, d.password) == ("openbms", "s3cret")
    with pytest.raises(DriverError, match="password_file: cannot read"):
        MQTTDriver(settings(password_file=str(tmp_path / "missing")))


def test_settings_are_checked_when_the_driver_is_made(tmp_path):
    with pytest.raises(DriverError, match="drivers: mqtt: unknown setting hots; expected host, port"):
        MQTTDriver(settings(hots="broker"))
    with pytest.raises(DriverError, match="drivers: mqtt: port: 'x'; expected a whole number"):
        MQTTDriver(settings(port="x"))
    with pytest.raises(DriverError, match="qos must be 0, 1 or 2"):
        MQTTDriver(settings(qos=3))
    with pytest.raises(DriverError, match=r"decoders\[0\]: expected a mapping with match"):
        MQTTDriver(settings(decoders=[{"payload": "json"}]))
    with pytest.raises(DriverError, match=r"drivers: mqtt: ca_file: cannot use .*no-ca.pem as a CA "
                                          "bundle"):
        MQTTDriver(settings(ca_file=str(tmp_path / "no-ca.pem")))
    assert MQTTDriver(settings(tls=True)).tls is not None
    assert MQTTDriver(settings()).tls is None


def test_bindings_can_be_checked_with_the_sites_decoders_without_the_mqtt_client_library():
    import subprocess
    import sys

    code = ("import sys; from openbms.drivers.mqtt.payload import check_binding; "
            "print('aiomqtt' in sys.modules, 'paho' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
    from openbms.drivers.mqtt.payload import check_binding

    binding = parse_binding("mqtt://sensors/zone-3/env?time=ts")
    with pytest.raises(BindingError, match="time='ts' needs payload=json"):
        check_binding(binding)
    check_binding(binding, {"decoders": [{"match": "sensors/#", "payload": "json", "field": "t"}]})


@pytest.mark.parametrize(("extra", "message"), [
    ({"reconnect_min": 0}, "reconnect_min: 0; expected a number above 0"),
    ({"reconnect_min": -1}, "reconnect_min: -1; expected a number above 0"),
    ({"max_payload": 0}, "max_payload: 0; expected a number above 0"),
    ({"max_age": 0}, "max_age: 0; expected a number above 0"),
    ({"expect": -5}, "expect: -5; expected seconds, 0 or more"),
    ({"offline": -1}, "offline: -1; expected seconds, 0 or more"),
    ({"tls": "false"}, "tls: 'false'; expected true or false"),
    ({"decoders": [{"match": "sensors/#", "feild": "data.temp"}]},
     r"decoders\[0\]: unknown option\(s\) feild; expected payload, field"),
    ({"decoders": [{"match": "a/#/b"}]}, r"decoders\[0\]: match: 'a/#/b' is not an MQTT topic"),
    ({"decoders": [{"match": "a/b+"}]}, r"decoders\[0\]: match: 'a/b\+' is not an MQTT topic"),
])
def test_settings_that_cannot_work_are_refused_saying_what_was_expected(extra, message):
    with pytest.raises(DriverError, match="drivers: mqtt: " + message):
        MQTTDriver(settings(**extra))


def test_a_password_file_loses_its_trailing_newline_only_and_decoders_are_checked_offline(
        tmp_path):
    from openbms.drivers.mqtt.payload import check_binding

    (tmp_path / "pw").write_text("  s3cret \n")
    assert MQTTDriver(settings(password_file=str(tmp_path / "pw"))).password == "  s3cret "
    with pytest.raises(BindingError, match=r"decoders\[0\]: unknown option\(s\) feild"):
        check_binding(parse_binding("mqtt://sensors/x"),
                      {"decoders": [{"match": "sensors/#", "feild": "t", "payload": "json"}]})


def test_a_check_applies_the_driver_s_expect_and_offline_to_each_binding():
    from openbms.drivers.mqtt.payload import check_binding

    with pytest.raises(BindingError, match="offline=30 s is before expect=60 s"):
        check_binding(parse_binding("mqtt://sensors/x"), {"expect": 60, "offline": 30})
    check_binding(parse_binding("mqtt://sensors/x?offline=90"), {"expect": 60, "offline": 30})


def test_a_plain_number_is_ascii_digits_as_a_publisher_writes_them_not_python_literals():
    for text in ("1_000", "\u0661\u0662", "\uff11"):  # Python's int() and float() take these
        with pytest.raises(BadPayload, match="is not a number or a boolean"):
            plain_value(text, "number")
    assert plain_value("-1.5e3", "number") == -1500.0
