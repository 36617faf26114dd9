"""The store's link to its cloud: the ``[cloud]`` section of the hub's config.

The hub embeds ``CloudConfig`` in its own config; ``cloud_link`` reads nothing else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator


class Thresholds(BaseModel):
    """When an undelivered backlog becomes a warning, then an alarm, on ``sync/state``."""

    model_config = ConfigDict(extra="forbid")

    backlog_warning: int = Field(10_000, ge=1, description="Undelivered events: warn from this many.")
    backlog_alarm: int = Field(200_000, ge=1, description="Undelivered events: alarm from this many.")
    age_warning_s: float = Field(
        900, gt=0, description="Oldest undelivered event: warn once it is this old (s); 15 min by default."
    )
    age_alarm_s: float = Field(
        4 * 3600, gt=0, description="Oldest undelivered event: alarm once it is this old (s); 4 h by default."
    )
    storage_warning_percent: float = Field(
        80, gt=0, le=100, description="Database size as a share of what it may use (its cap, else the disk): warn."
    )
    storage_alarm_percent: float = Field(
        95, gt=0, le=100, description="Database size as a share of what it may use: alarm."
    )

    @model_validator(mode="after")
    def _warning_before_alarm(self) -> Thresholds:
        for what in ("backlog", "age", "storage"):
            suffix = "_s" if what == "age" else ("_percent" if what == "storage" else "")
            warning, alarm = getattr(self, f"{what}_warning{suffix}"), getattr(self, f"{what}_alarm{suffix}")
            if warning > alarm:
                raise ValueError(f"{what}_warning{suffix} ({warning}) is above {what}_alarm{suffix} ({alarm})")
        return self


class CloudConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["push", "pull", "both"] = Field(
        "pull",
        description=(
            "push: the hub sends its events to `url`; pull: the cloud fetches them from the hub's feed "
            "(GET /api/v1/sync/events); both: either moves the same delivered marker."
        ),
    )
    url: str | None = Field(
        None, description="The cloud's base URL, https:// in a shop (http:// only on loopback, for the demo)."
    )
    token: SecretStr | None = Field(None, description="The bearer token this store presents to the cloud.")
    ca_file: Path | None = Field(
        None, description="A CA bundle to check the cloud's certificate with, when it is not signed by a public CA."
    )
    fetch_inbound: bool = Field(
        True, description="Fetch prices, products, pickups and loyalty balances from `url` (the cloud may push too)."
    )
    batch_events: int = Field(1000, ge=1, le=5000, description="Events per pushed batch at most.")
    request_timeout_s: float = Field(
        30, gt=0, le=300, description="How long one call to the cloud may take before it counts as failed."
    )
    backoff_initial_s: float = Field(0.5, gt=0, description="First pause after a failed call; doubles each time.")
    backoff_max_s: float = Field(60, gt=0, description="Longest pause between retries (jitter spreads stores out).")
    inbound_wait_s: float = Field(
        25, ge=0, le=30, description="The inbound long poll: how long the cloud may hold the call open for news."
    )
    retention_hours: float = Field(
        168, ge=0, description="Delivered events stay this long (for audits and re-reads), then go; undelivered stay."
    )
    state_interval_s: float = Field(
        5,
        gt=0,
        description="How often sync/state and the metrics are refreshed at least (a store commit refreshes them at once).",
    )
    prune_interval_s: float = Field(600, gt=0, description="How often delivered events past retention are pruned.")
    thresholds: Thresholds = Field(default_factory=Thresholds, description="Warning and alarm levels.")

    @field_validator("url")
    @classmethod
    def _web_address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in {"https", "http"} or not parts.hostname:
            raise ValueError("must look like https://cloud.example.com")
        if parts.scheme == "http" and parts.hostname not in {"127.0.0.1", "localhost", "::1"}:
            raise ValueError("must be https:// (plain http only to a cloud on this box, as in the demo)")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _push_needs_a_cloud(self) -> CloudConfig:
        if self.mode in ("push", "both") and (self.url is None or self.token is None):
            raise ValueError(f"mode {self.mode} needs cloud.url and cloud.token")
        return self

    @property
    def pushes(self) -> bool:
        return self.mode in ("push", "both")

    @property
    def is_pulled(self) -> bool:
        return self.mode in ("pull", "both")

    @property
    def fetches(self) -> bool:
        return self.fetch_inbound and self.url is not None and self.token is not None
