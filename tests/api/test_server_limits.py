"""Limits the HTTP server applies from the API settings: body sizes and WebSocket frames."""

# ruff: noqa: F811  (the live fixture is imported, then named as a parameter)
from __future__ import annotations

import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from openbms.api.app import body_limits_of
from openbms.api.server import uvicorn_options
from openbms.api.settings import ApiSettings
from tests.api.live import Live, live  # noqa: F401


async def test_a_websocket_frame_over_the_limit_is_refused_before_it_is_buffered(live: Live):
    token = live.clients["viewer"].headers["Authorization"].removeprefix("Bearer ")
    url = live.url.replace("http", "ws", 1) + f"/api/v1/ws?token={token}"
    async with connect(url, max_size=None) as ws:
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await ws.recv())["type"] == "ready"  # signed in and served
        await ws.send(json.dumps({"type": "ping", "pad": "x" * (256 << 10)}))  # 256 KiB in one frame
        with pytest.raises(ConnectionClosed) as closed:
            for _ in range(10):
                await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009  # message too big


def test_body_and_frame_limits_come_from_the_settings_and_are_bounded():
    settings = ApiSettings(max_body_bytes=4096, max_program_body_bytes=1 << 20, ws_max_frame_bytes=2048)
    limits = body_limits_of(settings)
    assert (limits.default, limits.programs) == (4096, 1 << 20)
    assert uvicorn_options(settings)["ws_max_size"] == 2048
    assert uvicorn_options(ApiSettings())["ws_max_size"] == 128 << 10
    for bad in (0, 100, 2 << 30, 1.5, True):
        with pytest.raises(ValueError, match="max_body_bytes must be a number of bytes"):
            ApiSettings(max_body_bytes=bad)  # type: ignore[arg-type]
