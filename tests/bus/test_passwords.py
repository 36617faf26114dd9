"""One stored hash serves Mosquitto and the REST API alike."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bus.passwords import hash_secret, is_secret_hash, verify_secret


def test_a_hash_verifies_its_secret_only():
    hashed = hash_secret("correct horse")
    assert verify_secret("correct horse", hashed)
    assert not verify_secret("correct horse ", hashed)
    assert hash_secret("correct horse") != hashed, "every hash has its own salt"


def test_hashes_made_by_mosquitto_passwd_are_understood(tmp_path: Path):
    passwd = tmp_path / "passwd"
    passwd.touch()
    subprocess.run(["mosquitto_passwd", "-b", str(passwd), "till-1", "s3cret"], check=True)
    hashed = passwd.read_text().strip().split(":", 1)[1]
    assert is_secret_hash(hashed)
    assert verify_secret("s3cret", hashed)
    assert not verify_secret("guess", hashed)


def test_things_that_are_not_hashes_are_recognised():
    for value in ("s3cret", "$6$abc$def", "$7$x$abc$def", "$7$101$!!!$???", "$7$101$YWJj$YWJj"):
        assert not is_secret_hash(value)
