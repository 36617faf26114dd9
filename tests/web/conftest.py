"""The managers' page in a real browser: Debian's Chromium driven by Playwright.

No browser is downloaded: Playwright launches ``/usr/bin/chromium`` (the Makefile's
TEST_PACKAGES installs it), headless, in a fresh profile of its own.  Every page is
opened in a context that lets nothing but loopback through: a request for any other
host is aborted and remembered, and the test fails if the page asked for one — the
shop's internet may be down, and the page must not notice.

Screenshots are artifacts for people to look at, not golden images: they go to
``$STOREHUB_ARTIFACTS/screens`` (``.artifacts/screens`` by default), one file per page
and size, and the folder is printed at the end of the run.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, BrowserContext, Page, Route, async_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}

#: The two sizes every page is looked at: the back-office PC and a phone on the floor.
DESK = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

SCREENS = Path(os.environ.get("STOREHUB_ARTIFACTS", Path(__file__).parents[2] / ".artifacts")) / "screens"


@dataclass
class Shop:
    """A browser that reaches only loopback, and what it tried to reach beyond it."""

    browser: Browser
    refused: list[str] = field(default_factory=list)
    contexts: list[BrowserContext] = field(default_factory=list)

    async def page(self, viewport: dict[str, int] = DESK) -> Page:
        context = await self.browser.new_context(viewport=viewport, locale="ru-RU", accept_downloads=True)
        await context.route("**/*", self._loopback_only)
        self.contexts.append(context)
        return await context.new_page()

    async def _loopback_only(self, route: Route) -> None:
        url = route.request.url
        host = urlsplit(url).hostname or ""
        if urlsplit(url).scheme in ("data", "blob") or host in LOOPBACK:
            await route.continue_()
        else:
            self.refused.append(url)
            await route.abort("internetdisconnected")


async def screenshot(page: Page, name: str) -> Path:
    """Save the whole page as ``screens/<name>-<width>x<height>.png`` for people to look at."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size or DESK
    path = SCREENS / f"{name}-{size['width']}x{size['height']}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def sign_in(page: Page, base_url: str, client_id: str, secret: str) -> None:
    """Sign in through the form, as a manager does, and land on the Labels page."""
    await page.goto(f"{base_url}/manage/login")
    await page.fill("#client_id", client_id)
    await page.fill("#secret", secret)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/manage/labels**")


@pytest.fixture
async def shop() -> AsyncIterator[Shop]:
    """A headless Chromium, closed afterwards; the test fails if a page reached past loopback."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        shop = Shop(browser)
        try:
            yield shop
        finally:
            for context in shop.contexts:
                await context.close()
            await browser.close()
    assert not shop.refused, f"the page reached past loopback: {shop.refused}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if SCREENS.is_dir() and any(SCREENS.iterdir()):
        terminalreporter.write_line(f"screenshots of the managers' page: {SCREENS}")
