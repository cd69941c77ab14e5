"""The search page in a real Chromium, against a real server and the real tiny CLIP model.

A folder of generated scenes (same_same.synthetic: every picture knows what it shows)
is ingested with the real CLI and ``-e clip --clip-model same-same-tiny-clip``, then
served with ``same-same serve`` on 127.0.0.1. The page is used the way a person
uses it: typing and pressing Enter, clicking, picking and dropping files. What the
results show is checked against the scenes' known attributes.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from browser_fixtures import (
    count_searches,
    drop_file,
    open_page,
    read_results,
    wait_for_search,
    wait_for_thumbnails,
)
from conftest import ARTIFACTS, run_cli
from milvus_fixtures import every_store_for_module, rescoped  # noqa: F401 - a fixture
from same_same.synthetic import draw_scene, write_image_folder
from server_fixtures import running_server

pytestmark = pytest.mark.browser

SCENES = 36  # more than one page of results (24), so "More results" has work to do
SEED = 4242
PAGE_SIZE = 24
SCREENSHOT = ARTIFACTS / "search-page.png"

# Scenes planted on top of the random ones, so each query has several right answers.
PLANTED = {
    "red-circle": {"color": "red", "shape": "circle"},
    "blue-square": {"color": "blue", "shape": "square"},
}


@dataclass
class Library:
    folder: Path
    data_dir: Path
    attributes: dict[str, dict[str, Any]]  # file name -> what the picture shows
    probes: dict[str, Path]  # query images that are not in the store


def planted_scene(kind: str, index: int, rng: np.random.Generator) -> Any:
    positions = ("center", "left", "right")
    backgrounds = ("white", "gray", "black")
    attributes = {
        **PLANTED[kind], "count": 1,
        "position": positions[index % 3], "background": backgrounds[index % 3],
    }
    return draw_scene(attributes, rng), attributes


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, every_store_for_module: str) -> Library:  # noqa: F811
    """The pictures, ingested into the embedded store, then (a second round of every test)
    into Milvus: ``every_store_for_module`` sets $SAME_SAME_STORE for the CLI and server."""
    pytest.importorskip("torch", reason="needs the [clip] extra")
    pytest.importorskip("open_clip", reason="needs the [clip] extra")
    from same_same.embedders.clip import tiny_model_paths

    # shipped inside the package: a missing file is a broken package, not a reason to skip
    assert all(path.is_file() for path in tiny_model_paths()), tiny_model_paths()
    root = tmp_path_factory.mktemp("web")
    folder = root / "photos"
    attributes = {path.name: attrs for path, _, attrs in write_image_folder(folder, SCENES, SEED)}
    rng = np.random.default_rng(SEED)
    for kind in PLANTED:
        for index in range(3):
            image, attrs = planted_scene(kind, index, rng)
            name = f"planted-{kind}-{index}.png"
            image.save(folder / name)
            attributes[name] = attrs
    probes = {}
    for kind in PLANTED:
        image, _ = planted_scene(kind, 7, rng)
        probes[kind] = root / f"probe-{kind}.png"
        image.save(probes[kind])

    data_dir = root / "store"
    done = run_cli(
        "ingest", "-e", "clip", "--clip-model", "same-same-tiny-clip", "--device", "cpu",
        "-q", f"images:{folder}", data_dir=data_dir,
    )
    assert done.returncode == 0, done.stderr
    # Label every picture with its shape through a list file: same files, same records,
    # now with labels (the vectors are reused, not computed again).
    listing = root / "labels.txt"
    listing.write_text("".join(f"photos/{name},{attrs['shape']}\n"
                               for name, attrs in sorted(attributes.items())))
    done = run_cli("ingest", "-e", "clip", "--clip-model", "same-same-tiny-clip", "--device", "cpu",
                   "-q", f"image-list:{listing}", data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    return Library(folder, data_dir, attributes, probes)


@pytest.fixture(scope="module")
def server(library: Library) -> Iterator[str]:
    with running_server(library.data_dir, env={"OMP_NUM_THREADS": "2"}) as base_url:
        yield base_url


def search_text(page: Any, text: str) -> None:
    before = count_searches(page)
    page.fill("#query", text)
    page.press("#query", "Enter")
    wait_for_search(page, before)


def shown(library: Library, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [library.attributes[result["filename"]] for result in results]


def is_red_circle(attrs: dict[str, Any]) -> bool:
    return bool(attrs["color"] == "red" and attrs["shape"] == "circle")


def assert_no_page_errors(errors: Any) -> None:
    assert errors.exceptions == [], errors.exceptions
    assert errors.console == [], errors.console


def test_text_search_shows_the_matching_pictures_first(
    browser: Any, server: str, library: Library  # noqa: F811
) -> None:
    with open_page(browser, server) as (page, errors):
        assert page.locator("#namespace option").first.inner_text().startswith("default")
        search_text(page, "a red circle")
        assert page.locator("#error").is_hidden()
        results = read_results(page)
        assert len(results) == PAGE_SIZE
        assert page.locator("#status").inner_text().startswith(f"{PAGE_SIZE} results")
        assert all(result["kind"] == "image" for result in results)
        scores = [result["score"] for result in results]
        assert scores == sorted(scores, reverse=True)

        # The tiny model knows colours well and shapes a little: every red picture comes
        # before every other one, and among the red ones the circles come first on average.
        reds = {name for name, attrs in library.attributes.items() if attrs["color"] == "red"}
        top = results[: len(reds)]
        assert {result["filename"] for result in top} == reds, shown(library, results)
        circles = [rank for rank, attrs in enumerate(shown(library, top)) if is_red_circle(attrs)]
        others = [rank for rank in range(len(top)) if rank not in circles]
        assert circles and others
        assert sum(circles) / len(circles) < sum(others) / len(others), shown(library, top)

        wait_for_thumbnails(page)
        results = read_results(page)
        assert all(result["loaded"] and result["naturalWidth"] > 0 for result in results), results
        page.evaluate("window.scrollTo(0, 0)")
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT))

        before = count_searches(page)
        page.click("#more")
        wait_for_search(page, before)
        more = read_results(page)
        assert len(more) == len(library.attributes)  # everything, fewer than two pages
        assert [r["id"] for r in more[:PAGE_SIZE]] == [r["id"] for r in results]
        assert page.locator("#more").is_hidden()
        assert_no_page_errors(errors)


def test_more_like_this_searches_by_the_stored_picture(
    browser: Any, server: str, library: Library  # noqa: F811
) -> None:
    with open_page(browser, server) as (page, errors):
        search_text(page, "a blue square")
        first = read_results(page)[0]
        assert library.attributes[first["filename"]]["color"] == "blue"

        before = count_searches(page)
        page.locator("#results > li").first.get_by_role("button", name="More like").click()
        wait_for_search(page, before)
        assert page.locator("#query-image").is_visible()
        assert page.locator("#query-image-name").inner_text() == first["filename"]
        similar = read_results(page)
        assert similar and first["id"] not in [r["id"] for r in similar]
        assert [attrs["color"] for attrs in shown(library, similar[:2])] == ["blue", "blue"]
        assert_no_page_errors(errors)


def test_search_by_picked_file(browser: Any, server: str, library: Library) -> None:  # noqa: F811
    with open_page(browser, server) as (page, errors):
        before = count_searches(page)
        page.set_input_files("#image-input", str(library.probes["blue-square"]))
        wait_for_search(page, before)
        assert page.locator("#query-image-name").inner_text() == "probe-blue-square.png"
        top = shown(library, read_results(page)[:2])
        assert [attrs["color"] for attrs in top] == ["blue", "blue"], top
        assert_no_page_errors(errors)


def test_search_by_dropped_file(browser: Any, server: str, library: Library) -> None:  # noqa: F811
    with open_page(browser, server) as (page, errors):
        before = count_searches(page)
        drop_file(page, library.probes["red-circle"])
        wait_for_search(page, before)
        assert page.locator("#query-image-name").inner_text() == "probe-red-circle.png"
        assert page.locator("#drop-overlay").is_hidden()
        top = shown(library, read_results(page)[:2])
        assert [attrs["color"] for attrs in top] == ["red", "red"], top
        assert_no_page_errors(errors)


def test_type_filter_is_sent_to_the_api(browser: Any, server: str, library: Library) -> None:  # noqa: F811
    with open_page(browser, server) as (page, errors):
        search_text(page, "a red circle")
        assert len(read_results(page)) == PAGE_SIZE
        before = count_searches(page)
        page.select_option("#type-filter", "text")  # the store holds only images
        wait_for_search(page, before)
        assert read_results(page) == []
        assert page.locator("#status").inner_text() == "No results match these filters."
        assert "type=text" in page.url
        assert_no_page_errors(errors)


def test_label_chips_filter_by_label(browser: Any, server: str, library: Library) -> None:  # noqa: F811
    with open_page(browser, server) as (page, errors):
        search_text(page, "a red circle")
        results = read_results(page)
        for result in results:  # each chip shows the label the list file gave
            assert result["label"] == library.attributes[result["filename"]]["shape"]
        index = [result["label"] for result in results].index("circle")
        before = count_searches(page)
        page.locator("#results > li").nth(index).locator(".label-chip").click()
        wait_for_search(page, before)
        assert page.input_value("#label-filter") == "circle"
        results = read_results(page)
        circles = sum(1 for attrs in library.attributes.values() if attrs["shape"] == "circle")
        assert len(results) == min(circles, PAGE_SIZE)
        assert {result["label"] for result in results} == {"circle"}

        before = count_searches(page)
        page.fill("#label-filter", "square")
        page.press("#label-filter", "Enter")
        wait_for_search(page, before)
        assert {result["label"] for result in read_results(page)} == {"square"}
        assert "label=square" in page.url
        assert_no_page_errors(errors)


def test_texts_and_images_of_one_space_are_searched_together(
    browser: Any, library: Library, tmp_path: Path  # noqa: F811
) -> None:
    # CLIP embeds text too: quotes in one namespace and pictures in another share a space.
    data_dir = tmp_path / "store"
    clip = ["-e", "clip", "--clip-model", "same-same-tiny-clip", "--device", "cpu", "-q"]
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    for name in sorted(library.attributes)[:6]:
        (pictures / name).write_bytes((library.folder / name).read_bytes())
    own = rescoped(dict(os.environ), data_dir)  # a store of its own, on Milvus too
    for spec, namespace in [(f"images:{pictures}", "pictures"), ("demo", "quotes")]:
        done = run_cli("ingest", *clip, "-n", namespace, spec, data_dir=data_dir, env=own)
        assert done.returncode == 0, done.stderr

    with (
        running_server(data_dir, env=own) as base_url,
        open_page(browser, base_url) as (page, errors),
    ):
        options = page.locator("#namespace option").all_inner_texts()
        assert options[0].startswith("All (") and len(options) == 3, options
        assert page.input_value("#namespace") == ""

        search_text(page, "a red circle")
        results = read_results(page)
        kinds = {result["kind"] for result in results}
        assert kinds == {"image", "text"}, results
        assert page.locator("#results .text-card .text").first.inner_text().strip()
        assert page.locator("#results .namespace-chip:visible").count() == len(results)

        for choice, kind in [("text", "text"), ("image", "image")]:
            before = count_searches(page)
            page.select_option("#type-filter", choice)
            wait_for_search(page, before)
            assert {result["kind"] for result in read_results(page)} == {kind}

        before = count_searches(page)
        page.select_option("#namespace", "pictures")
        wait_for_search(page, before)
        assert len(read_results(page)) == 6
        assert_no_page_errors(errors)


def test_api_errors_are_shown_with_their_hint(
    browser: Any, server: str, tmp_path: Path  # noqa: F811
) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"this is not a picture")
    with open_page(browser, server) as (page, errors):
        before = count_searches(page)
        page.set_input_files("#image-input", str(broken))
        wait_for_search(page, before)
        alert = page.get_by_role("alert")
        assert alert.is_visible()
        assert page.locator("#error-code").inner_text().startswith("400 ")
        message = page.locator("#error-message").inner_text()
        assert message and "image" in message.lower(), message
        # the browser logs the failed request itself; nothing else may go wrong
        assert errors.exceptions == []


def test_api_key_is_asked_for_and_kept(
    browser: Any, library: Library  # noqa: F811
) -> None:
    with running_server(library.data_dir, extra_args=["--api-key", "sesame"]) as base_url:
        with open_page(browser, base_url) as (page, errors):
            assert page.locator("#error").is_visible()
            assert page.locator("#error-code").inner_text() == "401 unauthorized"
            assert "API key" in page.locator("#error-message").inner_text()
            assert page.locator("#key-dialog").is_visible()
            page.fill("#key-input", "sesame")
            page.press("#key-input", "Enter")
            page.wait_for_selector("#namespace option", state="attached")
            assert page.locator("#error").is_hidden()
            assert page.evaluate("localStorage.getItem('same-same.api-key')") == "sesame"

            search_text(page, "a red circle")
            wait_for_thumbnails(page)  # fetched with the key, since <img> cannot send it
            results = read_results(page)
            assert results and all(result["loaded"] for result in results)
            assert errors.exceptions == []


def test_empty_store_explains_how_to_ingest(
    browser: Any, library: Library, tmp_path: Path  # noqa: F811
) -> None:
    own = rescoped(dict(os.environ), tmp_path)  # an empty store, on Milvus too
    with running_server(tmp_path / "empty", env=own) as base_url:
        with open_page(browser, base_url) as (page, errors):
            empty = page.locator("#empty-state")
            assert empty.is_visible()
            assert "same-same ingest -e clip images:./photos" in empty.inner_text()
            assert page.locator("#query").is_disabled()
            assert read_results(page) == []
            assert_no_page_errors(errors)


def test_page_and_assets_are_served_plainly(server: str) -> None:
    with urllib.request.urlopen(server + "/") as response:
        html = response.read().decode("utf-8")
        assert response.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in response.headers["content-security-policy"]
    # no CDN, no build step: every asset comes from this server
    assert "http://" not in html and "https://" not in html
    for name, kind in [("app.js", "text/javascript"), ("style.css", "text/css")]:
        with urllib.request.urlopen(f"{server}/static/{name}") as response:
            assert response.headers["content-type"].startswith(kind)
            assert response.headers["etag"]
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{server}/static/..%2Fserver%2Fapp.py")
    assert info.value.code == 404

