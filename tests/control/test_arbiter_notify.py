"""The arbiter tells of a command (``on_command``) once its priority array says what it did.

``on_command`` is what bumps the commands service's ``version``, under which the
API caches the points page (a page says which values are overridden). Told
before the slot changed, a reader in between would cache the old array under
the new version and keep serving it. The observer here reads the array at the
moment it is told, as such a reader would.
"""

from __future__ import annotations

from openbms.control.arbiter import Arbiter
from openbms.control.commands import CommandStore
from openbms.db import migrate, open_state
from openbms.errors import WriteRefused
from openbms.model import Command, parse_binding
from openbms.runtime.clock import ManualClock
from tests.control.test_arbiter import SP, SP_URI, T0, rig, site


class Observer:
    """Notes, at every notification, the command's status and what holds its slot then."""

    def __init__(self) -> None:
        self.arbiter: Arbiter | None = None
        self.seen: list[tuple[str, str, str | None]] = []

    def __call__(self, cmd: Command) -> None:
        assert self.arbiter is not None
        holder = self.arbiter.slots(cmd.point)[cmd.priority - 1]
        self.seen.append((cmd.id, str(cmd.status), None if holder is None else holder.id))


def observed(tmp_path, clock: ManualClock):
    url = f"sqlite:///{tmp_path}/state.db"
    migrate(url)
    arb, _io, driver = rig(site(), clock, CommandStore(open_state(url)))
    observer = Observer()
    observer.arbiter = arb
    arb.on_command = observer
    return arb, driver, observer


async def test_a_new_command_is_told_once_it_holds_its_slot(tmp_path):
    clock = ManualClock(T0)
    arb, _driver, observer = observed(tmp_path, clock)
    cmd = await arb.command(SP, 20, 8)
    assert cmd.status == "completed"
    assert observer.seen == [(cmd.id, "executing", cmd.id), (cmd.id, "completed", cmd.id)]
    await clock.advance(60)
    release = await arb.release(SP, 8)
    assert (release.id, "executing", None) in observer.seen


async def test_a_command_the_device_refuses_is_told_failed_once_the_previous_holds_the_slot(tmp_path):
    clock = ManualClock(T0)
    arb, driver, observer = observed(tmp_path, clock)
    first = await arb.command(SP, 20, 8)
    await clock.advance(60)
    driver_write = driver.write

    async def refuse(binding, value, priority):
        if value == 25.0:
            raise WriteRefused("value-out-of-range")
        await driver_write(binding, value, priority)

    driver.write = refuse
    refused = await arb.command(SP, 25, 8)
    assert refused.status == "failed"
    assert (refused.id, "failed", first.id) in observer.seen
    assert not [s for s in observer.seen if s[0] == refused.id and s[1] == "failed" and s[2] != first.id]


async def test_a_read_back_mismatch_is_told_failed_once_the_previous_holds_the_slot(tmp_path):
    clock = ManualClock(T0)
    arb, driver, observer = observed(tmp_path, clock)
    first = await arb.command(SP, 20, 8)
    await clock.advance(60)
    await driver.write(parse_binding(SP_URI), 24.0, 1)  # a panel override at priority 1
    second = await arb.command(SP, 18, 8)
    assert second.status == "failed"
    told = [s for s in observer.seen if s[0] == second.id and s[1] == "failed"]
    assert told == [(second.id, "failed", first.id)]
