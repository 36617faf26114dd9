"""The reference cloud's configuration: one TOML file, validated with every bad field named.

``write_cloud_config`` is the one writer of such a file (the demo, the sync bench and the
tests use it): it builds the model first, so what it writes is what ``load_cloud_config``
accepts.

Tokens are configured by their SHA-256 hex digest only (``storehub cloud token`` makes a
token and its digest).  Relative paths are relative to the config file's folder, so a
demo folder can be moved as a whole.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import tomli_w
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from cloud_link.contract import StoreId


def token_digest(token: str) -> str:
    """What a config holds for a bearer token: its SHA-256, in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def _sha256_hex(value: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{64}", value.lower()):
        raise ValueError(
            "must be a SHA-256 hex digest (64 hex digits); `storehub cloud token` makes a token and its digest"
        )
    return value.lower()


Sha256Hex = Annotated[str, AfterValidator(_sha256_hex)]
HttpUrl = Annotated[str, StringConstraints(pattern=r"^https?://[^/\s]+$")]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreConfig(Section):
    id: StoreId = Field(description="The store's id, as in the hub's config (store_id).")
    token_sha256: Sha256Hex = Field(description="SHA-256 hex digest of the bearer token this store pushes with.")
    name: str = Field("", max_length=128, description="A name for people (the page, `storehub cloud status`).")
    pull_url: HttpUrl | None = Field(
        None, description="Pull this store's feed from its hub at this base URL, e.g. http://127.0.0.1:8080."
    )
    pull_token: str | None = Field(
        None, min_length=1, description="The bearer the hub expects from its cloud client, e.g. cloud:<secret>."
    )

    @model_validator(mode="after")
    def _pull_needs_both(self) -> StoreConfig:
        if (self.pull_url is None) != (self.pull_token is None):
            raise ValueError("pull_url and pull_token go together")
        return self


class CloudConfig(Section):
    database: Path = Field(Path("cloud.db"), description="The SQLite file that holds every event and publication.")
    host: str = Field("127.0.0.1", description="The address to listen on.")
    port: int = Field(8090, ge=1, le=65535, description="The TCP port to listen on.")
    admin_token_sha256: Sha256Hex = Field(description="SHA-256 hex digest of the admin bearer token.")
    certfile: Path | None = Field(None, description="TLS certificate (PEM); with keyfile, the cloud speaks HTTPS.")
    keyfile: Path | None = Field(None, description="TLS private key (PEM) for certfile.")
    stores: list[StoreConfig] = Field(default_factory=list, description="The stores this cloud serves.")

    @model_validator(mode="after")
    def _stores_apart_and_tls_paired(self) -> CloudConfig:
        ids = [store.id for store in self.stores]
        if twice := sorted({i for i in ids if ids.count(i) > 1}):
            raise ValueError(f"store ids appear twice: {', '.join(twice)}")
        digests = [store.token_sha256 for store in self.stores] + [self.admin_token_sha256]
        if len(set(digests)) < len(digests):
            raise ValueError("every store needs a token of its own, and none may be the admin's")
        if (self.certfile is None) != (self.keyfile is None):
            raise ValueError("certfile and keyfile go together")
        return self

    def store(self, store_id: str) -> StoreConfig | None:
        return next((store for store in self.stores if store.id == store_id), None)


class CloudConfigError(Exception):
    """A config file that cannot be used, with one line per problem."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        super().__init__(f"{path}: " + "; ".join(problems))
        self.path = path
        self.problems = problems


def load_cloud_config(path: Path) -> CloudConfig:
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise CloudConfigError(path, ["file: not found"]) from None
    except OSError as exc:
        raise CloudConfigError(path, [f"file: cannot read: {exc.strerror}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise CloudConfigError(path, [f"file: not valid TOML: {exc}"]) from None
    try:
        config = CloudConfig(**data)
    except ValidationError as exc:
        raise CloudConfigError(path, [_describe(error) for error in exc.errors()]) from None
    folder = path.resolve().parent
    return config.model_copy(
        update={
            name: folder / value for name in ("database", "certfile", "keyfile") if (value := getattr(config, name))
        }
    )


def _describe(error: Any) -> str:
    """``stores.1.token_sha256: String should match pattern …``"""
    where = ".".join(str(part) for part in error["loc"]) or "file"
    return f"{where}: {error['msg'].removeprefix('Value error, ')}"


def write_cloud_config(
    path: Path,
    *,
    port: int,
    admin_token_sha256: str,
    database: Path | str = Path("cloud.db"),
    stores: Iterable[StoreConfig] = (),
    certfile: Path | None = None,
    keyfile: Path | None = None,
    comment: str | None = None,
) -> Path:
    """Write a cloud's config to ``path`` (its folder made if missing), with ``comment``
    as its first lines.  Only what is given is written; a bad value raises before anything is."""
    config = CloudConfig(
        database=database,
        port=port,
        admin_token_sha256=admin_token_sha256,
        stores=list(stores),
        certfile=certfile,
        keyfile=keyfile,
    )
    text = tomli_w.dumps(config.model_dump(mode="json", exclude_unset=True, exclude_none=True))
    if comment:
        text = "".join(f"# {line}\n" for line in comment.splitlines()) + text
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
