"""Who the console signs in as and where, and its keys: plain values the CLI fills in.

The secret comes from, in this order: the value given, ``STOREHUB_SECRET``, a file
(``--secret-file``), or a prompt.  The keys come from ``--keys PATH`` or
``~/.config/storehub/tui.toml`` (``$XDG_CONFIG_HOME`` if set)::

    [keys]
    status = "t"          # one key, or several: "t,T"
    force_release = "F"
"""

from __future__ import annotations

import getpass
import logging
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

#: The keys a technician can move, by name, with their default keys.
DEFAULT_KEYS: dict[str, str] = {
    "jump": ":",
    "filter": "/",
    "back": "Esc",
    "keys": "?",
    "status": "s",
    "test_print": "p",
    "open_drawer": "o",
    "cancel_job": "c",
    "force_release": "f",
    "restart": "r",
    "quit": "q",
}

#: A key as typed in the file -> Textual's name for it.
_KEY_NAMES = {
    ":": "colon",
    "/": "slash",
    "?": "question_mark",
    ";": "semicolon",
    ",": "comma",
    ".": "full_stop",
    "!": "exclamation_mark",
    "#": "number_sign",
    "*": "asterisk",
    "+": "plus",
    "-": "minus",
    "=": "equals_sign",
    " ": "space",
    "esc": "escape",
}
#: Textual's name for a key -> how the keys screen shows it.
_SHOWN = {name: typed for typed, name in _KEY_NAMES.items() if typed != "esc"} | {"escape": "Esc", "space": "Space"}


@dataclass(frozen=True)
class ConsoleSettings:
    store: str
    client_id: str
    secret: str
    host: str = "127.0.0.1"
    port: int = 1883
    readonly: bool = False
    language: str = "ru"
    #: Textual's keymap: a key's name (``DEFAULT_KEYS``) -> the keys that now press it.
    keys: dict[str, str] = field(default_factory=dict)
    #: Why the keys file was not taken (one line), shown when the console starts.
    keys_problem: str = ""


def resolve_secret(given: str | None, secret_file: Path | None, *, prompt: bool = True) -> str | None:
    if given:
        return given
    if env := os.environ.get("STOREHUB_SECRET"):
        return env
    if secret_file is not None:
        return secret_file.read_text().strip()
    return getpass.getpass("secret: ") if prompt else None


def default_keys_path() -> Path:
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "storehub" / "tui.toml"


def load_keys(path: Path | None) -> tuple[dict[str, str], str]:
    """The keymap in ``path`` (the default file if None), or none and why in one line.

    A missing default file is no problem; a missing ``--keys`` file, bad TOML, an
    unknown name or a key given to two names is, and then every key stays as it was.
    """
    explicit = path is not None
    path = path or default_keys_path()
    if not path.exists():
        return {}, (f"keys file {path} not found; default keys" if explicit else "")
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8")).get("keys", {})
        keymap = _keymap(table)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, ValueError) as exc:
        problem = f"keys file {path}: {' '.join(str(exc).split())}; default keys"
        log.warning("%s", problem)
        return {}, problem
    return keymap, ""


def _keymap(table: object) -> dict[str, str]:
    if not isinstance(table, dict):
        raise ValueError('[keys] must be a table of name = "key"')
    keymap: dict[str, str] = {}
    for name, keys in table.items():
        if name not in DEFAULT_KEYS:
            raise ValueError(f"unknown name {name!r} (known: {', '.join(DEFAULT_KEYS)})")
        if not isinstance(keys, str) or not keys.strip(", "):
            raise ValueError(f'{name} must be a key in quotes, e.g. {name} = "x"')
        keymap[name] = ",".join(_textual_key(key) for key in keys.split(",") if key.strip())
    taken: dict[str, str] = {}
    for name, default in DEFAULT_KEYS.items():
        for key in keymap.get(name, _textual_key(default)).split(","):
            if key in taken:
                raise ValueError(f"{_SHOWN.get(key, key)!r} would press both {taken[key]} and {name}")
            taken[key] = name
    return keymap


def _textual_key(key: str) -> str:
    key = key if key == " " else key.strip()
    if len(key) > 1:
        key = key.lower()  # Textual's names: "f1", "ctrl+t", "escape"
    return _KEY_NAMES.get(key, key)


def shown_keys(name: str, keymap: dict[str, str]) -> str:
    """How the keys screen writes the keys that press ``name`` now."""
    if name not in keymap:
        return DEFAULT_KEYS[name]
    return ",".join(_SHOWN.get(key, key) for key in keymap[name].split(","))
