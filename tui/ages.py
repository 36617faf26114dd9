"""Times as a technician reads them: a local clock time and how long ago."""

from __future__ import annotations

import time


def span(seconds: float) -> str:
    """A duration in its largest units: ``42 s``, ``5 min``, ``3 h 12 min``, ``2 d 4 h``."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if hours == 0:
        return f"{minutes} min"
    if days == 0:
        return f"{hours} h {minutes % 60} min"
    return f"{days} d {hours % 24} h"


def moment(epoch: object, now: float | None = None) -> str:
    """Unix seconds as the local time and its age (``14:03:27 (12 s ago)``); else as given."""
    if not isinstance(epoch, int | float) or isinstance(epoch, bool):
        return str(epoch)
    now = time.time() if now is None else now
    stamp = time.localtime(epoch)
    shown = time.strftime("%H:%M:%S", stamp) if now - epoch < 86400 else time.strftime("%Y-%m-%d %H:%M", stamp)
    return f"{shown} ({span(now - epoch)} ago)"
