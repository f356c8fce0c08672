"""Validation: every check names the part of the document at fault."""

from __future__ import annotations

from typing import Any

import pytest

from openbms.control.programs import (
    Program,
    ProgramError,
    catalog_from_sites,
    parse_program,
    validate_program,
)
from tests.control.programs.rig import pid, program, site

CATALOG = {**catalog_from_sites([site("hq")]), **catalog_from_sites([site("annex")])}


def messages(prog: Program) -> list[str]:
    return [str(i) for i in validate_program(prog, CATALOG)]


def one(prog: Program) -> str:
    (issue,) = messages(prog)
    return issue


def pid_loop(pv: str = "a", sp: str = "b", **extra: Any) -> dict[str, Any]:
    """pv and sp inputs into a PID, its output to out1."""
    return {
        "inputs": [{"id": "pv", "point": pid(pv)}, {"id": "sp", "point": pid(sp)}],
        "blocks": [{"id": "pid1", "block": "pid", "params": {"kp": 2, "action": "direct"}}],
        "outputs": [{"id": "valve", "point": pid("out1")}],
        "wires": [{"from": "pv", "to": "pid1.pv"}, {"from": "sp", "to": "pid1.sp"},
                  {"from": "pid1.out", "to": "valve"}],
        **extra,
    }


def test_a_sound_program_has_no_issues():
    assert messages(program(**pid_loop())) == []


def test_a_duplicate_node_id_names_both_places():
    prog = program(**pid_loop(constants=[{"id": "pv", "value": 3}]))
    assert one(prog) == "constants[0].id: duplicate node id 'pv' (also inputs[0])"


def test_an_unknown_block_kind_suggests_the_closest():
    loop = pid_loop()
    loop["blocks"][0]["block"] = "pdi"
    assert one(program(**loop)) == "blocks[0].block: unknown block kind 'pdi'; did you mean 'pid'?"


def test_invalid_params_give_the_blocks_own_message():
    loop = pid_loop()
    loop["blocks"][0]["params"] = {"kp": 2, "action": "direct", "Ti": 60}
    assert one(program(**loop)).startswith(
        "blocks[0].params: block 'pid': invalid parameters: unknown parameter 'Ti'; did you mean 'ti'?")


def test_an_unknown_point_suggests_the_closest():
    assert one(program(**pid_loop(pv="aa"))) == (
        "inputs[0].point: unknown point 'hq/plant/aa'; did you mean 'hq/plant/a'?")


def test_an_output_on_a_read_only_point_is_refused():
    loop = pid_loop()
    loop["outputs"][0]["point"] = pid("c")
    assert one(program(**loop)) == (
        "outputs[0].point: point 'hq/plant/c' is not writable, so a program cannot command it")


def test_points_of_another_site_are_refused():
    loop = pid_loop()
    loop["inputs"][0]["point"] = "annex/plant/a"
    assert one(program(**loop)) == ("inputs[0].point: point 'annex/plant/a' belongs to site 'annex', "
                                    "not to the program's site 'hq'")


@pytest.mark.parametrize(("wire", "message"), [
    ({"from": "pv", "to": "pid1.pvv"}, "wires[3].to: block 'pid1' has no input 'pvv'; did you mean 'pv'?"),
    ({"from": "pid1.outt", "to": "pid1.track"},
     "wires[3].from: block 'pid1' has no output 'outt'; did you mean 'out'?"),
    ({"from": "pv.x", "to": "pid1.track"},
     "wires[3].from: input 'pv' has no port 'x'; its only port is 'value'"),
    ({"from": "pvx", "to": "pid1.track"}, "wires[3].from: no node 'pvx'; did you mean 'pv'?"),
    ({"from": "valve", "to": "pid1.track"},
     "wires[3].from: 'valve' is an output: a wire starts at an input, a constant or a block's output"),
    ({"from": "pid1.out", "to": "sp"},
     "wires[3].to: 'sp' is an input: a wire ends at a block's input or an output"),
    ({"from": "sp", "to": "pid1.pv"}, "wires[3].to: 'pid1.pv' is already wired (wires[0]); an input takes "
                                      "one wire"),
])
def test_wires_to_unknown_nodes_or_ports_or_wired_twice_are_refused(wire, message):
    loop = pid_loop()
    loop["wires"].append(wire)
    assert one(program(**loop)) == message


def test_a_bool_into_a_number_port_is_a_type_mismatch():
    assert one(program(**pid_loop(pv="flag"))) == (
        "wires[0]: type mismatch: 'pv.value' gives a bool but 'pid1.pv' takes a number")


def test_a_number_into_a_bool_output_is_a_type_mismatch():
    loop = pid_loop()
    loop["outputs"][0]["point"] = pid("bflag")
    assert one(program(**loop)) == (
        "wires[2]: type mismatch: 'pid1.out' gives a number but 'valve.value' takes a bool")


def test_ports_that_must_share_a_unit_refuse_a_pressure_against_a_temperature():
    assert one(program(**pid_loop(sp="p"))) == (
        "wires[1]: unit mismatch: 'pid1.sp' gets Pa from 'sp' but 'pid1.pv' gets degC from 'pv' "
        "(wires[0]); these inputs of a 'pid' block must share a unit")


def test_units_are_compared_by_meaning_not_spelling():
    assert messages(program(**pid_loop(sp="a-alias"))) == []  # °C is degC


def test_a_unit_flows_through_same_unit_blocks_to_an_output():
    prog = program(
        inputs=[{"id": "x", "point": pid("a")}, {"id": "y", "point": pid("b")}],
        blocks=[{"id": "hi", "block": "max", "params": {}}],
        outputs=[{"id": "o", "point": pid("pressure-sp")}],
        wires=[{"from": "x", "to": "hi.in1"}, {"from": "y", "to": "hi.in2"}, {"from": "hi.out", "to": "o"}])
    assert one(prog) == "wires[2]: unit mismatch: output 'o' writes a point in Pa but 'hi' gives degC"


def test_an_unwired_required_input_and_an_unwired_output_are_reported():
    loop = pid_loop()
    del loop["wires"][1:]
    assert messages(program(**loop)) == [
        "blocks[0]: block 'pid1': required input 'sp' is not wired",
        "outputs[0]: output 'valve' is not wired: nothing would be written to 'hq/plant/out1'",
    ]


def test_two_outputs_on_one_slot_are_refused():
    loop = pid_loop()
    loop["outputs"].append({"id": "valve2", "point": pid("out1")})
    loop["wires"].append({"from": "pid1.out", "to": "valve2"})
    assert one(program(**loop)) == ("outputs[1].point: 'hq/plant/out1' is already commanded at priority 10 "
                                    "by outputs[0]; two outputs would fight over one slot")


def loop_program(through: str) -> Program:
    return program(
        inputs=[{"id": "x", "point": pid("a")}],
        blocks=[{"id": "sum", "block": "add", "params": {}},
                {"id": "back", "block": through, "params": {}}],
        outputs=[{"id": "o", "point": pid("out1")}],
        wires=[{"from": "x", "to": "sum.in1"}, {"from": "back.out", "to": "sum.in2"},
               {"from": "sum.out", "to": "back.x" if through == "delay" else "back.in1"},
               {"from": "sum.out", "to": "o"}]
        + ([] if through == "delay" else [{"from": "x", "to": "back.in2"}]))


def test_a_feedback_loop_through_a_delay_is_allowed():
    assert messages(loop_program("delay")) == []


def test_a_feedback_loop_without_a_delay_is_refused_naming_its_nodes():
    assert one(loop_program("add")) == (
        "wires[1]: a loop that no delay breaks: sum → back → sum; a feedback loop must pass through "
        "a 'delay' block")


def test_the_document_shape_is_checked_with_paths():
    with pytest.raises(ProgramError) as err:
        parse_program({"id": "p1", "site": "hq", "period_s": 0,
                       "blocks": [{"id": "b.1", "block": "pid", "colour": "red"}],
                       "outputs": [{"id": "o", "point": "hq/plant/out1", "priority": 17}]})
    found = [str(i) for i in err.value.issues]
    assert found[0].startswith("period_s: Input should be greater than or equal to 1")
    assert any(m.startswith("blocks[0].id: String should match pattern") for m in found)
    assert "blocks[0].colour: unknown field" in found
    assert any(m.startswith("outputs[0].priority: Input should be less than or equal to 16") for m in found)


def test_a_program_round_trips_through_json():
    prog = program(**pid_loop(layout={"pid1": {"x": 10, "y": 20}}))
    again = parse_program(prog.to_json())
    assert again == prog and again.to_json_dict()["wires"][0] == {"from": "pv", "to": "pid1.pv"}
