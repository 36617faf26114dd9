"""Shelf labels through real processes: a product's grade from the reference cloud into
the product view, the stale labels' numbers on REST, /metrics and the retained
``hub/labels``, the print journal, and the A4 sheets a manager downloads."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pypdfium2
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas
from sqlmodel import Session

from devices.labels.tag import LabelsPrinted, PrintedTag
from hub.db import create_store_engine
from hub.store.labels import record_printed
from tests.conftest import CloudProcess, Connect, HubProcess, start_hub, until

CHEESE = {"sku": "CHS-200", "version": 1, "gtin": "4600000000046", "name": "Сыр российский 200 г",
          "grade": "высший", "net_content": "0.200", "unit_price_basis": "kg", "category": "Сыры"}  # fmt: skip


def get(hub: HubProcess, who: str, path: str, **params: Any) -> httpx.Response:
    return httpx.get(hub.api_url + path, headers=hub.headers(who), params=params, timeout=10)


def metric(hub: HubProcess, name: str) -> float:
    text = httpx.get(hub.api_url + "/metrics", timeout=10).text
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert found, f"{name} not in /metrics"
    return float(found.group(1))


def print_outside(hub: HubProcess, outcome: LabelsPrinted) -> None:
    """A print run's outcome written by the store layer into the hub's database, as the
    label printer's port writes it (no label printer here: the device is not the point)."""
    engine = create_store_engine(hub.directory / "state" / "storehub.db")
    try:
        with Session(engine) as session:
            record_printed(session=session, outcome=outcome, now=time.time())
            session.commit()
    finally:
        engine.dispose()


async def test_a_grade_from_the_cloud_and_the_stale_labels_numbers_everywhere_a_manager_looks(
    tmp_path: Path, cloud: CloudProcess, connect: Connect
):
    await asyncio.to_thread(cloud.start)
    hub = await asyncio.to_thread(start_hub, tmp_path / "hub", cloud=cloud.hub_section(mode="push"))
    try:
        tech = await connect(hub, "tech-1")
        told: list[dict[str, Any]] = []
        tech.watch("hub/labels", lambda topic, document: told.append(document))
        await until(lambda: told and told[-1]["count"] == 0, 5, "hub/labels retained at start")

        before = time.time()
        cloud.publish(products=[CHEESE], prices=[{"sku": CHEESE["sku"], "version": 1, "amount": 25990}])
        await until(lambda: get(hub, "till-1", "/api/v1/products/CHS-200").status_code == 200, 15, "the product")
        product = get(hub, "till-1", "/api/v1/products/CHS-200").json()
        assert (product["grade"], product["price"]["amount"], product["label_stale"]) == ("высший", 25990, True)

        # A new price is a label to print: one, since the moment it arrived.
        queue = get(hub, "manager-1", "/api/v1/labels").json()
        assert queue["count"] == 1 and [label["sku"] for label in queue["labels"]] == ["CHS-200"]
        oldest = queue["oldest_queued_at"]
        assert before <= epoch(oldest) <= time.time()
        assert 0 <= queue["oldest_age_s"] < 60
        assert metric(hub, "storehub_labels_stale") == 1
        assert metric(hub, "storehub_labels_stale_oldest_age_seconds") >= 0
        await until(lambda: told[-1]["count"] == 1, 5, "hub/labels told of the stale label")
        assert told[-1]["oldest_queued_at"] == epoch(oldest)

        # A manager who connects later reads the same numbers, retained.
        manager = await connect(hub, "manager-1")
        late: list[dict[str, Any]] = []
        manager.watch("hub/labels", lambda topic, document: late.append(document))
        await until(lambda: late, 5, "the retained hub/labels")
        assert late[-1]["count"] == 1

        # Printed: the queue empties, the journal says so, and so does the retained state
        # at the hub's next commit (a delivery booked).
        print_outside(hub, printed_cheese())
        assert httpx.post(
            hub.api_url + "/api/v1/stock/moves",
            json={"sku": "CHS-200", "kind": "receipt", "quantity": "10"},
            headers=hub.headers("manager-1"),
        ).is_success
        await until(lambda: told[-1]["count"] == 0, 5, "hub/labels told the queue is empty")
        assert told[-1]["oldest_queued_at"] is None and told[-1]["oldest_age_s"] is None
        assert metric(hub, "storehub_labels_stale") == 0
        assert get(hub, "manager-1", "/api/v1/labels").json()["oldest_age_s"] is None
        [entry] = get(hub, "manager-1", "/api/v1/labels/journal", sku="CHS-200").json()["entries"]
        assert (entry["price_version"], entry["amount"], entry["copies"], entry["device"]) == (1, 25990, 2, "labels-1")
        assert get(hub, "manager-1", "/api/v1/labels/journal", sku="TEA-017").json()["entries"] == []
        assert get(hub, "till-1", "/api/v1/labels/journal").status_code == 403
    finally:
        await asyncio.to_thread(hub.cleanup)


def printed_cheese() -> LabelsPrinted:
    return LabelsPrinted(
        device="labels-1",
        client="manager-1",
        template="shelf-58x40",
        from_queue=True,
        printed=[PrintedTag(sku="CHS-200", price_version=1, copies=2)],
    )


def epoch(moment: str) -> float:
    return dt.datetime.fromisoformat(moment).timestamp()


def write_sheet(path: Path, text: str) -> bytes:
    canvas = Canvas(str(path), pagesize=A4)
    canvas.drawString(72, 720, text)
    canvas.showPage()
    canvas.save()
    return path.read_bytes()


def test_a_manager_lists_and_downloads_the_a4_sheets_and_nothing_else(hub: HubProcess):
    assert get(hub, "manager-1", "/api/v1/labels/sheets").json() == {"sheets": []}
    folder = hub.directory / "state" / "label-sheets"
    folder.mkdir()
    sheet = write_sheet(folder / "labels-20261203-1.pdf", "Chai 159.90")
    (folder / "notes.txt").write_text("not a sheet")
    (folder / "escape.pdf").symlink_to(hub.config_path)

    listed = get(hub, "tech-1", "/api/v1/labels/sheets").json()["sheets"]
    assert [(s["name"], s["bytes"]) for s in listed] == [("labels-20261203-1.pdf", len(sheet))]

    answer = get(hub, "manager-1", "/api/v1/labels/sheets/labels-20261203-1.pdf")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
    assert answer.content == sheet
    document = pypdfium2.PdfDocument(answer.content)
    assert len(document) == 1 and tuple(round(side) for side in document[0].get_size()) == (595, 842)
    assert "Chai 159.90" in document[0].get_textpage().get_text_range()
    assert get(hub, "till-1", "/api/v1/labels/sheets/labels-20261203-1.pdf").status_code == 403

    secret = hub.config_path.read_bytes()
    for name in (
        "..%2Fstorehub.toml",
        "..%2F..%2Fstorehub.toml",
        "%2E%2E",
        "escape.pdf",
        "notes.txt",
        ".hidden.pdf",
        "missing.pdf",
        "%2Fetc%2Fpasswd",
        "..%5Cstorehub.toml",
    ):
        refused = get(hub, "manager-1", f"/api/v1/labels/sheets/{name}")
        assert refused.status_code in (400, 404), (name, refused.status_code)
        assert refused.headers["content-type"].startswith("application/json"), name
        assert secret not in refused.content and b"secret_hash" not in refused.content, name
