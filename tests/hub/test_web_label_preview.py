"""A tag's preview on the Labels page against a real hub fed by the reference cloud, read
back by code nobody here wrote: the picture is the tag the simulated Zebra prints, dot
for dot; zxing-cpp finds the product's EAN-13 on it and tesseract its price; a new price
from the head office shows at the next look; a wrong product, template or printer is
told in words, and only a signed-in manager or technician sees a preview."""

from __future__ import annotations

import io
import re
from pathlib import Path

import httpx
import zxingcpp
from PIL import Image

from devices.sim.zpl_printer import ZplPrinterSimulator
from tests.conftest import CloudProcess, until
from tests.devices.labels.dot_tags import ocr
from tests.stale_shelf import SHEET_PRINTER, csrf, sign_in, zebra_with_stale_labels

PICTURE = "/manage/labels/preview.png"


def _picture(answer: httpx.Response) -> Image.Image:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(answer.content))
    assert image.format == "PNG"
    return image


def _price_read(image: Image.Image) -> str:
    """What tesseract reads on the tag, spaces dropped (it loses the thin ones in prices)."""
    return ocr(image).replace(" ", "")


async def test_the_preview_is_the_tag_the_zebra_prints_and_shows_a_new_price(
    tmp_path: Path, cloud: CloudProcess
) -> None:
    zebra = ZplPrinterSimulator(dpmm=8)
    async with zebra_with_stale_labels(tmp_path, cloud, zebra, 3, SHEET_PRINTER) as (hub, products):
        with httpx.Client(base_url=hub.api_url) as web:
            token = sign_in(hub, web)
            wanted = {"sku": "B-00001", "template": "shelf-58x40", "printer": "labels-1"}
            answer = web.get(PICTURE, params=wanted)
            image = _picture(answer)
            assert image.size == (58 * 8, 40 * 8) and round(image.info["dpi"][0]) == 203, "58 x 40 mm at 8 dots a mm"
            assert [code.text for code in zxingcpp.read_barcodes(image.convert("L"))] == [products[1]["gtin"]]
            assert "99,91" in _price_read(image)  # 9991 kopecks
            assert "no-cache" in answer.headers["cache-control"] and "max-age" not in answer.headers["cache-control"]

            own = web.get(PICTURE, params={"sku": "B-00001", "printer": "labels-1"})
            assert own.content == answer.content, "no template: the Zebra's own, shelf-58x40"
            sheet = _picture(
                web.get(PICTURE, params={"sku": "B-00002", "template": "small-43x25", "printer": "sheets-1"})
            )
            assert sheet.size == (43 * 12, 25 * 12), "the A4 sheet's 12 dots a mm"
            assert [code.text for code in zxingcpp.read_barcodes(sheet.convert("L"))] == [products[2]["gtin"]]

            printed = web.post("/manage/labels/print", data={"csrf": token, "sku": "B-00001"} | wanted)
            assert printed.status_code == 303
            await until(lambda: len(zebra.labels) == 1, 30, "the Zebra's label")
            assert zebra.labels[0].image.tobytes() == image.convert("1").tobytes(), "the preview is the printed tag"

            etag = answer.headers["etag"]
            assert web.get(PICTURE, params=wanted, headers={"If-None-Match": etag}).status_code == 304
            cloud.publish(prices=[{"sku": "B-00001", "version": 2, "amount": 12345}])
            await until(
                lambda: web.get(PICTURE, params=wanted, headers={"If-None-Match": etag}).status_code == 200,
                30,
                "the new price",
            )
            newer = web.get(PICTURE, params=wanted)
            assert newer.headers["etag"] != etag and "123,45" in _price_read(_picture(newer))


async def test_the_preview_is_offered_on_the_list_and_in_its_dialog(tmp_path: Path, cloud: CloudProcess) -> None:
    zebra = ZplPrinterSimulator(dpmm=8)
    async with zebra_with_stale_labels(tmp_path, cloud, zebra, 2) as (hub, products):
        with httpx.Client(base_url=hub.api_url) as web:
            sign_in(hub, web)
            page = web.get("/manage/labels").text
            assert 'href="/manage/labels/preview?sku=B-00000"' in page and '<dialog id="preview"' in page

            wanted = {"sku": "B-00000", "template": "small-43x25", "printer": "labels-1"}
            fragment = web.get("/manage/labels/preview", params=wanted, headers={"HX-Request": "true"})
            assert fragment.status_code == 200 and "<html" not in fragment.text
            shown = re.search(r'<img src="([^"]+)" width="(\d+)" height="(\d+)"[^>]*alt="([^"]+)"', fragment.text)
            assert shown, fragment.text
            src, width, height, alt = shown.groups()
            assert (int(width), int(height)) == (43 * 8, 25 * 8)
            assert alt == f"Ценник «Товар для полки №0, 500 г»: 99,90\xa0₽, штрихкод {products[0]['gtin']}"
            assert _picture(web.get(src.replace("&amp;", "&"))).size == (43 * 8, 25 * 8)

            whole = web.get("/manage/labels/preview", params=wanted)
            assert whole.status_code == 200 and "<html" in whole.text and "<img src=" in whole.text
            assert '<option value="small-43x25" selected>' in whole.text, "the choices stay chosen"


async def test_a_wrong_product_template_or_printer_is_told_and_only_the_signed_in_see_it(
    tmp_path: Path, cloud: CloudProcess
) -> None:
    zebra = ZplPrinterSimulator(dpmm=8)
    async with zebra_with_stale_labels(tmp_path, cloud, zebra, 1) as (hub, _):
        with httpx.Client(base_url=hub.api_url) as web:
            assert web.get(PICTURE, params={"sku": "B-00000"}).headers["location"] == "/manage/login"
            bearer = web.get(PICTURE, params={"sku": "B-00000"}, headers=hub.headers("till-1"))
            assert bearer.status_code == 303, "a till's REST token opens no page"
            till = {"client_id": "till-1", "secret": hub.secrets["till-1"], "csrf": csrf(web.get("/manage/login").text)}
            assert web.post("/manage/login", data=till).status_code == 403
            assert web.get(PICTURE, params={"sku": "B-00000"}).status_code == 303, "a till is not signed in"

            sign_in(hub, web, "tech-1")  # the preview only reads: a technician may look too
            assert _picture(web.get(PICTURE, params={"sku": "B-00000"})).size == (58 * 8, 40 * 8)

            cases = [
                ({"sku": "NOPE-1"}, 404, "В этом магазине нет товара с артикулом NOPE-1."),
                ({"sku": ""}, 404, "нет товара с артикулом"),
                ({"sku": "B-00000", "template": "huge-1x1"}, 422, "Выберите один из шаблонов."),
                ({"sku": "B-00000", "template": "../hub"}, 422, "Выберите один из шаблонов."),
                ({"sku": "B-00000", "printer": "nope"}, 422, "Выберите один из принтеров ценников."),
                ({"sku": "B-00000", "template": "promo-58x40"}, 422, "Этот ценник не напечатать: product B-00000 has no old price"),
            ]  # fmt: skip
            for params, status, told in cases:
                for path, headers in ((PICTURE, {}), ("/manage/labels/preview", {"HX-Request": "true"})):
                    answer = web.get(path, params=params, headers=headers)
                    assert answer.status_code == status, (path, params, answer.text)
                    assert told in answer.text and 'role="alert"' in answer.text, (path, params, answer.text)
                    assert "image/png" not in answer.headers["content-type"]
        assert zebra.labels == [], "a preview prints nothing"
