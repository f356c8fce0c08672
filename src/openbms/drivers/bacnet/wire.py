"""The polling hot path's own ReadPropertyMultiple codec: present value and status flags (or units).

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
A present value the codec cannot read although the reply is well formed (a
constructed value such as a color object's x/y pair, or a reserved tag) is
skipped by its tags and reported for that object alone: its error starts with
:data:`UNDECODABLE`, and the driver asks bacpypes3's decoder about that object.

Values are plain Python, in the same form whichever decoder read them
(:func:`date_text`, :func:`time_text`, :func:`bits_text` are shared with the
driver's conversion of bacpypes3 values): REAL and Double as float, unsigned,
signed and enumerated as int (a binary object's present value as bool),
boolean as bool, null as None, character strings as str, bit strings as
"0"/"1" text (first bit first), octet strings as lowercase hex, dates as
"YYYY-MM-DD", times as "HH:MM:SS.hh" ("*" for an unspecified field), object
identifiers as "type,instance" numbers.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from openbms.model.sample import Value

__all__ = ["PRESENT_VALUE", "STATUS_FLAGS", "UNDECODABLE", "UNITS", "ObjectResult", "WireError", "bits_text",
           "date_text", "decode_rpm_ack", "encode_rpm_request", "max_objects", "time_text"]

PRESENT_VALUE = 85
STATUS_FLAGS = 111
UNITS = 117
SERVICE_RPM = 14
# How an object's error starts when its present value is well formed but not one the codec reads.
UNDECODABLE = "undecodable"

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


_PV_AND_FLAGS = b"\x1e\x09\x55\x09\x6f\x1f"  # [1] { [0] present-value, [0] status-flags }
_UNITS_ONLY = b"\x1e\x09\x75\x1f"  # [1] { [0] units }


def encode_rpm_request(objects: Sequence[tuple[int, int]], *, units: bool = False) -> bytes:
    """Service data of a ReadPropertyMultiple request for present value + status flags.

    ``objects`` are (object type number, instance) pairs. ``units``: their units
    instead (the driver manager's once-per-device check of the configured units).
    """
    out = bytearray()
    properties = _UNITS_ONLY if units else _PV_AND_FLAGS
    for otype, instance in objects:
        out += b"\x0c"  # context tag 0, length 4: objectIdentifier
        out += ((otype << 22) | instance).to_bytes(4, "big")
        out += properties
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


class _Unreadable(Exception):
    """A well-formed value the codec does not read (its tags still say where it ends)."""


def _field(value: int, width: int) -> str:
    return "*" if value == 255 else f"{value:0{width}d}"


def date_text(year: int, month: int, day: int) -> str:
    """A BACnet date (year since 1900, month, day; 255 unspecified) as "YYYY-MM-DD"."""
    return f"{'*' if year == 255 else 1900 + year}-{_field(month, 2)}-{_field(day, 2)}"


def time_text(hour: int, minute: int, second: int, hundredths: int) -> str:
    """A BACnet time (255 unspecified) as "HH:MM:SS.hh"."""
    return f"{_field(hour, 2)}:{_field(minute, 2)}:{_field(second, 2)}.{_field(hundredths, 2)}"


def bits_text(bits: Sequence[int]) -> str:
    """A bit string as "0"/"1" text, first bit first (an empty bit string is "")."""
    return "".join("1" if bit else "0" for bit in bits)


def _bit_string(raw: bytes) -> str:
    if not raw:
        return ""
    unused = raw[0] if raw[0] < 8 else 0
    bits = "".join(f"{octet:08b}" for octet in raw[1:])
    return bits[: len(bits) - unused] if unused <= len(bits) else ""


def _skip_value(data: bytes, i: int) -> int:
    """The offset of the [4] closing tag that ends the value starting at ``i`` (tags nest)."""
    depth = 0
    while True:
        if data[i] == 0x4F and depth == 0:
            return i
        number, context, lvt, after = _tag(data, i)
        if context and lvt == 6 and data[i] & 0x07 == 6:
            depth += 1
            i = after
        elif context and lvt == 7 and data[i] & 0x07 == 7:
            depth -= 1
            if depth < 0:
                raise WireError(f"offset {i}: a closing tag [{number}] that nothing opened")
            i = after
        elif not context and number == 1:  # boolean: the value is in the header
            i = after
        else:
            i = after + lvt
            if i > len(data):
                raise WireError(f"offset {after}: a value of {lvt} bytes runs past the end "
                                f"({len(data)})")


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
    if number == 8:  # bit string: unused bits, then the bits
        return _bit_string(raw), end
    if number == 6:  # octet string
        return raw.hex(), end
    if number == 12 and lvt == 4:
        word = int.from_bytes(raw, "big")
        return f"{word >> 22},{word & 0x3FFFFF}", end
    if number == 10 and lvt == 4:
        return date_text(raw[0], raw[1], raw[2]), end
    if number == 11 and lvt == 4:
        return time_text(raw[0], raw[1], raw[2], raw[3]), end
    raise _Unreadable(f"application tag {number} of {lvt} bytes")


def decode_rpm_ack(data: bytes, value_of: int = PRESENT_VALUE) -> dict[tuple[int, int], ObjectResult]:
    """Present value and status flags by (object type, instance) from an RPM acknowledgement.

    ``value_of``: the property whose value (or error) is the result's first (and third) item,
    e.g. ``UNITS`` (an enumerated number) for a reply to ``encode_rpm_request(..., units=True)``.
    """
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
                    start = i + 1
                    number, context, lvt, i = _tag(data, start)
                    why: str | None = None
                    got: Value = None
                    octet: int | None = None
                    if context:
                        why = f"a constructed value (context tag [{number}])"
                    elif prop == STATUS_FLAGS and number == 8:  # a bit string only: its first octet
                        if i + lvt > n:
                            raise WireError(f"offset {i}: a value of {lvt} bytes runs past the end "
                                            f"({n})")
                        octet, i = (data[i + 1] if lvt > 1 else 0), i + lvt
                    else:
                        try:
                            got, i = _application_value(data, number, lvt, i)
                        except _Unreadable as err:
                            why, got = str(err), None
                    if why is None and data[i] != 0x4F:
                        why = "a constructed value (a list of values)"
                    if why is not None:  # well formed if its tags close: skip it, fail this object
                        i = _skip_value(data, start)
                    i += 1
                    if prop == value_of:
                        if why is not None:
                            error = f"{UNDECODABLE}: {why} at offset {start}"
                        elif number == 9 and key[0] in _BINARY_TYPES and value_of == PRESENT_VALUE:
                            value = got == 1
                        else:
                            value = got
                    elif prop == STATUS_FLAGS and why is None:
                        flags = octet
                elif head == 0x5E:  # [5] error: class, code (enumerated)
                    number, _, lvt, i = _tag(data, i + 1)
                    err_class, i = _application_value(data, number, lvt, i)
                    number, _, lvt, i = _tag(data, i)
                    err_code, i = _application_value(data, number, lvt, i)
                    if data[i] != 0x5F:
                        raise WireError(f"offset {i}: expected the end of the error ([5] closing)")
                    i += 1
                    if prop == value_of:
                        error = f"{err_class}/{err_code}"
                else:
                    raise WireError(f"offset {i}: expected a value ([4]) or an error ([5]), "
                                    f"got 0x{head:02x}")
            i += 1
            out[key] = (value, flags, error)
    except IndexError:
        raise WireError(f"the acknowledgement ends early ({n} bytes)") from None
    except _Unreadable as err:  # in an error's class or code: not a reply we can trust
        raise WireError(f"an error class or code that is {err}") from None
    return out
