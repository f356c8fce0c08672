"""Coverage-guided fuzzing of the targets in ``targets.py`` with atheris (libFuzzer for Python).

Run from the repository root::

    python -m tests.fuzz.run_atheris TARGET [libFuzzer options] [CORPUS_DIR ...]

TARGET is one of ``site_yaml``, ``rpm_ack``, ``alarm_expression``. Options are
libFuzzer's: ``-runs=N`` (a number of inputs), ``-max_total_time=S``,
``-seed=N``, ``-artifact_prefix=DIR/`` (where a crashing input is written),
``-max_len=N``. New interesting inputs go to the first corpus folder; give
``tests/fuzz/corpus/TARGET`` after it for the kept seeds. A file instead of a
folder runs just that input: that is how a crash is replayed.

Only the code a target runs is instrumented for coverage (``CODE``): for
``site_yaml`` all of openbms and PyYAML as they are imported, for the other
two the functions of their one module (instrumenting is most of a short run's
time: seconds for all of openbms). The target's contract is the function of
the same name in ``targets.py`` (an ``AssertionError`` or any other exception
is a crash).
"""

from __future__ import annotations

import gc
import sys
import types
from collections.abc import Callable

import atheris

NAMES = ("site_yaml", "rpm_ack", "alarm_expression")

#: What each target runs, so what is instrumented: packages as they are imported (site_yaml: the
#: loader reaches through much of openbms), or the modules whose functions are the whole parser.
CODE = {
    "site_yaml": ("openbms", "yaml", "tests.fuzz"),
    "rpm_ack": ("openbms.drivers.bacnet.wire", "tests.fuzz.targets"),
    "alarm_expression": ("openbms.model.expression", "tests.fuzz.targets"),
}


def _text(data: bytes) -> str:
    """Bytes as text, lone surrogates included (JSON and the API can carry them), never an error."""
    try:
        return data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _instrument_functions(modules: tuple[str, ...]) -> None:
    """Instrument every function (methods, lambdas and nested ones too) defined in ``modules``."""
    if missing := [m for m in modules if m not in sys.modules]:
        sys.exit(f"run_atheris: no module {', '.join(missing)} was imported (is CODE out of date?)")
    for obj in gc.get_objects():
        if isinstance(obj, types.FunctionType) and obj.__module__ in modules:
            atheris.instrument_func(obj)  # nested code (closures, comprehensions) with it


def _target(name: str) -> Callable[[bytes], object]:
    # Imported here, and only the code the target runs instrumented for coverage (CODE).
    if name == "site_yaml":
        with atheris.instrument_imports(include=list(CODE[name])):
            from tests.fuzz import targets
        # A site file is decoded by the loader, which refuses bytes that are not UTF-8 before parsing.
        return lambda data: targets.site_yaml(data.decode("utf-8", "replace"))
    from tests.fuzz import targets

    _instrument_functions(CODE[name])
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
