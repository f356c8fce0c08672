"""Modbus bindings, settings and read plans: pure, no server (the driver's tests use one)."""

from __future__ import annotations

import pytest

from openbms.drivers.modbus.plan import Breaks, plan
from openbms.drivers.modbus.points import ORDERS, check_binding, decode, encode, point_spec
from openbms.drivers.modbus.settings import read_devices, settings_problems
from openbms.errors import BindingError
from openbms.model.binding import parse_binding


def spec(uri: str, order: str = "ABCD"):
    return point_spec(parse_binding(uri), order)


# float32 1.0 is 3F 80 00 00; float64 1.0 is 3FF0 0000 0000 0000 (IEEE 754).
@pytest.mark.parametrize(("order", "f32", "f64"), [
    ("ABCD", [0x3F80, 0x0000], [0x3FF0, 0, 0, 0]),
    ("CDAB", [0x0000, 0x3F80], [0, 0, 0, 0x3FF0]),
    ("BADC", [0x803F, 0x0000], [0xF03F, 0, 0, 0]),
    ("DCBA", [0x0000, 0x803F], [0, 0, 0, 0xF03F]),
])
def test_the_four_orders_lay_out_1_0_as_the_standard_says(order, f32, f64):
    s32, s64 = spec(f"modbus://m/holding/0?type=float32&order={order}"), spec(
        f"modbus://m/holding/0?type=float64&order={order}")
    assert encode(s32, 1.0) == f32 and decode(s32, f32) == 1.0
    assert encode(s64, 1.0) == f64 and decode(s64, f64) == 1.0


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize(("kind", "value"), [("int16", -2), ("uint16", 65535), ("int32", -2**31),
                                             ("uint32", 2**32 - 1), ("int64", -2**63),
                                             ("uint64", 2**64 - 1), ("float32", -0.5),
                                             ("float64", 1e300)])
def test_every_type_round_trips_in_every_order(kind, value, order):
    s = spec(f"modbus://m/holding/0?type={kind}&order={order}")
    words = encode(s, value)
    assert len(words) == s.size and all(0 <= w <= 0xFFFF for w in words)
    assert decode(s, words) == value


def test_bits_strings_scale_and_offset():
    assert [decode(spec(f"modbus://m/holding/0?bit={b}"), [0b1000_0000_0000_0010]) for b in
            (0, 1, 15)] == [False, True, True]
    s = spec("modbus://m/input/0?type=string&count=3")
    assert decode(s, [0x4142, 0x4300, 0x4400]) == "ABC"  # ends at its first NUL
    assert encode(s, "AB") == [0x4142, 0, 0]
    assert decode(spec("modbus://m/input/0?type=string&count=2&order=BADC"), [0x4241, 0x4443]) == "ABCD"
    assert decode(spec("modbus://m/input/0?scale=0.1"), [2301]) == 230.1
    assert decode(spec("modbus://m/input/0?type=int16&scale=0.5&offset=-20"), [0xFFFE]) == -21.0
    enum = decode(spec("modbus://m/input/0?offset=1"), [2])
    assert (enum, type(enum)) == (3, int)
    assert encode(spec("modbus://m/holding/0?type=int16&scale=0.1"), 21.5) == [215]
    assert encode(spec("modbus://m/holding/0?scale=0.5&offset=-20"), -10) == [20]


@pytest.mark.parametrize(("uri", "message"), [
    ("modbus://m/holdings/0", "unknown table 'holdings'; expected modbus://DEVICE/TABLE/ADDRESS with "
                              "TABLE one of coil, discrete, input, holding"),
    ("modbus://m/holding/40001x", "address '40001x'; expected a 0-based register address from 0 to "
                                  "65535"),
    ("modbus://m/holding/70000", "address '70000'"),
    ("modbus://m/holding/0?type=float", "type='float'; expected one of bool, int16"),
    ("modbus://m/coil/0?type=int16", "a coil holds one bit: type must be bool, not int16"),
    ("modbus://m/holding/0?order=ACBD", "order='ACBD'; expected one of ABCD, CDAB, BADC, DCBA"),
    ("modbus://m/holding/0?bit=16", "bit='16'; expected a whole number from 0 to 15"),
    ("modbus://m/holding/0?bit=1&type=int16", "bit= reads a bool, not int16"),
    ("modbus://m/coil/0?bit=1", "bit= selects a bit of a register; a coil is a bit already"),
    ("modbus://m/holding/0?type=string", "a string needs count=N"),
    ("modbus://m/holding/0?type=string&count=126", "count='126'; expected a whole number from 1 to 125"),
    ("modbus://m/holding/0?type=int32&count=2", "count= is the length of a string; an int32 takes 2"),
    ("modbus://m/holding/65535?type=float32", "2 registers from 65535 run past 65535"),
    ("modbus://m/holding/0?scale=abc", "scale='abc'; expected a finite number such as scale=0.1"),
    ("modbus://m/holding/0?scale=0", "scale=0 would read every value as the offset"),
    ("modbus://m/holding/0?offset=nan", "offset='nan'; expected a finite number"),
    ("modbus://m/coil/0?scale=2", "scale= applies to numbers, not to a bool"),
    ("modbus://m/holding/0?unit=2", "unknown option 'unit'; expected type, order, scale, offset, bit, "
                                    "count"),
])
def test_a_bad_binding_says_what_is_wrong_and_what_is_expected(uri, message):
    with pytest.raises(BindingError) as err:
        spec(uri)
    assert str(err.value).startswith(f"binding {uri!r}: ")
    assert message in str(err.value)


def test_a_value_that_does_not_fit_is_refused_before_anything_is_sent():
    with pytest.raises(ValueError, match="does not fit an int16"):
        encode(spec("modbus://m/holding/0?type=int16"), 40000)
    with pytest.raises(ValueError, match="does not fit a uint16"):
        encode(spec("modbus://m/holding/0?scale=0.1"), -1)
    with pytest.raises(ValueError, match="do not fit 2 registers"):
        encode(spec("modbus://m/holding/0?type=string&count=2"), "ABCDE")
    with pytest.raises(ValueError, match="takes a number"):
        encode(spec("modbus://m/holding/0"), "on")


def test_check_binding_wants_the_device_under_devices_and_uses_its_order():
    settings = {"devices": {"m": {"host": "h", "order": "cdab"}}}
    check_binding(parse_binding("modbus://m/holding/0?type=float32"), settings)
    with pytest.raises(BindingError, match=r"no Modbus device 'x'; expected one under drivers: "
                                           r"modbus: devices: \(known: m\)"):
        check_binding(parse_binding("modbus://x/holding/0"), settings)
    with pytest.raises(BindingError, match=r"\(known: none yet\)"):
        check_binding(parse_binding("modbus://x/holding/0"), None)


def test_settings_problems_are_reported_at_their_keys():
    problems = dict(settings_problems({
        "gap": -1, "colour": "red", "timeout": 2,
        "devices": {"a": {"host": "h", "port": 0, "unit": 1}, "b": {"unit": "one"},
                    "c": "10.0.0.5", "d": {"host": "h", "order": "XYZW", "max_registers": 200,
                                           "speed": 9600}}}))
    assert problems == {
        ("colour",): "drivers: modbus: unknown setting colour; expected devices, order, gap, "
                     "max_registers, max_bits, delay (or enabled, poll_interval, timeout, retries, "
                     "max_backoff)",
        ("gap",): "drivers: modbus: gap: -1; expected 0 to 124",
        ("devices", "a", "port"): "drivers: modbus: devices: a: port: 0; expected 1 to 65535",
        ("devices", "b"): "drivers: modbus: devices: b: no host; expected host: NAME_OR_ADDRESS",
        ("devices", "b", "unit"): "drivers: modbus: devices: b: unit: 'one'; expected a whole number",
        ("devices", "c"): "drivers: modbus: devices: c: expected a mapping such as {host: 10.0.0.5, "
                          "port: 502, unit: 1}",
        ("devices", "d", "speed"): "drivers: modbus: devices: d: unknown setting speed; expected host, "
                                   "port, unit, order, gap, max_registers, max_bits, delay, profile",
        ("devices", "d", "order"): "drivers: modbus: devices: d: order: 'XYZW'; expected one of ABCD, "
                                   "CDAB, BADC, DCBA",
        ("devices", "d", "max_registers"): "drivers: modbus: devices: d: max_registers: 200; expected "
                                           "1 to 125",
    }


def test_devices_take_the_drivers_defaults_and_their_own():
    devices = read_devices({"gap": 3, "order": "cdab", "devices": {
        "a": {"host": "h"}, "b": {"host": "h", "unit": 2, "gap": 0, "delay": 1}}})
    assert (devices["a"].gap, devices["a"].order, devices["a"].port, devices["a"].unit) == (3, "CDAB",
                                                                                          502, 1)
    assert (devices["b"].gap, devices["b"].delay, devices["b"].gateway) == (0, 1.0, ("h", 502))


def specs(*uris: str):
    return [spec(u) for u in uris]


def test_plans_merge_within_gap_and_limits_per_table():
    s = specs("modbus://m/holding/10", "modbus://m/holding/0?type=float32", "modbus://m/input/0",
              "modbus://m/holding/14", "modbus://m/holding/30", "modbus://m/coil/5", "modbus://m/coil/0")
    got = [(p.table, p.start, p.count, p.members) for p in plan(s, 8, 125, 2000)]
    assert got == [("coil", 0, 6, [6, 5]), ("holding", 0, 15, [1, 0, 3]), ("holding", 30, 1, [4]),
                   ("input", 0, 1, [2])]
    got = [(p.start, p.count) for p in plan(s[:5], 100, 12, 2000) if p.table == "holding"]
    assert got == [(0, 11), (14, 1), (30, 1)]  # 0..14 would be 15 registers, over 12


def test_breaks_keep_plans_from_crossing_a_refused_address():
    s = specs(*(f"modbus://m/holding/{a}" for a in range(10)))
    breaks = Breaks()
    breaks.add("holding", 4)
    breaks.add("holding", 5)
    assert [(p.start, p.count) for p in plan(s, 8, 125, 2000, breaks)] == [(0, 4), (4, 1), (5, 5)]
    assert len(breaks.copy()) == 2
