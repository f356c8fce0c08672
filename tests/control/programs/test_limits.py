"""What one program may cost the process: sizes and periods refused when parsed, CPU stopped when run."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest

from openbms.control.programs import LIMITS, Limits, Program, ProgramError, parse_program, validate_program
from openbms.model import Sample
from tests.control.programs.rig import Rig, pid, program, site

OUT1 = pid("out1")


def issues_of(data: object) -> dict[str, str]:
    with pytest.raises(ProgramError) as err:
        parse_program(data)  # type: ignore[arg-type]
    return {i.path: i.message for i in err.value.issues}


def doc(**parts: object) -> dict[str, object]:
    return {"id": "p1", "site": "hq", **parts}


def many_blocks(n: int) -> dict[str, object]:
    return doc(blocks=[{"id": f"b{i}", "block": "pid", "params": {"kp": 1}} for i in range(n)])


def test_a_period_shorter_than_a_second_is_refused_where_it_is_written():
    found = issues_of(doc(period_s=0.000001))
    assert found["period_s"].startswith("Input should be greater than or equal to 1 (got 1e-06)")
    assert "period_s" in issues_of(doc(period_s=10 * 86_400))
    assert parse_program(doc(period_s=1)).period_s == 1


def test_a_program_over_the_size_limits_is_refused_before_its_nodes_are_modelled():
    assert issues_of(many_blocks(100_000)) == {
        "blocks": "100000 blocks; a program may have at most 2000"}
    wires = [{"from": "a", "to": f"b{i}.pv"} for i in range(LIMITS.max_wires + 1)]
    assert issues_of(doc(wires=wires)) == {
        "wires": f"{LIMITS.max_wires + 1} wires; a program may have at most {LIMITS.max_wires}"}
    assert len(parse_program(many_blocks(LIMITS.max_blocks)).blocks) == LIMITS.max_blocks


def test_an_oversized_document_is_refused_as_text_as_data_and_as_a_file(tmp_path: Path):
    big = doc(description="", layout={"note": "x" * LIMITS.max_document_bytes})
    message = "a program may have at most 1000000"
    assert message in issues_of(big)["program"]
    assert message in issues_of(json.dumps(big))["program"]
    path = tmp_path / "big.json"
    path.write_text(json.dumps(big))
    assert message in issues_of(path)["program"]


def test_numbers_must_be_finite_and_documents_shallow():
    text = '{"id": "p1", "site": "hq", "constants": [{"id": "k", "value": NaN}],' \
           ' "blocks": [{"id": "b", "block": "pid", "params": {"kp": Infinity}}]}'
    assert issues_of(text) == {"constants[0].value": "nan is not a finite number",
                               "blocks[0].params.kp": "inf is not a finite number"}
    deep: dict[str, object] = {}
    for _ in range(40):
        deep = {"x": deep}
    (path, message), = issues_of(doc(layout=deep)).items()
    assert path.startswith("layout.x.x") and message == "nested more than 32 levels deep"
    assert issues_of("[" * 100_000)["program"].startswith("not valid JSON")
    assert issues_of("[1, 2]") == {"program": "a program is a JSON object, not [1, 2]"}


def test_a_refused_value_is_shown_shortened():
    found = issues_of(doc(name="n" * 1000))
    assert found["name"].startswith("String should have at most 200 characters (got 'nnnn")
    assert len(found["name"]) < 200


# ----------------------------------------------------------------------------- the CPU budget


class FakeCpu:
    """A CPU clock that moves ``per_call`` seconds each time it is read: what each evaluation costs."""

    def __init__(self) -> None:
        self.total = 0.0
        self.per_call = 0.0

    def __call__(self) -> float:
        self.total += self.per_call
        return self.total


class FakeTimer:
    """The budget windows' timer (the process's monotonic seconds), moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def holding(value: float, prog_id: str = "p1", out: str = OUT1) -> object:
    return program(id=prog_id, period_s=20, constants=[{"id": "k", "value": value}],
                   outputs=[{"id": "o", "point": out}], wires=[{"from": "k", "to": "o"}])


async def test_an_evaluation_over_the_budget_stops_its_program_releases_its_outputs_and_logs_once(caplog):
    cpu = FakeCpu()
    rig = Rig(limits=Limits(run_cpu_s=0.5, minute_cpu_s=100), cpu=cpu)
    rig.engine.load(holding(20), 1)
    rig.engine.load(holding(30, "p2", pid("out2")), 1)
    await rig.engine.idle()
    await rig.tick(20)
    assert rig.slot(OUT1) == 20.0 and rig.engine.status(site="hq")["p1"].state == "running"
    cpu.per_call = 0.6  # the next evaluations take 0.6 s each
    with caplog.at_level(logging.ERROR, logger="openbms.control.programs.engine"):
        await rig.tick(20)
        await rig.tick(20)
        await rig.tick(20)
    status = rig.engine.status(site="hq")
    assert status["p1"].state == status["p2"].state == "failed"
    assert status["p1"].last_error == ("stopped: one evaluation took 0.600 s of CPU, over the budget of "
                                       "0.5 s per evaluation")
    assert rig.slot(OUT1) is None and rig.slot(pid("out2")) is None  # released through the arbiter
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [
        "program hq/p1 stopped and its slots released", "program hq/p2 stopped and its slots released"]
    runs = status["p1"].runs
    await rig.tick(20)
    assert rig.engine.status(site="hq")["p1"].runs == runs  # stopped means not evaluated
    cpu.per_call = 0.0
    rig.engine.enable("p1", site="hq")
    await rig.engine.idle()
    await rig.tick(20)
    assert rig.slot(OUT1) == 20.0 and rig.engine.status(site="hq")["p1"].state == "running"


def passing(prog_id: str = "p1") -> Program:
    """a → out1."""
    return program(id=prog_id, inputs=[{"id": "x", "point": pid("a")}], outputs=[{"id": "o", "point": OUT1}],
                   wires=[{"from": "x", "to": "o"}])


async def test_the_budget_per_minute_counts_evaluations_in_the_minute_of_the_timer():
    cpu, timer = FakeCpu(), FakeTimer()
    rig = Rig(limits=Limits(run_cpu_s=1, minute_cpu_s=0.7), cpu=cpu, timer=timer)
    rig.engine.load(passing(), 1)
    await rig.engine.idle()
    cpu.per_call = 0.2  # 0.2 s per evaluation
    for i in range(15):  # one every 20 s: 0.6 s a minute, within the budget
        timer.now += 20
        await rig.clock.advance(20)
        await rig.publish({pid("a"): float(i)})
    status = rig.engine.status("p1")["p1"]
    assert (status.state, status.runs) == ("running", 16) and status.cpu_s == pytest.approx(15 * 0.2)
    assert rig.slot(OUT1) == 14.0
    for i in range(4):  # three more in the minute that began with the last one make 0.8 s
        await rig.publish({pid("a"): 20.0 + i})
    status = rig.engine.status("p1")["p1"]
    assert status.state == "failed" and status.runs == 16 + 3  # the fourth is not evaluated
    assert "within a minute, over the budget of 0.7 s per minute" in status.last_error
    assert rig.slot(OUT1) is None


async def test_the_budget_minute_is_the_process_timer_not_the_faster_domain_clock():
    cpu, timer = FakeCpu(), FakeTimer()
    rig = Rig(limits=Limits(run_cpu_s=1, minute_cpu_s=0.7), cpu=cpu, timer=timer)
    rig.engine.load(passing(), 1)
    await rig.engine.idle()
    cpu.per_call = 0.2
    for i in range(4):  # the demo at ×24: a minute of the clock is 2.5 s of the process
        await rig.clock.advance(60)
        timer.now += 2.5
        await rig.publish({pid("a"): float(i)})
    status = rig.engine.status("p1")["p1"]
    assert (status.state, status.runs) == ("failed", 5)  # 4 × 0.2 s in 10 s of the timer
    assert "0.800 s of CPU within a minute, over the budget of 0.7 s per minute" in status.last_error
    assert status.cpu_minute_s == pytest.approx(0.8)
    rig.engine.enable("p1")
    for i in range(6):  # at 1×: a new minute of the timer each time, so 0.2 s a minute
        await rig.clock.advance(60)
        timer.now += 60
        await rig.publish({pid("a"): 10.0 + i})
    status = rig.engine.status("p1")["p1"]
    assert status.state == "running" and status.cpu_minute_s == pytest.approx(0.2)
    assert rig.slot(OUT1) == 15.0
    timer.now += 60  # a minute with no evaluation: nothing spent in it
    assert rig.engine.status("p1")["p1"].cpu_minute_s == 0.0


# ----------------------------------------------------------------------------- sharing the event loop


def probing(prog_id: str) -> Program:
    """a → a time-based probe tagged ``prog_id`` (period 5 s)."""
    return program(id=prog_id, period_s=5, inputs=[{"id": "x", "point": pid("a")}],
                   blocks=[{"id": "b", "block": "probe", "params": {"tag": prog_id}}],
                   wires=[{"from": "x", "to": "b.in1"}])


async def other_task(steps: list[str], turns: int) -> None:
    """A driver, the API or the alarms: work that needs ``turns`` turns of the event loop."""
    for _ in range(turns):
        steps.append("other")
        await asyncio.sleep(0)


async def test_a_tick_gives_the_loop_back_between_programs_once_a_slice_of_cpu_is_spent(probe):
    cpu = FakeCpu()
    rig = Rig(cpu=cpu)  # the default limits: a slice is 0.02 s, an evaluation may take 0.25 s
    for prog_id in ("p1", "p2", "p3"):
        rig.engine.load(probing(prog_id), 1)
    await rig.engine.idle()
    await rig.clock.advance(5)
    probe.clear()
    other = asyncio.create_task(other_task(probe, 3))
    await rig.engine.tick(rig.clock.now())  # cheap evaluations: all in one turn of the loop
    await other
    assert probe == ["p1", "p2", "p3", "other", "other", "other"]
    cpu.per_call = 0.05  # each evaluation is over a slice
    await rig.clock.advance(5)
    probe.clear()
    other = asyncio.create_task(other_task(probe, 3))
    await rig.engine.tick(rig.clock.now())
    await other
    assert probe == ["p1", "other", "p2", "other", "p3", "other"]  # in order, the others in between
    assert {s.state for s in rig.engine.status(site="hq").values()} == {"running"}


async def test_an_event_driven_pass_gives_the_loop_back_between_programs_once_a_slice_is_spent(probe):
    cpu = FakeCpu()
    rig = Rig(cpu=cpu)
    for prog_id in ("p1", "p2", "p3"):
        rig.engine.load(probing(prog_id), 1)
    await rig.engine.idle()
    probe.clear()
    cpu.per_call = 0.05
    rig.bus.publish([Sample(pid("a"), rig.clock.now(), 1.0, "ok")])  # all three read a
    await asyncio.create_task(other_task(probe, 3))
    assert probe == ["p1", "other", "p2", "other", "p3", "other"]
    await rig.engine.idle()
    assert [s.runs for s in rig.engine.status(site="hq").values()] == [2, 2, 2]  # each once for the sample


async def test_a_program_unloaded_while_a_tick_gives_the_loop_back_is_not_evaluated(probe):
    cpu = FakeCpu()
    rig = Rig(cpu=cpu)
    for prog_id in ("p1", "p2", "p3"):
        rig.engine.load(probing(prog_id), 1)
    await rig.engine.idle()
    await rig.clock.advance(5)
    probe.clear()
    cpu.per_call = 0.05

    async def unload_p2() -> None:  # the API, between two programs of the tick
        probe.append("unload p2")
        await rig.engine.unload("p2", site="hq")

    task = asyncio.create_task(unload_p2())
    await rig.engine.tick(rig.clock.now())
    await task
    assert probe == ["p1", "unload p2", "p3"]
    assert rig.engine.loaded(site="hq") == ["p1", "p3"]


# ----------------------------------------------------------------------------- the site's budget


def holding_at(site_id: str, prog_id: str, value: float, out: str, **parts: object) -> Program:
    return Program.model_validate({
        "id": prog_id, "site": site_id, "period_s": 20, "constants": [{"id": "k", "value": value}],
        "outputs": [{"id": "o", "point": f"{site_id}/plant/{out}"}], "wires": [{"from": "k", "to": "o"}],
        **parts})


async def test_a_site_over_its_budget_loses_its_most_expensive_program_and_other_sites_run_on(caplog):
    cpu, timer = FakeCpu(), FakeTimer()
    rig = Rig(limits=Limits(run_cpu_s=1, minute_cpu_s=10, site_minute_cpu_s=1.0), cpu=cpu, timer=timer,
              more_sites=[site("annex")])
    rig.engine.load(holding_at("hq", "cheap", 20, "out2"), 1)
    busy = holding_at("hq", "busy", 30, "out1", inputs=[{"id": "x", "point": pid("a")}],
                      blocks=[{"id": "m", "block": "max", "params": {}}],
                      wires=[{"from": "k", "to": "m.in1"}, {"from": "x", "to": "m.in2"},
                             {"from": "m.out", "to": "o"}])
    rig.engine.load(busy, 1)
    rig.engine.load(holding_at("annex", "cheap", 40, "out1"), 1)
    await rig.engine.idle()
    assert (rig.slot(OUT1), rig.slot(pid("out2")), rig.slot("annex/plant/out1")) == (30.0, 20.0, 40.0)
    cpu.per_call = 0.2
    for i in range(3):  # busy is evaluated on every sample of a: 0.6 s
        await rig.publish({pid("a"): float(i)})
    await rig.tick(20)  # cheap 0.2 s, busy 0.8 s: hq at 1.0 s, within its budget
    assert {s.state for s in rig.engine.status().values()} == {"running"}
    with caplog.at_level(logging.ERROR, logger="openbms.control.programs.engine"):
        await rig.tick(20)  # cheap first: hq at 1.2 s, and busy (0.8 s) is the most expensive
        await rig.tick(20)
    status = rig.engine.status()
    assert {k: s.state for k, s in status.items()} == {
        "hq/cheap": "running", "hq/busy": "failed", "annex/cheap": "running"}
    assert status["hq/busy"].last_error == (
        "stopped: the programs of site 'hq' took 1.200 s of CPU within a minute, over the site's budget "
        "of 1 s per minute, and this one the most (0.800 s)")
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [
        "program hq/busy stopped and its slots released"]
    assert rig.slot(OUT1) is None and rig.slot(pid("out2")) == 20.0  # busy's slot released, cheap's held
    assert rig.slot("annex/plant/out1") == 40.0
    assert status["hq/cheap"].cpu_minute_s == pytest.approx(0.6)  # 1.2 s minus busy's share
    assert status["annex/cheap"].runs == status["hq/cheap"].runs == 4
    assert status["annex/cheap"].cpu_minute_s == pytest.approx(0.6)  # annex was never near its budget


async def test_a_real_program_over_a_tiny_budget_is_stopped_by_its_measured_cpu_time():
    rig = Rig(limits=Limits(run_cpu_s=1e-9))
    blocks = [{"id": f"s{i}", "block": "add", "params": {}} for i in range(200)]
    wires = [{"from": "k", "to": "s0.in1"}, {"from": "k", "to": "s0.in2"}]
    wires += [w for i in range(1, 200) for w in ({"from": f"s{i - 1}.out", "to": f"s{i}.in1"},
                                                 {"from": "k", "to": f"s{i}.in2"})]
    wires.append({"from": "s199.out", "to": "o"})
    rig.engine.load(program(constants=[{"id": "k", "value": 0.0}], blocks=blocks,
                            outputs=[{"id": "o", "point": OUT1}], wires=wires), 1)
    await rig.engine.idle()
    status = rig.engine.status("p1")["p1"]
    assert status.state == "failed" and status.cpu_s > 0
    assert status.last_error.startswith("stopped: one evaluation took")
    assert rig.slot(OUT1) is None


def test_a_program_file_names_the_line_of_each_problem(tmp_path: Path):
    path = tmp_path / "ahu.json"
    path.write_text('{\n  "id": "p1", "site": "hq",\n  "period_s": 0.000001,\n  "blocks": [\n'
                    '    {"id": "b", "block": "pid", "params": {"kp": 1}},\n    {"id": "c"}\n  ]\n}\n')
    with pytest.raises(ProgramError) as err:
        parse_program(path)
    assert [str(i) for i in err.value.issues] == [
        "line 3: period_s: Input should be greater than or equal to 1 (got 1e-06)",
        "line 6: blocks[1].block: is required"]
    path.write_text(path.read_text().replace("0.000001", "5").replace('{"id": "c"}',
                                                                        '{"id": "c", "block": "pdi"}'))
    found = [str(i) for i in validate_program(parse_program(path), {})]
    assert found == [
        "line 5: blocks[0].params: block 'pid': invalid parameters: parameter 'action' is required",
        "line 6: blocks[1].block: unknown block kind 'pdi'; did you mean 'pid'?"]
    assert validate_program(parse_program(json.loads(path.read_text())), {})[0].line is None  # data: no lines
