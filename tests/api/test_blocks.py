"""GET /api/v1/blocks: the block catalogue over HTTP, for any signed-in user."""

from __future__ import annotations

from openbms.control.blocks import BLOCKS
from tests.api.live import live  # noqa: F401  (the fixture)


async def test_the_catalogue_lists_every_block_with_its_ports_for_any_signed_in_user(live):  # noqa: F811
    r = await live.get("labviewer", "/api/v1/blocks")
    assert r.status_code == 200, r.text
    items = {b["kind"]: b for b in r.json()["items"]}
    assert list(items) == list(BLOCKS)
    for kind, cls in BLOCKS.items():
        assert [p["name"] for p in items[kind]["inputs"]] == list(cls.inputs)
        assert [p["name"] for p in items[kind]["outputs"]] == list(cls.outputs)
    staging = {p["name"]: p for p in items["staging"]["params"]}
    assert (staging["stages"]["minimum"], staging["stages"]["maximum"]) == (1, 8)
    assert staging["delay_up_s"]["unit"] == "s" and staging["delay_up_s"]["default"] == 300
    assert (await live.get("anonymous", "/api/v1/blocks")).status_code == 401
