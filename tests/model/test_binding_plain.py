"""parse_binding's shortcut for plain bindings gives exactly what urlsplit's way gives (issue 15).

100 000 bindings were parsed at a start twice (checking the file, then the manager's list):
seconds of CPU in urlsplit, unquote and parse_qsl for URIs that have nothing to unquote.
"""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openbms.errors import BindingError
from openbms.model import binding as module
from openbms.model.binding import parse_binding

PIECES = ["bacnet", "sim", "modbus", "mqtt", "://", "/", "//", "1001", "analog-input,3", "meter-1:502",
          "holding", "2000", "?", "type=float32", "&", "#", "value", "%20", "%2F", "[", "]", "@", " ",
          "\t", "\n", "é", "A", "~", ";", "=", ":", "+", ".", "-", "_", "!", "'", "(", ")", "*", ","]


def _both(uri: str, monkeypatch: pytest.MonkeyPatch) -> tuple[object, object]:
    def outcome() -> object:
        try:
            b = parse_binding(uri)
        except BindingError as err:
            return ("error", str(err))
        return (b.scheme, b.device, b.path, b.params, b.fragment, b.uri)

    fast = outcome()
    with monkeypatch.context() as m:
        m.setattr(module, "_PLAIN", re.compile(r"(?!)"))  # matches nothing: urlsplit's way
        full = outcome()
    return fast, full


@pytest.mark.parametrize("uri", [
    "bacnet://1001/analog-input,3", "bacnet://2:5/analog-value,1", "sim://hq/zone-3/temp",
    "modbus://meter-1/holding/2000?type=float32&order=ABCD", "mqtt://sensors/zone-3/temp#value",
    "bacnet://1001//x", "bacnet://1001///", "bacnet://1001/", "bacnet://a%20b/x", "Bacnet://1/x",
    "bacnet://[::1]/x", " bacnet://1/x", "bacnet://1/x ", "bacnet://u@h:1/x;y=z", "x://a/b/c/",
])
def test_plain_and_full_parsing_agree(uri, monkeypatch):
    fast, full = _both(uri, monkeypatch)
    assert fast == full


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=12).map("".join))
def test_plain_and_full_parsing_agree_on_any_text(text):
    with pytest.MonkeyPatch.context() as monkeypatch:
        fast, full = _both(text, monkeypatch)
    assert fast == full


def test_a_plain_binding_does_not_go_through_urlsplit(monkeypatch):
    calls = []
    monkeypatch.setattr(module, "urlsplit", lambda uri: calls.append(uri))  # counts; never reached
    b = parse_binding("bacnet://100001/analog-input,3")
    assert (b.scheme, b.device, b.path, b.params, b.fragment) == \
        ("bacnet", "100001", "analog-input,3", {}, "")
    assert calls == []
