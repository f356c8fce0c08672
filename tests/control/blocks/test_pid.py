"""PID against a simulated first-order-plus-dead-time plant, and its transfer/None behaviour."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from openbms.control.blocks import create_block
from openbms.control.blocks.pid import Pid

T0 = 1_700_000_000.0  # epoch seconds: the controller sees realistic timestamps
PLANT_DT = 0.5

# SIMC tuning for K=2, tau=300 s, theta=30 s with tau_c = theta: kp = tau/(K·2θ), ti = min(tau, 8θ).
TUNING = {"kp": 2.5, "ti": 240.0, "out_min": 0.0, "out_max": 100.0}


@dataclass
class Trace:
    t: list[float]
    pv: list[float]
    out: list[float]

    def window(self, start: float, end: float) -> list[float]:
        return [y for t, y in zip(self.t, self.pv, strict=True) if start <= t < end]

    def settling_time(self, sp: float, band: float, after: float = 0.0) -> float:
        """The last time pv was outside sp ± band (measured from ``after``)."""
        outside = [t for t, y in zip(self.t, self.pv, strict=True) if t >= after and abs(y - sp) > band]
        return (outside[-1] if outside else after) - after


def simulate(
    pid: Pid,
    *,
    ts: float,
    duration: float,
    sp: Callable[[float], float] = lambda t: 50.0,
    disturbance: Callable[[float], float] = lambda t: 0.0,
    gain: float = 2.0,
    tau: float = 300.0,
    dead_time: float = 30.0,
    y0: float = 10.0,
    u0: float = 5.0,
) -> Trace:
    """Closed loop: the PID every ``ts`` s, the plant y' = (K·u(t−θ) − d − y)/τ integrated every 0.5 s."""
    y = y0
    pipe = deque([u0] * round(dead_time / PLANT_DT))
    u = u0
    trace = Trace([], [], [])
    next_step = 0.0
    for k in range(round(duration / PLANT_DT)):
        t = k * PLANT_DT
        if t >= next_step - 1e-9:
            out = pid.step(T0 + t, {"pv": y, "sp": sp(t)})["out"]
            assert isinstance(out, float)
            u = out
            next_step += ts
        pipe.append(u)
        y += (gain * pipe.popleft() - disturbance(t) - y) / tau * PLANT_DT
        trace.t.append(t + PLANT_DT)
        trace.pv.append(y)
        trace.out.append(u)
    return trace


def peak_to_peak(values: list[float]) -> float:
    return max(values) - min(values)


@pytest.mark.parametrize("ts", [1.0, 5.0, 10.0])
def test_pid_settles_on_fopdt_plant_without_sustained_oscillation(ts):
    trace = simulate(Pid(action="reverse", **TUNING), ts=ts, duration=3600)
    last = trace.window(3000, 3600)
    before = trace.window(2400, 3000)
    assert max(abs(y - 50.0) for y in last) < 0.1
    assert peak_to_peak(last) < 0.1
    assert peak_to_peak(last) <= peak_to_peak(before) + 1e-6  # decaying, not sustained
    assert max(trace.pv) < 55.0  # well damped: under 10 % overshoot


def test_pid_response_is_independent_of_sample_time():
    runs = {ts: simulate(Pid(action="reverse", **TUNING), ts=ts, duration=3600) for ts in (1.0, 5.0, 10.0)}
    settling = {ts: trace.settling_time(50.0, 1.0) for ts, trace in runs.items()}
    peaks = {ts: max(trace.pv) for ts, trace in runs.items()}
    assert max(settling.values()) < 1.6 * min(settling.values()), settling
    assert max(peaks.values()) - min(peaks.values()) < 1.5, peaks
    # the trajectories themselves agree, not just the summary numbers
    for t_check in (120.0, 300.0, 600.0):
        values = [trace.pv[round(t_check / PLANT_DT)] for trace in runs.values()]
        assert peak_to_peak(values) < 2.5, (t_check, values)


def test_pid_with_derivative_also_settles():
    pid = Pid(action="reverse", kp=3.0, ti=240.0, td=15.0, out_min=0.0, out_max=100.0)
    trace = simulate(pid, ts=5.0, duration=3600)
    assert peak_to_peak(trace.window(3000, 3600)) < 0.1
    assert abs(trace.pv[-1] - 50.0) < 0.1


def test_direct_action_controls_a_cooling_plant():
    # Cooling: more output lowers pv (negative gain); direct action raises output when pv > sp.
    pid = Pid(action="direct", **TUNING)
    trace = simulate(
        pid,
        ts=5.0,
        duration=3600,
        gain=-2.0,
        y0=40.0,
        u0=0.0,
        sp=lambda t: 20.0,
        disturbance=lambda t: -100.0,
    )
    assert abs(trace.pv[-1] - 20.0) < 0.1
    assert peak_to_peak(trace.window(3000, 3600)) < 0.1


def test_reverse_and_direct_move_the_output_in_opposite_directions():
    heating = Pid(action="reverse", kp=1.0, ti=100.0, out_min=0.0, out_max=100.0)
    cooling = Pid(action="direct", kp=1.0, ti=100.0, out_min=0.0, out_max=100.0)
    for pid in (heating, cooling):
        pid.step(0.0, {"pv": 20.0, "sp": 20.0, "enable": False, "track": 50.0})
    # pv below sp: the heating output rises, the cooling output falls
    h = [heating.step(t, {"pv": 18.0, "sp": 20.0})["out"] for t in (10.0, 20.0, 30.0)]
    c = [cooling.step(t, {"pv": 18.0, "sp": 20.0})["out"] for t in (10.0, 20.0, 30.0)]
    assert h == sorted(h) and h[-1] > 50.0
    assert c == sorted(c, reverse=True) and c[-1] < 50.0


def _windup_run(anti_windup: bool) -> Trace:
    # A load the plant cannot beat for an hour (the output sits at 100 %), then it goes away.
    pid = Pid(action="reverse", anti_windup=anti_windup, **TUNING)
    return simulate(
        pid, ts=5.0, duration=3 * 3600, y0=0.0, u0=0.0, disturbance=lambda t: 200.0 if t < 3600 else 0.0
    )


def test_anti_windup_recovers_quickly_from_long_saturation():
    with_aw = _windup_run(True)
    without = _windup_run(False)
    assert all(u == 100.0 for t, u in zip(with_aw.t, with_aw.out, strict=True) if 600 <= t < 3600)
    overshoot_aw = max(with_aw.window(3600, 3 * 3600)) - 50.0
    overshoot_wound = max(without.window(3600, 3 * 3600)) - 50.0
    settle_aw = with_aw.settling_time(50.0, 1.0, after=3600)
    settle_wound = without.settling_time(50.0, 1.0, after=3600)
    assert overshoot_aw < 35.0
    assert overshoot_wound > 3 * overshoot_aw
    assert settle_aw < 1200.0
    assert settle_wound > 2 * settle_aw
    assert abs(with_aw.pv[-1] - 50.0) < 0.1


def test_integral_stays_near_the_limit_while_saturated():
    pid = Pid(action="reverse", **TUNING)
    for k in range(2000):
        out = pid.step(k * 5.0, {"pv": 0.0, "sp": 50.0})["out"]
    assert out == 100.0
    # the moment the error reverses, the output leaves the limit
    assert pid.step(10_005.0, {"pv": 51.0, "sp": 50.0})["out"] < 100.0


def test_enable_after_tracking_is_bumpless():
    pid = Pid(action="reverse", kp=4.0, ti=60.0, out_min=0.0, out_max=100.0)
    for k in range(10):
        out = pid.step(k * 2.0, {"pv": 15.0, "sp": 21.0, "enable": False, "track": 37.0})["out"]
        assert out == 37.0
    first = pid.step(20.0, {"pv": 15.0, "sp": 21.0, "enable": True})["out"]
    # only this step's integral action, kp·e·dt/ti = 4·6·2/60, separates it from the tracked value
    assert first == pytest.approx(37.0 + 4.0 * 6.0 * 2.0 / 60.0)


def test_disabled_without_track_goes_to_out_min_and_restarts_from_there():
    pid = Pid(action="reverse", kp=4.0, ti=60.0, out_min=10.0, out_max=100.0)
    assert pid.step(0.0, {"pv": 15.0, "sp": 21.0, "enable": False})["out"] == 10.0
    assert pid.step(1.0, {"pv": 15.0, "sp": 21.0})["out"] == pytest.approx(10.0 + 4.0 * 6.0 / 60.0)


def test_retuning_is_bumpless():
    pid = Pid(action="reverse", kp=2.0, ti=120.0, out_min=0.0, out_max=100.0)
    for k in range(30):
        before = pid.step(k * 5.0, {"pv": 18.0, "sp": 20.0})["out"]
    pid.update_params(action="reverse", kp=8.0, ti=60.0, out_min=0.0, out_max=100.0)
    after = pid.step(150.0, {"pv": 18.0, "sp": 20.0})["out"]
    assert isinstance(before, float) and isinstance(after, float)
    assert abs(after - before) <= 8.0 * 2.0 * 5.0 / 60.0 + 1e-9


def test_redeploy_with_new_tuning_continues_without_a_bump():
    old = create_block("pid", {"action": "reverse", "kp": 2.0, "ti": 120.0})
    for k in range(30):
        before = old.step(k * 5.0, {"pv": 18.0, "sp": 20.0})["out"]
    new = create_block("pid", {"action": "reverse", "kp": 10.0, "ti": 120.0})
    new.restore(old.state())
    after = new.step(150.0, {"pv": 18.0, "sp": 20.0})["out"]
    assert isinstance(before, float) and isinstance(after, float)
    assert abs(after - before) <= 10.0 * 2.0 * 5.0 / 120.0 + 1e-9


def test_unknown_pv_holds_the_output_and_its_return_makes_no_kick():
    pid = Pid(action="reverse", kp=2.0, ti=120.0, td=30.0, out_min=0.0, out_max=100.0)
    for k in range(20):
        held = pid.step(k * 5.0, {"pv": 18.0, "sp": 20.0})["out"]
    for k in range(20, 40):
        assert pid.step(k * 5.0, {"pv": None, "sp": 20.0})["out"] == held
    assert pid.step(200.0, {"pv": 20.0, "sp": None})["out"] == held
    assert pid.step(205.0, {"pv": 20.0, "sp": 20.0, "enable": None})["out"] == held
    # pv came back 2 K higher: no proportional or derivative jump, output continues from where it held
    back = pid.step(210.0, {"pv": 20.0, "sp": 20.0})["out"]
    assert back == pytest.approx(held)


def test_no_output_before_the_first_known_pv():
    pid = Pid(action="reverse", kp=2.0, ti=120.0)
    assert pid.step(0.0, {"pv": None, "sp": 20.0}) == {"out": None}


def test_setpoint_step_gives_no_derivative_kick():
    with_d = Pid(action="reverse", kp=2.0, ti=0.0, td=60.0, out_min=-1000.0, out_max=1000.0)
    without_d = Pid(action="reverse", kp=2.0, ti=0.0, out_min=-1000.0, out_max=1000.0)
    for pid in (with_d, without_d):
        pid.step(0.0, {"pv": 20.0, "sp": 20.0})
    jump_d = with_d.step(1.0, {"pv": 20.0, "sp": 25.0})["out"]
    jump = without_d.step(1.0, {"pv": 20.0, "sp": 25.0})["out"]
    assert jump_d == jump == 10.0


def test_derivative_on_measurement_opposes_a_rising_pv():
    pid = Pid(action="reverse", kp=1.0, td=10.0, out_min=-100.0, out_max=100.0)
    pid.step(0.0, {"pv": 20.0, "sp": 20.0})
    out = pid.step(1.0, {"pv": 21.0, "sp": 20.0})["out"]
    assert isinstance(out, float) and out < -1.0  # beyond the proportional -1: derivative adds braking


def test_deadband_stops_integration_near_setpoint():
    pid = Pid(action="reverse", kp=2.0, ti=60.0, deadband=0.5, out_min=0.0, out_max=100.0)
    pid.step(0.0, {"pv": 20.0, "sp": 20.0, "enable": False, "track": 40.0})
    outs = {pid.step(k * 5.0, {"pv": 19.7, "sp": 20.0})["out"] for k in range(1, 50)}
    assert outs == {40.0}
    # just outside the band the error is measured from the band's edge: no step at the edge
    assert pid.step(250.0, {"pv": 19.4, "sp": 20.0})["out"] == pytest.approx(
        40.0 + 2.0 * 0.1 + 2.0 * 0.1 * 5 / 60
    )


def test_feedforward_adds_to_the_output():
    pid = Pid(action="reverse", kp=1.0, out_min=0.0, out_max=100.0)
    assert pid.step(0.0, {"pv": 20.0, "sp": 20.0, "feedforward": 30.0})["out"] == 30.0


def test_output_respects_limits():
    pid = Pid(action="reverse", kp=100.0, ti=10.0, out_min=20.0, out_max=80.0)
    assert pid.step(0.0, {"pv": 0.0, "sp": 50.0})["out"] == 80.0
    assert pid.step(1.0, {"pv": 100.0, "sp": 50.0})["out"] == 20.0


def test_time_going_backwards_counts_as_no_time():
    pid = Pid(action="reverse", kp=1.0, ti=10.0, out_min=0.0, out_max=100.0)
    pid.step(100.0, {"pv": 19.0, "sp": 20.0, "enable": False, "track": 50.0})
    assert pid.step(50.0, {"pv": 19.0, "sp": 20.0})["out"] == pytest.approx(50.0)


def test_limits_must_be_ordered():
    with pytest.raises(ValueError, match=r"out_min \(5.0\) must be below out_max \(1.0\)"):
        Pid(action="direct", kp=1.0, out_min=5.0, out_max=1.0)


def _settled_loop() -> tuple[Pid, float, float]:
    """A loop run 300 s at a constant 1 K error; returns it, the time of its last step and its output."""
    pid = Pid(action="reverse", kp=2.0, ti=300.0)
    t = T0
    for _ in range(30):
        out = pid.step(t, {"pv": 20.0, "sp": 21.0})["out"]
        t += 10.0
    assert isinstance(out, float)
    return pid, t - 10.0, out


def test_restore_after_an_outage_continues_without_a_bump():
    pid, last, out = _settled_loop()
    restored = Pid(action="reverse", kp=2.0, ti=300.0)
    restored.restore(pid.state())
    # Two hours later: only max_dt_s (60 s) of the error is integrated, from the output it had.
    after = restored.step(last + 7200.0, {"pv": 20.0, "sp": 21.0})["out"]
    assert after == pytest.approx(out + 2.0 * 1.0 * 60.0 / 300.0)  # was 52.0: kp·e·7200/ti in one step


def test_a_long_gap_between_steps_integrates_at_most_max_dt_and_continues_bumplessly():
    pid, last, out = _settled_loop()
    # The pv moved while no step ran: the output continues from where it was, not from P + I afresh.
    after = pid.step(last + 3600.0, {"pv": 20.5, "sp": 21.0})["out"]
    assert after == pytest.approx(out + 2.0 * 0.5 * 60.0 / 300.0)
    following = pid.step(last + 3610.0, {"pv": 20.5, "sp": 21.0})["out"]
    assert following == pytest.approx(after + 2.0 * 0.5 * 10.0 / 300.0)  # then integrates normally


def test_max_dt_s_is_a_parameter():
    pid = Pid(action="reverse", kp=2.0, ti=300.0, max_dt_s=7200.0)
    pid.step(T0, {"pv": 20.0, "sp": 21.0})
    assert pid.step(T0 + 3600.0, {"pv": 20.0, "sp": 21.0})["out"] == pytest.approx(2.0 + 2.0 * 3600.0 / 300.0)
    with pytest.raises(ValueError, match="max_dt_s"):
        Pid(action="reverse", kp=1.0, max_dt_s=0)


def test_a_same_instant_step_does_not_hide_a_pv_change_from_the_derivative():
    def run(extra_step_at_10: bool) -> float:
        pid = Pid(action="direct", kp=1.0, td=60.0, out_min=-100.0)
        pid.step(T0, {"pv": 20.0, "sp": 20.0})
        pid.step(T0 + 10.0, {"pv": 20.0, "sp": 20.0})
        if extra_step_at_10:  # a second event at the same instant sees the new pv
            pid.step(T0 + 10.0, {"pv": 21.0, "sp": 20.0})
        out = pid.step(T0 + 20.0, {"pv": 21.0, "sp": 20.0})["out"]
        assert isinstance(out, float)
        return out

    assert run(True) == pytest.approx(run(False))
    assert run(False) > 1.0  # the derivative acts on the rise (it was lost: 1.0, P alone)
