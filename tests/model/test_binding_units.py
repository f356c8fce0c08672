"""Binding URIs and the units table."""

import pytest

from openbms.errors import BindingError
from openbms.model import parse_binding
from openbms.model.units import UNITS, close_matches, lookup


def test_bindings_parse_into_driver_device_path_params_and_fragment():
    b = parse_binding("modbus://meter-1/holding/2000?type=float32&order=ABCD")
    assert (b.scheme, b.device, b.path) == ("modbus", "meter-1", "holding/2000")
    assert b.params == {"type": "float32", "order": "ABCD"}
    m = parse_binding("mqtt://sensors/zone-3/temp#value")
    assert (m.device, m.path, m.fragment) == ("sensors", "zone-3/temp", "value")
    assert parse_binding("bacnet://1001/analog-input,3").path == "analog-input,3"


@pytest.mark.parametrize("uri, reason", [
    ("", "non-empty"),
    ("hq/ahu-1/sat", "no scheme"),
    ("sim:///x", "names no device"),
    ("sim://dev", "names no object"),
    ("Bad Scheme://d/x", "invalid driver name .Bad Scheme."),
])
def test_malformed_bindings_say_what_is_wrong(uri, reason):
    with pytest.raises(BindingError, match=reason):
        parse_binding(uri)


def test_units_resolve_aliases_and_suggest_close_matches():
    assert lookup("°C").symbol == lookup("degC").symbol == "degC"
    assert lookup("degc") is None and "degC" in close_matches("degc")
    assert lookup("kW").quantity == "power" and lookup("kW").bacnet == "kilowatts"
    assert len({u.symbol for u in UNITS}) == len(UNITS)
