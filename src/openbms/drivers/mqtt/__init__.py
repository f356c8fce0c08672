"""The MQTT driver (``mqtt://`` bindings): plain, JSON and Sparkplug B payloads over aiomqtt."""

from openbms.drivers.mqtt.driver import MQTTDriver

__all__ = ["MQTTDriver"]
