"""Times as a technician reads them: a local clock time and how long ago."""

from __future__ import annotations

import time

#: Seconds, minutes, hours, days, and "ago", in each language the console speaks.
UNITS = {"ru": ("с", "мин", "ч", "д", "назад"), "en": ("s", "min", "h", "d", "ago")}


def span(seconds: float, language: str = "en") -> str:
    """A duration in its largest units: ``42 s``, ``5 min``, ``3 h 12 min``, ``2 d 4 h``."""
    s, m, h, d, _ = UNITS.get(language, UNITS["ru"])
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} {s}"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if hours == 0:
        return f"{minutes} {m}"
    if days == 0:
        return f"{hours} {h} {minutes % 60} {m}"
    return f"{days} {d} {hours % 24} {h}"


def moment(epoch: object, language: str = "en", now: float | None = None) -> str:
    """Unix seconds as the local time and its age (``14:03:27 (12 s ago)``); else as given."""
    if not isinstance(epoch, int | float) or isinstance(epoch, bool):
        return str(epoch)
    now = time.time() if now is None else now
    stamp = time.localtime(epoch)
    shown = time.strftime("%H:%M:%S", stamp) if now - epoch < 86400 else time.strftime("%Y-%m-%d %H:%M", stamp)
    ago = UNITS.get(language, UNITS["ru"])[4]
    return f"{shown} ({span(now - epoch, language)} {ago})"
