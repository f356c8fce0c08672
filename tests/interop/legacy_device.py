"""A BACnet/IP device on the legacy ``bacpypes`` stack (0.19): a second, independent
implementation for interoperability tests. Usage: python legacy_device.py IP PORT INSTANCE.
Prints 'ready' once serving; stops on SIGTERM."""

import signal
import sys

from bacpypes.app import BIPSimpleApplication
from bacpypes.core import deferred, run, stop
from bacpypes.local.device import LocalDeviceObject
from bacpypes.local.object import AnalogValueCmdObject, BinaryOutputCmdObject
from bacpypes.object import AnalogInputObject, register_object_type
from bacpypes.service.cov import ChangeOfValueServices
from bacpypes.service.object import ReadWritePropertyMultipleServices


class Application(BIPSimpleApplication, ReadWritePropertyMultipleServices, ChangeOfValueServices):
    pass


# The legacy stack builds an object's property table from its class only when the class is
# registered (its own samples do this for commandable objects); unregistered, the
# read-only present value of the base class wins and every write is refused.
for _cls in (AnalogValueCmdObject, BinaryOutputCmdObject):
    register_object_type(_cls, vendor_id=15)


def main() -> None:
    ip, port, instance = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    device = LocalDeviceObject(objectName=f"legacy-{instance}", objectIdentifier=("device", instance),
                               maxApduLengthAccepted=1024, segmentationSupported="segmentedBoth",
                               vendorIdentifier=15)
    app = Application(device, f"{ip}/8:{port}")
    app.add_object(AnalogInputObject(objectName="ZN-T", objectIdentifier=("analogInput", 1),
                                     presentValue=21.5, units="degreesCelsius",
                                     statusFlags=[0, 0, 0, 0], description="Zone temperature"))
    app.add_object(AnalogValueCmdObject(objectName="ZN-T-SP", objectIdentifier=("analogValue", 2),
                                        presentValue=22.0, relinquishDefault=22.0, covIncrement=0.1,
                                        units="degreesCelsius", statusFlags=[0, 0, 0, 0]))
    app.add_object(BinaryOutputCmdObject(objectName="FAN-C", objectIdentifier=("binaryOutput", 3),
                                         presentValue="inactive", relinquishDefault="inactive",
                                         statusFlags=[0, 0, 0, 0]))
    signal.signal(signal.SIGTERM, lambda *_: stop())
    deferred(lambda: print("ready", flush=True))
    run()


if __name__ == "__main__":
    main()
