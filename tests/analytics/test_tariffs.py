"""Tariffs price energy to the cent on hand-computed cases: time of use over a clock change, holidays,
demand charges in on-peak windows, fixed charges; and a tariff that leaves a moment unpriced is refused."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from openbms.analytics.energy import Meter, MeterSeries, day_spans, month_spans, window_kwh
from openbms.analytics.tariffs import cost_of, holidays_of
from openbms.model.calendar import Calendar
from openbms.model.tariff import Tariff
from tests.analytics.test_energy import steady

LONDON = ZoneInfo("Europe/London")


def local(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> float:
    return datetime(y, m, d, h, mi, tzinfo=LONDON).timestamp()


def tariff(**fields: object) -> Tariff:
    return Tariff.model_validate({"id": "t", "currency": "GBP", **fields})


DAY_NIGHT = tariff(
    energy=[{"name": "day", "rate": 0.30, "from": "07:00", "to": "23:00"}, {"name": "night", "rate": 0.10}],
    fixed=[{"amount": 0.50, "per": "day"}],
)


@pytest.mark.parametrize("kind", ["register", "demand"])
def test_a_23_hour_day_is_priced_hour_by_hour_as_the_clock_ran(kind):
    # 29 March 2026: London's clocks go from 01:00 to 02:00. A steady 10 kW all day:
    #   day   07:00–23:00 = 16 h × 10 kW = 160 kWh × 0.30 = 48.00
    #   night 00:00–01:00 and 02:00–07:00 and 23:00–24:00 = 7 h × 10 kW = 70 kWh × 0.10 = 7.00
    #   fixed 1 day × 0.50 = 0.50
    #   total 55.50 for 230 kWh (23 hours)
    register, demand = steady(10, local(2026, 3, 28), local(2026, 3, 30, 3), step=600)
    series = MeterSeries(Meter(kind, 1.0), register if kind == "register" else demand)
    (day,) = day_spans(1, local(2026, 3, 29, 12), LONDON)
    cost = cost_of(DAY_NIGHT, day, day.end, series.energy, None, LONDON, lambda _d: False)
    assert cost.kwh == pytest.approx(230)
    assert cost.energy_cost == pytest.approx(55.00, abs=0.005)
    assert cost.fixed_cost == pytest.approx(0.50, abs=0.005)
    assert cost.total == pytest.approx(55.50, abs=0.005)
    assert cost.demand_cost is None  # a day carries no demand charge
    lines = {line.name: (line.quantity, line.amount) for line in cost.lines}
    assert lines["day"] == pytest.approx((160, 48.00)) and lines["night"] == pytest.approx((70, 7.00))


@pytest.mark.parametrize("kind", ["register", "demand"])
def test_a_25_hour_day_prices_the_hour_that_comes_twice(kind):
    # 25 October 2026: London's clocks go from 02:00 back to 01:00; 01:00–02:00 comes twice. 10 kW all day:
    #   day   07:00–23:00 = 16 h × 10 = 160 kWh × 0.30 = 48.00
    #   night 00:00–07:00 is 8 hours this day, and 23:00–24:00: 9 h × 10 = 90 kWh × 0.10 = 9.00
    #   fixed 0.50; total 57.50 for 250 kWh
    register, demand = steady(10, local(2026, 10, 24), local(2026, 10, 26, 3), step=600)
    series = MeterSeries(Meter(kind, 1.0), register if kind == "register" else demand)
    (day,) = day_spans(1, local(2026, 10, 25, 12), LONDON)
    cost = cost_of(DAY_NIGHT, day, day.end, series.energy, None, LONDON, lambda _d: False)
    assert cost.kwh == pytest.approx(250)
    assert cost.total == pytest.approx(57.50, abs=0.005)
    lines = {line.name: line.amount for line in cost.lines}
    assert lines["day"] == pytest.approx(48.00) and lines["night"] == pytest.approx(9.00)


def test_a_holiday_from_the_sites_calendar_is_priced_as_a_holiday_not_a_weekday():
    # Thursday 24 and Friday 25 December 2026; the 25th is in the site's calendar "bank". A steady 4 kW.
    #   Thu: weekday 07:00–19:00 12 h × 4 = 48 kWh × 0.25 = 12.00; the rest 12 h × 4 = 48 kWh × 0.09 = 4.32
    #   Fri (holiday): 24 h × 4 = 96 kWh × 0.12 = 11.52
    #   fixed: 12.00 a month, two days of December's 31: 24.00 / 31 = 0.774193…
    #   total 12.00 + 4.32 + 11.52 + 0.774 = 28.61 (to the cent)
    bank = Calendar.model_validate({"id": "bank", "entries": ["12-25", "12-26"]})
    other = Calendar.model_validate({"id": "shutdown", "entries": ["2026-12-24"]})  # not the tariff's
    t = tariff(holidays=["bank"], energy=[
        {"name": "peak", "rate": 0.25, "days": ["weekday"], "from": "07:00", "to": "19:00"},
        {"name": "weekend and holidays", "rate": 0.12, "days": ["weekend", "holiday"]},
        {"name": "night", "rate": 0.09},
    ], fixed=[{"amount": 12, "per": "month"}])
    register, _demand = steady(4, local(2026, 12, 23), local(2026, 12, 26, 3), step=300)
    series = MeterSeries(Meter("register", 1.0), register)
    thursday, friday = day_spans(2, local(2026, 12, 25, 12), LONDON)
    holiday = holidays_of(t, [bank, other])
    costs = [cost_of(t, d, d.end, series.energy, None, LONDON, holiday) for d in (thursday, friday)]
    assert [c.energy_cost for c in costs] == pytest.approx([16.32, 11.52], abs=0.005)
    assert sum(c.total for c in costs) == pytest.approx(28.61, abs=0.005)
    assert [line.name for line in costs[1].lines] == ["weekend and holidays", "fixed 1"]


def test_demand_charges_take_the_months_highest_window_where_they_hold():
    # February 2026 in London (no clock change), samples every 5 minutes: 50 kW, but
    #   Tue 10 Feb 09:00–09:30 120 kW (on-peak), Wed 11 Feb 20:00–20:15 150 kW (evening),
    #   Sat 14 Feb 10:00–10:15 200 kW (weekend).
    # Energy: 28 d × 24 h × 50 = 33 600 kWh, plus 70 × 0.5 h + 100 × 0.25 h + 150 × 0.25 h = 97.5:
    #   33 697.5 kWh × 0.10 = 3 369.75
    # Demand, weekdays 07:00–19:00, 15 minutes, 10.00/kW: highest there is 120 kW → 1 200.00
    # Demand, any time, 30 minutes, 2.00/kW: 10:00–10:30 on Saturday averages (200 + 50) / 2 = 125 kW
    #   (above Tuesday's 120 and Wednesday's (150 + 50) / 2 = 100) → 250.00
    # Fixed: 20.00 a month.  Total: 3 369.75 + 1 200 + 250 + 20 = 4 839.75
    spikes = {(10, 9, 0): 120, (10, 9, 5): 120, (10, 9, 10): 120, (10, 9, 15): 120, (10, 9, 20): 120,
              (10, 9, 25): 120, (11, 20, 0): 150, (11, 20, 5): 150, (11, 20, 10): 150,
              (14, 10, 0): 200, (14, 10, 5): 200, (14, 10, 10): 200}
    samples = []
    ts = local(2026, 2, 1)
    while ts <= local(2026, 3, 1):
        wall = datetime.fromtimestamp(ts, LONDON)
        samples.append((ts, float(spikes.get((wall.day, wall.hour, wall.minute), 50))))
        ts += 300
    meter = Meter("demand", 1.0)
    t = tariff(energy=[{"rate": 0.10}], fixed=[{"amount": 20, "per": "month"}], demand=[
        {"name": "on-peak", "rate": 10, "window": 15, "days": ["weekday"], "from": "07:00", "to": "19:00"},
        {"name": "any time", "rate": 2, "window": 30},
    ])

    quarters = window_kwh(meter, samples, local(2026, 2, 1), local(2026, 3, 1), 900)

    def energy(a: float, b: float) -> float | None:  # the pieces are quarter hours here
        got = quarters[int((a - local(2026, 2, 1)) // 900)]
        return None if got is None else got * (b - a) / 900

    def windows(a: float, b: float, w: float) -> list[float | None]:
        return window_kwh(meter, samples, a, b, w)

    (february,) = month_spans(1, local(2026, 2, 15), LONDON)
    cost = cost_of(t, february, february.end, energy, windows, LONDON, lambda _d: False)
    assert cost.kwh == pytest.approx(33_697.5)
    assert cost.energy_cost == pytest.approx(3_369.75, abs=0.005)
    assert cost.demand_cost == pytest.approx(1_450.00, abs=0.005)
    assert cost.total == pytest.approx(4_839.75, abs=0.005)
    demand = {line.name: (line.quantity, line.at) for line in cost.lines if line.kind == "demand"}
    assert demand == {"on-peak": pytest.approx((120, local(2026, 2, 10, 9))),
                      "any time": pytest.approx((125, local(2026, 2, 14, 10)))}


def test_unknown_energy_is_not_priced_and_is_counted():
    register, _ = steady(10, local(2026, 6, 1), local(2026, 6, 1, 12), step=600)
    series = MeterSeries(Meter("register", 1.0), register)
    (day,) = day_spans(1, local(2026, 6, 1, 12), LONDON)
    cost = cost_of(DAY_NIGHT, day, day.end, series.energy, None, LONDON, lambda _d: False)
    # Readings from 00:00 to 12:00: 120 kWh, 5 h × 10 × 0.30 + 7 h × 10 × 0.10 = 22.00. From 12:00 nothing is
    # known; nor is 00:00–00:45, whose energy the first hourly reading (00:50) books to its own quarter.
    assert cost.kwh == pytest.approx(120) and cost.energy_cost == pytest.approx(22.00, abs=0.005)
    assert cost.unknown_s == 12 * 3600 + 2700


def test_a_tariff_must_price_every_moment():
    with pytest.raises(ValidationError) as err:
        tariff(energy=[{"rate": 0.3, "days": ["weekday"], "from": "07:00", "to": "23:00"},
                       {"rate": 0.1, "days": ["weekend"]}])
    assert "no energy rate prices holidays in January from 00:00" in str(err.value)
    with pytest.raises(ValidationError) as err:
        tariff(energy=[{"rate": 0.3, "months": [6, 7, 8]},
                       {"rate": 0.2, "months": [1, 2, 3, 4, 5, 9, 10, 11]}])
    assert "in December" in str(err.value)
    # Past midnight: 23:00–07:00 and 07:00–23:00 cover the day.
    tariff(energy=[{"rate": 0.1, "from": "23:00", "to": "07:00"},
                   {"rate": 0.2, "from": "07:00", "to": "23:00"}])
