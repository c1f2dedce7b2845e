"""The browser pages over HTTP: served by idgraph with every script and style sheet from its own
/static (no other host), under a Content-Security-Policy; a clear 503 when the assets are not
built. (tests/test_browser_ui.py drives them in a real browser.)"""

from __future__ import annotations

import re

import httpx
import pytest

from idgraph.api.http import pages

ASSET = re.compile(r'<(?:script[^>]*\ssrc|link[^>]*\shref)="([^"]+)"')


@pytest.fixture(autouse=True)
def built():
    if not pages.assets_ready():
        pytest.skip("browser assets not built: run `make assets` (needs npm)")


@pytest.mark.parametrize("path", ["/explore", "/graphql"])
def test_pages_load_everything_from_idgraph(live_api, path):
    page = httpx.get(live_api.url + path, headers={"Accept": "text/html"}, timeout=30)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assets = [a for a in ASSET.findall(page.text) if a != "data:,"]
    assert assets and all(a.startswith("/static/") for a in assets), assets
    for asset in assets:
        answer = httpx.get(live_api.url + asset, timeout=30)
        assert answer.status_code == 200, asset
    if path != "/explore":
        return
    modules = re.findall(r'from "\./([a-z]+\.js)"', httpx.get(
        live_api.url + "/static/explore/explore.js", timeout=30).text)
    assert sorted(modules) == ["api.js", "dom.js", "graph.js", "segments.js"]
    for module in modules:
        assert httpx.get(f"{live_api.url}/static/explore/{module}", timeout=30).status_code == 200


def test_explore_with_a_slash_and_a_query_redirects(live_api):
    answer = httpx.get(live_api.url + "/explore/?namespace=email&value=a", timeout=30)
    assert answer.status_code == 308
    assert answer.headers["location"] == "/explore?namespace=email&value=a"


def test_pages_say_what_to_do_when_assets_are_missing(monkeypatch, tmp_path):
    monkeypatch.setattr(pages, "VENDOR_MANIFEST", tmp_path / "missing.json")
    answer = pages.page("explore")
    assert answer.status_code == 503 and b"make assets" in answer.body
