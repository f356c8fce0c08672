"""A wheel built from the repository carries the dashboard, the examples and the migrations."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def test_a_wheel_built_from_the_repo_contains_the_dashboard(tmp_path):
    if not (ROOT / "src/openbms/web_static/index.html").is_file():
        if os.environ.get("OPENBMS_REQUIRE_SERVICES") == "1":
            pytest.fail("the dashboard is not built: make web")
        pytest.skip("the dashboard is not built: make web")
    # A copy of the tracked sources plus the build, so the checkout's egg-info is not touched.
    src = tmp_path / "src"
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    for name in files:
        path = ROOT / name
        if path.is_file() and not path.is_symlink():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            (src / name).write_bytes(path.read_bytes())
    for path in (ROOT / "src/openbms/web_static").rglob("*"):
        if path.is_file():
            dest = src / path.relative_to(ROOT)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(path.read_bytes())
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                    "-w", str(tmp_path / "dist"), str(src)], check=True, capture_output=True)
    (wheel,) = (tmp_path / "dist").glob("openbms-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "openbms/web_static/index.html" in names
    assert any(n.startswith("openbms/web_static/assets/") and n.endswith(".js") for n in names)
    assert "openbms/examples/demo/site.yaml" in names
    assert "openbms/examples/office/programs/ahu.json" in names
    assert any(n.startswith("openbms/db/migrations/versions/0003") for n in names)
