"""``storehub cloud``: run the reference cloud, make tokens, look at it, publish to stores, inject faults.

The hub's CLI mounts this with ``add_commands``, as it mounts its own command groups; it
also runs on its own: ``python -m cloud_link.reference.cli cloud serve --config cloud.toml``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import os
import re
import secrets
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from cloud_link.contract import PublishedItems
from cloud_link.reference.admin import CloudAdmin, CloudRefused, CloudUnreachable
from cloud_link.reference.config import CloudConfigError, load_cloud_config, token_digest
from cloud_link.reference.page import text_table
from cloud_link.reference.schemas import FaultChange

DEFAULT_URL = "http://127.0.0.1:8090"
ADMIN_TOKEN_ENV = "STOREHUB_CLOUD_ADMIN_TOKEN"
DEFAULT_ADMIN_TOKEN_FILE = Path(".storehub-demo/cloud/admin-token")

#: A pickup published without --deadline may be collected for two days, as shops usually hold an order.
DEFAULT_PICKUP_HOLD = dt.timedelta(hours=48)

#: The shapes the store accepts (docs/store.md); checked here so a typo fails at the keyboard.
SKU = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
PICKUP_CODE = re.compile(r"^[A-Za-z0-9]{4,16}$")
QUANTITY = re.compile(r"^\d{1,9}(\.\d{1,3})?$")


def add_commands(
    commands: argparse._SubParsersAction,
    *,
    admin_options: Callable[[argparse.ArgumentParser], None] | None = None,
    run: Callable[[argparse.Namespace], int] | None = None,
) -> None:
    """``storehub cloud …``, run by ``run_cloud_command``.  A caller may add options of its
    own to every command that talks to a running cloud (``admin_options``) and run the
    parsed command itself (``run``, which then calls ``run_cloud_command``): the hub's CLI
    adds the demo's ``--dir`` and reads the demo's cloud address and admin token from it."""

    def _admin_options(parser: argparse.ArgumentParser) -> None:
        _cloud_options(parser)
        if admin_options is not None:
            admin_options(parser)

    cloud = commands.add_parser(
        "cloud",
        help="the reference cloud: serve it, make tokens, see what stores sent, publish prices and pickups, faults",
        description="The reference cloud: serve it, make tokens, see what the stores sent, publish to them, inject faults.",
    )
    cloud.set_defaults(run=run or run_cloud_command)
    what = cloud.add_subparsers(dest="cloud_command", required=True, metavar="WHAT")

    serve = what.add_parser("serve", help="run the reference cloud until SIGTERM or Ctrl-C")
    serve.add_argument("--config", type=Path, required=True, help="the cloud's TOML config (docs/cloud.md)")

    token = what.add_parser("token", help="print a new random token and its sha256, for a config")
    token.add_argument("--json", action="store_true", help="print JSON instead of text")

    status = what.add_parser("status", help="one row per store: events, contiguous, gaps, lag, pull state")
    _admin_options(status)
    status.add_argument("--json", action="store_true", help="print the JSON the cloud answers")

    price = what.add_parser("publish-price", help="publish a price change for a store")
    _admin_options(price)
    price.add_argument("--store", required=True, help="the store's id")
    price.add_argument("--sku", required=True, type=_matching(SKU, "a sku"), help="the product's sku")
    price.add_argument("--amount", required=True, type=_amount, help="the price in minor units, e.g. 9990")
    price.add_argument("--effective-at", type=_moment, help="RFC 3339 with zone; default: at once")
    price.add_argument(
        "--promotion", action="store_true", help="a promotion price: the shelf label strikes the regular price through"
    )

    pickup = what.add_parser("publish-pickup", help="publish a click-and-collect order for a store")
    _admin_options(pickup)
    pickup.add_argument("--store", required=True, help="the store's id")
    pickup.add_argument("--customer", required=True, help="the shopper's name")
    pickup.add_argument("--code", required=True, type=_matching(PICKUP_CODE, "4-16 letters or digits"))
    pickup.add_argument(
        "--line", required=True, action="append", type=_line, metavar="SKU:QTY", help="a line, e.g. MLK-001:2"
    )
    pickup.add_argument("--id", help="the order's id (default C-YYYYMMDD-xxxx)")
    pickup.add_argument("--deadline", type=_moment, help="RFC 3339 with zone; default: in 48 hours")
    pickup.add_argument("--contact", help="the shopper's phone or e-mail")

    publish = what.add_parser("publish", help="publish a generic inbound body (products, prices, pickups, …)")
    _admin_options(publish)
    publish.add_argument("--store", required=True, help="the store's id")
    publish.add_argument("--file", required=True, type=Path, help='a JSON file: {"products": [...], "prices": [...]}')

    fault = what.add_parser("fault", help="make the cloud slow, failing, lying or hanging; no options: show")
    _admin_options(fault)
    fault.add_argument("--delay", type=float, metavar="S", help="every store-facing answer waits S seconds")
    fault.add_argument("--fail", type=int, metavar="N", help="the next N store requests answer 500")
    fault.add_argument("--garbage", type=int, metavar="N", help="the next N store requests answer non-JSON")
    fault.add_argument("--hang", type=int, metavar="N", help="the next N batches commit and never answer")
    fault.add_argument("--clear", action="store_true", help="clear every fault first")


def _cloud_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default=DEFAULT_URL, help=f"the cloud (default {DEFAULT_URL})")
    parser.add_argument("--admin-token", help=f"the admin token (default: ${ADMIN_TOKEN_ENV}, else the token file)")
    parser.add_argument(
        "--admin-token-file",
        type=Path,
        default=DEFAULT_ADMIN_TOKEN_FILE,
        help=f"a file holding the admin token (default {DEFAULT_ADMIN_TOKEN_FILE})",
    )


def run_cloud_command(args: argparse.Namespace) -> int:
    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "serve": _serve,
        "token": _token,
        "status": _status,
        "publish-price": _publish_price,
        "publish-pickup": _publish_pickup,
        "publish": _publish,
        "fault": _fault,
    }
    try:
        return commands[args.cloud_command](args)
    except (CloudUnreachable, CloudRefused, _Problem) as exc:
        print(f"storehub cloud {args.cloud_command}: {exc}", file=sys.stderr)
        return 1


class _Problem(Exception):
    """Something the user can fix, said in one line."""


# -- serve and token -----------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    from cloud_link.reference.server import run_cloud  # uvicorn and FastAPI load for serve only

    try:
        config = load_cloud_config(args.config)
    except CloudConfigError as exc:
        print(f"{exc.path}: invalid config", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def until_signalled() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await run_cloud(config, stop=stop)

    asyncio.run(until_signalled())
    return 0


def _token(args: argparse.Namespace) -> int:
    token = secrets.token_urlsafe(32)
    digest = token_digest(token)
    if args.json:
        print(json.dumps({"token": token, "sha256": digest}))
    else:
        print(f"token   {token}\nsha256  {digest}")
    return 0


# -- admin commands ------------------------------------------------------------------------


def _admin(args: argparse.Namespace) -> CloudAdmin:
    token = args.admin_token or os.environ.get(ADMIN_TOKEN_ENV)
    if not token and args.admin_token_file.is_file():
        token = args.admin_token_file.read_text().strip()
    if not token:
        raise _Problem(
            f"no admin token: give --admin-token, set {ADMIN_TOKEN_ENV}, or write it to {args.admin_token_file}"
        )
    return CloudAdmin(args.url, token)


def _status(args: argparse.Namespace) -> int:
    with _admin(args) as cloud:
        stores = cloud.stores()
    if args.json:
        print(stores.model_dump_json(indent=2))
        return 0
    print(text_table(stores.stores, dt.datetime.now(dt.UTC)))
    for store in stores.stores:
        if store.pull and store.pull.last_error:
            print(f"{store.store_id}: pull {store.pull.state}: {store.pull.last_error}")
    return 0


def _publish_price(args: argparse.Namespace) -> int:
    price: dict[str, object] = {"sku": args.sku, "amount": args.amount}
    if args.effective_at:
        price["effective_at"] = args.effective_at
    if args.promotion:
        price["promotion"] = True
    with _admin(args) as cloud:
        published = cloud.publish(args.store, {"prices": [price]})
    when = f" from {args.effective_at}" if args.effective_at else ""
    what = "promotion price" if args.promotion else "price"
    print(f"published 1 {what} for {args.store}: {args.sku} at {args.amount}{when} (cursor {published.cursor})")
    return 0


def _publish_pickup(args: argparse.Namespace) -> int:
    now = dt.datetime.now(dt.UTC)
    pickup = {
        "id": args.id or f"C-{now:%Y%m%d}-{secrets.token_hex(2).upper()}",
        "customer_name": args.customer,
        "code": args.code,
        "deadline": args.deadline or (now + DEFAULT_PICKUP_HOLD).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "lines": [{"sku": sku, "quantity": quantity} for sku, quantity in args.line],
    }
    if args.contact:
        pickup["customer_contact"] = args.contact
    with _admin(args) as cloud:
        published = cloud.publish(args.store, {"pickups": [pickup]})
    print(
        f"published 1 pickup for {args.store}: {pickup['id']} for {args.customer}, code {args.code}, "
        f"{len(args.line)} lines, collect by {pickup['deadline']} (cursor {published.cursor})"
    )
    return 0


def _publish(args: argparse.Namespace) -> int:
    try:
        items = PublishedItems.model_validate_json(args.file.read_bytes())
    except OSError as exc:
        raise _Problem(f"cannot read {args.file}: {exc.strerror}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"])) or "file"
        raise _Problem(f"{args.file}: {where}: {first['msg']}") from None
    body = items.model_dump(exclude_defaults=True)
    with _admin(args) as cloud:
        published = cloud.publish(args.store, body)
    kinds = ", ".join(f"{len(values)} {kind}" for kind, values in body.items()) or "nothing"
    print(f"published {published.published} items for {args.store} ({kinds}) (cursor {published.cursor})")
    return 0


def _fault(args: argparse.Namespace) -> int:
    try:
        change = FaultChange(delay_s=args.delay, fail_next=args.fail, garbage_next=args.garbage,
                             hang_after_commit_next=args.hang)  # fmt: skip
    except ValidationError as exc:
        raise _Problem(f"{exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}") from None
    with _admin(args) as cloud:
        settings = cloud.clear_faults() if args.clear else cloud.faults()
        if change.model_dump(exclude_none=True):
            settings = cloud.faults(change)
    print(
        f"faults: delay {settings.delay_s:g} s, fail next {settings.fail_next}, garbage next {settings.garbage_next}, "
        f"hang after commit next {settings.hang_after_commit_next}"
    )
    return 0


# -- argument types ------------------------------------------------------------------------


def _matching(pattern: re.Pattern[str], what: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if not pattern.match(value):
            raise argparse.ArgumentTypeError(f"{value!r} is not {what}")
        return value

    return check


def _amount(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"{value!r} is not an amount in minor units (digits only, e.g. 9990)")
    return int(value)


def _moment(value: str) -> str:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an RFC 3339 moment, e.g. 2026-11-25T09:00:00+03:00"
        ) from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{value!r} needs a zone, e.g. Z or +03:00")
    return value


def _line(value: str) -> tuple[str, str]:
    sku, _, quantity = value.rpartition(":")
    if not SKU.match(sku) or not QUANTITY.match(quantity):
        raise argparse.ArgumentTypeError(f"{value!r} is not SKU:QTY, e.g. MLK-001:2 or CHS-004:0.450")
    return sku, quantity


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="storehub")
    add_commands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
