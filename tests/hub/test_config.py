"""`storehub check-config` tells a technician exactly what is wrong with a file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bus.passwords import hash_secret
from hub.config import ConfigError, load_config

REPO = Path(__file__).resolve().parents[2]
GOOD_HASH = hash_secret("s3cret")

GOOD = f"""
store_id = "store-12"
[[clients]]
id = "till-1"
role = "till"
secret_hash = "{GOOD_HASH}"
[[devices]]
id = "echo-1"
kind = "echo"
assigned_to = "till-1"
"""


def check_config(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", "check-config", "--config", str(path)], capture_output=True, text=True
    )


def test_a_good_file_passes(tmp_path: Path):
    path = tmp_path / "storehub.toml"
    path.write_text(GOOD)
    result = check_config(path)
    assert result.returncode == 0, result.stderr
    assert "store store-12, 1 clients, 1 devices" in result.stdout


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        (
            lambda t: t.replace('kind = "echo"', 'kind = "toaster"'),
            "devices[0] (id=echo-1).kind",
            "unknown device kind",
        ),
        (
            lambda t: t.replace('role = "till"', 'role = "cashier"'),
            "clients[0] (id=till-1).role",
            "Input should be 'till', 'kiosk'",
        ),
        (
            lambda t: t.replace(GOOD_HASH, "plain-text-secret"),
            "clients[0] (id=till-1).secret_hash",
            "storehub hash-secret",
        ),
        (lambda t: t.replace('store_id = "store-12"', 'store_id = "Store 12"'), "store_id", "must match"),
        (lambda t: "colour = 'blue'\n" + t, "colour", "Extra inputs are not permitted"),
        (lambda t: t + "colour = 'blue'\n", "devices[0] (id=echo-1).colour", "Extra inputs are not permitted"),
        (lambda t: t + "\n[bus]\nport = 99999\n", "bus.port", "less than or equal to 65535"),
        (lambda t: t + '\n[bus]\nmode = "external"\n', "bus", "external mode needs bus.url"),
        (lambda t: t.replace('assigned_to = "till-1"', 'assigned_to = "till-9"'), "file", "till-9"),
        (lambda t: t + '\n[[devices]]\nid = "echo-1"\nkind = "echo"\n', "file", "id echo-1 appears twice"),
        (
            lambda t: t.replace('id = "till-1"', 'id = "hub"').replace('"till-1"', '"hub"'),
            "clients[0] (id=hub).id",
            "reserved",
        ),
        (lambda t: t + "\n[api\n", "file", "not valid TOML"),
        (
            lambda t: t.replace('kind = "echo"', 'kind = "echo"\noptions = { sharing = "sometimes" }'),
            "devices[0] (id=echo-1)",
            "options: sharing",
        ),
        (
            lambda t: t.replace('kind = "echo"', 'kind = "echo"\noptions = { colour = "red" }'),
            "devices[0] (id=echo-1)",
            "options: colour",
        ),
    ],
)
def test_a_broken_file_is_rejected_naming_the_field_and_the_reason(tmp_path: Path, change, field: str, reason: str):
    path = tmp_path / "storehub.toml"
    path.write_text(change(GOOD))
    result = check_config(path)
    assert result.returncode == 2
    problem = next((line for line in result.stderr.splitlines() if line.strip().startswith(field)), None)
    assert problem is not None, result.stderr
    # The reason is in what follows the field's name, not in the name itself.
    assert reason in problem.strip().removeprefix(field), problem


def test_a_missing_file_is_named(tmp_path: Path):
    result = check_config(tmp_path / "nowhere.toml")
    assert result.returncode == 2 and "file: not found" in result.stderr


def test_the_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "storehub.toml"
    path.write_text(GOOD + "\n[bus]\nport = 1883\n")
    monkeypatch.setenv("STOREHUB_BUS__PORT", "1999")
    monkeypatch.setenv("STOREHUB_LOG_LEVEL", "debug")
    config = load_config(path)
    assert config.bus.port == 1999
    assert config.log_level == "debug"
    assert config.database_path == Path("/var/lib/storehub/storehub.db")


def test_a_bad_environment_override_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "storehub.toml"
    path.write_text(GOOD)
    monkeypatch.setenv("STOREHUB_API__PORT", "eighty")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert any(p.startswith("api.port") for p in caught.value.problems)


def test_the_shipped_example_config_is_valid():
    result = check_config(REPO / "storehub.example.toml")
    assert result.returncode == 0, result.stderr
