"""The cloud's config file: paths beside it, every bad field named, pulls and TLS configured whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud_link.reference.config import CloudConfigError, load_cloud_config
from tests.cloud_link.support import sha256

GOOD = f"""
database = "data/cloud.db"
admin_token_sha256 = "{sha256("admin").upper()}"
[[stores]]
id = "demo-store"
token_sha256 = "{sha256("store")}"
"""


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "cloud.toml"
    path.write_text(text)
    with pytest.raises(CloudConfigError) as refused:
        load_cloud_config(path)
    return refused.value.problems


def test_a_good_file_loads_with_paths_beside_it_and_defaults(tmp_path: Path):
    path = tmp_path / "cloud.toml"
    path.write_text(GOOD.replace("[[stores]]", 'certfile = "/etc/ssl/cloud.pem"\nkeyfile = "tls/key.pem"\n[[stores]]'))
    config = load_cloud_config(path)
    assert config.database == tmp_path / "data" / "cloud.db"
    assert (config.certfile, config.keyfile) == (Path("/etc/ssl/cloud.pem"), tmp_path / "tls" / "key.pem")
    assert (config.host, config.port) == ("127.0.0.1", 8090)
    assert config.admin_token_sha256 == sha256("admin")  # kept lower-case, as hexdigest() writes it
    assert config.stores[0].pull_url is None


def test_every_bad_field_is_named(tmp_path: Path):
    text = GOOD.replace('id = "demo-store"', 'id = "Demo Store"') + 'pull_url = "ftp://hub"\n\n[[stores]]\nid = "x"\n'
    found = problems(tmp_path, text)
    assert any(p.startswith("stores.0.id:") for p in found)
    assert any(p.startswith("stores.0.pull_url:") for p in found)
    assert any(p.startswith("stores.1.token_sha256: Field required") for p in found)


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ('pull_url = "http://127.0.0.1:8080"\n', "pull_url and pull_token go together"),
        (
            '[[stores]]\nid = "demo-store"\ntoken_sha256 = "' + sha256("again") + '"\n',
            "store ids appear twice: demo-store",
        ),
        ('[[stores]]\nid = "second"\ntoken_sha256 = "' + sha256("store") + '"\n', "a token of its own"),
        ('[[stores]]\nid = "second"\ntoken_sha256 = "' + sha256("admin") + '"\n', "none may be the admin's"),
    ],
)
def test_what_must_go_together_or_apart_does(tmp_path: Path, extra: str, problem: str):
    assert any(problem in p for p in problems(tmp_path, GOOD + extra))
    assert any("certfile and keyfile go together" in p for p in problems(tmp_path, 'certfile = "c.pem"\n' + GOOD))


def test_a_missing_or_broken_file_says_so(tmp_path: Path):
    with pytest.raises(CloudConfigError, match="not found"):
        load_cloud_config(tmp_path / "nowhere.toml")
    assert problems(tmp_path, "database = ")[0].startswith("file: not valid TOML")
