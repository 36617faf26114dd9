"""Who the console signs in as and where: plain values the CLI fills in.

The secret comes from, in this order: the value given, ``STOREHUB_SECRET``, a file
(``--secret-file``), or a prompt.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ConsoleSettings:
    store: str
    client_id: str
    secret: str
    host: str = "127.0.0.1"
    port: int = 1883
    readonly: bool = False
    language: str = "ru"


def resolve_secret(given: str | None, secret_file: Path | None, *, prompt: bool = True) -> str | None:
    if given:
        return given
    if env := os.environ.get("STOREHUB_SECRET"):
        return env
    if secret_file is not None:
        return secret_file.read_text().strip()
    return getpass.getpass("secret: ") if prompt else None
