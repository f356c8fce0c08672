"""``openbms modbus scan`` on a real pymodbus server: the unit ids it serves, the ranges of each
table, and a profile skeleton that loads as a valid profile; ``openbms modbus profile`` checks
profile files."""

from __future__ import annotations

import asyncio

from typer.testing import CliRunner

from openbms.cli.main import app
from openbms.config._yaml import parse
from openbms.drivers.modbus.profiles import SHIPPED, load_profile
from openbms.drivers.modbus.scan import scan
from tests.fixtures.modbus import ModbusTestServer, Unit, closed_port


async def cli(*args: str) -> tuple[int, str, str]:
    """The command in this process (in a thread: it runs its own event loop beside the server's)."""
    result = await asyncio.to_thread(CliRunner().invoke, app, list(args))
    return result.exit_code, result.stdout, " ".join(result.stderr.split())


def units() -> dict[int, Unit]:
    return {1: Unit(holding={**{a: a for a in range(0, 10)}, **{a: 7 for a in range(100, 104)}},
                    input={a: 1000 + a for a in range(40, 43)}),
            3: Unit(input={0: 5}, coil={0: True, 1: False, 2: True})}


async def test_scan_finds_the_unit_ids_and_the_ranges_the_server_serves(tmp_path):
    async with ModbusTestServer(units()) as server:
        at = f"127.0.0.1:{server.port}"
        skeleton = tmp_path / "found.yaml"
        code, out, err = await cli("modbus", "scan", at, "--units", "1-4", "--range", "0-199",
                                   "--tables", "holding,input", "--timeout", "0.5",
                                   "--profile-out", str(skeleton))
        assert code == 0, err
        assert out == (
            "unit 1: 17 addresses answer\n"
            "  holding   0-9 (10)  100-103 (4)\n"
            "  input     40-42 (3)\n"
            "unit 3: 1 addresses answer\n"
            "  holding   -\n"
            "  input     0 (1)\n"
            "no answer from unit 2, 4\n"
            f"profile skeleton of unit 1 written to {skeleton}\n")
    profile, issues = load_profile(skeleton, parse)
    assert issues == []
    assert profile is not None and profile.name == "found"
    found = {(p.name, p.table, p.address) for p in profile.points}
    assert found == {*((f"holding-{a}", "holding", a) for a in (*range(10), *range(100, 104))),
                     *((f"input-{a}", "input", a) for a in range(40, 43))}


async def test_scan_reads_bits_and_values_and_counts_the_requests():
    async with ModbusTestServer(units()) as server:
        results = await scan("127.0.0.1", server.port, [3], ("coil", "holding"), 0, 15, 0.5)
    (unit,) = results
    # The pymodbus simulator holds bits a 16-bit word at a time: coils 0-15 answer.
    assert unit.ranges == {"coil": [(0, 16)]}
    assert [unit.values["coil"][a] for a in range(3)] == [True, False, True]
    # One probe, one coil read, and the 16 holding registers (none there) split down to each
    # address: 31 reads.
    assert server.count(3) == 1 + 1 + 31


async def test_scan_of_an_address_where_nothing_listens_says_no_unit_answered(tmp_path):
    code, out, err = await cli("modbus", "scan", f"127.0.0.1:{closed_port()}", "--units", "1",
                               "--timeout", "0.2", "--profile-out", str(tmp_path / "x.yaml"))
    assert (code, out) == (1, "no answer from unit 1\n")
    assert err == "error: no unit answered: no profile skeleton written"
    assert not (tmp_path / "x.yaml").exists()


async def test_scan_refuses_bad_ranges_with_what_it_expected():
    for args, message in ((["--units", "5-2"], "--units '5-2': expected ranges from 0 to 255"),
                          (["--range", "10"], "--range '10': expected FIRST-LAST"),
                          (["--tables", "holding,tank"], "--tables: unknown table 'tank'")):
        code, _out, err = await cli("modbus", "scan", "127.0.0.1:1", *args)
        assert code == 1 and message in err, err


async def test_modbus_profile_checks_profiles_at_their_line_and_column(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\npoints:\n  - {name: a, table: input, address: 0, type: float32}\n"
                   "  - {name: b, table: input, address: 1}\n")
    code, out, err = await cli("modbus", "profile", str(SHIPPED / "vfd.yaml"), str(bad))
    assert code == 1
    assert out == (f"{SHIPPED / 'vfd.yaml'}: vfd: 14 points (1 coil, 1 holding, 12 input), "
                   "order ABCD\n")
    assert err.startswith(f"{bad}:4:38: point 'b': overlaps point 'a' at input 1")
    assert err.endswith("error: 1 problem in the profiles")
