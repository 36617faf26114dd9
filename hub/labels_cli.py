"""`storehub labels`: the shelf labels a price change made stale, as a manager handles
them at the back-office box: the queue (how many, the oldest, each one's old and new
price), printing it (or some products' tags) on a label printer or an A4 sheet, and the
print journal.

Everything goes through the hub's REST API, the same requests a manager's page or a
till would send: ``GET /api/v1/labels``, ``POST /api/v1/devices/{printer}/requests``
with ``print_labels``, ``GET /api/v1/labels/journal``.  Without ``--api`` and
``--token`` it talks to the demo in ``--dir`` as its ``manager-1``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.cli_support import DEMO_DIR, hub_access, hub_access_options

#: A print run answers when its last tag is printed: a 5,000-tag run on a 203 dpi
#: printer takes minutes, and the hub answers it then, so the command waits that long.
PRINT_TIMEOUT_S = 1800.0

#: Reading the queue or the journal is one database query.
READ_TIMEOUT_S = 30.0

#: A product's name is cut to this in the tables (the tag itself prints it whole).
NAME_WIDTH = 40
#: And its category to this.
CATEGORY_WIDTH = 18

#: What to do about each problem a printer stops a run for.  The tags that did not print
#: are named, and a stale one stays in the queue until it prints.
AGAIN = "then print those again: a stale label stays in the queue until it prints"
WHAT_TO_DO = {
    "device_error": AGAIN,
    "device_offline": "check that the printer is on and its cable in (or its network), " + AGAIN,
    "busy": "the printer's queue is full; try again in a minute",
    "timeout": "the printer did not start in time; try again",
}


def add_commands(commands: argparse._SubParsersAction) -> None:
    labels = commands.add_parser(
        "labels",
        help="the stale shelf labels: `storehub labels` lists them, "
        "`storehub labels print --printer labels-zpl-1` prints them, `storehub labels journal` shows what printed",
        description="The shelf labels a price change made stale: list them, print them, see what printed.",
    )
    _shared_options(labels, given_only=False)
    labels.set_defaults(run=_queue)
    what = labels.add_subparsers(dest="what", metavar="WHAT")

    queue = what.add_parser("queue", help="the stale labels, the longest-waiting first (what `storehub labels` shows)")
    _shared_options(queue, given_only=True)
    queue.set_defaults(run=_queue)

    print_ = what.add_parser("print", help="print the queue (or some products' tags) on a label printer or an A4 sheet")
    print_.add_argument(
        "--printer", required=True, metavar="ID", help="the label printer (`storehub labels` lists them)"
    )
    print_.add_argument(
        "--sku",
        action="append",
        metavar="SKU",
        help="this product's tag, stale or not (repeat for more); default: the queue",
    )
    print_.add_argument("--category", metavar="C", help="only the queue's labels of this category")
    print_.add_argument("--template", metavar="T", help="the tag's template (default: the printer's)")
    print_.add_argument("--copies", type=int, metavar="N", help="copies of each tag (default 1)")
    _shared_options(print_, given_only=True)
    print_.set_defaults(run=_print)

    journal = what.add_parser("journal", help="the labels printed, newest first: price, printer, who asked")
    journal.add_argument("--sku", metavar="SKU", help="one product's prints only")
    journal.add_argument("--limit", type=int, default=20, metavar="N", help="how many lines (default 20)")
    _shared_options(journal, given_only=True)
    journal.set_defaults(run=_journal)


def _shared_options(parser: argparse.ArgumentParser, *, given_only: bool) -> None:
    """The group's options, taken after the sub-command too (`storehub labels print --dir X`)."""
    hub_access_options(parser, who="a manager's", client="manager-1", given_only=given_only)
    unset = {"default": argparse.SUPPRESS} if given_only else {}
    parser.add_argument(
        "--dir", type=Path, help=f"the demo's folder (default {DEMO_DIR})", **(unset or {"default": DEMO_DIR})
    )
    parser.add_argument("--json", action="store_true", help="print the hub's JSON answer instead of text", **unset)


class Refused(Exception):
    """The hub, or the printer behind it, said no: one line to print, and the exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Hub:
    """The hub's REST API as the manager's token opens it."""

    api: str
    token: str

    def call(
        self, method: str, path: str, *, timeout: float = READ_TIMEOUT_S, envelope: bool = False, **kwargs: Any
    ) -> Any:
        """The JSON answer; ``Refused`` when the hub is not there or says no (``envelope``:
        a device request's refusal is returned, for its details, as the bus's envelope)."""
        import httpx

        try:
            answer = httpx.request(
                method,
                self.api + path,
                headers={"Authorization": f"Bearer {self.token}"},
                timeout=httpx.Timeout(timeout, connect=5.0),
                **kwargs,
            )
        except httpx.HTTPError as exc:
            raise Refused(
                f"the hub at {self.api} does not answer ({exc}); is it running? (the demo: `make run`)"
            ) from None
        try:
            body = answer.json()
        except ValueError:
            raise Refused(
                f"the hub at {self.api} answered {answer.status_code} with no JSON: {answer.text[:200]}"
            ) from None
        if answer.status_code == 200:
            return body
        error = _error(body)
        if answer.status_code == 401:
            raise Refused(f"the hub refused the token: {error['message']}; give a manager's --token ID:SECRET")
        if answer.status_code == 403:
            raise Refused(f"{error['message']}; shelf labels are a manager's: give a manager's --token ID:SECRET")
        if envelope and error["code"] != "internal":
            return body
        raise Refused(f"the hub refused ({answer.status_code}): {error['message']}")

    def label_printers(self) -> list[dict[str, Any]]:
        return [device for device in self.call("GET", "/api/v1/devices") if device.get("kind") == "label_printer"]


def _error(body: Any) -> dict[str, Any]:
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {"code": "internal", "message": str(body)[:200]}


def _run(args: argparse.Namespace, show: Any) -> int:
    access = hub_access(args, who="a manager's", client="manager-1")
    if access is None:
        return 2
    try:
        return show(Hub(*access), args)
    except Refused as exc:
        print(f"storehub labels: {exc}", file=sys.stderr)
        return exc.code


# -- the queue --------------------------------------------------------------------------------


def _queue(args: argparse.Namespace) -> int:
    return _run(args, _show_queue)


def _show_queue(hub: Hub, args: argparse.Namespace) -> int:
    queue = hub.call("GET", "/api/v1/labels")
    if args.json:
        print(json.dumps(queue, indent=2, ensure_ascii=False))
        return 0
    print(queue_text(queue, hub.label_printers(), demo_dir=args.dir if args.api is None else None))
    return 0


def queue_text(queue: dict[str, Any], printers: list[dict[str, Any]], *, demo_dir: Path | None = None) -> str:
    """The queue as a manager reads it: how many and how long at the top, then each label."""
    if not queue["count"]:
        return "no stale labels: every shelf label shows today's price"
    oldest = _when(queue["oldest_queued_at"])
    lines = [
        f"{queue['count']} stale label{'s' if queue['count'] != 1 else ''}, "
        f"the oldest wrong for {_age(queue['oldest_age_s'])} (since {oldest})",
        "",
        f"{'SKU':<10}  {'product':<{NAME_WIDTH}}  {'category':<{CATEGORY_WIDTH}}  {'was':>9}   {'now':>9}  since",
    ]
    for label in queue["labels"]:
        was = _money(label["previous_amount"]) if label["previous_amount"] is not None else "-"
        lines.append(
            f"{label['sku']:<10}  {_cut(label['name']):<{NAME_WIDTH}}  "
            f"{_cut(label['category'], CATEGORY_WIDTH):<{CATEGORY_WIDTH}}  "
            f"{was:>9} → {_money(label['amount']):>9}  {_when(label['queued_at'])}"
        )
    if len(queue["labels"]) < queue["count"]:
        lines.append(f"… and {queue['count'] - len(queue['labels'])} more")
    if printers:
        listed = ", ".join(f"{p['device_id']} ({_profile(p)}, {p['status']})" for p in printers)
        where = f" --dir {demo_dir}" if demo_dir is not None and demo_dir != DEMO_DIR else ""
        lines += [
            "",
            f"label printers: {listed}",
            f"print them: storehub labels print{where} --printer {printers[0]['device_id']}",
        ]
    return "\n".join(lines)


def _profile(printer: dict[str, Any]) -> str:
    return str((printer.get("capabilities") or {}).get("profile") or printer.get("model") or "no profile")


# -- printing ---------------------------------------------------------------------------------


def _print(args: argparse.Namespace) -> int:
    if args.sku and args.category:
        print(
            "storehub labels print: --sku names the tags, --category picks from the queue; give one of them",
            file=sys.stderr,
        )
        return 2
    if args.copies is not None and not 1 <= args.copies <= 50:
        print("storehub labels print: --copies is 1 to 50", file=sys.stderr)
        return 2
    return _run(args, _print_labels)


def print_request(args: argparse.Namespace) -> dict[str, Any]:
    """The ``print_labels`` request a till or the managers' page would send for these options."""
    what: dict[str, Any] = (
        {"items": [{"sku": sku} for sku in args.sku]}
        if args.sku
        else {"queue": {"category": args.category} if args.category else {}}
    )
    if args.template:
        what["template"] = args.template
    if args.copies is not None:
        what["copies"] = args.copies
    return {"action": "print_labels", "args": what, "request_id": f"labels-cli-{uuid.uuid4().hex[:12]}"}


def _print_labels(hub: Hub, args: argparse.Namespace) -> int:
    answer = hub.call(
        "POST",
        f"/api/v1/devices/{args.printer}/requests",
        json=print_request(args),
        timeout=PRINT_TIMEOUT_S,
        envelope=True,
    )
    queue = hub.call("GET", "/api/v1/labels")
    if args.json:
        print(json.dumps(answer | {"left_in_queue": queue["count"]}, indent=2, ensure_ascii=False))
        return 0 if answer.get("ok") else 1
    if not answer.get("ok"):
        raise Refused(_print_refusal(hub, args.printer, _error(answer), queue["count"]))
    print(printed_text(answer["result"], printer=args.printer, left=queue["count"], api=hub.api))
    if args.category and not answer["result"]["tags"]:
        categories = sorted({label["category"] for label in queue["labels"]})
        print(f"no stale label in category {args.category!r}; the queue's: {', '.join(categories) or 'none'}")
    return 0


def printed_text(result: dict[str, Any], *, printer: str, left: int | None, api: str) -> str:
    """What a run printed, what is left, and where an A4 sheet is."""
    tags = result["tags"]
    skus = ", ".join(tag["sku"] for tag in tags[:12]) + (", …" if len(tags) > 12 else "")
    if not tags:
        lines = [f"{printer} printed nothing: no stale label was asked for"]
    elif "file" in result:
        lines = [
            f"{printer} wrote {len(tags)} tag{'s' if len(tags) != 1 else ''} ({result['template']}) "
            f"on {result['pages']} A4 page{'s' if result['pages'] != 1 else ''}: {skus}",
            f"the sheet: {result['file']}",
            f"download it (as a manager): {api}/api/v1/labels/sheets/{result['file']}",
        ]
    else:
        lines = [f"{printer} printed {len(tags)} tag{'s' if len(tags) != 1 else ''} ({result['template']}): {skus}"]
    if left is not None:
        lines.append(f"left in the queue: {left}")
    return "\n".join(lines)


def _print_refusal(hub: Hub, printer: str, error: dict[str, Any], left: int | None) -> str:
    """The hub's words, and what the manager does about it."""
    code, message, details = error.get("code"), error.get("message", ""), error.get("details") or {}
    if code == "unknown_target":
        return f"no printer {printer} on this hub; its label printers: {_printer_names(hub)}"
    if code == "unknown_action":
        return f"{printer} is not a label printer; the label printers: {_printer_names(hub)}"
    line = message
    if details.get("not_printed"):
        line += f" (not printed: {', '.join(details['not_printed'][:12])}{', …' if len(details['not_printed']) > 12 else ''})"
    if code in WHAT_TO_DO:
        line += f"; {WHAT_TO_DO[code]}"
    if left is not None and code in ("device_error", "device_offline"):
        line += f" (left in the queue: {left})"
    return line


def _printer_names(hub: Hub) -> str:
    return ", ".join(p["device_id"] for p in hub.label_printers()) or "none"


# -- the journal ------------------------------------------------------------------------------


def _journal(args: argparse.Namespace) -> int:
    if not 1 <= args.limit <= 1000:
        print("storehub labels journal: --limit is 1 to 1000", file=sys.stderr)
        return 2
    return _run(args, _show_journal)


def _show_journal(hub: Hub, args: argparse.Namespace) -> int:
    params: dict[str, Any] = {"limit": args.limit} | ({"sku": args.sku} if args.sku else {})
    journal = hub.call("GET", "/api/v1/labels/journal", params=params)
    if args.json:
        print(json.dumps(journal, indent=2, ensure_ascii=False))
        return 0
    print(journal_text(journal["entries"], sku=args.sku))
    return 0


def journal_text(entries: list[dict[str, Any]], *, sku: str | None = None) -> str:
    if not entries:
        return f"no label of {sku} printed yet" if sku else "no label printed yet"
    lines = [
        f"{'printed':<16}  {'SKU':<10}  {'product':<{NAME_WIDTH}}  {'price':>9}  ver  copies  "
        f"{'template':<12}  {'printer':<14}  by"
    ]
    for entry in entries:
        by = entry["client"] + ("" if entry["from_queue"] else " (by name)")
        lines.append(
            f"{_when(entry['printed_at']):<16}  {entry['sku']:<10}  {_cut(entry['name']):<{NAME_WIDTH}}  "
            f"{_money(entry['amount']):>9}  v{entry['price_version']:<2}  {entry['copies']:>6}  "
            f"{entry['template']:<12}  {entry['device']:<14}  {by}"
        )
    return "\n".join(lines)


# -- words --------------------------------------------------------------------------------------


def _money(minor: int) -> str:
    """Kopecks as roubles: 9699 -> 96.99."""
    return f"{minor / 100:.2f}"


def _cut(name: str, width: int = NAME_WIDTH) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def _when(stamp: str) -> str:
    """An ISO time as the box's clock shows it."""
    return dt.datetime.fromisoformat(stamp).astimezone().strftime("%Y-%m-%d %H:%M")


def _age(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 1:
        return f"{int(seconds)} s"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} days"
