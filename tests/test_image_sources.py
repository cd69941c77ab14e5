"""Finding image files: folders (recursive or not, links, loops, odd names) and list files."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import pytest
from PIL import Image

from image_fixtures import (
    NON_UTF8_NAME,
    halves,
    make_shared_tempdir,
    run_as_other_user,
    save_image,
    write_bad_links,
)
from same_same.errors import SourceError
from same_same.sources import BadItem, SourceItem, SourceOptions, open_source
from same_same.sources.images import ImageFolderSource, ImageListSource, derive_image_id


def make_image(path: Path, colour: tuple[int, int, int] = (255, 0, 0)) -> Path:
    return save_image(halves((16, 12), colour, (0, 0, 255), "RGB"), path)


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """The guide's example folder: photos/beach/{sunset,waves}.jpg, photos/mountains/peak.jpg."""
    root = tmp_path / "photos"
    make_image(root / "beach" / "sunset.jpg")
    make_image(root / "beach" / "waves.jpg")
    make_image(root / "mountains" / "peak.jpg")
    return root


def good_items(source: ImageFolderSource | ImageListSource) -> list[SourceItem]:
    return [item for item in source.items() if isinstance(item, SourceItem)]


def bad_items(source: ImageFolderSource | ImageListSource) -> list[BadItem]:
    return [item for item in source.items() if isinstance(item, BadItem)]


def test_folder_metadata_matches_the_guide(photos: Path) -> None:
    source = open_source(f"images:{photos}")
    assert isinstance(source, ImageFolderSource) and source.modality == "image"
    items = good_items(source)
    assert [item.metadata["path"] for item in items] == [
        "beach/sunset.jpg", "beach/waves.jpg", "mountains/peak.jpg",
    ]
    sunset = items[0]
    assert sunset.metadata == {
        "type": "image",
        "filename": "sunset.jpg",
        "path": "beach/sunset.jpg",
        "extension": ".jpg",
        "abs_path": str(photos.resolve() / "beach" / "sunset.jpg"),
    }
    assert sunset.path == photos / "beach" / "sunset.jpg"
    assert sunset.location == str(photos / "beach" / "sunset.jpg")
    assert sunset.id == derive_image_id(str((photos / "beach" / "sunset.jpg").resolve()))
    assert source.describe() == f"images:{photos}"


def test_ids_are_stable_and_depend_on_the_file_not_the_spelling(
    photos: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = [item.id for item in good_items(ImageFolderSource(photos))]
    monkeypatch.chdir(photos.parent)
    relative = [item.id for item in good_items(ImageFolderSource(Path("photos")))]
    via_dots = [item.id for item in good_items(ImageFolderSource(photos / "beach" / ".."))]
    assert first == relative == via_dots
    assert len(set(first)) == 3 and all(i.startswith("img-") and len(i) == 24 for i in first)


def test_non_recursive_stays_in_the_top_folder(photos: Path) -> None:
    make_image(photos / "top.png")
    source = open_source(f"images:{photos}", SourceOptions(recursive=False))
    assert [item.metadata["path"] for item in good_items(source)] == ["top.png"]
    assert source.count_hint() == 1


def test_extensions_in_any_case_and_nothing_else(tmp_path: Path) -> None:
    for name, fmt in [("a.JPG", "JPEG"), ("b.Jpeg", "JPEG"), ("c.PNG", "PNG"), ("d.gif", "GIF"),
                      ("e.BMP", "BMP"), ("f.WebP", "WEBP")]:
        Image.new("RGB", (4, 4)).save(tmp_path / name, fmt)
    (tmp_path / "notes.txt").write_text("not an image")
    Image.new("RGB", (4, 4)).save(tmp_path / "scan.TIF")  # TIFF is in the format table
    Image.new("RGB", (4, 4)).save(tmp_path / "sprite.tga")  # Targa is not: never walked
    (tmp_path / "jpg").mkdir()  # a folder named like an extension
    items = good_items(ImageFolderSource(tmp_path))
    assert [item.metadata["filename"] for item in items] == [
        "a.JPG", "b.Jpeg", "c.PNG", "d.gif", "e.BMP", "f.WebP", "scan.TIF",
    ]
    assert [item.metadata["extension"] for item in items] == [
        ".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif",
    ]


def test_order_is_sorted_by_path_components(tmp_path: Path) -> None:
    for rel in ["z.jpg", "a/b.jpg", "a.jpg", "a/a/c.jpg", "b/a.jpg"]:
        make_image(tmp_path / rel)
    paths = [item.metadata["path"] for item in good_items(ImageFolderSource(tmp_path))]
    assert paths == ["a/a/c.jpg", "a/b.jpg", "a.jpg", "b/a.jpg", "z.jpg"]


def test_home_folder_is_expanded(photos: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(photos.parent))
    source = open_source("images:~/photos")
    assert len(good_items(source)) == 3
    assert source.describe() == f"images:{photos}"  # the registry expands before opening
    assert len(good_items(ImageFolderSource("~/photos"))) == 3


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_missing_or_non_folder_fails_at_open(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "nope"
    if kind == "file":
        target.write_text("a file, not a folder")
    with pytest.raises(SourceError) as caught:
        open_source(f"images:{target}")
    message = str(caught.value)
    assert "\n" not in message
    assert ("no such folder" if kind == "missing" else "not a folder") in message
    if kind == "file":
        assert "image-list:" in message  # the hint names the other source


def run_with_deadline(function, seconds: float = 30.0):  # type: ignore[no-untyped-def]
    """Run ``function`` in a thread; fail instead of hanging the suite on a walk loop."""
    result: list[object] = []
    worker = threading.Thread(target=lambda: result.append(function()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), "the walk did not finish: a symlink loop was followed"
    return result[0]


def test_symlink_loops_are_reported_not_followed(tmp_path: Path) -> None:
    make_image(tmp_path / "a" / "one.jpg")
    os.symlink("..", tmp_path / "a" / "up")  # back to an ancestor
    os.symlink("ping", tmp_path / "pong")  # two links pointing at each other
    os.symlink("pong", tmp_path / "ping")
    os.symlink("a", tmp_path / "same_as_a")  # not a loop: the same folder again
    write_bad_links(tmp_path / "links")
    source = ImageFolderSource(tmp_path)
    items = run_with_deadline(lambda: list(source.items()))
    good = [item.metadata["path"] for item in items if isinstance(item, SourceItem)]
    bad = {item.location: item.reason for item in items if isinstance(item, BadItem)}
    assert good == ["a/one.jpg"]
    assert bad == {
        f"{tmp_path}/a/up": "symlink loop (links back to a folder above it)",
        f"{tmp_path}/links/broken_link.png": "broken symlink (to missing-target.png)",
        f"{tmp_path}/links/pipe.gif": "not a regular file",
        f"{tmp_path}/links/self_loop.jpg": "symlink loop",
        f"{tmp_path}/ping": "symlink loop",
        f"{tmp_path}/pong": "symlink loop",
    }
    assert source.count_hint() == len(items)


def test_links_to_files_and_folders_give_each_file_once(tmp_path: Path) -> None:
    make_image(tmp_path / "real" / "cat.jpg")
    os.symlink("real", tmp_path / "z_alias")
    os.symlink("real/cat.jpg", tmp_path / "z_cat_link.jpg")
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    make_image(outside / "dog.jpg")
    os.symlink(outside, tmp_path / "linked_outside")
    try:
        items = good_items(ImageFolderSource(tmp_path))
        assert [item.metadata["path"] for item in items] == [
            "linked_outside/dog.jpg", "real/cat.jpg",
        ]
        # the id follows the real file, the path stays the one under the folder
        assert items[0].id == derive_image_id(str((outside / "dog.jpg").resolve()))
        assert items[0].metadata["abs_path"] == str(tmp_path.resolve() / "linked_outside/dog.jpg")
    finally:
        shutil.rmtree(outside)


def test_non_utf8_names_are_listed_with_readable_text(tmp_path: Path) -> None:
    raw_folder = os.fsencode(tmp_path)
    with open(os.path.join(raw_folder, NON_UTF8_NAME), "wb") as out:
        out.write(make_image(tmp_path / "ok.jpg").read_bytes())
    os.mkdir(os.path.join(raw_folder, b"d\xffir"))
    shutil.copy(tmp_path / "ok.jpg", os.path.join(raw_folder, b"d\xffir", b"inner.jpg"))
    items = good_items(ImageFolderSource(tmp_path))
    by_name = {item.metadata["filename"]: item for item in items}
    assert set(by_name) == {"caf\\xe9-latin1.jpg", "inner.jpg", "ok.jpg"}
    odd = by_name["caf\\xe9-latin1.jpg"]
    assert odd.path is not None and odd.path.read_bytes() == (tmp_path / "ok.jpg").read_bytes()
    assert by_name["inner.jpg"].metadata["path"] == "d\\xffir/inner.jpg"
    for item in items:  # what gets stored and printed is valid UTF-8 text
        json.dumps(item.metadata, ensure_ascii=False).encode("utf-8")
        item.location.encode("utf-8")


def test_unreadable_folder_is_reported_and_the_walk_goes_on() -> None:
    root = make_shared_tempdir()
    try:
        make_image(root / "open" / "a.jpg")
        make_image(root / "secret" / "b.jpg")
        make_image(root / "z.jpg")
        for folder in (root / "open", root / "secret"):
            folder.chmod(0o755)
        (root / "secret").chmod(0)

        def walk() -> list[tuple[str, str]]:
            return [
                (item.location, item.reason if isinstance(item, BadItem) else "ok")
                for item in ImageFolderSource(root).items()
            ]

        # root reads any folder, so the walk runs as an unprivileged user
        listed = run_as_other_user(walk) if os.geteuid() == 0 else walk()
        assert listed == [
            (f"{root}/open/a.jpg", "ok"),
            (f"{root}/secret/", "cannot read folder: permission denied"),
            (f"{root}/z.jpg", "ok"),
        ]

        def open_secret() -> str:
            try:
                ImageFolderSource(root / "secret")
            except SourceError as exc:
                return str(exc)
            return "opened"

        message = run_as_other_user(open_secret) if os.geteuid() == 0 else open_secret()
        assert message == f"cannot read folder {root}/secret: permission denied"
    finally:
        (root / "secret").chmod(0o755)
        shutil.rmtree(root)


def test_owns_only_records_under_the_folder(photos: Path) -> None:
    make_image(photos / "top.jpg")
    real = photos.resolve()
    recursive = ImageFolderSource(photos)
    flat = ImageFolderSource(photos, recursive=False)
    inside = {"abs_path": f"{real}/beach/sunset.jpg"}
    top = {"abs_path": f"{real}/top.jpg"}
    sibling = {"abs_path": f"{real}-other/x.jpg"}
    assert recursive.owns(inside) and recursive.owns(top)
    assert not recursive.owns(sibling) and not recursive.owns({"path": "beach/sunset.jpg"})
    assert flat.owns(top) and not flat.owns(inside)
    for item in good_items(recursive):
        assert recursive.owns(item.metadata)


# -- image lists --------------------------------------------------------------


GUIDE_LIST = """\
beach/sunset.jpg,landscape
beach/waves.jpg,seascape
mountains/peak.jpg,landscape
city/downtown.jpg,urban
"""


def test_list_metadata_matches_the_guide(photos: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    listing = photos / "images.txt"
    listing.write_text(GUIDE_LIST)
    monkeypatch.chdir(photos.parent.parent)  # relative entries follow the list, not the cwd
    source = open_source(f"image-list:{listing}")
    assert isinstance(source, ImageListSource) and source.modality == "image"
    items = list(source.items())
    good = [item for item in items if isinstance(item, SourceItem)]
    assert [item.metadata["label"] for item in good] == ["landscape", "seascape", "landscape"]
    assert good[0].metadata == {
        "type": "image",
        "filename": "sunset.jpg",
        "path": str(photos / "beach" / "sunset.jpg"),
        "extension": ".jpg",
        "abs_path": str(photos / "beach" / "sunset.jpg"),
        "list_file": str(listing),
        "label": "landscape",
        "labels": ["landscape"],
    }
    assert good[0].location == "beach/sunset.jpg (images.txt line 1)"
    assert items[3] == BadItem("city/downtown.jpg (images.txt line 4)", "file not found")
    assert source.count_hint() == 4
    assert source.describe() == f"image-list:{listing}"
    # the same file through a folder or a list is the same record
    folder_ids = {item.id for item in good_items(ImageFolderSource(photos))}
    assert {item.id for item in good} == folder_ids


def test_list_format_details(tmp_path: Path) -> None:
    make_image(tmp_path / "pics" / "a.jpg")
    make_image(tmp_path / "pics" / "b,with comma.png")
    make_image(tmp_path / "pics" / "c.tif")  # a list may name any decodable file
    elsewhere = tmp_path / "elsewhere"
    make_image(elsewhere / "abs.jpg")
    listing = tmp_path / "lists" / "mine.lst"
    listing.parent.mkdir()
    listing.write_bytes(
        (
            "\ufeff# my favourites\r\n"
            "\r\n"
            "../pics/a.jpg , cat , indoor ,, \r\n"
            '"../pics/b,with comma.png",odd\r\n'
            f"{elsewhere / 'abs.jpg'}\r\n"
            "   # indented comment\r\n"
            "../pics/c.tif,scan   # inline comment, not a label\r\n"
            "../pics/a.jpg,again\r\n"
            "../pics\r\n"
            ",label-only\r\n"
        ).encode()
    )
    items = list(ImageListSource(listing).items())
    good = [item for item in items if isinstance(item, SourceItem)]
    bad = [(item.location, item.reason) for item in items if isinstance(item, BadItem)]
    assert [(item.metadata["filename"], item.metadata.get("labels")) for item in good] == [
        ("a.jpg", ["cat", "indoor"]),
        ("b,with comma.png", ["odd"]),
        ("abs.jpg", None),
        ("c.tif", ["scan"]),
    ]
    assert "label" not in good[2].metadata
    assert good[2].metadata["path"] == str(elsewhere / "abs.jpg")
    assert good[0].metadata["path"] == str(tmp_path / "pics" / "a.jpg")  # normalised, no ".."
    assert bad == [
        ("../pics/a.jpg (mine.lst line 8)", "listed again (first on line 3)"),
        ("../pics (mine.lst line 9)", "is a folder, not an image (use images:DIR for folders)"),
        (" (mine.lst line 10)", "no image path before the comma"),
    ]


def test_inline_comments_end_a_line_but_a_hash_inside_a_name_is_kept(tmp_path: Path) -> None:
    make_image(tmp_path / "a.jpg")
    make_image(tmp_path / "photo#1.jpg")
    make_image(tmp_path / "odd #name.jpg")
    listing = tmp_path / "list.txt"
    listing.write_text(
        "a.jpg, red, square  # note\n"
        "photo#1.jpg,tag#2\n"
        '"odd #name.jpg", quoted\t# tab before the comment\n'
        "# a.jpg, commented out\n"
    )
    items = list(ImageListSource(listing).items())
    assert [(i.metadata["filename"], i.metadata["labels"]) for i in items] == [  # type: ignore[union-attr]
        ("a.jpg", ["red", "square"]),
        ("photo#1.jpg", ["tag#2"]),
        ("odd #name.jpg", ["quoted"]),
    ]


def test_list_with_non_utf8_path(tmp_path: Path) -> None:
    with open(os.path.join(os.fsencode(tmp_path), NON_UTF8_NAME), "wb") as out:
        out.write(make_image(tmp_path / "ok.jpg").read_bytes())
    listing = tmp_path / "list.txt"
    listing.write_bytes(NON_UTF8_NAME + b",latin\n")
    (item,) = list(ImageListSource(listing).items())
    assert isinstance(item, SourceItem) and item.path is not None
    assert item.path.read_bytes() == (tmp_path / "ok.jpg").read_bytes()
    assert item.metadata["filename"] == "caf\\xe9-latin1.jpg"
    json.dumps(item.metadata, ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize("kind", ["missing", "folder"])
def test_list_file_missing_or_folder_fails_at_open(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "list.txt"
    if kind == "folder":
        target.mkdir()
    with pytest.raises(SourceError) as caught:
        open_source(f"image-list:{target}")
    assert ("no such file" if kind == "missing" else "is a folder") in str(caught.value)
    assert "\n" not in str(caught.value)


def test_list_owns_only_its_own_records(tmp_path: Path) -> None:
    make_image(tmp_path / "a.jpg")
    (tmp_path / "one.txt").write_text("a.jpg\n")
    (tmp_path / "two.txt").write_text("a.jpg\n")
    one, two = ImageListSource(tmp_path / "one.txt"), ImageListSource(tmp_path / "two.txt")
    (item,) = good_items(one)
    assert one.owns(item.metadata) and not two.owns(item.metadata)
