"""JSON payloads on the bus (DESIGN.md), validated at the boundary by pydantic."""

from __future__ import annotations

import re
import time
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, ValidationError

#: Largest request payload the hub reads.  Receipts with a logo image are the largest
#: legitimate requests a till sends; anything bigger is refused with invalid_request.
MAX_REQUEST_BYTES = 256 * 1024


class ErrorCode(StrEnum):
    INVALID_REQUEST = "invalid_request"
    UNKNOWN_TARGET = "unknown_target"
    UNKNOWN_ACTION = "unknown_action"
    FORBIDDEN = "forbidden"
    NOT_CLAIMED = "not_claimed"
    CLAIMED_BY_OTHER = "claimed_by_other"
    DEVICE_OFFLINE = "device_offline"
    DEVICE_ERROR = "device_error"
    BUSY = "busy"
    TIMEOUT = "timeout"
    CONFLICT = "conflict"
    #: Not in DESIGN.md's list: a waiting job its owner took back (the `cancel` action).
    CANCELLED = "cancelled"
    #: Not in DESIGN.md's list: the store domain's answers (docs/rest.md).  A product,
    #: card, pickup or order that this store does not know.
    NOT_FOUND = "not_found"
    #: A loyalty redemption over what the card may spend offline; details.available says how much it may.
    INSUFFICIENT_BALANCE = "insufficient_balance"
    #: Not in DESIGN.md's list: the hub's database cannot grow (disk full, or its cap):
    #: nothing was done.  Retryable once a technician has made room.
    STORAGE_FULL = "storage_full"
    INTERNAL = "internal"


#: Codes a till may sensibly retry the same request after.
RETRYABLE = frozenset(
    {
        ErrorCode.CLAIMED_BY_OTHER,
        ErrorCode.DEVICE_OFFLINE,
        ErrorCode.BUSY,
        ErrorCode.TIMEOUT,
        ErrorCode.STORAGE_FULL,
        ErrorCode.INTERNAL,
    }
)


# -- strict types for money, counts, quantities and flags --------------------------------
#
# pydantic's lax mode reads ``true`` as 1, ``"5"`` as 5 and the Arabic-Indic ``"٣"`` as
# the quantity 3: a till's mistake would ring up money or goods.  Every money amount,
# count, quantity, duration and flag a till, kiosk or the cloud sends uses these.

#: Minor units (kopecks, cents): a JSON integer, never a string, a float or true.
Money = Annotated[int, Strict()]
#: A whole number of things (items, milliseconds, a tax group): a JSON integer only.
Count = Annotated[int, Strict()]
#: A duration in seconds: a JSON number (integer or fraction), never a string or true.
Seconds = Annotated[float, Strict()]
#: true or false, never "yes", 1 or "true".
Flag = Annotated[bool, Strict()]

_ASCII_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def _plain_quantity(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a quantity is a number, not true or false")
    if isinstance(value, str) and not _ASCII_DECIMAL.fullmatch(value):
        raise ValueError('a quantity written as a string takes ASCII digits and one point only, as in "0.450"')
    if not isinstance(value, int | float | str | Decimal):
        raise ValueError("a quantity is a number, or a string of ASCII digits")
    return value


#: Pieces, kg or litres: a JSON number, or a string of ASCII digits with at most one
#: point ("2", "0.450", for exact decimals).  Never true, never other scripts' digits.
Quantity = Annotated[Decimal, BeforeValidator(_plain_quantity)]


def now() -> float:
    """Wall-clock time as Unix seconds; every timestamp on the bus uses it."""
    return round(time.time(), 3)


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=False).encode()


class Request(Payload):
    """What a till sends on ``client/{id}/req/{target}``."""

    action: str = Field(min_length=1, max_length=64, description="What the target should do.")
    args: dict[str, Any] = Field(default_factory=dict, description="Arguments of the action.")
    request_id: str = Field(min_length=1, max_length=128, description="Chosen by the client; echoed.")
    idempotency_key: str | None = Field(
        default=None, min_length=1, max_length=128, description="Same key, same effect: at most once."
    )
    deadline_ms: Count | None = Field(
        default=None, gt=0, le=3_600_000, description="Drop the job if it cannot start within this."
    )


class ErrorBody(Payload):
    code: ErrorCode
    message: str
    retryable: bool = False
    details: dict[str, Any] | None = None


class Response(Payload):
    """The one final answer to every request."""

    request_id: str | None
    ok: bool
    result: dict[str, Any] | None = None
    error: ErrorBody | None = None

    @classmethod
    def success(cls, request_id: str | None, result: dict[str, Any] | None = None) -> Response:
        return cls(request_id=request_id, ok=True, result=result or {})

    @classmethod
    def failure(
        cls,
        request_id: str | None,
        code: ErrorCode,
        message: str,
        details: dict[str, Any] | None = None,
    ) -> Response:
        return cls(
            request_id=request_id,
            ok=False,
            error=ErrorBody(code=code, message=message, retryable=code in RETRYABLE, details=details),
        )


class DeviceError(Exception):
    """A structured failure an actor or the hub reports to the requester."""

    def __init__(
        self, code: ErrorCode, message: str, details: dict[str, Any] | None = None, *, retryable: bool | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
        #: Overrides the code's default: a device error that left nothing done may be retried.
        self.retryable = retryable

    def to_response(self, request_id: str | None) -> Response:
        response = Response.failure(request_id, self.code, self.message, self.details)
        if self.retryable is not None and response.error is not None:
            response.error.retryable = self.retryable
        return response


DeviceStatus = Literal["idle", "busy", "error", "offline"]
Sharing = Literal["exclusive", "shared"]


class DeviceStateDoc(Payload):
    """Retained on ``dev/{device}/state``."""

    device_id: str
    kind: str
    model: str | None = None
    status: DeviceStatus
    sharing: Sharing
    claimed_by: str | None = None
    lease_expires_at: float | None = None
    queue_depth: int = 0
    running_job: str | None = None
    error: dict[str, str] | None = None
    capabilities: dict[str, Any] = Field(default_factory=dict)
    counters: dict[str, int] = Field(default_factory=dict)
    updated_at: float


class DeviceListEntry(Payload):
    id: str
    kind: str
    model: str | None = None
    sharing: Sharing


class DeviceList(Payload):
    """Retained on ``hub/devices``."""

    devices: list[DeviceListEntry]


class HubStateDoc(Payload):
    """Retained on ``hub/state``; the Last Will carries the same boot with ``offline``."""

    state: Literal["online", "offline"]
    boot: int
    version: str
    started_at: float


class LabelsStateDoc(Payload):
    """Retained on ``hub/labels``: how many shelf labels show a price that is no longer
    the price, and since when the oldest of them does (republished when they change)."""

    count: int = Field(ge=0, description="Stale shelf labels waiting to be printed.")
    oldest_queued_at: float | None = Field(description="Unix seconds the oldest went stale; null when none.")
    oldest_age_s: float | None = Field(description="Its age at `ts`; a reader adds the time since.")
    ts: float = Field(default_factory=now)


class ClientStateDoc(Payload):
    """Retained on ``client/{id}/state``; a client's Last Will sets ``offline``.

    ``session`` names one connection of the client (fresh at every connect, the same in
    that connection's ``online``, its Last Will and its clean leave), so an ``offline``
    can be told apart from an older connection's.  Clients without it still work.
    """

    model_config = ConfigDict(extra="allow")

    state: Literal["online", "offline"]
    ts: float | None = None
    session: str | None = Field(default=None, min_length=1, max_length=64)


class Event(Payload):
    """On ``dev/{device}/event`` and ``client/{id}/event``."""

    type: str
    device: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    ts: float = Field(default_factory=now)


class JobProgress(Payload):
    """The data of a ``progress`` event: how far a job of many items has come."""

    request_id: str | None = Field(description="The request the job answers.")
    done: int = Field(ge=0, description="Items done so far (a label printer: tags sent to the printer).")
    total: int = Field(ge=0, description="Items in the job.")
    printed: int | None = Field(
        default=None,
        ge=0,
        description="A label printer: tags the printer says have left it, at most `done`.  Absent elsewhere.",
    )


#: A \\u escape of half a surrogate pair not followed (or preceded) by its other half.
_LONE_SURROGATE = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


def describe_json_problem(parser_says: str, payload: bytes) -> str:
    """Why ``payload`` is not JSON the hub can take, in a till's words, from what the
    parser (pydantic-core's, on MQTT and REST alike) said: "nested too deeply (…)" or
    "not valid JSON: …", naming a lone surrogate when there is one."""
    detail = parser_says.removeprefix("Invalid JSON: ")
    if "recursion limit" in detail:
        return f"nested too deeply ({detail})"
    if _LONE_SURROGATE.search(payload.decode("utf-8", "replace")):
        return f"not valid JSON: a string holds a lone surrogate (\\ud800-\\udfff), which has no UTF-8 form ({detail})"
    return f"not valid JSON: {detail}"


def describe_validation_error(error: ValidationError) -> str:
    """One line naming each bad field and why, for an ``invalid_request`` message."""
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "payload"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)
