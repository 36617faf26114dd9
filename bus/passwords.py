"""Client secrets, stored hashed in Mosquitto's own PBKDF2-SHA512 format (``$7$``).

One hash in the config serves both doors: Mosquitto checks it for MQTT logins (it is
written verbatim into the broker's password file) and the REST API checks bearer
tokens against it.  The format is ``$7$<iterations>$<salt b64>$<hash b64>``, what
``mosquitto_passwd`` writes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

PREFIX = "$7$"

#: Mosquitto 2.0's own default.  Secrets are long random tokens, not passwords people
#: choose, so a low count costs nothing in safety and keeps every login cheap.
ITERATIONS = 101

SALT_BYTES = 12


def hash_secret(secret: str, *, iterations: int = ITERATIONS) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", secret.encode(), salt, iterations)
    return f"{PREFIX}{iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def is_secret_hash(value: str) -> bool:
    try:
        _parse(value)
    except ValueError:
        return False
    return True


def verify_secret(secret: str, hashed: str) -> bool:
    iterations, salt, digest = _parse(hashed)
    candidate = hashlib.pbkdf2_hmac("sha512", secret.encode(), salt, iterations)
    return hmac.compare_digest(candidate, digest)


def new_secret() -> str:
    """A fresh client secret, safe to put in a URL or a header."""
    return secrets.token_urlsafe(24)


def _parse(hashed: str) -> tuple[int, bytes, bytes]:
    parts = hashed.split("$")
    if len(parts) != 5 or parts[0] != "" or parts[1] != "7":
        raise ValueError("not a $7$ PBKDF2-SHA512 hash (make one with `storehub hash-secret`)")
    try:
        iterations = int(parts[2])
        salt = base64.b64decode(parts[3], validate=True)
        digest = base64.b64decode(parts[4], validate=True)
    except ValueError as exc:
        raise ValueError(f"malformed $7$ hash: {exc}") from None
    if iterations < 1 or len(digest) != 64:
        raise ValueError("malformed $7$ hash: bad iteration count or digest length")
    return iterations, salt, digest
