"""The compacted form of PostgreSQL history: one point's day of samples as a few byte strings.

Compaction (``historian/postgres.py``) turns a week partition's rows into one
``packed`` row per point and UTC day; this module encodes and decodes the
arrays of such a row, losslessly (every float comes back bit for bit):

- times ``t``: when every time is a whole millisecond (what a clock stamps), the
  first as int64 milliseconds and the gaps as uint32 milliseconds; else the
  float64 times. A point polled every minute has the same gap 1 440 times.
- values ``v``: the smallest exact form of the non-NULL values: decimal
  (all are ``k / 10**d`` for d ≤ 4: the differences of ``k``, zig-zag encoded),
  float32 (a BACnet REAL) or float64, both XOR'ed with the previous value, so
  a slowly moving value leaves its high bytes zero.
- ``nulls`` (a bit per sample) and ``status`` (a byte per sample) only when
  some value is NULL or some status is not ``ok``.

Every array is stored *byte-shuffled* (all first bytes, then all second
bytes…): slowly changing numbers then give long runs PostgreSQL's TOAST
compression (lz4) squeezes, which a plain array of floats would not.
"""

from __future__ import annotations

import numpy as np

__all__ = ["decode_times", "decode_values", "encode_times", "encode_values"]

_MS_TIMES, _FLOAT_TIMES = 1, 0
_DECIMAL, _FLOAT32, _FLOAT64 = ord("D"), ord("F"), ord("G")
_MAX_DECIMALS = 4


def _shuffle(a: np.ndarray) -> bytes:
    width = a.dtype.itemsize
    return np.ascontiguousarray(a).view(np.uint8).reshape(-1, width).T.tobytes()


def _unshuffle(b: bytes | memoryview, dtype: str) -> np.ndarray:
    width = np.dtype(dtype).itemsize
    planes = np.frombuffer(b, dtype=np.uint8).reshape(width, -1)
    return np.ascontiguousarray(planes.T).view(dtype).reshape(-1)


def encode_times(ts: np.ndarray) -> bytes:
    """Times (float64, increasing) as bytes: millisecond gaps when they are exact, else floats."""
    if len(ts):
        ms = np.rint(ts * 1000.0)
        if np.array_equal(ms / 1000.0, ts) and np.all(np.abs(ms) < 2.0**62):
            whole = ms.astype(np.int64)
            gaps = np.diff(whole)
            if len(gaps) == 0 or (gaps.min() >= 0 and gaps.max() < 2**32):
                return (bytes([_MS_TIMES]) + whole[:1].astype("<i8").tobytes()
                        + _shuffle(gaps.astype("<u4")))
    return bytes([_FLOAT_TIMES]) + _shuffle(ts.astype("<f8"))


def decode_times(b: bytes | memoryview) -> np.ndarray:
    """The float64 times ``encode_times`` encoded."""
    b = memoryview(b)
    if b[0] == _MS_TIMES:
        first = np.frombuffer(b[1:9], dtype="<i8")
        whole = np.concatenate([first, first[0] + np.cumsum(_unshuffle(b[9:], "<u4"), dtype=np.int64)])
        return whole / 1000.0
    return _unshuffle(b[1:], "<f8").astype(np.float64)


def _decimals(a: np.ndarray) -> tuple[int, np.ndarray] | None:
    """``(d, k)`` with ``k / 10**d == a`` exactly (signs of zero included), or None."""
    if not np.all(np.isfinite(a)) or (len(a) and np.abs(a).max() >= 2.0**31):
        return None
    sign = np.signbit(a)
    for d in range(_MAX_DECIMALS + 1):
        scale = 10.0**d
        k = np.rint(a * scale).astype(np.int64)
        back = k / scale  # what decoding gives: no negative zero
        if np.array_equal(back, a) and np.array_equal(np.signbit(back), sign):
            return d, k
    return None


def _xor_previous(bits: np.ndarray) -> np.ndarray:
    out = bits.copy()
    out[1:] ^= bits[:-1]
    return out


def encode_values(a: np.ndarray) -> bytes:
    """Float64 values as bytes, in the smallest of the exact forms (NULLs: pass 0.0 there)."""
    dec = _decimals(a)
    if dec is not None:
        d, k = dec
        diff = np.diff(k, prepend=0)
        zigzag = (diff << 1) ^ (diff >> 63)
        if len(zigzag) == 0 or zigzag.max() < 2**32:
            return bytes([_DECIMAL, d]) + _shuffle(zigzag.astype("<u4"))
    with np.errstate(over="ignore", invalid="ignore"):
        single = a.astype(np.float32)
    if np.array_equal(single.astype(np.float64), a, equal_nan=False) and np.all(np.isfinite(a)):
        bits32 = single.astype("<f4").view("<u4")
        return bytes([_FLOAT32]) + _shuffle(_xor_previous(bits32))
    bits64 = a.astype("<f8").view("<u8")
    return bytes([_FLOAT64]) + _shuffle(_xor_previous(bits64))


def decode_values(b: bytes | memoryview) -> np.ndarray:
    """The float64 values ``encode_values`` encoded."""
    b = memoryview(b)
    kind = b[0]
    if kind == _DECIMAL:
        zigzag = _unshuffle(b[2:], "<u4").astype(np.int64)
        diff = (zigzag >> 1) ^ -(zigzag & 1)
        return np.cumsum(diff) / 10.0 ** b[1]
    if kind == _FLOAT32:
        bits32 = np.bitwise_xor.accumulate(_unshuffle(b[1:], "<u4"))
        return bits32.view("<f4").astype(np.float64)
    if kind == _FLOAT64:
        bits64 = np.bitwise_xor.accumulate(_unshuffle(b[1:], "<u8"))
        return bits64.view("<f8").astype(np.float64)
    raise ValueError(f"unknown packed value encoding {kind}")
