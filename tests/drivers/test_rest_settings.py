"""The REST driver's settings, profiles and bindings, checked without httpx: each problem at its key."""

from __future__ import annotations

import pytest

from openbms.drivers.rest.driver import render
from openbms.drivers.rest.settings import (
    PROFILES,
    check_binding,
    point_spec,
    read_config,
    select,
    settings_problems,
)
from openbms.errors import BindingError
from openbms.model import parse_binding

BASE = {"base_url": "https://api.vendor.example"}


def problems(**settings):
    return settings_problems({**BASE, **settings})


def test_the_shipped_profile_and_defaults_are_taken():
    assert problems() == []
    config = read_config({**BASE, "devices": {"t1": {"id": "T-100"}, "t2": None}})
    assert config.devices == {"t1": "T-100", "t2": "t2"}
    assert config.profile.resources == {"status": "/devices/{id}/status",
                                        "schedule": "/devices/{id}/schedule"}
    assert (config.rate_limit, config.http_retries, config.auth.type) == (0.0, 2, "none")


def test_secrets_written_in_the_file_are_refused_and_missing_ones_named():
    assert problems(auth={"type": "api_key", "key": "abc"}) == [
        (("auth", "key"), "drivers: rest: auth: key: secrets are not written in the site file; "
                          "give key_env (an environment variable's name) or key_file (a file)")]
    assert problems(auth={"type": "oauth2", "token_url": "/t", "client_id": "x"}) == [
        (("auth",), "drivers: rest: auth: no client_secret; expected client_secret_env (an "
                    "environment variable's name) or client_secret_file (a file)")]
    assert problems(auth={"type": "bearer", "token_env": "A", "token_file": "/b"}) == [
        (("auth", "token_env"), "drivers: rest: auth: token_env and token_file: give one of "
                                "them, not both")]
    assert problems(webhook={"secret": "s"})[0][0] == ("webhook", "secret")


def test_unknown_keys_and_bad_values_are_reported_at_their_keys():
    found = problems(auth={"type": "kerberos"}, rate_limit=True, http_retries=1.5, colour="red",
                     devices={"t1": {"id": "T 100", "ip": "1.2.3.4"}})
    assert [where for where, _ in found] == [
        ("colour",), ("auth", "type"), ("rate_limit",), ("http_retries",), ("devices", "t1", "ip"),
        ("devices", "t1", "id")]
    assert found[1][1] == ("drivers: rest: auth: type: 'kerberos'; expected one of none, api_key, "
                           "bearer, oauth2")


def test_an_inline_profile_is_checked_key_by_key():
    profile = {"resources": {"a": {"path": "relative"}},
               "writes": {"w": {"method": "DELETE", "path": "/a"}},
               "webhook": {"resource": "b"}, "extra": 1}
    assert [where for where, _ in problems(profile=profile)] == [
        ("profile", "extra"), ("profile", "resources", "a", "path"),
        ("profile", "writes", "w", "method"), ("profile", "writes", "w"),
        ("profile", "webhook", "resource")]
    assert problems(profile="acme") == [(("profile",), "drivers: rest: profile: no shipped profile "
                                         "'acme'; expected one of thermostat or the profile itself "
                                         "(resources, writes, webhook)")]


def test_bindings_name_a_resource_a_field_and_their_options():
    profile = read_config(BASE).profile
    spec = point_spec(parse_binding("rest://t1/status?states=off,heat#mode"), profile)
    assert (spec.resource, spec.field, spec.states, spec.write) == ("status", ("mode",), ("off", "heat"),
                                                                    "mode")
    spec = point_spec(parse_binding("rest://t1/status?unit=F#setpoint"), profile)
    assert (spec.write, spec.unit) == ("setpoint", "F")
    assert point_spec(parse_binding("rest://t1/status#humidity"), profile).write is None
    for uri, message in [
        ("rest://t1/status", "no field; expected #FIELD"),
        ("rest://t1/status#a..b", "no field"),
        ("rest://t1/status?write=fan#fan", "write: no write 'fan' in the profile"),
        ("rest://t1/status?states=#mode", "states: empty"),
    ]:
        with pytest.raises(BindingError, match=message):
            point_spec(parse_binding(uri), profile)
    with pytest.raises(BindingError, match="no REST device 't9'"):
        check_binding(parse_binding("rest://t9/status#mode"), {**BASE, "devices": {"t1": None}})
    check_binding(parse_binding("rest://t9/status#mode"), BASE)  # no devices: names are the ids


def test_fields_are_selected_through_objects_and_lists_and_bodies_rendered():
    doc = {"a": {"b": [10, {"c": None}]}}
    assert select(doc, ("a", "b", "0")) == (True, 10)
    assert select(doc, ("a", "b", "1", "c")) == (True, None)
    assert select(doc, ("a", "b", "2")) == (False, None)
    assert select(doc, ("a", "x")) == (False, None)
    body = PROFILES["thermostat"]["writes"]["setpoint"]["body"]
    assert render(body, 21.5, "C", "T-1") == {"value": 21.5, "unit": "C"}
    assert render({"path": "/x/{id}", "v": ["{value}", "at {value} {unit}"]}, 3, "F", "T-1") == {
        "path": "/x/T-1", "v": [3, "at 3 F"]}
