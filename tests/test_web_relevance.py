"""The page's relevance features in a real Chromium against a real server: "No good match"
instead of noise, the "Match by" selector, and the Duplicates view.

The library is the eval's generated captioned set (same_same.evaluation.generated: 80
distinct scenes, 20 of them with a copy), ingested with the real CLI and the tiny model,
which also calibrates relevance and the duplicate threshold.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from browser_fixtures import (
    count_searches,
    open_page,
    read_results,
    wait_for_search,
)
from conftest import run_cli
from relevance_fixtures import tiny_model_args
from same_same.evaluation.generated import write_captioned_set
from server_fixtures import running_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, set[str]]]:
    """The store, and each group's file names (an original with its copy)."""
    pytest.importorskip("open_clip", reason="needs the [clip] extra")
    root = tmp_path_factory.mktemp("web-relevance")
    listing = write_captioned_set(root / "set")
    data_dir = root / "store"
    done = run_cli(
        "ingest", "-e", "clip", *tiny_model_args(), "-n", "photos", "-q",
        f"images:{listing.parent / 'images'}", data_dir=data_dir,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    groups: dict[str, set[str]] = {}
    with open(listing, encoding="utf-8") as stream:
        for row in csv.DictReader(stream):
            if row["group"]:
                groups.setdefault(row["group"], set()).add(Path(row["path"]).name)
    return data_dir, groups


@pytest.fixture(scope="module")
def server(library: tuple[Path, dict[str, set[str]]]) -> Iterator[str]:
    with running_server(library[0], env={"OMP_NUM_THREADS": "2"}) as base_url:
        yield base_url


def search(page: Any, text: str) -> None:
    before = count_searches(page)
    page.fill("#query", text)
    page.press("#query", "Enter")
    wait_for_search(page, before)


def test_an_unrelated_query_says_no_good_match(browser: Any, server: str) -> None:  # noqa: F811
    with open_page(browser, server) as (page, errors):
        search(page, "zebra on a motorbike")
        assert page.locator("#no-good-match").is_visible()
        assert "closest scores" in page.locator("#no-good-match-detail").inner_text()
        assert read_results(page) == []
        page.click("#show-closest")
        closest = read_results(page)
        assert closest and page.locator("#no-good-match").is_hidden()

        search(page, "a red circle")
        assert page.locator("#no-good-match").is_hidden()
        first = page.locator("#results .score").first
        assert first.inner_text().endswith("%")  # relevance, the cosine in its title
        assert "cosine" in (first.get_attribute("title") or "")
        assert errors.exceptions == [] and errors.console == []


def test_match_by_words_finds_a_typed_file_name(
    browser: Any,  # noqa: F811
    server: str,
    library: tuple[Path, dict[str, set[str]]],
) -> None:
    data_dir, groups = library
    copied = set().union(*groups.values())
    names = sorted(p.name for p in (data_dir.parent / "set" / "images").iterdir())
    wanted = [name for name in names if name not in copied][-1]  # one picture, no copy
    with open_page(browser, server) as (page, errors):
        page.select_option("#search-mode", "hybrid")
        search(page, Path(wanted).stem)
        results = read_results(page)
        assert results[0]["filename"] == wanted
        assert "mode=hybrid" in page.url
        assert errors.exceptions == [] and errors.console == []


def test_duplicates_view_shows_each_copy_with_its_original(
    browser: Any,  # noqa: F811
    server: str,
    library: tuple[Path, dict[str, set[str]]],
) -> None:
    _, expected = library
    with open_page(browser, server) as (page, errors):
        page.click("#duplicates-button")
        page.wait_for_function("() => document.body.dataset.duplicates === '1'")
        assert page.locator("#duplicates").is_visible() and page.locator("#results").is_hidden()
        shown = page.evaluate(
            """() => [...document.querySelectorAll('#duplicate-groups .duplicate-group')].map(
                (group) => [...group.querySelectorAll('.duplicate')].map((figure) => ({
                    name: figure.querySelector('.filename').textContent,
                    role: figure.classList.contains('keeper') ? 'keeper' : 'copy',
                })))"""
        )
        found = {frozenset(item["name"] for item in group) for group in shown}
        assert found == {frozenset(names) for names in expected.values()}
        for group in shown:
            assert [item["role"] for item in group][0] == "keeper"
            keeper = group[0]["name"]
            assert "-" not in Path(keeper).stem.removeprefix("scene-")  # the original
        assert (
            "20 groups of duplicates among 100 records"
            in page.locator("#duplicates-status").inner_text()
        )
        page.click("#duplicates-close")
        assert page.locator("#duplicates").is_hidden()
        assert errors.exceptions == [] and errors.console == []
