"""The block catalogue as data: every kind, its ports and parameters, taken from the classes themselves."""

from __future__ import annotations

from openbms.control.blocks import BLOCKS
from openbms.control.blocks.catalogue import TITLES, describe_blocks
from openbms.control.blocks.leadlag import LeadLagParams
from openbms.control.blocks.pid import PidParams


def _by_kind() -> dict[str, dict]:
    return {b["kind"]: b for b in describe_blocks()}


def test_every_kind_is_described_with_every_port_and_a_title():
    found = _by_kind()
    assert list(found) == list(BLOCKS)
    for kind, cls in BLOCKS.items():
        b = found[kind]
        assert kind in TITLES, f"{kind} has no title in the catalogue"
        assert [p["name"] for p in b["inputs"]] == list(cls.inputs)
        assert [p["name"] for p in b["outputs"]] == list(cls.outputs)
        assert [(p["type"], p["unit"], p["required"]) for p in b["inputs"]] == [
            (p.type, p.unit, p.required) for p in cls.inputs.values()]
        assert b["time_based"] is cls.time_based and b["breaks_cycles"] is cls.breaks_cycles
        assert [p["name"] for p in b["params"]] == list(cls.Params.model_fields)
        assert b["description"]


def test_every_parameter_says_what_it_is_and_every_number_its_unit():
    for b in describe_blocks():
        for p in b["params"]:
            assert p["description"], f"{b['kind']}.{p['name']} has no description"
            if p["type"] == "number":
                assert p["unit"], f"{b['kind']}.{p['name']} has no unit"


def test_parameter_limits_defaults_and_choices_come_from_the_model():
    pid = {p["name"]: p for p in _by_kind()["pid"]["params"]}
    kp = PidParams.model_fields["kp"]
    assert pid["kp"]["exclusive_minimum"] == next(m.gt for m in kp.metadata if hasattr(m, "gt")) == 0
    assert pid["kp"]["required"] is True and pid["ti"]["required"] is False
    assert pid["ti"]["minimum"] == 0 and pid["ti"]["default"] == PidParams.model_fields["ti"].default
    assert pid["ti"]["unit"] == "s"
    assert pid["action"]["type"] == "enum" and pid["action"]["choices"] == ["direct", "reverse"]
    assert pid["tt"]["nullable"] is True and pid["tt"]["exclusive_minimum"] == 0
    n = {p["name"]: p for p in _by_kind()["leadlag"]["params"]}["n"]
    limits = {type(m).__name__: m for m in LeadLagParams.model_fields["n"].metadata}
    assert (n["type"], n["minimum"], n["maximum"]) == ("integer", limits["Ge"].ge, limits["Le"].le)


def test_numbered_ports_form_variadic_groups():
    found = _by_kind()
    assert found["and"]["variadic_inputs"] == [
        {"group": "in", "first": 1, "last": 8, "required": 2, "count_param": None}]
    assert found["and"]["inputs"][2]["group"] == "in" and found["and"]["inputs"][2]["default"] is True
    leadlag = {g["group"]: g for g in found["leadlag"]["variadic_inputs"]}
    assert leadlag["fault_"]["count_param"] == "n" and leadlag["fault_"]["last"] == 8
    assert {g["group"] for g in found["staging"]["variadic_outputs"]} == {"stage_"}
    assert found["pid"]["variadic_inputs"] == []


def test_the_expression_block_takes_its_inputs_from_its_formula():
    found = _by_kind()
    assert found["expression"]["dynamic_inputs"] == "formula" and found["expression"]["inputs"] == []
    assert {b["dynamic_inputs"] for k, b in found.items() if k != "expression"} == {None}
    formula = {p["name"]: p for p in found["expression"]["params"]}["formula"]
    assert (formula["type"], formula["required"]) == ("string", True)
