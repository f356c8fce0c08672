"""Sparkplug B payloads: the protobuf ``Payload`` and ``Metric`` messages, built at import.

The message classes come from a ``FileDescriptorProto`` written here rather than
from a generated ``sparkplug_b_pb2.py`` (no protoc on these machines, and
pysparkplug, which ships one, pins paho-mqtt<2). It is the subset of Eclipse
Tahu's ``sparkplug_b.proto`` (EPL-2.0; package ``org.eclipse.tahu.protobuf``)
that carries values: the payload's timestamp, metrics, seq, uuid and body, and
each metric's name, alias, timestamp, datatype, flags, scalar value and
properties (a ``PropertySet`` of scalar ``PropertyValue``s: the bridge's
``engUnit``). Field numbers and types are the specification's, so a full Tahu
payload parses here: what this subset does not name (metadata, nested property
sets, data sets, templates) stays in the message's unknown fields and is ignored.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from openbms.model.sample import Value

__all__ = ["DATATYPES", "Metric", "Payload", "PropertySet", "metric_value", "parse",
           "set_metric_value"]

_PACKAGE = "org.eclipse.tahu.protobuf"
_F = descriptor_pb2.FieldDescriptorProto


def _build() -> tuple[type[Any], type[Any], type[Any]]:
    fdp = descriptor_pb2.FileDescriptorProto(name="openbms_sparkplug_b.proto", package=_PACKAGE,
                                             syntax="proto2")
    payload = fdp.message_type.add(name="Payload")
    metric = payload.nested_type.add(name="Metric")
    metric.oneof_decl.add(name="value")
    props = payload.nested_type.add(name="PropertySet")
    prop = payload.nested_type.add(name="PropertyValue")
    prop.oneof_decl.add(name="value")

    def field(msg: Any, name: str, number: int, ftype: int, label: int = _F.LABEL_OPTIONAL,
              type_name: str = "", oneof: bool = False) -> None:
        f = msg.field.add(name=name, number=number, type=ftype, label=label)
        if type_name:
            f.type_name = type_name
        if oneof:
            f.oneof_index = 0

    field(metric, "name", 1, _F.TYPE_STRING)
    field(metric, "alias", 2, _F.TYPE_UINT64)
    field(metric, "timestamp", 3, _F.TYPE_UINT64)
    field(metric, "datatype", 4, _F.TYPE_UINT32)
    field(metric, "is_historical", 5, _F.TYPE_BOOL)
    field(metric, "is_transient", 6, _F.TYPE_BOOL)
    field(metric, "is_null", 7, _F.TYPE_BOOL)
    field(metric, "properties", 9, _F.TYPE_MESSAGE, type_name=f".{_PACKAGE}.Payload.PropertySet")
    field(metric, "int_value", 10, _F.TYPE_UINT32, oneof=True)
    field(metric, "long_value", 11, _F.TYPE_UINT64, oneof=True)
    field(metric, "float_value", 12, _F.TYPE_FLOAT, oneof=True)
    field(metric, "double_value", 13, _F.TYPE_DOUBLE, oneof=True)
    field(metric, "boolean_value", 14, _F.TYPE_BOOL, oneof=True)
    field(metric, "string_value", 15, _F.TYPE_STRING, oneof=True)
    field(metric, "bytes_value", 16, _F.TYPE_BYTES, oneof=True)
    field(props, "keys", 1, _F.TYPE_STRING, _F.LABEL_REPEATED)
    field(props, "values", 2, _F.TYPE_MESSAGE, _F.LABEL_REPEATED,
          f".{_PACKAGE}.Payload.PropertyValue")
    field(prop, "type", 1, _F.TYPE_UINT32)
    field(prop, "is_null", 2, _F.TYPE_BOOL)
    field(prop, "int_value", 3, _F.TYPE_UINT32, oneof=True)
    field(prop, "long_value", 4, _F.TYPE_UINT64, oneof=True)
    field(prop, "float_value", 5, _F.TYPE_FLOAT, oneof=True)
    field(prop, "double_value", 6, _F.TYPE_DOUBLE, oneof=True)
    field(prop, "boolean_value", 7, _F.TYPE_BOOL, oneof=True)
    field(prop, "string_value", 8, _F.TYPE_STRING, oneof=True)
    field(payload, "timestamp", 1, _F.TYPE_UINT64)
    field(payload, "metrics", 2, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, f".{_PACKAGE}.Payload.Metric")
    field(payload, "seq", 3, _F.TYPE_UINT64)
    field(payload, "uuid", 4, _F.TYPE_STRING)
    field(payload, "body", 5, _F.TYPE_BYTES)
    payload.extension_range.add(start=100, end=536870912)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    def cls(name: str) -> type[Any]:
        return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.{name}"))

    return cls("Payload"), cls("Payload.Metric"), cls("Payload.PropertySet")


Payload, Metric, PropertySet = _build()

#: Sparkplug B data types (specification 6.4.16) this driver reads and writes.
DATATYPES: dict[str, int] = {"Int8": 1, "Int16": 2, "Int32": 3, "Int64": 4, "UInt8": 5, "UInt16": 6,
                             "UInt32": 7, "UInt64": 8, "Float": 9, "Double": 10, "Boolean": 11,
                             "String": 12, "DateTime": 13, "Text": 14}
_NAMES = {number: name for name, number in DATATYPES.items()}
#: The whole numbers each integer data type holds (DateTime: milliseconds since 1970).
_INT_RANGES = {1: (-(1 << 7), (1 << 7) - 1), 2: (-(1 << 15), (1 << 15) - 1),
               3: (-(1 << 31), (1 << 31) - 1), 4: (-(1 << 63), (1 << 63) - 1), 5: (0, (1 << 8) - 1),
               6: (0, (1 << 16) - 1), 7: (0, (1 << 32) - 1), 8: (0, (1 << 64) - 1),
               13: (0, (1 << 64) - 1)}
_FLOAT32_MAX = 3.4028234663852886e38
_SIGNED32 = (1, 2, 3)
_INT64 = 4
_STRINGS = (12, 14, 15)  # String, Text, UUID


def parse(data: bytes | bytearray) -> Any:
    """A Sparkplug B ``Payload`` from its bytes; ValueError (with protobuf's reason) when they
    are not one."""
    from google.protobuf.message import DecodeError

    msg = Payload()
    try:
        msg.ParseFromString(data)
    except DecodeError as err:
        raise ValueError(f"not a Sparkplug B payload ({err})") from None
    return msg


def metric_value(m: Any, datatype: int | None = None) -> Value:
    """A metric's value as a plain Python value; None when it is null or has none we read.

    Signed integers travel as two's complement in the unsigned fields (Tahu's encoding), so the
    sign needs the data type: the metric's own, else ``datatype`` (learnt from its birth: DATA
    messages should leave it out). An integer beyond a signed 64-bit one (a UInt64 from 2**63)
    is a float: storage and arithmetic downstream take 64-bit integers only.
    """
    if m.HasField("datatype") or datatype is None:
        datatype = m.datatype
    if m.is_null:
        return None
    which = m.WhichOneof("value")
    if which is None:
        return None
    if which == "int_value":
        v = m.int_value
        return v - (1 << 32) if datatype in _SIGNED32 and v >= 1 << 31 else v
    if which == "long_value":
        v = m.long_value
        if v >= 1 << 63:
            return v - (1 << 64) if datatype == _INT64 else float(v)
        return v
    if which == "float_value":
        return float(m.float_value)
    if which == "double_value":
        return m.double_value
    if which == "boolean_value":
        return m.boolean_value
    if which == "string_value":
        return m.string_value
    return None  # bytes: not a point value


def _whole(value: Value, datatype: int) -> int:
    low, high = _INT_RANGES[datatype]
    number = value
    if isinstance(value, float) and value.is_integer():
        number = int(value)
    if isinstance(number, bool) or not isinstance(number, int) or not low <= number <= high:
        raise ValueError(f"{value!r} does not fit the metric's type {_NAMES[datatype]}: it takes "
                         f"whole numbers from {low} to {high}")
    return number


def set_metric_value(m: Any, value: Value, datatype: int | None) -> None:
    """Fill a metric's datatype and value (None: a null metric); the datatype from its birth
    certificate when known, else one that holds ``value``. ValueError (naming the type and its
    range) for a value the type cannot hold: a command is never truncated or wrapped."""
    if datatype is None:
        datatype = (11 if isinstance(value, bool) else 4 if isinstance(value, int)
                    else 12 if isinstance(value, str) else 10)
    m.datatype = datatype
    if value is None:
        m.is_null = True
    elif datatype == 11:
        m.boolean_value = bool(value)
    elif datatype in (1, 2, 3, 5, 6, 7):
        m.int_value = _whole(value, datatype) & 0xFFFFFFFF
    elif datatype in (4, 8, 13):
        m.long_value = _whole(value, datatype) & 0xFFFFFFFFFFFFFFFF
    elif datatype == 9:
        if isinstance(value, str) or not -_FLOAT32_MAX <= float(value) <= _FLOAT32_MAX:
            raise ValueError(f"{value!r} does not fit the metric's type Float: it takes numbers "
                             f"from -{_FLOAT32_MAX:.7g} to {_FLOAT32_MAX:.7g}")
        m.float_value = float(value)
    elif datatype in _STRINGS:
        m.string_value = str(value)
    else:
        m.double_value = float(value)
