"""The lean RPM codec against bacpypes3's own encoder and decoder (an independent implementation)."""

from __future__ import annotations

import contextlib

from bacpypes3.apdu import (
    APCISequence,
    ComplexAckPDU,
    ConfirmedRequestPDU,
    ReadPropertyMultipleACK,
    ReadPropertyMultipleRequest,
)
from bacpypes3.basetypes import (
    BinaryPV,
    ErrorType,
    ReadAccessResult,
    ReadAccessResultElement,
    ReadAccessResultElementChoice,
    StatusFlags,
)
from bacpypes3.constructeddata import Any
from bacpypes3.primitivedata import (
    Boolean,
    CharacterString,
    Double,
    Integer,
    Null,
    ObjectIdentifier,
    Real,
    Unsigned,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from openbms.drivers.bacnet import wire


def _element(prop: str, value: object = None, error: tuple[str, str] | None = None,
             index: int | None = None) -> ReadAccessResultElement:
    choice = ReadAccessResultElementChoice()
    if error:
        choice.propertyAccessError = ErrorType(errorClass=error[0], errorCode=error[1])
    else:
        choice.propertyValue = Any(value)
    return ReadAccessResultElement(propertyIdentifier=prop, propertyArrayIndex=index,
                                   readResult=choice)


def _ack(results: list[tuple[str, list[ReadAccessResultElement]]]) -> bytes:
    """The service data of an RPM ack as bacpypes3 encodes it."""
    ack = ReadPropertyMultipleACK(listOfReadAccessResults=[
        ReadAccessResult(objectIdentifier=ObjectIdentifier(oid), listOfResults=elements)
        for oid, elements in results])
    ack.apduInvokeID = 1
    return bytes(ack.encode().pduData)


def test_the_request_is_what_bacpypes3_decodes_as_present_value_and_status_flags():
    data = wire.encode_rpm_request([(0, 1), (5, 4194303), (19, 7)])
    pdu = ConfirmedRequestPDU(14, 1)
    pdu.put_data(data)
    request = APCISequence.decode(pdu)
    assert isinstance(request, ReadPropertyMultipleRequest)
    got = [(str(spec.objectIdentifier), [str(r.propertyIdentifier) for r in spec.listOfPropertyReferences])
           for spec in request.listOfReadAccessSpecs]
    assert got == [("analog-input,1", ["present-value", "status-flags"]),
                   ("binary-value,4194303", ["present-value", "status-flags"]),
                   ("multi-state-value,7", ["present-value", "status-flags"])]


def test_values_of_every_usual_type_and_status_flags_decode_as_plain_python():
    flags = StatusFlags([0, 1, 0, 0])  # fault
    data = _ack([
        ("analog-input,1", [_element("present-value", Real(21.5)),
                            _element("status-flags", StatusFlags([0, 0, 0, 0]))]),
        ("binary-output,2", [_element("present-value", BinaryPV("active")),
                             _element("status-flags", flags)]),
        ("multi-state-value,3", [_element("present-value", Unsigned(70000)),
                                 _element("status-flags", StatusFlags([0, 0, 1, 1]))]),
        ("analog-value,4", [_element("present-value", Double(-1.25e9))]),
        ("integer-value,5", [_element("present-value", Integer(-300))]),
        ("characterstring-value,6", [_element("present-value", CharacterString("Zoné 3"))]),
        ("analog-value,7", [_element("present-value", Null(()))]),
    ])
    got = wire.decode_rpm_ack(data)
    assert got[(0, 1)] == (21.5, 0, None)
    assert got[(4, 2)] == (True, 0x40, None)
    assert got[(19, 3)] == (70000, 0x30, None)
    assert got[(2, 4)] == (-1.25e9, None, None)
    assert got[(45, 5)] == (-300, None, None)
    assert got[(40, 6)] == ("Zoné 3", None, None)
    assert got[(2, 7)] == (None, None, None)


def test_errors_are_reported_per_object_and_array_indexes_are_skipped():
    data = _ack([
        ("analog-input,9", [_element("present-value", error=("object", "unknown-object")),
                            _element("status-flags", error=("object", "unknown-object"))]),
        ("analog-value,1", [_element("present-value", Real(3.0), index=None),
                            _element("priority-array", Unsigned(16), index=0)]),
    ])
    got = wire.decode_rpm_ack(data)
    assert got[(0, 9)] == (None, None, "1/31")  # object / unknown-object
    assert got[(2, 1)] == (3.0, None, None)


def test_one_ack_of_max_objects_fits_the_apdu_it_was_sized_for():
    for size in (206, 480, 1476):
        n = wire.max_objects(size)
        data = _ack([(f"analog-input,{4000000 + i}", [
            _element("present-value", Double(1.0)),  # the largest usual present value
            _element("status-flags", StatusFlags([1, 1, 1, 1]))]) for i in range(n)])
        assert 3 + len(data) <= size, size


def test_a_truncated_ack_is_a_wire_error_or_its_complete_leading_objects():
    data = _ack([("analog-input,1", [_element("present-value", Real(1.0)),
                                     _element("status-flags", StatusFlags([0, 0, 0, 0]))]),
                 ("binary-input,2", [_element("present-value", BinaryPV("inactive"))])])
    whole = wire.decode_rpm_ack(data)
    prefixes = 0
    for cut in range(1, len(data)):
        try:
            got = wire.decode_rpm_ack(data[:cut])
        except wire.WireError as err:
            assert "offset" in str(err) or "ends early" in str(err)
            continue
        # Cut exactly between two objects: a shorter but valid ack (the driver then
        # reports the missing objects as faults).
        assert got == {(0, 1): whole[(0, 1)]}
        prefixes += 1
    assert prefixes == 1


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_is_a_wire_error_or_a_result_never_another_exception(data):
    with contextlib.suppress(wire.WireError):
        wire.decode_rpm_ack(data)


def test_a_complex_ack_pdu_carries_the_service_data_the_codec_reads():
    # What the driver receives when it lets an ack past bacpypes3's decoder.
    pdu = ComplexAckPDU(14, 3)
    pdu.put_data(_ack([("analog-input,1", [_element("present-value", Real(7.0))])]))
    assert wire.decode_rpm_ack(bytes(pdu.pduData)) == {(0, 1): (7.0, None, None)}


def test_status_flags_that_are_not_a_bit_string_are_ignored():
    # Found by fuzzing (tests/fuzz): an Unsigned 1024 or a Boolean as status-flags became the
    # "flags byte", 1024 or True, which the driver reads bit by bit as fault, overridden…
    data = _ack([("analog-input,1", [_element("present-value", Real(1.0)),
                                     _element("status-flags", Unsigned(1024))]),
                 ("analog-input,2", [_element("status-flags", Boolean(True))]),
                 ("analog-input,3", [_element("status-flags", StatusFlags([1, 0, 0, 1]))])])
    got = wire.decode_rpm_ack(data)
    assert got == {(0, 1): (1.0, None, None), (0, 2): (None, None, None), (0, 3): (None, 0x90, None)}
