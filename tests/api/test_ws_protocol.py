"""Property tests of the WebSocket message parser: anything a client sends is a Request or a ProtocolError.

Bounded examples (a fixed count, no deadline: the machine is shared); cases
hypothesis once found are kept below as plain regression tests.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openbms.api.ws.protocol import MAX_DEPTH, MAX_MESSAGE_BYTES, ProtocolError, Request, parse

BOUNDED = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_CODES = {"bad_json", "invalid", "unknown_type", "too_large", "too_deep"}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=30,
)

#: Messages shaped like the real ones, with every field free to be wrong.
near_messages = st.fixed_dictionaries(
    {"type": st.sampled_from(["auth", "subscribe", "unsubscribe", "ping", "pong", "dance"]) | json_values},
    optional={
        "id": json_values,
        "token": json_values,
        "points": json_values,
        "sites": json_values,
        "alarms": json_values,
        "commands": json_values,
        "all": json_values,
        "extra": json_values,
    },
)


def outcome(data: str | bytes) -> Request | ProtocolError:
    """What ``parse`` makes of ``data``; any other exception fails the test."""
    try:
        return parse(data)
    except ProtocolError as err:
        assert err.code in _CODES and err.message and len(err.message) < 400
        message = err.as_message()
        assert message["type"] == "error" and json.dumps(message)
        return err


@BOUNDED
@given(st.text(max_size=400))
def test_any_text_is_a_request_or_a_protocol_error(data: str):
    outcome(data)


@BOUNDED
@given(st.binary(max_size=400))
def test_any_bytes_are_a_request_or_a_protocol_error(data: bytes):
    outcome(data)


@BOUNDED
@given(near_messages)
def test_any_message_shaped_json_is_a_request_or_a_protocol_error(message: dict):
    result = outcome(json.dumps(message))
    if isinstance(result, Request):
        assert result.type == message["type"]
        assert all(isinstance(p, str) and p for p in (*result.points, *result.sites,
                                                        *result.alarms, *result.commands))


@BOUNDED
@given(st.integers(min_value=1, max_value=5000), st.sampled_from("[{"), st.booleans())
def test_any_nesting_is_a_request_or_a_protocol_error(depth: int, opener: str, closed: bool):
    body = '{"a":' if opener == "{" else "["
    close = "}" if opener == "{" else "]"
    data = '{"type":"ping","x":' + body * depth + ("1" + close * depth + "}" if closed else "")
    result = outcome(data)
    if depth + 1 > MAX_DEPTH or not closed:
        assert isinstance(result, ProtocolError)
    else:
        assert isinstance(result, Request) and result.type == "ping"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ("[" * 60_000, "too_deep"),
        ("[" * 500 + "]" * 500, "too_deep"),
        ("{" * 60_000, "bad_json"),
        (b"[" * 100_000, "too_large"),
        ("x" * (MAX_MESSAGE_BYTES + 1), "too_large"),
        ("é" * (MAX_MESSAGE_BYTES // 2 + 1), "too_large"),
        ('{"type": "ping", "id": ' + "9" * 5000 + "}", "bad_json"),
        ('{"type": ' + '"' + "x" * 10_000 + '"}', "unknown_type"),
        ('{"type": {"a": 1}}', "unknown_type"),
        ('{"type": "subscribe", "points": ["' + "a" * 300 + '"]}', "invalid"),
        (b"\x00\xff", "bad_json"),
        ('"\\ud800"', "invalid"),
        ('{"type": "subscribe", ' + ", ".join(f'"f{i}": 1' for i in range(500)) + "}", "invalid"),
    ],
)
def test_hostile_messages_are_named_protocol_errors(data: str | bytes, code: str):
    with pytest.raises(ProtocolError) as err:
        parse(data)
    assert err.value.code == code and len(err.value.message) < 400


def test_a_message_at_the_limit_is_read():
    pad = MAX_MESSAGE_BYTES - len('{"type":"ping","x":""}')
    assert parse('{"type":"ping","x":"' + "a" * pad + '"}').type == "ping"
    with pytest.raises(ProtocolError):
        parse('{"type":"ping","x":"' + "a" * (pad + 1) + '"}')
    assert parse('{"type":"ping"}', max_bytes=20).type == "ping"
