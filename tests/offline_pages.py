"""What a page served to a back office without internet may load: only what its own server serves."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx

#: What each kind of file the API pages load must be served as.
ASSET_TYPES = {
    ".js": ("text/javascript", "application/javascript"),
    ".css": ("text/css",),
    ".png": ("image/png",),
    ".json": ("application/json",),
}


def assert_served_whole_by(base_url: str, page: str) -> set[str]:
    """The page names no other host, and its server answers everything it loads; returns those URLs."""
    answer = httpx.get(base_url + page)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    hosts = set(re.findall(r"(?:https?:)?//([^/\"'\s<>]+)", answer.text))
    assert hosts <= {urlsplit(base_url).netloc}, hosts
    loaded = re.findall(
        r"""(?:src|href)=["']([^"']+)["']|url: ?["']([^"']+)["']|spec-url=["']([^"']+)["']""", answer.text
    )
    urls = {next(url for url in groups if url) for groups in loaded}
    for url in urls:
        asset = httpx.get(base_url + url)
        assert asset.status_code == 200, url
        kind = asset.headers["content-type"].partition(";")[0]
        assert kind in ASSET_TYPES[url[url.rindex(".") :]], (url, kind)
        assert len(asset.content) > 100, url
    return urls
