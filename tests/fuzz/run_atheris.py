"""Coverage-guided fuzzing of the targets in ``targets.py`` with atheris (libFuzzer for Python).

Run from the repository root::

    python -m tests.fuzz.run_atheris TARGET [libFuzzer options] [CORPUS_DIR ...]

TARGET is one of ``site_yaml``, ``rpm_ack``, ``alarm_expression``. Options are
libFuzzer's: ``-runs=N`` (a number of inputs), ``-max_total_time=S``,
``-seed=N``, ``-artifact_prefix=DIR/`` (where a crashing input is written),
``-max_len=N``. New interesting inputs go to the first corpus folder; give
``tests/fuzz/corpus/TARGET`` after it for the kept seeds. A file instead of a
folder runs just that input: that is how a crash is replayed.

openbms and PyYAML are instrumented for coverage; the target's contract is
the function of the same name in ``targets.py`` (an ``AssertionError`` or any
other exception is a crash).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import atheris

NAMES = ("site_yaml", "rpm_ack", "alarm_expression")


def _text(data: bytes) -> str:
    """Bytes as text, lone surrogates included (JSON and the API can carry them), never an error."""
    try:
        return data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _target(name: str) -> Callable[[bytes], object]:
    # Imported here, instrumented for coverage: openbms and PyYAML, nothing else.
    with atheris.instrument_imports(include=["openbms", "yaml", "tests.fuzz"]):
        from tests.fuzz import targets
    if name == "site_yaml":
        # A site file is decoded by the loader, which refuses bytes that are not UTF-8 before parsing.
        return lambda data: targets.site_yaml(data.decode("utf-8", "replace"))
    if name == "rpm_ack":
        return targets.rpm_ack
    return lambda data: targets.alarm_expression(_text(data))


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[1] not in NAMES:
        sys.exit(f"usage: python -m tests.fuzz.run_atheris {{{','.join(NAMES)}}} "
                 "[libFuzzer options] [CORPUS_DIR ...]")
    atheris.Setup([argv[0], *argv[2:]], _target(argv[1]))
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
