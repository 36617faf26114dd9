"""The hub's configuration: one TOML file, overridable from the environment.

``/etc/storehub/storehub.toml`` by default (``--config`` to choose another).  Any field
can be overridden with ``STOREHUB_<FIELD>``, nested fields with ``__``: for example
``STOREHUB_BUS__PORT=1884`` or ``STOREHUB_API__PORT=8081``.  The environment wins over
the file.  ``storehub check-config`` validates a file and names each bad field.
"""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bus.broker import HUB_USERNAME
from bus.mqtt import BrokerAddress
from bus.passwords import is_secret_hash
from bus.topics import HUB_TARGET, ID_PATTERN
from cloud_link.config import CloudConfig

DEFAULT_CONFIG_PATH = Path("/etc/storehub/storehub.toml")

Id = str  # validated against ID_PATTERN where used
Role = Literal["till", "kiosk", "manager", "technician", "cloud"]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BusConfig(Section):
    mode: Literal["managed", "external"] = Field(
        "managed",
        description="managed: the hub runs Mosquitto itself; external: connect to a broker someone else runs.",
    )
    host: str = Field("127.0.0.1", description="Managed mode: the address Mosquitto listens on.")
    port: int = Field(1883, ge=1, le=65535, description="Managed mode: Mosquitto's MQTT TCP port.")
    websockets_port: int = Field(
        9001, ge=0, le=65535, description="Managed mode: MQTT over WebSockets for browser tills; 0 turns it off."
    )
    websockets_interface: str | None = Field(
        None,
        description=(
            "Managed mode: network interface for WebSockets (Mosquitto 2.0 binds them by interface, not "
            "address); default lo when host is a loopback address, otherwise every interface."
        ),
    )
    url: str | None = Field(
        None,
        description="External mode: the broker, as mqtt://host:port, mqtts://host:port or ws://host:port.",
    )
    hub_password: SecretStr | None = Field(
        None, description=f"External mode: the password of the broker user `{HUB_USERNAME}` the hub logs in as."
    )
    workdir: Path | None = Field(
        None,
        description="Managed mode: where the broker's conf, password file, ACL and data live (default: state_dir/broker).",
    )

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in {"mqtt", "mqtts", "ws", "wss"} or not parts.hostname:
                raise ValueError("must look like mqtt://host:1883 (or mqtts://, ws://, wss://)")
        return value

    @model_validator(mode="after")
    def _external_needs_url(self) -> BusConfig:
        if self.mode == "external" and (self.url is None or self.hub_password is None):
            raise ValueError("external mode needs bus.url and bus.hub_password")
        return self

    def websockets_binding(self) -> str | None:
        if self.websockets_interface:
            return self.websockets_interface
        return "lo" if self.host in {"127.0.0.1", "localhost", "::1"} else None

    def address(self) -> BrokerAddress:
        """Where the hub (and any local client) reaches the broker."""
        if self.mode == "managed":
            return BrokerAddress(self.host, self.port)
        assert self.url is not None
        parts = urlsplit(self.url)
        tls = parts.scheme in {"mqtts", "wss"}
        transport = "websockets" if parts.scheme in {"ws", "wss"} else "tcp"
        default_port = {"mqtt": 1883, "mqtts": 8883, "ws": 80, "wss": 443}[parts.scheme]
        return BrokerAddress(parts.hostname or "", parts.port or default_port, transport, tls)


class ApiConfig(Section):
    host: str = Field("127.0.0.1", description="Address the REST API and manager page listen on.")
    port: int = Field(8080, ge=1, le=65535, description="Port of the REST API and manager page.")


class LoyaltyConfig(Section):
    accrual_percent: Decimal = Field(
        Decimal(5),
        ge=0,
        le=100,
        decimal_places=2,
        description="Points earned per 100 minor units paid in money (5 = 5 %), rounded down; one point spends as one minor unit.",
    )


class ClientConfig(Section):
    id: Id = Field(description="The client's id: its MQTT username and the `client/{id}/` topics it owns.")
    role: Role = Field(description="till, kiosk, manager, technician or cloud: decides what it may do.")
    secret_hash: str = Field(
        description="Its secret, hashed ($7$ PBKDF2-SHA512, made by `storehub hash-secret`); never the secret itself."
    )
    description: str = Field("", description="Free text for technicians: where it stands, what it is.")

    @field_validator("id")
    @classmethod
    def _valid_client_id(cls, value: str) -> str:
        if not ID_PATTERN.match(value):
            raise ValueError(f"must match {ID_PATTERN.pattern}")
        if value in {HUB_USERNAME, HUB_TARGET}:
            raise ValueError(f"`{value}` is reserved for the hub itself")
        return value

    @field_validator("secret_hash")
    @classmethod
    def _is_hash(cls, value: str) -> str:
        if not is_secret_hash(value):
            raise ValueError("is not a $7$ hash; make one with `storehub hash-secret`")
        return value


class DeviceConfig(Section):
    id: Id = Field(description="The device's id: its `dev/{id}/` topics and the target of requests.")
    kind: str = Field(description="Device kind: echo (diagnostic), scanner, receipt_printer, …")
    driver: str | None = Field(None, description="How the device is reached, when a kind has several drivers.")
    port: str | None = Field(None, description="Serial path, by-id link or URL of the device.")
    model: str | None = Field(None, description="Model name; selects the capability profile.")
    assigned_to: Id | None = Field(None, description="Only this client may claim the device (the scanner of till 1).")
    options: dict[str, Any] = Field(default_factory=dict, description="Kind-specific settings.")

    @field_validator("id")
    @classmethod
    def _valid_device_id(cls, value: str) -> str:
        if not ID_PATTERN.match(value):
            raise ValueError(f"must match {ID_PATTERN.pattern}")
        if value == HUB_TARGET:
            raise ValueError("`hub` is the hub's own request target")
        return value

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        from devices.registry import DEVICE_KINDS

        if value not in DEVICE_KINDS:
            raise ValueError(f"unknown device kind; known: {', '.join(sorted(DEVICE_KINDS))}")
        return value

    @model_validator(mode="after")
    def _options_fit_the_kind(self) -> DeviceConfig:
        from devices.registry import actor_class

        options_model = actor_class(self.kind).Options
        try:
            options_model.model_validate(self.options)
        except ValidationError as exc:
            raise ValueError(
                "options: " + "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            ) from None
        return self


class StoreHubConfig(BaseSettings):
    model_config = SettingsConfigDict(
        extra="forbid", env_prefix="STOREHUB_", env_nested_delimiter="__", validate_default=True
    )

    store_id: Id = Field(description="This store's id; every topic lives under storehub/v1/{store_id}/.")
    store_name: str | None = Field(
        None,
        min_length=1,
        max_length=128,
        description="The store's name as shoppers know it, printed small on every shelf label (default: store_id).",
    )
    state_dir: Path = Field(
        Path("/var/lib/storehub"), description="Where the hub keeps its database, broker files and boot counter."
    )
    database: Path | None = Field(None, description="SQLite database file (default: state_dir/storehub.db).")
    database_max_mb: float | None = Field(
        None,
        gt=0,
        description=(
            "Cap on the database's size in MiB, so the box keeps room for everything else; past it, writes are "
            "refused with storage_full (as on a full disk). Default: no cap but the disk."
        ),
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="Logging threshold.")
    bus: BusConfig = Field(default_factory=BusConfig, description="The MQTT broker.")
    api: ApiConfig = Field(default_factory=ApiConfig, description="The REST API.")
    loyalty: LoyaltyConfig = Field(default_factory=LoyaltyConfig, description="The store's loyalty rule.")
    cloud: CloudConfig = Field(
        default_factory=CloudConfig, description="Replication to the central cloud: push, pull, inbound, thresholds."
    )
    clients: list[ClientConfig] = Field(default_factory=list, description="Tills, kiosks and people that may connect.")
    devices: list[DeviceConfig] = Field(default_factory=list, description="The store's peripherals.")

    @field_validator("store_id")
    @classmethod
    def _valid_store_id(cls, value: str) -> str:
        if not ID_PATTERN.match(value):
            raise ValueError(f"must match {ID_PATTERN.pattern}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> StoreHubConfig:
        _no_duplicates("clients", [c.id for c in self.clients])
        _no_duplicates("devices", [d.id for d in self.devices])
        client_ids = {c.id for c in self.clients}
        for device in self.devices:
            if device.assigned_to is not None and device.assigned_to not in client_ids:
                raise ValueError(
                    f"device {device.id} is assigned to {device.assigned_to}, which is not a configured client"
                )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's contents arrive as init arguments; the environment overrides them.
        return env_settings, init_settings

    @property
    def database_path(self) -> Path:
        return self.database or self.state_dir / "storehub.db"

    @property
    def database_max_bytes(self) -> int | None:
        return None if self.database_max_mb is None else int(self.database_max_mb * 2**20)

    @property
    def label_sheets_dir(self) -> Path:
        """Where A4 PDF sheets of shelf labels are written, and served to managers from."""
        return self.state_dir / "label-sheets"

    @property
    def broker_workdir(self) -> Path:
        return self.bus.workdir or self.state_dir / "broker"

    def client(self, client_id: str) -> ClientConfig | None:
        return next((c for c in self.clients if c.id == client_id), None)


def _no_duplicates(what: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            raise ValueError(f"{what}: id {item} appears twice")
        seen.add(item)


class ConfigError(Exception):
    """A config file that cannot be used, with one line per problem."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        super().__init__(f"{path}: " + "; ".join(problems))
        self.path = path
        self.problems = problems


def load_config(path: Path) -> StoreHubConfig:
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(path, ["file: not found (use --config to choose another)"]) from None
    except OSError as exc:
        raise ConfigError(path, [f"file: cannot read: {exc.strerror}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [f"file: not valid TOML: {exc}"]) from None
    try:
        return StoreHubConfig(**data)
    except ValidationError as exc:
        raise ConfigError(path, [_describe(error, data) for error in exc.errors()]) from None


def _describe(error: Any, data: dict[str, Any]) -> str:
    """``devices[1] (id=printer-1).kind: unknown device kind; …``"""
    where: list[str] = []
    node: Any = data
    for part in error["loc"]:
        if isinstance(part, int):
            label = f"[{part}]"
            item = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(item, dict) and "id" in item:
                label += f" (id={item['id']})"
            where.append(label)
        else:
            where.append(("." if where else "") + str(part))
        node = (
            node.get(part)
            if isinstance(node, dict)
            else (node[part] if isinstance(node, list) and isinstance(part, int) and part < len(node) else None)
        )
    message = error["msg"].removeprefix("Value error, ")
    return f"{''.join(where) or 'file'}: {message}"
