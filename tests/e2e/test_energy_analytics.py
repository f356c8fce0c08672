"""The Energy page's analytics and the printable M&V report against the live demo in headless Chromium.

Issue 18, item 6: the energy page grows this month's peak and cost, the next
day's forecast band, the anomalies found, and baseline against actual with the
savings to date and their uncertainty; a printable M&V report is a page of the
dashboard laid out for A4. The demo has run for minutes, not for the weeks a
baseline needs, so the test writes three weeks of the main electricity
register into the demo's historian (generated office data; the reporting
period 10 % lower, one day of it excluded as a non-routine event) and then
drives the page as a person would: choose the periods, show the savings, open
the report, print it (print media) and read it as a viewer. Every figure the
page shows is compared with what the API answers for the same question.
"""

from __future__ import annotations

import re
import time
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.e2e.conftest import Demo, admin_api, shoot, sign_in

pytestmark = [pytest.mark.service, pytest.mark.slow]

SITE = "demo"
METER = "meters/elec-kwh"
TZ = ZoneInfo("Europe/London")
#: The designed saving of the reporting period (its energy is the generated office's × 0.9).
SAVING = 0.10
NOTE = "e2e: meter tested"


def _midnight(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=TZ).timestamp()


def _periods(api: httpx.Client) -> dict[str, date]:
    """The periods by the demo's clock: baseline 14 local days, then 7 reporting days ending 3 days ago."""
    now = api.get("/api/v1/health").json()["now_ts"]
    today = datetime.fromtimestamp(now, TZ).date()
    return {"start": today - timedelta(days=24), "split": today - timedelta(days=10),
            "end": today - timedelta(days=3), "ex": today - timedelta(days=7)}


def _seed(demo: Demo, p: dict[str, date]) -> None:
    """Three weeks of the register's readings every 15 minutes and the outdoor °C twice an hour."""
    from openbms.bench.forecast import office
    from openbms.model.sample import Sample

    start = _midnight(p["start"] - timedelta(days=1))
    hours = int((_midnight(p["end"]) - start) // 3600) + 2
    ts, kwh, temp = office(5, start, hours, TZ)
    split = _midnight(p["split"])
    reading = 1_000_000.0
    samples = []
    for t, e, x in zip(ts.tolist(), kwh.tolist(), temp.tolist(), strict=True):
        e = e * (1 - SAVING) if t >= split else e
        for q in range(4):  # a quarter of the hour's energy each 15 minutes (steps above the 1 kWh deadband)
            samples.append(Sample(f"{SITE}/{METER}", t + 900.0 * q, reading))
            reading += e / 4
        # ±0.06 °C around the hour's mean: two samples that the 0.1 °C deadband keeps, averaging to it.
        oat = f"{SITE}/ahu-1/oat"
        samples += [Sample(oat, t, x + 0.06), Sample(oat, t + 1800.0, x - 0.06)]
    samples.append(Sample(f"{SITE}/{METER}", ts[-1] + 3600.0, reading))

    async def write() -> None:
        demo.runtime.historian.ingest(samples)
        await demo.runtime.historian.flush()

    demo.run(write())


def _savings_query(p: dict[str, date]) -> dict[str, Any]:
    return {"meter": METER, "baseline_start": _midnight(p["start"]), "baseline_end": _midnight(p["split"]),
            "start": _midnight(p["split"]), "end": _midnight(p["end"]), "confidence": 0.9, "bucket": "day",
            "exclude": f"{_midnight(p['ex']):.0f}/{_midnight(p['ex'] + timedelta(days=1)):.0f}/{NOTE}"}


def _kwh(text: str) -> float:
    """'4,390.2 kWh' → 4390.2."""
    return float(re.sub(r"[^\d.\-]", "", text.replace("−", "-")))


def test_the_energy_page_shows_month_forecast_anomalies_and_the_savings_with_their_uncertainty(
        demo: Demo, page: Any) -> None:
    from playwright.sync_api import expect

    with admin_api(demo) as api:
        p = _periods(api)
        _seed(demo, p)
        # Until the seeded hours are in the rollups the savings read (a bound to stop a broken run only).
        deadline = time.monotonic() + 120
        while True:
            r = api.get(f"/api/v1/sites/{SITE}/analytics/savings", params=_savings_query(p))
            if r.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert r.status_code == 200, r.text
        expected = r.json()
        assert expected["exclusions"][0]["note"] == NOTE

        sign_in(page, demo, path=f"/sites/{SITE}/energy")
        expect(page.get_by_role("heading", name="Energy", exact=True)).to_be_visible()
        # The sections the page grew, each in its own card.
        for title in ("This month so far", "Next 24 hours", "Anomalies", "Baseline and savings (M&V)"):
            expect(page.get_by_role("heading", name=re.compile(f"^{re.escape(title)}"))).to_be_visible()
        # The demo has no tariff: said so, not shown as an error.
        expect(page.get_by_test_id("month-no-tariff")).to_be_visible()
        # A forecast (once the server has made one) or why there is none.
        forecast = page.locator("[data-testid=forecast-meter], [data-testid=forecast-none]")
        expect(forecast.first).to_be_visible()
        # Anomalies: a table of findings, or "No anomaly found".
        expect(page.locator("table.anomalies, [data-testid=anomalies-none]").first).to_be_visible()

        # Baseline and savings: the periods typed as the site's local dates, the excluded day with its note.
        mv = page.get_by_role("region", name="Baseline and savings (M&V)")
        mv.get_by_label("Meter").select_option(METER)
        mv.get_by_label("Baseline period").fill(f"{p['start']}/{p['split']}")
        mv.get_by_label("Reporting period").fill(f"{p['split']}/{p['end']}")
        excluded = f"{p['ex']}/{p['ex'] + timedelta(days=1)} {NOTE}"
        mv.get_by_label(re.compile("Non-routine events")).fill(excluded)
        mv.get_by_role("button", name="Show").click()
        avoided = page.get_by_test_id("mv-avoided")
        expect(avoided).to_be_visible(timeout=60_000)
        # The page shows the server's figures: the avoided energy the API computed (to its display rounding).
        assert abs(_kwh(avoided.inner_text()) - expected["avoided_kwh"]) <= 1.0
        words = page.get_by_test_id("mv-savings").inner_text()
        assert "at 90 % confidence" in words and "between" in words, words
        expect(page.get_by_test_id("mv-verdict")).to_contain_text("ASHRAE Guideline 14")
        expect(page.locator("table.mv-exclusions").first).to_contain_text(NOTE)
        expect(page.get_by_test_id("mv-reporting-chart")).to_be_visible()
        expect(page.get_by_test_id("mv-baseline-chart")).to_be_visible()
        shoot(page, "energy-analytics")

        # The printable report: its address holds the choice; it names who printed it and when (server time).
        before = api.get("/api/v1/health").json()["now_ts"]
        page.get_by_test_id("mv-report-link").click()
        expect(page.get_by_role("heading", name="Measurement and verification report")).to_be_visible()
        assert "/energy/report?" in page.url and "exclude=" in page.url
        facts = page.get_by_test_id("report-facts")
        expect(facts).to_contain_text(METER)
        expect(facts).to_contain_text(f"{p['start']} to {p['split']}")
        expect(facts).to_contain_text(f"{p['split']} to {p['end']}")
        me = api.get("/api/v1/auth/me").json()
        expect(page.get_by_test_id("report-printed")).to_contain_text(me["name"] or me["email"])
        stamp = page.get_by_test_id("report-printed")
        expect(stamp).to_have_attribute("data-now", re.compile(r"^\d+$"))  # once the server has told its time
        printed = float(stamp.get_attribute("data-now") or "nan")
        after = api.get("/api/v1/health").json()["now_ts"]
        # The demo's clock runs ten times the wall's: the time printed is the server's, not the browser's.
        assert before - 60 <= printed <= after + 60, (before, printed, after)
        expect(page.get_by_test_id("mv-avoided")).to_be_visible(timeout=60_000)
        assert abs(_kwh(page.get_by_test_id("mv-avoided").inner_text()) - expected["avoided_kwh"]) <= 1.0
        expect(page.locator("table.mv-stats")).to_contain_text("CV(RMSE)")
        expect(page.get_by_role("heading", name="Method and references")).to_be_visible()
        expect(page.locator("table.mv-exclusions").first).to_contain_text(NOTE)

        # On paper: no navigation, no buttons; the report and its charts.
        page.emulate_media(media="print")
        expect(page.locator("header.topbar")).to_be_hidden()
        expect(page.get_by_role("button", name="Print or save as PDF")).to_be_hidden()
        expect(page.get_by_role("heading", name="Measurement and verification report")).to_be_visible()
        expect(page.get_by_test_id("mv-reporting-chart")).to_be_visible()
        page.emulate_media(media="screen")
        shoot(page, "energy-report")


def test_a_viewer_reads_the_report_and_a_wrong_address_says_what_is_wrong(demo: Demo, page: Any) -> None:
    from playwright.sync_api import expect

    with admin_api(demo) as api:
        p = _periods(api)
    query = urlencode({"meter": METER, "baseline": f"{p['start']}/{p['split']}",
                       "reporting": f"{p['split']}/{p['end']}"})
    # Signed in first (sign-in's next= would cut the report's own query at its first &), then the report.
    sign_in(page, demo, who="viewer", path=f"/sites/{SITE}/energy")
    page.goto(f"{demo.url}/#/sites/{SITE}/energy/report?{query}")
    expect(page.get_by_role("heading", name="Measurement and verification report")).to_be_visible()
    expect(page.get_by_test_id("report-facts")).to_contain_text(METER)
    # The report reads the server's answer (a baseline, or why it cannot be fitted on this history).
    expect(page.locator("[data-testid=mv-verdict], .banner--error").first).to_be_visible(timeout=60_000)

    # Where an anomaly links: the meter over its period, by hour, with the anomalies found on it then.
    since, until = _midnight(p["split"]), _midnight(p["split"] + timedelta(days=1))
    page.goto(f"{demo.url}/#/sites/{SITE}/energy?meter={METER}&since={since:.0f}&until={until:.0f}")
    period = page.get_by_test_id("energy-period")
    expect(period.get_by_role("heading", level=2).first).to_contain_text(str(p["split"].year))
    expect(period.locator("figure.bars, p.muted.small").first).to_be_visible()
    expect(period.locator("table.anomalies, [data-testid=anomalies-none]").first).to_be_visible()

    page.goto(f"{demo.url}/#/sites/{SITE}/energy/report?meter={METER}&baseline=2025-01-01/2025-02-30")
    errors = page.get_by_test_id("report-errors")
    expect(errors).to_contain_text("baseline: expected two dates START/END")
    expect(errors).to_contain_text("reporting: expected two dates START/END")
