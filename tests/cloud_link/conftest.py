"""Fixtures that start a real reference cloud (and real clients of it), and always stop them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.cloud_link.support import ADMIN_TOKEN, STORE, TOKENS, RunningCloud, running_cloud


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[RunningCloud]:
    async with running_cloud(tmp_path / "cloud") as running:
        yield running


@pytest.fixture
async def store(cloud: RunningCloud) -> AsyncIterator[httpx.AsyncClient]:
    """The demo store's HTTP client, with its own token."""
    async with cloud.client(TOKENS[STORE]) as http:
        yield http


@pytest.fixture
async def admin(cloud: RunningCloud) -> AsyncIterator[httpx.AsyncClient]:
    async with cloud.client(ADMIN_TOKEN) as http:
        yield http
