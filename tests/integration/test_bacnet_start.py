"""A BACnet driver given an address it cannot use says so in one line when it starts."""

from __future__ import annotations

import pytest

from openbms.drivers.bacnet import BACnetDriver
from openbms.errors import DriverError
from openbms.model import DriverSettings


@pytest.mark.parametrize(("address", "says"), [
    ("127.0.0.1/8:notaport", "drivers.bacnet.address '127.0.0.1/8:notaport'"),
    ("10.99.99.99/24:47830", "drivers.bacnet.address '10.99.99.99/24:47830'"),
])
async def test_an_address_it_cannot_bind_is_a_one_line_driver_error(address, says):
    driver = BACnetDriver(DriverSettings(address=address, devices={}, timeout=1, cov=False))
    with pytest.raises(DriverError) as err:
        await driver.start()
    assert says in str(err.value) and "\n" not in str(err.value)
    assert driver.app is None
    await driver.stop()
