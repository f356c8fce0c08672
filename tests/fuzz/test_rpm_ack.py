"""Property-based fuzzing of the BACnet RPM codec, with bacpypes3 as the independent encoder.

Round trips: any batch of objects the codec encodes is the request bacpypes3
decodes, and any acknowledgement bacpypes3 encodes (random objects, value
types, errors, array indexes) decodes to the values it carries. Garbage, and
valid acknowledgements with bytes flipped, cut or inserted, decode or raise
``WireError``, never another exception.
"""

from __future__ import annotations

import math

from bacpypes3.apdu import APCISequence, ConfirmedRequestPDU, ReadPropertyMultipleRequest
from bacpypes3.basetypes import StatusFlags
from bacpypes3.primitivedata import (
    Boolean,
    CharacterString,
    Double,
    Enumerated,
    Integer,
    Null,
    OctetString,
    Real,
    Unsigned,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openbms.drivers.bacnet import wire

from ..drivers.test_bacnet_wire import _ack, _element
from .targets import rpm_ack

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

object_ids = st.tuples(st.integers(0, 1023), st.integers(0, 2**22 - 1))

# (bacpypes3 value, what the codec gives for it as a present value of a non-binary object)
values = st.one_of(
    st.floats(width=32, allow_nan=False).map(lambda x: (Real(x), x)),
    st.floats(allow_nan=False).map(lambda x: (Double(x), x)),
    st.integers(0, 2**32 - 1).map(lambda x: (Unsigned(x), x)),
    st.integers(-(2**31), 2**31 - 1).map(lambda x: (Integer(x), x)),
    st.integers(0, 2**32 - 1).map(lambda x: (Enumerated(x), x)),
    st.booleans().map(lambda x: (Boolean(x), x)),
    st.text(max_size=300).map(lambda x: (CharacterString(x), x)),
    st.binary(max_size=300).map(lambda x: (OctetString(x), x.hex())),
    st.just((Null(()), None)),
)
flags = st.lists(st.integers(0, 1), min_size=4, max_size=4)
errors = st.tuples(st.sampled_from(["device", "object", "property", "resources", "security"]),
                   st.sampled_from(["unknown-object", "unknown-property", "read-access-denied", "other"]))
ERROR_CLASS = {"device": 0, "object": 1, "property": 2, "resources": 3, "security": 4}
ERROR_CODE = {"unknown-object": 31, "unknown-property": 32, "read-access-denied": 27, "other": 0}


@st.composite
def acks(draw):
    """(service data bacpypes3 encoded, what the codec must decode from it)."""
    results, expected = [], {}
    for otype, instance in draw(st.lists(object_ids, max_size=6, unique=True)):
        otype = draw(st.sampled_from([0, 1, 2, 13, 14, 19, 40, 45, 130, otype]))
        if otype in (3, 4, 5):  # binary objects: present value is BinaryPV, checked elsewhere
            otype = 2
        elements, value, got_flags, error = [], None, None, None
        if draw(st.booleans()):
            if draw(st.booleans()):
                err = draw(errors)
                elements.append(_element("present-value", error=err))
                error = f"{ERROR_CLASS[err[0]]}/{ERROR_CODE[err[1]]}"
            else:
                bp_value, value = draw(values)
                elements.append(_element("present-value", bp_value))
        if draw(st.booleans()):  # an array element the codec skips
            elements.append(_element("priority-array", Unsigned(draw(st.integers(0, 99))),
                                     index=draw(st.integers(0, 2**16))))
        if draw(st.booleans()):
            bits = draw(flags)
            elements.append(_element("status-flags", StatusFlags(bits)))
            got_flags = sum(bit << (7 - i) for i, bit in enumerate(bits))
        if draw(st.booleans()):
            elements.reverse()
        results.append((f"{otype},{instance}", elements))
        expected[(otype, instance)] = (value, got_flags, error)
    return _ack(results), expected


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return type(a) is type(b) and a == b


@FUZZ
@given(acks())
def test_any_ack_bacpypes3_encodes_decodes_to_the_values_it_carries(case):
    data, expected = case
    got = rpm_ack(data)
    assert got is not None and got.keys() == expected.keys()
    for key, (value, flags, error) in expected.items():
        got_value, got_flags, got_error = got[key]
        assert _same(got_value, value), (key, got_value, value)
        assert (got_flags, got_error) == (flags, error), key


@FUZZ
@given(st.lists(object_ids, min_size=1, max_size=40))
def test_any_request_the_codec_encodes_is_what_bacpypes3_decodes(objects):
    pdu = ConfirmedRequestPDU(14, 1)
    pdu.put_data(wire.encode_rpm_request(objects))
    request = APCISequence.decode(pdu)
    assert isinstance(request, ReadPropertyMultipleRequest)
    got = [(spec.objectIdentifier[0], spec.objectIdentifier[1],
            [int(r.propertyIdentifier) for r in spec.listOfPropertyReferences])
           for spec in request.listOfReadAccessSpecs]
    assert got == [(int(t), i, [wire.PRESENT_VALUE, wire.STATUS_FLAGS]) for t, i in objects]


@FUZZ
@given(acks(), st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255), st.sampled_from(
    ["flip", "cut", "insert", "set"])), min_size=1, max_size=4))
def test_a_damaged_ack_decodes_or_is_a_wire_error(case, damage):
    data = bytearray(case[0])
    for where, byte, how in damage:
        i = where % (len(data) + 1)
        if how == "cut":
            del data[i:]
        elif how == "insert":
            data[i:i] = bytes([byte])
        elif i < len(data):
            data[i] = data[i] ^ (1 << byte % 8) if how == "flip" else byte
    rpm_ack(bytes(data))


@FUZZ
@given(st.binary(max_size=300))
def test_any_bytes_decode_or_are_a_wire_error(data):
    rpm_ack(data)
