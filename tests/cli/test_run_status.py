"""The status line of ``openbms run``/``demo`` says when health is degraded, and why."""

from __future__ import annotations

from openbms.cli.run import degraded_note


def test_the_status_line_names_the_reasons_of_each_degraded_check():
    health = {
        "disk": {"status": "degraded", "reasons": ["disk space low: 12.0 MB free (1.0 %), below 500 MB"]},
        "event_loop": {"status": "ok", "reasons": []},
        "historian": {"status": "degraded", "reasons": ["history writes failing: database or disk is full"]},
    }
    note = degraded_note(health)
    assert "degraded: disk space low: 12.0 MB free" in note and "; history writes failing" in note
    assert degraded_note({"disk": {"status": "ok", "reasons": []}}) == ""
    assert "see /api/v1/health" in degraded_note({"event_loop": {"status": "degraded"}})
