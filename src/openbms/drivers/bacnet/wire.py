"""The polling hot path's own ReadPropertyMultiple codec: present value and status flags.

bacpypes3 stays the transport (BVLL, network layer, transaction state
machines, segmentation); this module only turns a batch of objects into the
request's service data and the acknowledgement's service data into plain
values, without building bacpypes3's generic ``Sequence`` objects, which cost
more CPU than everything else on the polling path together (see
``docs/bacnet.md``). Everything else (discovery, writes, COV, priority
arrays) goes through bacpypes3's own services.

Encoding follows ASHRAE 135 clause 20.2 (tags) and 15.7 (ReadPropertyMultiple).
A reply that does not parse raises :class:`WireError` naming the byte offset
and what was expected; the driver turns it into a failed read, never a crash.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from openbms.model.sample import Value

__all__ = ["PRESENT_VALUE", "STATUS_FLAGS", "ObjectResult", "WireError", "decode_rpm_ack",
           "encode_rpm_request", "max_objects"]

PRESENT_VALUE = 85
STATUS_FLAGS = 111
SERVICE_RPM = 14

# Object types whose present value is BACnetBinaryPV: a bool past the driver.
_BINARY_TYPES = frozenset({3, 4, 5})  # binary-input, binary-output, binary-value

_REAL = struct.Struct(">f")
_DOUBLE = struct.Struct(">d")

# Bytes of one object's result in an acknowledgement, at most, for the usual
# present values (REAL, enumerated, unsigned up to 4 octets): object id 5,
# list open/close 2, present value 2 + 2 + 5, status flags 2 + 2 + 3.
_RESULT_BYTES = 23
# ... and a double or a long unsigned, and some slack for devices that pad.
_RESULT_BUDGET = 28
_ACK_HEADER = 3  # type, invoke id, service choice (unsegmented complex ack)


class WireError(ValueError):
    """A ReadPropertyMultiple acknowledgement that does not parse."""


# (present value or None, status flags byte or None, error "class/code" or None)
ObjectResult = tuple[Value, int | None, str | None]


def max_objects(max_apdu: int) -> int:
    """Objects per request whose acknowledgement fits one unsegmented APDU of this size."""
    return max(1, (max_apdu - _ACK_HEADER) // _RESULT_BUDGET)


def encode_rpm_request(objects: Sequence[tuple[int, int]]) -> bytes:
    """Service data of a ReadPropertyMultiple request for present value + status flags.

    ``objects`` are (object type number, instance) pairs.
    """
    out = bytearray()
    for otype, instance in objects:
        out += b"\x0c"  # context tag 0, length 4: objectIdentifier
        out += ((otype << 22) | instance).to_bytes(4, "big")
        out += b"\x1e\x09\x55\x09\x6f\x1f"  # [1] { [0] present-value, [0] status-flags }
    return bytes(out)


def _tag(data: bytes, i: int) -> tuple[int, bool, int, int]:
    """(tag number, is context, length/value/type, offset after the tag header)."""
    b = data[i]
    i += 1
    number = b >> 4
    if number == 15:
        number = data[i]
        i += 1
    context = bool(b & 0x08)
    lvt = b & 0x07
    if lvt == 5:
        lvt = data[i]
        i += 1
        if lvt == 254:
            lvt = int.from_bytes(data[i : i + 2], "big")
            i += 2
        elif lvt == 255:
            lvt = int.from_bytes(data[i : i + 4], "big")
            i += 4
    return number, context, lvt, i


def _application_value(data: bytes, number: int, lvt: int, i: int) -> tuple[Value, int]:
    """One application-tagged value (its header already read) and the offset after it."""
    if number == 1:  # boolean: the value is in the header
        return bool(lvt), i
    end = i + lvt
    if end > len(data):
        raise WireError(f"offset {i}: a value of {lvt} bytes runs past the end ({len(data)})")
    raw = data[i:end]
    if number == 4:
        if lvt != 4:
            raise WireError(f"offset {i}: REAL of {lvt} bytes, expected 4")
        return _REAL.unpack(raw)[0], end
    if number in (2, 9):  # unsigned, enumerated
        return int.from_bytes(raw, "big"), end
    if number == 3:
        return int.from_bytes(raw, "big", signed=True), end
    if number == 5:
        if lvt != 8:
            raise WireError(f"offset {i}: Double of {lvt} bytes, expected 8")
        return _DOUBLE.unpack(raw)[0], end
    if number == 0:
        return None, end
    if number == 7:  # character string: a character set octet, then the text
        return (raw[1:].decode("utf-8", "replace") if raw[:1] == b"\x00"
                else raw[1:].decode("latin-1")), end
    if number == 8:  # bit string: unused bits, then the bits; status flags are one octet
        return (raw[1] if lvt > 1 else 0), end
    if number == 6:  # octet string
        return raw.hex(), end
    if number == 12:
        word = int.from_bytes(raw, "big")
        return f"{word >> 22},{word & 0x3FFFFF}", end
    return raw.hex(), end  # date, time: not a present value we poll; kept, not refused


def decode_rpm_ack(data: bytes) -> dict[tuple[int, int], ObjectResult]:
    """Present value and status flags by (object type, instance) from an RPM acknowledgement."""
    out: dict[tuple[int, int], ObjectResult] = {}
    n = len(data)
    i = 0
    try:
        while i < n:
            if data[i] != 0x0C or i + 5 > n:
                raise WireError(f"offset {i}: expected an object identifier ([0], 4 bytes), "
                                f"got 0x{data[i]:02x}")
            word = int.from_bytes(data[i + 1 : i + 5], "big")
            key = (word >> 22, word & 0x3FFFFF)
            i += 5
            if data[i] != 0x1E:
                raise WireError(f"offset {i}: expected the list of results ([1] opening)")
            i += 1
            value: Value = None
            flags: int | None = None
            error: str | None = None
            while data[i] != 0x1F:
                number, context, length, i = _tag(data, i)
                if not context or number != 2 or not 1 <= length <= 4:
                    raise WireError(f"offset {i}: expected a property identifier ([2])")
                if i + length > n:
                    raise WireError(f"offset {i}: the property identifier runs past the end")
                prop = int.from_bytes(data[i : i + length], "big")
                i += length
                if data[i] & 0xF8 == 0x38:  # [3] property array index: not asked for, skipped
                    _, _, length, i = _tag(data, i)
                    i += length
                head = data[i]
                if head == 0x4E:  # [4] value
                    number, context, lvt, i = _tag(data, i + 1)
                    if context:
                        raise WireError(f"offset {i}: expected an application-tagged value")
                    got, i = _application_value(data, number, lvt, i)
                    # A constructed value (never a present value we poll) would fail here.
                    if data[i] != 0x4F:
                        raise WireError(f"offset {i}: expected the end of the value ([4] closing)")
                    i += 1
                    if prop == PRESENT_VALUE:
                        if number == 9 and key[0] in _BINARY_TYPES:
                            got = got == 1
                        value = got
                    elif prop == STATUS_FLAGS and number == 8 and isinstance(got, int):  # a bit string only
                        flags = got
                elif head == 0x5E:  # [5] error: class, code (enumerated)
                    number, _, lvt, i = _tag(data, i + 1)
                    err_class, i = _application_value(data, number, lvt, i)
                    number, _, lvt, i = _tag(data, i)
                    err_code, i = _application_value(data, number, lvt, i)
                    if data[i] != 0x5F:
                        raise WireError(f"offset {i}: expected the end of the error ([5] closing)")
                    i += 1
                    if prop == PRESENT_VALUE:
                        error = f"{err_class}/{err_code}"
                else:
                    raise WireError(f"offset {i}: expected a value ([4]) or an error ([5]), "
                                    f"got 0x{head:02x}")
            i += 1
            out[key] = (value, flags, error)
    except IndexError:
        raise WireError(f"the acknowledgement ends early ({n} bytes)") from None
    return out
