"""The API docs pages (/docs, /redoc) render every operation in a real Chromium that can
reach nothing but the server: the Swagger UI and ReDoc assets come from the package.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from browser_fixtures import TIMEOUT_MS, VIEWPORT
from conftest import run_cli
from server_fixtures import fetch_json, running_server

pytestmark = pytest.mark.browser
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("docs-store")
    done = run_cli("ingest", "-n", "quotes", "-q", "demo", data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    with running_server(data_dir) as base_url:
        yield base_url


def operations(base_url: str) -> set[tuple[str, str]]:
    status, document = fetch_json("GET", base_url + "/openapi.json")
    assert status == 200
    return {
        (method.upper(), path) for path, methods in document["paths"].items() for method in methods
    }


def offline_page(browser: Any, base_url: str) -> tuple[Any, Any, list[str]]:
    """A page whose requests to anywhere but the server are refused (and recorded)."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)
    outside: list[str] = []
    server_host = urlsplit(base_url).netloc

    def only_loopback(route: Any) -> None:
        if urlsplit(route.request.url).netloc == server_host:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_loopback)
    return context, context.new_page(), outside


def test_swagger_ui_renders_every_operation_offline(browser: Any, server: str) -> None:
    expected = operations(server)
    context, page, outside = offline_page(browser, server)
    try:
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(server + "/docs")
        page.wait_for_selector(".opblock")
        shown = {
            (
                block.query_selector(".opblock-summary-method").inner_text().strip(),
                block.query_selector(".opblock-summary-path").get_attribute("data-path"),
            )
            for block in page.query_selector_all(".opblock")
        }
        assert shown == expected
        assert page.title() == "same-same API"
        assert outside == [] and errors == []
    finally:
        context.close()


def test_redoc_renders_every_operation_offline(browser: Any, server: str) -> None:
    expected = operations(server)
    context, page, outside = offline_page(browser, server)
    try:
        page.goto(server + "/redoc")
        page.wait_for_selector("[data-section-id^='operation/']", state="attached")
        sections = page.query_selector_all("[data-section-id^='operation/']")
        assert len(sections) == len(expected)
        body = page.inner_text("body")
        for path in ("/api/v1/search", "/api/v1/duplicates", "/api/v1/vectors"):
            assert path in body
        # ReDoc's footer asks its CDN for a logo and drops the <img> when that fails (its
        # onError); nothing the page needs comes from outside.
        assert set(outside) <= {REDOC_LOGO}
    finally:
        context.close()


def fetch(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.headers["content-type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["content-type"], error.read()


def test_docs_assets_are_served_and_unknown_ones_are_a_json_404(server: str) -> None:
    for name, kind in (
        ("swagger-ui-bundle.js", "text/javascript"),
        ("swagger-ui.css", "text/css"),
        ("redoc.standalone.js", "text/javascript"),
    ):
        status, content_type, payload = fetch(f"{server}/docs/assets/{name}")
        assert (status, content_type.split(";")[0]) == (200, kind), name
        assert len(payload) > 100_000, name
    for missing in ("nothing.js", "..%2F..%2Fpyproject.toml", "%2Fetc%2Fpasswd"):
        status, content_type, payload = fetch(f"{server}/docs/assets/{missing}")
        assert (status, content_type) == (404, "application/json"), missing
        assert json.loads(payload)["error"]["code"] == "not_found"


def test_the_docs_pages_name_no_cdn(server: str) -> None:
    for path in ("/docs", "/redoc"):
        status, _, html = fetch(server + path)
        assert status == 200
        assert b"cdn.jsdelivr.net" not in html and b"fonts.googleapis" not in html, path
        assert b"/docs/assets/" in html, path
