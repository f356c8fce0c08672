"""Modbus devices' transport settings, checked without pymodbus: each problem at its key, and
the endpoints devices share (one serial line, one gateway)."""

from __future__ import annotations

import pytest

from openbms.drivers.modbus.settings import Endpoint, read_devices, settings_problems

W = "drivers: modbus: devices:"


def test_a_serial_device_has_a_device_path_and_no_host():
    assert settings_problems({"devices": {"s": {"transport": "rtu", "port": 1, "host": "h"}}}) == [
        (("devices", "s", "port"), f"{W} s: port: 1; expected the serial line's device path, such "
                                   "as /dev/ttyUSB0"),
        (("devices", "s", "host"), f"{W} s: host: a serial device has none; expected port: /dev/… "
                                   "alone, or transport: rtu-over-tcp for a gateway at a host")]
    assert settings_problems({"devices": {"t": {"host": "h", "port": "/dev/ttyUSB0"}}}) == [
        (("devices", "t", "port"), f"{W} t: port: '/dev/ttyUSB0'; expected a whole number (a serial "
                                   "port needs transport: rtu)")]


def test_serial_keys_are_refused_on_a_gateway_and_bounded_on_a_line():
    assert settings_problems({"devices": {"g": {"transport": "rtu-over-tcp", "host": "h",
                                                "parity": "N"}}}) == [
        (("devices", "g", "parity"), f"{W} g: parity is a serial line's setting; expected "
                                     "transport: rtu with it (rtu-over-tcp has none)")]
    problems = settings_problems({"devices": {"s": {"transport": "rtu", "port": "/dev/ttyS0",
                                                    "stopbits": 3, "bytesize": 5, "baud": 1}}})
    assert problems == [
        (("devices", "s", "baud"), f"{W} s: unknown setting baud; expected transport, port, unit, "
                                   "order, gap, max_registers, max_bits, delay, profile, baudrate, "
                                   "parity, stopbits, bytesize"),
        (("devices", "s", "stopbits"), f"{W} s: stopbits: 3; expected 1 to 2"),
        (("devices", "s", "bytesize"), f"{W} s: bytesize: 5; expected 7 to 8")]


def test_one_gateway_port_speaks_one_framing():
    assert settings_problems({"devices": {"a": {"host": "h", "port": 4001},
                                          "b": {"host": "h", "port": 4001,
                                                "transport": "rtu-over-tcp"}}}) == [
        (("devices", "b", "transport"), f"{W} b: transport: rtu-over-tcp; device a at the same "
                                        "h:4001 has tcp, and one port speaks one framing")]


def test_devices_on_one_line_share_its_endpoint_and_a_gateway_its_own():
    devices = read_devices({"devices": {
        "a": {"transport": "RTU", "port": "/dev/ttyUSB0", "baudrate": 9600, "parity": "n", "unit": 2},
        "b": {"transport": "rtu", "port": "/dev/ttyUSB0", "baudrate": 9600, "parity": "N", "unit": 3},
        "c": {"transport": "rtu-over-tcp", "host": "10.0.0.9", "port": 4001},
        "d": {"host": "10.0.0.9"}}})
    assert devices["a"].endpoint == devices["b"].endpoint == Endpoint("rtu", "/dev/ttyUSB0", 0,
                                                                      9600, "N", 1, 8)
    assert (devices["a"].host, devices["a"].gateway) == ("", ("/dev/ttyUSB0", 0))
    assert devices["c"].endpoint == Endpoint("rtu-over-tcp", "10.0.0.9", 4001)
    assert [str(devices[n].endpoint) for n in "acd"] == ["/dev/ttyUSB0", "rtu+tcp://10.0.0.9:4001",
                                                          "10.0.0.9:502"]
    # The specification's defaults for a line that gives none: 19200 baud, 8 bits, even, 1 stop.
    (e,) = read_devices({"devices": {"e": {"transport": "rtu", "port": "/dev/ttyS1"}}}).values()
    assert (e.baudrate, e.bytesize, e.parity, e.stopbits) == (19200, 8, "E", 1)


def test_a_serial_lines_silence_between_frames_follows_its_speed_and_framing():
    line = {"transport": "rtu", "port": "/dev/ttyS0"}
    gaps = {name: d.endpoint.frame_gap for name, d in read_devices({"devices": {
        "8E1-9600": {**line, "baudrate": 9600},
        "8N2-9600": {**line, "port": "/dev/ttyS1", "baudrate": 9600, "parity": "N", "stopbits": 2},
        "fast": {**line, "port": "/dev/ttyS2", "baudrate": 115200},
        "gateway": {"transport": "rtu-over-tcp", "host": "h"}}}).items()}
    assert gaps["8E1-9600"] == gaps["8N2-9600"] == pytest.approx(3.5 * 11 / 9600)  # 4.01 ms
    assert gaps["fast"] == 0.00175  # the specification's fixed 1.75 ms above 19200 baud
    assert gaps["gateway"] == 0.0  # the gateway keeps its line's silences itself
