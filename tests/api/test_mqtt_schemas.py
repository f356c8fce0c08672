"""The JSON Schema files of command/response over MQTT are the models' schemas, one pair per command."""

from __future__ import annotations

import json
from pathlib import Path

from openbms.api.mqtt_commands import COMMANDS
from openbms.api.mqtt_schemas import schemas

FOLDER = Path(__file__).parents[2] / "docs" / "schemas" / "mqtt"


def test_every_command_has_a_request_and_a_response_schema_file_as_the_models_make_them():
    made = schemas()
    assert set(made) == {f"{name}.{kind}.json" for name in COMMANDS for kind in ("request", "response")}
    on_disk = {p.name: json.loads(p.read_text()) for p in FOLDER.glob("*.json")}
    stale = sorted(name for name in made if on_disk.get(name) != made[name])
    assert stale == [], "run: python -m openbms.api.mqtt_schemas docs/schemas/mqtt"
    assert sorted(set(on_disk) - set(made)) == []


def test_a_response_schema_admits_the_error_response():
    response = schemas()["write.response.json"]
    assert {"$ref": "#/$defs/ErrorResponse"} in response["anyOf"]
    codes = response["$defs"]["ErrorDetail"]["properties"]["code"]["enum"]
    assert {"bad_id", "forbidden", "unknown_point", "refused", "too_large", "malformed"} <= set(codes)
