"""The page's date range filter and the dates and places on its cards, in a real Chromium
against a real server, over photos with EXIF (photo_fixtures) ingested by the real CLI
with the tiny CLIP model."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from browser_fixtures import count_searches, open_page, read_results, wait_for_search
from conftest import run_cli
from photo_fixtures import BROKEN, PHOTOS, write_photo_library
from server_fixtures import running_server

pytestmark = [pytest.mark.browser, pytest.mark.clip]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from relevance_fixtures import tiny_model_args  # skips without the [clip] extra

    root = tmp_path_factory.mktemp("web-dates")
    photos = write_photo_library(root / "photos")
    data_dir = root / "store"
    done = run_cli(
        "ingest", "-e", "clip", *tiny_model_args(), "-n", "photos", "-q", f"images:{photos}",
        data_dir=data_dir,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with running_server(data_dir, env={"OMP_NUM_THREADS": "2"}) as base_url:
        yield base_url


def shown_names(page: Any) -> set[str]:
    return {result["filename"] for result in read_results(page)}


def set_date(page: Any, selector: str, value: str) -> None:
    before = count_searches(page)
    page.fill(selector, value)  # fires change, which searches again
    wait_for_search(page, before)


def test_the_date_range_narrows_the_results(browser: Any, server: str) -> None:
    with open_page(browser, server) as (page, errors):
        before = count_searches(page)
        page.fill("#query", "a photo")
        page.press("#query", "Enter")
        wait_for_search(page, before)
        if page.locator("#no-good-match").is_visible():  # the tiny model is unsure of "a photo"
            page.click("#show-closest")
        assert shown_names(page) == {*PHOTOS, BROKEN}

        set_date(page, "#date-from", "2024-06-01")
        assert shown_names(page) == {"paris-2024.jpg", "versailles-2024.jpg"}
        set_date(page, "#date-to", "2024-06-15")  # the whole day: 18:30 is in
        assert shown_names(page) == {"paris-2024.jpg"}
        assert "from=2024-06-01" in page.url and "to=2024-06-15" in page.url

        set_date(page, "#date-from", "")
        assert shown_names(page) == {
            "paris-2024.jpg", "sydney-2019.jpg", "old-scan-2010.jpg", "no-exif.jpg", BROKEN,
        }  # fmt: skip
        assert not errors.exceptions and not errors.console


def test_cards_show_when_and_where(browser: Any, server: str) -> None:
    with open_page(browser, server) as (page, errors):
        page.goto(server + "/?q=a+photo&from=2024-06-15&to=2024-06-15")  # a link kept
        page.wait_for_function("() => Number(document.body.dataset.searches || 0) > 0")
        assert not page.locator("#show-closest").is_visible()  # filters on: results shown
        page.wait_for_selector("#results > li")
        assert page.input_value("#date-from") == "2024-06-15"
        card = page.locator("#results > li").first
        assert card.locator(".filename").inner_text() == "paris-2024.jpg"
        assert card.locator(".taken-at").inner_text() == "2024-06-15 18:30"
        assert card.locator(".taken-at").get_attribute("datetime") == "2024-06-15T18:30:00+02:00"
        assert card.locator(".place").inner_text() == "48.8566°N 2.3522°E"
        assert page.locator("#results > li").count() == 1
        assert not errors.exceptions and not errors.console
