"""Child process for the crash test: ingests numbered samples and reports each commit.

Usage: python ingest_child.py DB. Sample n has ts = T0 + n. After every commit it
prints ``committed N`` (samples 0..N-1 are durable) and flushes stdout.
"""

import asyncio
import sys

from openbms.historian.sqlite import SQLiteHistorian
from openbms.model import Sample

T0 = 1_700_000_000.0


async def main(path: str) -> None:
    h = SQLiteHistorian(path, flush_count=700, flush_interval=0.05, merge_rows=3000)
    await h.start()
    n = 0
    reported = 0
    while True:
        h.ingest([Sample("crash/test/p", T0 + n + i, float(n + i)) for i in range(250)])
        n += 250
        await asyncio.sleep(0.002)
        stored = h.stats().stored
        if stored != reported:
            reported = stored
            print(f"committed {stored}", flush=True)


asyncio.run(main(sys.argv[1]))
