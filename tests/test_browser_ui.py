"""The pages in a real browser (Debian's headless Chromium driven by Playwright), with the
network limited to loopback: any request elsewhere is refused and recorded, and the test fails
if one was attempted. The profile explorer loads a profile, draws its identity graph, shows an
attribute's provenance on hover and an explanation path; GraphiQL renders and runs a query.
Screenshots go to the test's tmp directory (printed with -s)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from idgraph.api.http.pages import assets_ready
from idgraph.auth.roles import Role
from tests.api_support import KEY_SPEC, KEYS, api_server, post
from tests.exploration_helpers import EVENTS, RECORDS
from tests.identity_helpers import INGEST, ident, ingest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("no Chromium: install the system package (`apt-get install chromium`; "
                    "`make test` does it as root) to run the browser tests")
    if not assets_ready():
        pytest.skip("browser assets not built: run `make assets` (needs npm)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Playwright's own browser download cannot work here: the system's Chromium instead.
        # Host names resolve to nothing but loopback, as on a machine with no network.
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"])
        yield launched
        launched.close()


class OfflinePage:
    """A page whose requests may only go to loopback; the others are aborted and recorded."""

    def __init__(self, browser) -> None:
        self.refused: list[str] = []
        self.context = browser.new_context(viewport={"width": 1400, "height": 1200})
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("websocket", self._websocket)
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _route(self, route) -> None:
        if urlparse(route.request.url).hostname in LOOPBACK:
            route.continue_()
        else:
            self.refused.append(route.request.url)
            route.abort()

    def _websocket(self, socket) -> None:
        if urlparse(socket.url).hostname not in LOOPBACK:
            self.refused.append(socket.url)


@pytest.fixture
def offline(browser) -> Iterator[OfflinePage]:
    page = OfflinePage(browser)
    yield page
    page.context.close()
    assert page.refused == [], f"the page tried to reach beyond loopback: {page.refused}"
    assert page.errors == [], f"JavaScript errors: {page.errors}"


def shot(page, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


def test_explorer_shows_a_profile_its_graph_provenance_and_an_explanation(offline, gql,
                                                                            live_api, tmp_path):
    ingest(gql, RECORDS, EVENTS)
    jane = gql("query($i: IdentityInput!) { profile(identity: $i) { id } }",
               {"i": ident("email:jane@x.com")})["profile"]["id"]
    page = offline.page
    page.goto(f"{live_api.url}/explore")
    page.fill("#namespace", "email")
    page.fill("#value", " Jane@X.com ")  # normalised by the API
    page.click("#lookup button[type=submit]")
    page.wait_for_selector("#profile-id", timeout=30_000)
    assert page.inner_text("#profile-id") == jane

    # Jane's four identities and, hollow, Bob's e-mail that a refused link keeps out.
    assert page.get_attribute("#graph", "data-nodes") == "5"
    assert page.evaluate("window.idgraphExplorer.cy.nodes().length") == 5
    assert page.evaluate("window.idgraphExplorer.cy.nodes('.outside').map(n => n.id())") == [
        "email:bob@x.com"]
    assert page.evaluate("window.idgraphExplorer.cy.edges('.refused').length") == 1

    page.hover('#attributes tr[data-path="firstName"]')
    tip = page.locator("#provenance")
    tip.wait_for(state="visible")
    assert "firstName = Janet" in tip.inner_text()
    assert "from web, record w1, at 2025-01-03 12:00:00 UTC" in tip.inner_text()
    assert "Jane from crm (record r1, 2025-01-02 12:00:00 UTC)" in tip.inner_text()
    shot(page, tmp_path, "explorer-provenance")
    page.mouse.move(0, 0)
    assert tip.is_hidden()

    page.fill("#explain-b", "email:bob@x.com")
    page.click("#explain button[type=submit]")
    page.wait_for_selector("#explain-result .path-step", timeout=30_000)
    identities = page.locator("#explain-result .path-identity").all_inner_texts()
    assert identities == ["email:jane@x.com", "ecid:E1", "device:d1", "email:bob@x.com"]
    assert page.locator("#explain-result .path-link.refused").count() == 1
    assert "Not one profile" in page.inner_text("#explain-result")
    assert page.evaluate("window.idgraphExplorer.cy.edges('.on-path').length") == 3
    assert "page_view" in page.inner_text("#timeline")
    assert "link_refused" in page.inner_text("#history")
    shot(page, tmp_path, "explorer-explanation")


def test_graphiql_renders_and_runs_a_query_offline(offline, live_api, tmp_path):
    page = offline.page
    page.goto(f"{live_api.url}/graphql")
    page.wait_for_selector(".graphiql-container", timeout=30_000)
    page.locator(".graphiql-query-editor .CodeMirror").first.click()
    page.keyboard.press("Control+a")
    page.keyboard.type("{ version health { neo4j } }")
    page.click(".graphiql-execute-button")
    response = page.locator(".graphiql-response")
    until(page, lambda: "neo4j" in response.inner_text())
    assert '"neo4j": "ok"' in response.inner_text(), response.inner_text()
    assert '"version"' in response.inner_text()
    shot(page, tmp_path, "graphiql")


def test_explorer_uses_the_key_typed_in_and_shows_what_its_role_may_see(offline, neo4j_server,
                                                                        empty_graph):
    with api_server(neo4j_server, api_keys=KEY_SPEC) as server:
        stored = post(server.url, INGEST, {"records": RECORDS, "events": EVENTS},
                      KEYS[Role.PARTNER]).json()
        assert stored["data"]["ingest"]["accepted"] == len(RECORDS) + len(EVENTS), stored
        page = offline.page
        page.goto(f"{server.url}/explore?namespace=email&value=jane@x.com")
        page.locator("#status.error").wait_for(timeout=30_000)
        assert "needs a valid key" in page.inner_text("#status")

        for role, links_note in [(Role.APP, "Your key's role may not see this"),
                                 (Role.ANALYST, "")]:
            page.fill("#key", KEYS[role])
            page.click("#key-form button[type=submit]")  # looks the identity up again
            note = page.locator('.note[data-for="links"]')
            until(page, lambda n=note, want=links_note: page.is_visible("#profile-id")
                  and n.inner_text().startswith(want) and (want or n.inner_text() == ""))
            assert page.evaluate("sessionStorage.getItem('idgraph.apiKey')") == KEYS[role]
        assert page.get_attribute("#graph", "data-nodes") == "5"


def until(page, condition, seconds: float = 30) -> None:
    """Poll `condition` (the pages' CSP forbids Playwright's evaluated wait_for_function)."""
    for _ in range(int(seconds * 10)):
        if condition():
            return
        page.wait_for_timeout(100)
    raise AssertionError("the page never got there")
