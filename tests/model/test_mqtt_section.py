"""The site file's ``mqtt:`` section: defaults, refusals with where and what."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from openbms.model.site import SiteConfig


def _site(mqtt: object) -> SiteConfig:
    return SiteConfig.model_validate({"site": {"id": "s"}, "mqtt": mqtt})


def test_a_site_without_the_section_has_no_link():
    assert SiteConfig.model_validate({"site": {"id": "s"}}).mqtt is None


def test_defaults_publish_per_point_at_qos_1_and_answer_no_commands():
    mqtt = _site({}).mqtt
    assert mqtt is not None
    assert (mqtt.prefix, mqtt.bridge.per_point, mqtt.bridge.qos, mqtt.commands.enabled) == (
        "openbms", True, 1, False)


@pytest.mark.parametrize(("section", "where"), [
    ({"prefix": "acme/#"}, "mqtt.prefix"),
    ({"prefix": "/acme"}, "mqtt.prefix"),
    ({"prefix": "acme//bms"}, "mqtt.prefix"),
    ({"bridge": {"qos": 2}}, "mqtt.bridge.qos"),
    ({"bridge": {"per_pont": True}}, "mqtt.bridge.per_pont"),
    ({"outbox": {"max_mb": 0}}, "mqtt.outbox.max_mb"),
    ({"commands": {"priority": 0}}, "mqtt.commands.priority"),
    ({"password": "hunter2"}, "mqtt.password"),
])
def test_a_bad_setting_is_refused_where_it_is(section, where):
    with pytest.raises(ValidationError) as err:
        _site(section)
    assert where in str(err.value)


@pytest.mark.parametrize(("section", "says"), [
    ({"password_env": "A", "password_file": "/run/p"}, "password_env or password_file"),
    ({"cert_file": "/c.pem"}, "cert_file and key_file go together"),
])
def test_settings_that_contradict_each_other_are_refused(section, says):
    with pytest.raises(ValidationError, match=says):
        _site(section)
