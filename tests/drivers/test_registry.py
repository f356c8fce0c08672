"""The drivers' registry: the schemes it serves are the ones site files may name."""

from __future__ import annotations

import pytest

from openbms.drivers import registry
from openbms.errors import BindingError, DriverError
from openbms.model import DriverSettings
from openbms.model.schemes import BUILTIN_SCHEMES, known_schemes
from openbms.runtime.clock import WallClock


def test_the_registry_serves_exactly_the_builtin_schemes_the_model_lists():
    # A driver added to the registry and not to the model's list would be refused in every site file.
    assert set(registry._BUILTIN) == set(BUILTIN_SCHEMES)
    assert set(BUILTIN_SCHEMES) <= set(registry.known_drivers())
    assert registry.known_drivers() == known_schemes()


@pytest.mark.parametrize("scheme", ["KNX", "knx driver", "1wire", "", "knx://"])
def test_a_scheme_no_binding_could_carry_is_refused_where_it_is_registered(scheme):
    before = registry.known_drivers()
    with pytest.raises(BindingError) as err:
        registry.register_driver(scheme, lambda settings, clock: object())
    assert str(err.value) == (
        f"cannot register the binding scheme {scheme!r}: expected lower-case letters, digits, '+', "
        "'.' or '-' starting with a letter, such as 'knx' or 'modbus-rtu'")
    assert registry.known_drivers() == before
    with pytest.raises(DriverError, match="no driver for"):
        registry.create_driver(scheme, DriverSettings(), WallClock())
