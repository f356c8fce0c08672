"""Overriding a block's output for commissioning: downstream sees the override until released or expired."""

from __future__ import annotations

import pytest

from tests.control.programs.rig import T0, Rig, pid, program

A, OUT1 = pid("a"), pid("out1")


def _clamped():
    """a → limit (0…40) → out1."""
    return program(inputs=[{"id": "x", "point": A}],
                   blocks=[{"id": "lim", "block": "limit", "params": {"lo": 0, "hi": 40}}],
                   outputs=[{"id": "o", "point": OUT1}],
                   wires=[{"from": "x", "to": "lim.x"}, {"from": "lim.out", "to": "o"}])


async def test_an_overridden_block_output_reaches_the_output_until_released():
    rig = Rig()
    rig.engine.load(_clamped(), 1)
    await rig.publish({A: 7.0})
    assert rig.slot(OUT1) == 7.0
    rig.engine.override("p1", "hq", "lim", "out", 33.0, None)
    await rig.engine.idle()
    assert rig.slot(OUT1) == 33.0  # at the program's own priority, through the arbiter
    await rig.publish({A: 9.0})
    assert rig.slot(OUT1) == 33.0 and rig.engine.values("p1", site="hq")["lim.out"] == 33.0
    assert rig.engine.overrides("p1", "hq") == {"lim.out": (33.0, None)}
    assert rig.engine.release_override("p1", "hq", "lim", "out") is True
    await rig.engine.idle()
    assert rig.slot(OUT1) == 9.0  # the block's own value again, at once
    assert rig.engine.release_override("p1", "hq", "lim", "out") is False


async def test_an_override_expires_on_the_clock():
    rig = Rig()
    rig.engine.load(_clamped(), 1)
    await rig.publish({A: 5.0})
    rig.engine.override("p1", "hq", "lim", "out", 20.0, T0 + 30)
    await rig.engine.idle()
    assert rig.slot(OUT1) == 20.0
    await rig.tick(10)
    assert rig.slot(OUT1) == 20.0
    await rig.tick(30)
    assert rig.slot(OUT1) == 5.0 and rig.engine.overrides("p1", "hq") == {}


def test_only_a_wired_block_output_may_be_overridden():
    rig = Rig()
    rig.engine.load(_clamped(), 1)
    with pytest.raises(KeyError, match="not a wired output of a block"):
        rig.engine.override("p1", "hq", "x", "value", 1.0, None)  # an input node
    with pytest.raises(KeyError, match="not a wired output of a block"):
        rig.engine.override("p1", "hq", "lim", "nope", 1.0, None)
