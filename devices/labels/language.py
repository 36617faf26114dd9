"""What the label printer actor needs of a printer language (ZPL II, TSPL).

Each language is a module-level object of this shape; the actor knows no language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from devices.labels.raster import DotLabel


@dataclass(frozen=True)
class LabelStatus:
    """The printer's answer to its status query, in the shop's words."""

    paper_out: bool = False
    ribbon_out: bool = False
    head_open: bool = False
    paused: bool = False
    #: Anything else the printer reports as wrong, named (e.g. "head_too_hot").
    other: tuple[str, ...] = field(default=())
    #: Labels the printer has taken in and not printed yet (ZPL's "formats in receive
    #: buffer"); None when its language does not say (TSPL).
    waiting: int | None = None

    @property
    def problems(self) -> tuple[str, ...]:
        named = ("paper_out", "ribbon_out", "head_open", "paused")
        return tuple(name for name in named if getattr(self, name)) + self.other

    @property
    def ok(self) -> bool:
        return not self.problems


class LabelLanguage(Protocol):
    name: str

    def label_bytes(self, label: DotLabel, *, copies: int) -> bytes:
        """One label (``copies`` times) as the printer takes it."""
        ...

    #: What to send to ask the printer's status.
    status_query: bytes

    def status_reply_complete(self, data: bytes) -> bool:
        """Whether ``data`` read so far holds the whole answer to ``status_query``."""
        ...

    def parse_status(self, data: bytes) -> LabelStatus: ...

    #: Feed one blank label; ``None`` where the language has no such command.
    feed_bytes: bytes | None
    #: Measure the label and gap length; ``None`` where the language has none.
    calibrate_bytes: bytes | None
    #: Throw away the labels waiting in the printer's buffer; ``None`` where it has none.
    cancel_bytes: bytes | None
