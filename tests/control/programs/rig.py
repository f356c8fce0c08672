"""A test site, test-only blocks and the real chain: engine → arbiter → driver manager → SimDriver."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from openbms.control.arbiter import Arbiter
from openbms.control.blocks import Block, BlockParams, Port, Value
from openbms.control.blocks.base import as_number
from openbms.control.programs import Program, ProgramEngine, arbiter_write, catalog_from_sites
from openbms.drivers.manager import DriverManager, PointBinding
from openbms.drivers.sim.driver import SimDriver
from openbms.model import Sample, SiteConfig, parse_binding
from openbms.runtime.bus import Bus
from openbms.runtime.clock import Clock, ManualClock

T0 = 1_780_000_000.0


def _sensor(name: str, unit: str | None = "degC", kind: str = "number") -> dict[str, Any]:
    point: dict[str, Any] = {"name": name, "kind": kind,
                             "binding": f"sim://plant/{name}?wave=constant&value=0"
                             + ("&kind=bool" if kind == "bool" else "")}
    if unit:
        point["unit"] = unit
    return point


def _command(name: str, unit: str | None = "degC", kind: str = "number", **extra: Any) -> dict[str, Any]:
    point = _sensor(name, unit, kind)
    point.update(writable=True, **extra)
    if kind == "number":
        point.setdefault("limits", {"min": 0, "max": 50})
    return point


def site(site_id: str = "hq") -> SiteConfig:
    """One plant with sensors a, b, c (°C), p (Pa), flag (bool) and commandable out1…out4 (°C, 0–50)."""
    if site_id != "hq":  # a simulated plant of its own
        cfg = site().model_dump(mode="json", exclude_none=True)
        cfg["site"]["id"] = site_id
        for point in cfg["equipment"][0]["points"]:
            point["binding"] = point["binding"].replace("sim://plant/", f"sim://{site_id}-plant/")
        return SiteConfig.model_validate(cfg)
    return SiteConfig.model_validate({
        "site": {"id": site_id},
        "equipment": [{"id": "plant", "points": [
            _sensor("a"), _sensor("b"), _sensor("c"), _sensor("p", "Pa"), _sensor("flag", None, "bool"),
            _sensor("a-alias", "°C"),
            _command("out1"), _command("out2"), _command("out3"), _command("out4"),
            _command("pressure-sp", "Pa"),
            _command("bflag", None, "bool"),
            _command("mode", None, "enum", states=["off", "day", "night"]),
        ]}],
    })


def pid(name: str) -> str:
    return f"hq/plant/{name}"


def program(**parts: Any) -> Program:
    """A program on site hq from its parts (JSON style: wires as {"from", "to"} dicts)."""
    return Program.model_validate({"id": parts.pop("id", "p1"), "site": "hq", **parts})


class Recorder:
    """The driver manager, with every write it is handed noted."""

    def __init__(self, manager: DriverManager) -> None:
        self.manager = manager
        self.writes: list[tuple[str, object, int | None]] = []

    async def write(self, point: str, value: Value, priority: int | None = None) -> None:
        self.writes.append((point, value, priority))
        await self.manager.write(point, value, priority)

    async def read_point(self, point: str) -> Any:
        return await self.manager.read_point(point)


class Rig:
    """The engine wired to a real arbiter, driver manager and SimDriver."""

    def __init__(self, cfg: SiteConfig | None = None, clock: Clock | None = None,
                 max_errors: int = 3, *, more_sites: Sequence[SiteConfig] = (), **engine: Any) -> None:
        self.cfg = cfg or site()
        sites = [self.cfg, *more_sites]
        self.clock = clock or ManualClock(T0)
        self.driver = SimDriver(clock=self.clock)
        self.bus = Bus()
        points = [PointBinding(p, parse_binding(pt.binding), 10.0) for cfg in sites
                  for p, _e, pt in cfg.points() if pt.binding]
        self.manager = DriverManager(self.bus, self.clock, {"sim": self.driver}, points)
        self.io = Recorder(self.manager)
        self.arbiter = Arbiter(sites, self.io, self.clock)
        self.engine = ProgramEngine(catalog_from_sites(sites), self.clock,
                                    arbiter_write(self.arbiter), max_errors=max_errors, **engine)
        self.bus.subscribe_callback("*", self.engine.feed, name="programs")

    async def publish(self, values: Mapping[str, Value], status: str = "ok") -> None:
        """Samples of these points on the bus, then wait for the evaluations and writes they cause."""
        now = self.clock.now()
        self.bus.publish([Sample(p, now, v, status) for p, v in values.items()])
        await self.engine.idle()

    async def tick(self, seconds: float) -> None:
        """Let ``seconds`` pass and run the periodic evaluation."""
        assert isinstance(self.clock, ManualClock)
        await self.clock.advance(seconds)
        await self.engine.tick(self.clock.now())
        await self.engine.idle()

    def slot(self, point: str, priority: int = 10) -> Value:
        return self.arbiter.priority_array(point)[priority - 1]

    def device(self, point: str) -> Value:
        binding = next(pt.binding for p, _e, pt in self.cfg.points() if p == point)
        assert binding is not None
        return self.driver.effective(parse_binding(binding))

    def device_array(self, point: str) -> list[Value]:
        binding = next(pt.binding for p, _e, pt in self.cfg.points() if p == point)
        assert binding is not None
        return self.driver.priority_array(parse_binding(binding))


# ---------------------------------------------------------------------------- test-only blocks

#: Tags of the probe blocks in the order they were stepped.
STEPS: list[str] = []


class ProbeParams(BlockParams):
    tag: str = ""
    fail_on: float | None = None


class Probe(Block):
    """``out = in1 + in2``; notes each step in STEPS; raises when ``in1`` equals ``fail_on``."""

    kind: ClassVar[str] = "probe"
    inputs: ClassVar[dict[str, Port]] = {"in1": Port("number", unit="same"),
                                         "in2": Port("number", required=False, default=0.0, unit="same")}
    outputs: ClassVar[dict[str, Port]] = {"out": Port("number", unit="same")}
    time_based: ClassVar[bool] = True
    Params: ClassVar[type[BlockParams]] = ProbeParams

    params: ProbeParams

    def _compute(self, now: float, dt: float, inputs: dict[str, Value]) -> dict[str, Value]:
        STEPS.append(self.params.tag)
        x, y = as_number(inputs["in1"]), as_number(inputs["in2"])
        if x is not None and x == self.params.fail_on:
            raise ValueError(f"probe {self.params.tag!r} cannot take {x:g}")
        return {"out": None if x is None or y is None else x + y}
