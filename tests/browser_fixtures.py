"""A real Chromium, driven by Playwright, for tests of the search page.

Debian's ``/usr/bin/chromium`` is used as it is (no ``playwright install``, no download);
tests that need it are skipped with the reason when it is missing. ``open_page`` gives
a fresh page that records JavaScript errors, so a test can assert the page ran clean.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("SAME_SAME_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 1280, "height": 900}
TIMEOUT_MS = 60_000  # the CI machine is small and shared; CLIP queries run on its CPU


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class PageErrors:
    """JavaScript exceptions and console errors the page produced."""

    exceptions: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)


@contextmanager
def open_page(
    browser: Any, base_url: str, **context_options: Any
) -> Iterator[tuple[Any, PageErrors]]:
    """A page in a fresh browser context (own localStorage), with errors recorded."""
    context = browser.new_context(viewport=VIEWPORT, **context_options)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors = PageErrors()
    page.on("pageerror", lambda exc: errors.exceptions.append(str(exc)))
    page.on("console", lambda msg: errors.console.append(msg.text) if msg.type == "error" else None)
    try:
        page.goto(base_url + "/")
        page.wait_for_selector("body[data-ready='true']", state="attached")
        yield page, errors
    finally:
        context.close()


def read_results(page: Any) -> list[dict[str, Any]]:
    """The result cards as shown: id, kind, filename, score, label, and the image's state."""
    return list(page.evaluate(
        """() => [...document.querySelectorAll('#results > li')].map((card) => {
            const img = card.querySelector('.thumb img');
            return {
                id: card.dataset.id,
                kind: card.classList.contains('image-card') ? 'image' : 'text',
                filename: (card.querySelector('.filename') || {}).textContent || null,
                label: (card.querySelector('.label-chip:not([hidden])') || {}).textContent || null,
                score: Number(card.dataset.score),
                relevance: 'relevance' in card.dataset ? Number(card.dataset.relevance) : null,
                loaded: img ? img.complete && img.naturalWidth > 0 : null,
                naturalWidth: img ? img.naturalWidth : null,
            };
        })"""
    ))


def count_searches(page: Any) -> int:
    """How many searches the page has finished (with results or an error) so far."""
    return int(page.evaluate("() => Number(document.body.dataset.searches || 0)"))


def wait_for_search(page: Any, before: int) -> None:
    """Wait until a search started after ``count_searches`` returned ``before`` has finished."""
    page.wait_for_function(
        "(before) => Number(document.body.dataset.searches || 0) > before", arg=before
    )


def scroll_through_results(page: Any) -> None:
    """Bring every thumbnail into view once, so lazy loading fetches them all."""
    count = page.locator("#results > li").count()
    for index in range(count):
        page.locator("#results > li").nth(index).scroll_into_view_if_needed()


def wait_for_thumbnails(page: Any) -> None:
    scroll_through_results(page)
    page.wait_for_function(
        """() => [...document.querySelectorAll('#results .thumb img')].every((img) =>
            img.complete && (img.naturalWidth > 0 || img.classList.contains('broken')))"""
    )


def drop_file(page: Any, path: Path, mime: str = "image/png", target: str = "#results") -> None:
    """Drag ``path`` over the page and drop it, as a user dragging from a file manager would.

    Playwright cannot drag files from outside the page, so the same DataTransfer a
    browser builds is made in the page and dispatched with real DragEvents.
    """
    payload = base64.b64encode(path.read_bytes()).decode("ascii")
    page.evaluate(
        """([payload, name, mime, target]) => {
            const bytes = Uint8Array.from(atob(payload), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type: mime }));
            const element = document.querySelector(target) || document.body;
            for (const type of ['dragenter', 'dragover', 'drop']) {
                element.dispatchEvent(new DragEvent(type, {
                    dataTransfer: transfer, bubbles: true, cancelable: true,
                }));
            }
        }""",
        [payload, path.name, mime, target],
    )
