"""sync_site writes a site of many points with a few statements, not one per point (issue 15).

A first start of 1 000 devices x 100 points built, compiled and ran one INSERT per
point: two minutes of a thread holding the interpreter, the event loop stalling.
"""

from __future__ import annotations

import sqlalchemy as sa
from tests.config.test_loader import EXAMPLE

from openbms.config import load_sites
from openbms.db import load_points, migrate, open_state, sync_site


def test_sync_site_uses_a_few_statements_for_many_points(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    migrate(url)
    engine = open_state(url)
    (site,) = load_sites(EXAMPLE)
    ahu = next(e for e in site.equipment if e.id == "ahu-1")
    copies = tuple(ahu.model_copy(update={"id": f"ahu-{n}"}) for n in range(100, 140))
    big = site.model_copy(update={"equipment": (*site.equipment, *copies)})
    statements: list[str] = []
    sa.event.listen(engine, "before_cursor_execute",
                    lambda conn, cursor, sql, *args: statements.append(sql.split()[0].upper()))
    first = sync_site(engine, big, now=1000.0)
    assert first.points[0] == len(big.points()) > 40 * len(ahu.points)
    assert statements.count("INSERT") <= 4  # the site, its spaces, equipment and points
    statements.clear()
    sat = ahu.points[0].model_copy(update={"unit": "degF"})
    edited = big.model_copy(update={"equipment": tuple(
        e.model_copy(update={"points": (sat, *e.points[1:-1])}) if e.id.startswith("ahu-1") else e
        for e in big.equipment)})
    report = sync_site(engine, edited, now=2000.0)
    assert report.points == (0, 41, 41)  # each copy's sat changed, its last point gone
    assert statements.count("UPDATE") <= 2 and statements.count("DELETE") <= 1
    stored = {p["id"]: p for p in load_points(engine, "hq")}
    assert stored["hq/ahu-120/sat"]["unit"] == "degF"
    assert f"hq/ahu-120/{ahu.points[-1].name}" not in stored
    engine.dispose()
