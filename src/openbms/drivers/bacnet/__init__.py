"""The BACnet/IP driver (bacpypes3)."""

from openbms.drivers.bacnet.driver import BACnetDriver

__all__ = ["BACnetDriver"]
