"""The cloud's page and ``storehub cloud status``: one row per store, counts only, no secrets."""

from __future__ import annotations

import datetime as dt
from html import escape

from cloud_link.reference.schemas import StoreSummary

#: The page reloads itself this often; plain HTML, no script.
REFRESH_S = 2

#: The column headings, in order; ``cells`` fills them.
COLUMNS = (
    "store", "events", "contiguous", "high-water", "head", "lag", "gaps",
    "duplicates", "conflicts", "batches/retries", "last batch", "pull", "published",
)  # fmt: skip

#: The page and the CLI show this many missing ranges; the JSON has up to 100.
GAPS_SHOWN = 3


def cells(store: StoreSummary, now: dt.datetime) -> tuple[str, ...]:
    return (
        store.store_id,
        str(store.events),
        str(store.contiguous_seq),
        str(store.high_water_seq),
        str(store.head_seq),
        str(store.lag),
        gaps_text(store.gaps),
        str(store.duplicates),
        str(store.conflicts),
        f"{store.batches}/{store.retries}",
        age(store.last_batch_at, now),
        # "-": the cloud does not pull this store's feed (it waits for pushes).
        "-" if store.pull is None else store.pull.state,
        str(store.published),
    )


def gaps_text(gaps: list[tuple[int, int]]) -> str:
    if not gaps:
        return "-"
    ranges = [str(first) if first == last else f"{first}-{last}" for first, last in gaps[:GAPS_SHOWN]]
    return ", ".join(ranges) + (f" (+{len(gaps) - GAPS_SHOWN})" if len(gaps) > GAPS_SHOWN else "")


def age(moment: dt.datetime | None, now: dt.datetime) -> str:
    if moment is None:
        return "never"
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


def text_table(stores: list[StoreSummary], now: dt.datetime) -> str:
    rows = [COLUMNS, *(cells(store, now) for store in stores)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def render_page(stores: list[StoreSummary], now: dt.datetime) -> str:
    head = "".join(f"<th>{escape(column)}</th>" for column in COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in cells(store, now)) + "</tr>" for store in stores
    )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="{REFRESH_S}">
<title>StoreHub reference cloud</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; }}
th, td {{ padding: .3em .8em; border-bottom: 1px solid #ddd; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
</style>
</head>
<body>
<h1>StoreHub reference cloud</h1>
<p>What each store has sent, as of {escape(now.strftime("%Y-%m-%d %H:%M:%S UTC"))}.
Contiguous: every event up to there is held; lag: the store's newest event minus that.</p>
<table>
<thead><tr>{head}</tr></thead>
<tbody>{body}</tbody>
</table>
</body>
</html>
"""
