"""A bridge whose link fails to stop still closes its outbox (its rows written, its lock let go),
and the other sites' bridges still stop: one failure used to end the loop and leave them open."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from openbms.drivers.mqtt.outbox import Outbox, outbox_path
from openbms.model.site import SiteConfig
from openbms.runtime.clock import WallClock
from openbms.service.assembly import Assembly


def site(sid: str, port: int) -> SiteConfig:
    return SiteConfig.model_validate({
        "site": {"id": sid, "timezone": "UTC"},
        "mqtt": {"host": "127.0.0.1", "port": port, "timeout": 1,
                 "bridge": {"per_point": False, "per_device": True}},
        "equipment": [{"id": "ahu-1", "type": "ahu", "points": [
            {"name": "sat", "unit": "degC", "binding": "sim://ahu-1/sat?wave=constant&value=14"}]}]})


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens there once closed: the link retries


async def test_a_bridge_that_fails_to_stop_closes_its_outbox_and_the_others_still_stop(tmp_path: Path,
                                                                                          caplog):
    port = closed_port()
    a = Assembly([site("a", port), site("b", port)], WallClock(), data_dir=tmp_path)
    await a.start_site_services(None)
    assert set(a.bridges) == {"a", "b"}
    first = a.bridges["a"]

    async def broken() -> None:
        raise RuntimeError("the link's stop failed")

    first.link.stop = broken  # type: ignore[method-assign]
    await a.stop()
    for sid in ("a", "b"):  # each outbox closed: a new one on the same file takes its lock
        again = Outbox(outbox_path(tmp_path, sid), first.link.outbox.settings, WallClock())
        try:
            await again.open()
        except Exception as err:  # the assertion says which one stayed open
            pytest.fail(f"site {sid}'s outbox was left open: {err}")
        await again.close()
    assert "did not stop cleanly" in caplog.text
