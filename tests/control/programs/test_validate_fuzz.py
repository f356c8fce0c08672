"""Property tests of the program parser and validator: random documents and graphs never crash them.

Whatever a user sends, the answer is a program or a list of issues, each
naming a part of the document that exists (so the dashboard can point at it);
a graph the validator accepts compiles and evaluates. Bounded example counts
keep the run short; a case hypothesis finds is kept below as an explicit test.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from openbms.control.blocks import BLOCKS
from openbms.control.programs import (
    ProgramEngine,
    ProgramError,
    ProgramIssue,
    catalog_from_sites,
    parse_program,
    validate_program,
)
from openbms.control.programs.model import Program, path_parts
from openbms.model.sample import Sample, Value
from openbms.runtime.clock import ManualClock
from tests.control.programs.rig import T0, site

BOUNDED = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CATALOG = catalog_from_sites([site("hq")])
POINTS = sorted(CATALOG)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20)
fields = st.sampled_from(["id", "site", "name", "period_s", "inputs", "constants", "blocks", "outputs",
                          "wires", "layout", "colour"])


def resolves(document: dict[str, Any], path: str) -> bool:
    """Whether an issue's path (``wires[3].to``) names a part of the document, or a field missing from one."""
    node: Any = document
    parts = path_parts(path)
    for i, part in enumerate(parts):
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                return False
            node = node[part]
        elif isinstance(node, dict) and (part in node or i == len(parts) - 1):
            node = node.get(part)
        else:
            return False
    return True


def check_issues(document: Any, issues: list[ProgramIssue]) -> None:
    assert issues
    for issue in issues:
        assert issue.path and issue.message
        if isinstance(document, dict):
            assert resolves(document, issue.path), (issue, document)


@BOUNDED
@given(st.dictionaries(fields, json_values, max_size=8))
def test_any_json_object_parses_or_gives_issues_at_paths_of_the_document(data):
    document = {"id": "p1", "site": "hq", **data}
    try:
        parse_program(document)
    except ProgramError as err:
        check_issues(document, err.issues)


@BOUNDED
@given(st.dictionaries(fields, json_values, max_size=8), st.sampled_from([None, 1, 2]))
def test_the_same_object_as_text_gives_the_same_issues_each_on_a_line_of_the_text(data, indent):
    document = {"id": "p1", "site": "hq", **data}
    text = json.dumps(document, indent=indent)
    try:
        parse_program(document)
    except ProgramError as err:
        expected = [(i.path, i.message) for i in err.issues]
    else:
        expected = []
    try:
        parse_program(text)
    except ProgramError as err:
        assert [(i.path, i.message) for i in err.issues] == expected
        lines = text.count("\n") + 1
        assert all(i.line is not None and 1 <= i.line <= lines for i in err.issues)
    else:
        assert expected == []


@BOUNDED
@given(st.text(max_size=200) | st.binary(max_size=200).map(bytes))
def test_any_text_parses_or_gives_issues(text):
    try:
        parse_program(text)
    except ProgramError as err:
        assert err.issues and all(i.path and i.message for i in err.issues)


# ------------------------------------------------------------------------ random graphs

NODE_IDS = [f"n{i}" for i in range(8)]
KINDS = sorted(BLOCKS)


@st.composite
def graphs(draw: st.DrawFn) -> dict[str, Any]:
    """A program of random nodes and wires, mostly between ports that exist."""
    ids = draw(st.lists(st.sampled_from(NODE_IDS), min_size=1, max_size=8))
    inputs, constants, blocks, outputs = [], [], [], []
    ports: list[str] = []  # sources
    sinks: list[str] = []
    for node_id in ids:
        role = draw(st.sampled_from(["input", "constant", "block", "block", "output"]))
        if role == "input":
            inputs.append({"id": node_id, "point": draw(st.sampled_from([*POINTS, "hq/plant/nope"]))})
            ports.append(node_id)
        elif role == "constant":
            value: Value = draw(st.none() | st.booleans() | st.floats(-100, 100) | st.text(max_size=3))
            constants.append({"id": node_id, "value": value})
            ports.append(node_id)
        elif role == "block":
            kind = draw(st.sampled_from([*KINDS, "nope"]))
            params = draw(st.sampled_from([{}, {"kp": 2}, {"x1": 0, "y1": 0, "x2": 10, "y2": 5},
                                           {"bogus": 1}, {"t": 5}, {"lo": 0, "hi": 10}]))
            blocks.append({"id": node_id, "block": kind, "params": params})
            cls = BLOCKS.get(kind)
            if cls is not None:
                ports += [f"{node_id}.{p}" for p in cls.outputs]
                sinks += [f"{node_id}.{p}" for p in cls.inputs]
        else:
            outputs.append({"id": node_id, "point": draw(st.sampled_from(POINTS)),
                            "priority": draw(st.integers(1, 16))})
            sinks.append(node_id)
    endpoints = st.sampled_from(ports or ["x"]) | st.sampled_from([*NODE_IDS, "n1.out", "n2.nope"])
    targets = st.sampled_from(sinks or ["x"]) | st.sampled_from([*NODE_IDS, "n3.in1"])
    wires = draw(st.lists(st.fixed_dictionaries({"from": endpoints, "to": targets}), max_size=12))
    return {"id": "fuzz", "site": "hq", "period_s": 5, "inputs": inputs, "constants": constants,
            "blocks": blocks, "outputs": outputs, "wires": wires}


async def _ignore(point: str, value: Value, priority: int, program_id: str) -> None:
    return None


@BOUNDED
@given(graphs())
def test_random_graphs_validate_or_give_issues_and_a_valid_one_compiles_and_runs(document):
    try:
        program = parse_program(document)
    except ProgramError as err:  # duplicate ids and the like
        check_issues(document, err.issues)
        return
    issues = validate_program(program, CATALOG)
    if issues:
        check_issues(document, issues)
        return
    event("valid")
    asyncio.run(_run(program))
    assert json.loads(program.to_json()) == program.to_json_dict()


async def _run(program: Program) -> None:
    """What the validator accepts, the engine compiles and evaluates without an error."""
    clock = ManualClock(T0)
    engine = ProgramEngine(CATALOG, clock, _ignore)
    engine.install(engine.prepare(program, 1))
    engine.feed([Sample(p, T0, 1.0 if CATALOG[p].kind != "bool" else True, "ok") for p in POINTS])
    await engine.idle()
    for _ in range(3):
        await clock.advance(5)
        await engine.tick(clock.now())
        await engine.idle()
    status = engine.status("fuzz")["fuzz"]
    assert (status.state, status.errors, status.last_error) == ("running", 0, "")


def test_found_an_empty_key_gets_a_path_that_says_where():
    """Found by the first property above: an empty key gave the path ``id.[0]``, which names nothing."""
    document = {"id": {"": [float("inf")]}, "site": "hq"}
    try:
        parse_program(document)
    except ProgramError as err:
        assert [(i.path, i.message) for i in err.issues] == [('id[""][0]', "inf is not a finite number")]
        check_issues(document, err.issues)
    else:
        raise AssertionError("an infinite number was accepted")
