"""The helpers every route shares answer the same way whichever route calls them."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError, field_validator

from openbms.api.helpers import validation_problem
from tests.api.conftest import Api


class _Body(BaseModel):
    name: str
    count: int

    @field_validator("name")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the name may not be blank")
        return value


def _error() -> ValidationError:
    with pytest.raises(ValidationError) as err:
        _Body.model_validate({"name": " ", "count": "many"})
    return err.value


@pytest.mark.parametrize("strip", [True, False])
def test_a_pydantic_error_is_the_field_level_422_under_its_prefix(strip: bool) -> None:
    problem = validation_problem(_error(), ("body", "spec"), strip_value_error=strip)
    assert problem.status == 422
    assert problem.type == "urn:openbms:problem:validation-error"
    assert problem.detail == "2 invalid field(s)"
    assert problem.errors is not None
    by_loc = {tuple(e["loc"]): e for e in problem.errors}
    assert set(by_loc) == {("body", "spec", "name"), ("body", "spec", "count")}
    assert by_loc[("body", "spec", "count")]["type"] == "int_parsing"
    blank = by_loc[("body", "spec", "name")]
    assert blank["type"] == "value_error"
    # stripped for bodies rebuilt by a route; kept as FastAPI's own 422 words it (schedules)
    expected = "the name may not be blank" if strip else "Value error, the name may not be blank"
    assert blank["msg"] == expected


def test_field_errors_already_shaped_are_taken_as_they_are() -> None:
    errors = [{"loc": ["body", "weekly", 0], "msg": "line 3, column 5: bad time", "type": "config"}]
    problem = validation_problem(errors)
    assert problem.status == 422
    assert problem.detail == "1 invalid field(s)"
    assert problem.errors == errors


async def test_without_a_runtime_every_route_family_answers_the_same_503(api: Api) -> None:
    """Before one runtime_of, the control routes and the site routes told it in different words."""
    headers = await api.bearer("admin@example.com")
    answers = [
        await api.client.get(path, headers=headers)
        for path in ("/api/v1/sites/hq/equipment", "/api/v1/sites/hq/schedules",
                     "/api/v1/sites/hq/devices", "/api/v1/sites/hq/alarms")
    ]
    assert [r.status_code for r in answers] == [503] * 4, [r.text for r in answers]
    details = {r.json()["detail"] for r in answers}
    assert details == {"this API runs without a building runtime: no sites are loaded"}
