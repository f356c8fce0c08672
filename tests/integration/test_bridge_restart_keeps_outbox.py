"""A site's configuration changed while it runs (``Runtime.apply_site``) with another ``mqtt:``
section, whose bridge therefore restarts while its broker is away: every sample the edge's history
keeps is still in the MQTT outbox, so the centre can get it later.

It was not so: ``Assembly.reconfigure`` started the new driver manager's polls and only then
restarted the bridge, whose old link took up to ``timeout`` + 1 s to say goodbye to the silent
broker and whose new link waited up to ``timeout`` for it; what was polled meanwhile went into
the history and never into the outbox (the defect 9a8452d fixed at start and stop)."""

from __future__ import annotations

import socket
from pathlib import Path

from openbms.config import load_sites
from openbms.service.runtime import Runtime
from tests.fixtures.waiting import eventually
from tests.integration.test_bridge_outbox_takes_every_stored_sample import SITE, stored_and_queued


async def test_a_bridge_restarted_by_a_site_change_queues_every_sample_stored(tmp_path: Path):
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        folder, changed = tmp_path / "site", tmp_path / "changed"
        folder.mkdir()
        changed.mkdir()
        (folder / "hq.yaml").write_text(SITE.format(port=port))
        # the same site, its bridge's timeout 2 s instead of 1: another mqtt: section
        (changed / "hq.yaml").write_text(SITE.format(port=port).replace("timeout: 1", "timeout: 2"))
        runtime = Runtime(load_sites(folder), tmp_path / "data")
        await runtime.start()
        try:
            await eventually(lambda: runtime.status().samples >= 5, "5 samples polled")
            before = runtime.assembly.bridges["hq"]
            await runtime.apply_site(load_sites(changed)[0])
            assert runtime.assembly.bridges["hq"] is not before  # restarted, not followed
            seen = runtime.status().samples
            await eventually(lambda: runtime.status().samples >= seen + 5, "5 more samples polled")
        finally:
            await runtime.stop()
    stored, queued = await stored_and_queued(tmp_path / "data")
    assert len(stored) >= 10  # polled before and after the change: not a vacuous run
    assert sorted(stored - queued) == []
