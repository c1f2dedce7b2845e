"""The pages idgraph serves to people's browsers: the GraphQL console (GraphiQL, at /graphql)
and the profile explorer (/explore). Every script and style sheet comes from idgraph itself
(static/, the libraries vendored from npm by `make assets`), never from a CDN, so both work on
a machine with no internet; a Content-Security-Policy holds the browser to that.

The pages hold no data: they call the GraphQL API with the key the user types in (kept in the
tab's sessionStorage), or none in the keyless loopback mode.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"
VENDOR_MANIFEST = STATIC / "vendor" / "manifest.json"  # written last by frontend/vendor.mjs
# Scripts and styles from idgraph only; React and GraphiQL set inline styles, fonts and icons
# come as data: URIs, the API is this origin (WebSocket subscriptions included).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
NOT_BUILT = ("idgraph's browser assets (GraphiQL, React, cytoscape) are not built: run "
             "`make assets` (needs Node.js and npm) and restart idgraph.")


def assets_ready() -> bool:
    return VENDOR_MANIFEST.is_file()


def page(name: str) -> Response:
    """static/<name>/index.html under the CSP; 503 saying what to do when assets are missing."""
    if not assets_ready():
        return PlainTextResponse(NOT_BUILT, status_code=503)
    html = (STATIC / name / "index.html").read_text()
    return HTMLResponse(html, headers={"Content-Security-Policy": CSP,
                                       "Cache-Control": "no-cache"})


async def explore(request: Request) -> Response:
    return page("explore")


async def explore_slash(request: Request) -> Response:
    query = request.url.query
    return RedirectResponse("/explore" + (f"?{query}" if query else ""), status_code=308)


def routes() -> list[BaseRoute]:
    return [Route("/explore", explore), Route("/explore/", explore_slash),
            Mount("/static", app=StaticFiles(directory=STATIC, check_dir=False), name="static")]
