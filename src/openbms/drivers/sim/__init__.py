"""The sim driver: deterministic simulated points for demos and tests."""

from openbms.drivers.sim.driver import SimDriver

__all__ = ["SimDriver"]
