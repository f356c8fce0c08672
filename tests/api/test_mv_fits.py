"""The M&V routes' model fits are bounded: at most ``FITS_AT_ONCE`` run, ``FITS_WAITING`` wait, the
next is refused with 503 and Retry-After rather than piling up threads without end."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from openbms.api.errors import ApiError
from openbms.api.routes import mv


async def test_fits_beyond_the_running_and_waiting_ones_are_refused_with_retry_after():
    request: Any = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace()))
    release = asyncio.Event()
    running = 0
    most = 0

    async def fit() -> None:
        nonlocal running, most
        async with mv._fitting(request):
            running += 1
            most = max(most, running)
            await release.wait()
            running -= 1

    tasks = [asyncio.create_task(fit()) for _ in range(mv.FITS_AT_ONCE + mv.FITS_WAITING)]
    for _ in range(20):
        await asyncio.sleep(0)
    assert running == mv.FITS_AT_ONCE
    assert request.app.state.mv_fits.waiting == mv.FITS_WAITING
    with pytest.raises(ApiError) as refused:
        await fit()
    assert refused.value.status == 503 and refused.value.headers == {"Retry-After": "5"}
    release.set()
    await asyncio.gather(*tasks)
    assert most == mv.FITS_AT_ONCE and running == 0
    assert request.app.state.mv_fits.waiting == 0
    await fit()  # free again (the event is set: it runs through)
