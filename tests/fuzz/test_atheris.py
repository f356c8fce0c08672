"""Coverage-guided fuzzing in CI: each target under atheris for a fixed number of inputs.

Each run is a fresh process that instruments only what its target runs
(``run_atheris.CODE``): that, not the inputs, is most of a short run's time.

A fixed count, not a time budget, so a run does the same work on a loaded
machine as on an idle one, and a fixed seed, so a failure replays. A crash
leaves its input in the test's temporary folder; the failure message shows
libFuzzer's report with the traceback. Longer runs are for people:
``python -m tests.fuzz.run_atheris TARGET -max_total_time=600 DIR tests/fuzz/corpus/TARGET``
(docs/fuzzing.md).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
SEEDS = Path(__file__).parent / "corpus"

# Inputs per target: a few seconds each (site_yaml runs the whole loader, schema and site checks).
RUNS = {"site_yaml": 400, "rpm_ack": 20_000, "alarm_expression": 5_000}


def fuzz(target: str, runs: int, folder: Path, *inputs: Path) -> subprocess.CompletedProcess[str]:
    corpus = folder / "corpus"
    corpus.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "tests.fuzz.run_atheris", target, f"-runs={runs}", "-seed=1",
         f"-artifact_prefix={folder}/", "-rss_limit_mb=2048", "-timeout=120",
         *(map(str, inputs or (corpus, SEEDS / target)))],
        cwd=ROOT, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
@pytest.mark.parametrize("target", sorted(RUNS))
def test_atheris_finds_no_crash_in_a_fixed_number_of_inputs(tmp_path, target):
    proc = fuzz(target, RUNS[target], tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert f"Done {RUNS[target]} runs" in proc.stderr
    assert not list(tmp_path.glob("crash-*"))
    # Guided by coverage: the target's code is instrumented (run_atheris.CODE). Without it libFuzzer
    # still runs, blind, and says only "no interesting inputs were found so far".
    assert re.search(r"INITED cov: [1-9]", proc.stderr), proc.stderr[-4000:]
    assert "Is the code instrumented" not in proc.stderr


@pytest.mark.slow
def test_a_kept_input_replays_once_and_an_unknown_target_is_refused(tmp_path):
    # How a crash found elsewhere is replayed: the input file instead of a corpus folder. This one
    # (a NUL in an alarm expression) was found by fuzzing and is refused at its column today.
    case = tmp_path / "case"
    case.write_bytes(b"`a/b/c` > 1\x00")
    proc = fuzz("alarm_expression", 1, tmp_path, case)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert f"Executed {case}" in proc.stderr
    proc = fuzz("no_such_target", 1, tmp_path, case)
    assert proc.returncode != 0 and "usage: python -m tests.fuzz.run_atheris" in proc.stderr
