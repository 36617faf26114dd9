"""DESIGN.md's dependency rules hold, by import-linter's contracts in pyproject.toml.

`bus` imports nothing of the project; `devices` never the hub; `cloud_link` neither the
hub nor the devices; the console (`tui`) only the bus and the cloud's wire contract; the
REST layer (`hub.api`) not the hub's composition root (`hub.app`) that hands it its parts.
The second test is the proof that the check can fail: a copy of the code with one
forbidden import breaks exactly the contract it should.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bus", "devices", "hub", "tui", "cloud_link")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(checkout: Path) -> subprocess.CompletedProcess[str]:
    # PYTHONPATH first: the packages of ``checkout``, not the installed ones, are analysed.
    env = os.environ | {"PYTHONPATH": str(checkout)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=checkout, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_dependency_rules_of_the_design_hold():
    checked = lint_imports(ROOT)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "5 kept, 0 broken" in checked.stdout, checked.stdout


@pytest.mark.parametrize(
    ("module", "forbidden", "contract"),
    [
        ("bus/probe.py", "from hub import config", "bus imports nothing of the project"),
        ("devices/probe.py", "import hub.app", "devices never import the hub"),
        ("cloud_link/probe.py", "from devices import actor", "cloud_link imports nothing of the hub or the devices"),
        ("tui/probe.py", "from cloud_link import link", "tui imports only the bus and the cloud contract"),
        ("hub/api/probe.py", "from hub import app", "the REST layer does not import the composition root"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(tmp_path: Path, module: str, forbidden: str, contract: str):
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / module).write_text(f'"""Someone took a shortcut."""\n\n{forbidden}\n')
    checked = lint_imports(tmp_path)
    assert checked.returncode != 0, checked.stdout
    assert "4 kept, 1 broken" in checked.stdout, checked.stdout
    broken = [line for line in checked.stdout.splitlines() if line.endswith("BROKEN")]
    assert len(broken) == 1 and broken[0].startswith(contract), broken
