"""Binding URIs: where a point lives, parsed into driver, device, object, options and selector."""

from __future__ import annotations

import pytest

from openbms.errors import BindingError
from openbms.model.binding import Binding, parse_binding


@pytest.mark.parametrize(
    "uri, scheme, device, path, params, fragment",
    [
        ("bacnet://1001/analog-input,3", "bacnet", "1001", "analog-input,3", {}, ""),
        ("modbus://meter-1/holding/2000?type=float32&order=ABCD", "modbus", "meter-1", "holding/2000",
         {"type": "float32", "order": "ABCD"}, ""),
        ("mqtt://sensors/zone-3/temp#value", "mqtt", "sensors", "zone-3/temp", {}, "value"),
        ("rest://thermostat-1/api/v1/temp#data.value", "rest", "thermostat-1", "api/v1/temp", {},
         "data.value"),
        ("sim://ahu-1/sat?wave=sine&min=12&max=16&period=3600&noise=0.05", "sim", "ahu-1", "sat",
         {"wave": "sine", "min": "12", "max": "16", "period": "3600", "noise": "0.05"}, ""),
        ("sim://hq/zone%203/temp", "sim", "hq", "zone 3/temp", {}, ""),
        ("modbus://10.0.0.5:502/input/30001", "modbus", "10.0.0.5:502", "input/30001", {}, ""),
    ],
)
def test_a_binding_splits_into_driver_device_object_options_and_selector(
    uri, scheme, device, path, params, fragment
):
    b = parse_binding(uri)
    assert (b.scheme, b.device, b.path, b.params, b.fragment) == (scheme, device, path, params, fragment)
    assert str(b) == b.uri == uri


def test_an_option_with_an_empty_value_is_kept_as_empty_text():
    assert parse_binding("sim://d/x?unit=&wave=sine").params == {"unit": "", "wave": "sine"}


def test_bindings_compare_by_uri_parts_not_by_their_options_dict():
    a, b = parse_binding("sim://d/x?a=1"), parse_binding("sim://d/x?a=1")
    assert a == b and hash(a) == hash(b) and isinstance(a, Binding)


@pytest.mark.parametrize(
    "uri, reason",
    [
        ("", "non-empty URI"),
        ("   ", "non-empty URI"),
        ("hq/ahu-1/sat", "has no scheme"),
        ("sim:/ahu-1/sat", "has no scheme"),
        ("sim:///sat", "names no device"),
        ("sim://ahu-1", "names no object"),
        ("sim://ahu-1/", "names no object"),
        ("Bad Scheme://d/x", "invalid driver name 'Bad Scheme'"),
        ("BACnet://1001/analog-input,3", "invalid driver name 'BACnet'"),
        ("1sim://d/x", "invalid driver name '1sim'"),
        ("sim://d/x?flag", "malformed query"),
        ("sim://d/x?a=1&&b=2", "malformed query"),
    ],
)
def test_a_malformed_binding_is_refused_with_what_is_wrong(uri, reason):
    with pytest.raises(BindingError, match=reason):
        parse_binding(uri)


def test_a_binding_that_is_not_text_is_refused():
    with pytest.raises(BindingError, match="non-empty URI"):
        parse_binding(42)  # type: ignore[arg-type]


def test_binding_errors_are_value_errors_for_callers_that_catch_those():
    with pytest.raises(ValueError):
        parse_binding("nope")
