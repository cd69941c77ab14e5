"""A generated captions file: scenes the tiny model knows, with near-duplicate copies.

``write_captioned_set`` draws scenes (``synthetic``, a seed neither the tiny model's
training nor the calibration used), writes each with its full caption, and makes
copies of some of them the way a photo library does: smaller and recompressed,
cropped a little, re-encoded hard, or copied byte for byte. A copy shares its
original's caption and group. CI evaluates this set with the bundled model.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from ..synthetic import write_image_folder

SEED = 31337
SCENES = 80
COPIED = 20


MIN_DIFFERENCES = 2


def _differences(a: dict[str, object], b: dict[str, object]) -> int:
    return sum(a.get(key) != b.get(key) for key in a.keys() | b.keys())


def _smaller(image: Image.Image, target: Path) -> None:
    image.resize((image.width * 7 // 10, image.height * 7 // 10)).save(target, quality=60)


def _cropped(image: Image.Image, target: Path) -> None:
    margin = image.width // 60
    image.crop((margin, margin, image.width - margin, image.height - margin)).save(
        target, quality=85
    )


def _recompressed(image: Image.Image, target: Path) -> None:
    image.save(target, quality=30)


_COPIES: tuple[tuple[str, Callable[[Image.Image, Path], None]], ...] = (
    ("small", _smaller),
    ("crop", _cropped),
    ("q30", _recompressed),
)


def write_captioned_set(
    folder: str | Path, scenes: int = SCENES, copied: int = COPIED, seed: int = SEED
) -> Path:
    """Write the images and ``captions.csv`` (path, caption, group) under ``folder``."""
    folder = Path(folder)
    drawn = write_image_folder(folder / "images", scenes * 8, seed=seed, size=192)
    written: list[tuple[Path, str, dict[str, object]]] = []
    for path, caption, attributes in drawn:
        # Distinct scenes differ in two things at least (colour and position, say): two
        # drawn alike but for one are the burst shots of this set, not distinct photos.
        if len(written) == scenes or any(
            _differences(attributes, other) < MIN_DIFFERENCES for _, _, other in written
        ):
            path.unlink()
            continue
        written.append((path, caption, attributes))
    rows: list[tuple[str, str, str]] = []
    for index, (path, caption, _) in enumerate(written):
        group = f"g{index:03d}" if index < copied else ""
        rows.append((path.relative_to(folder).as_posix(), caption, group))
        if index >= copied:
            continue
        if index % 5 == 4:  # a byte-identical copy
            twin = path.with_name(f"{path.stem}-copy{path.suffix}")
            shutil.copyfile(path, twin)
            rows.append((twin.relative_to(folder).as_posix(), caption, group))
            continue
        name, make = _COPIES[index % len(_COPIES)]
        target = path.with_name(f"{path.stem}-{name}.jpg")
        with Image.open(path) as image:
            make(image.convert("RGB"), target)
        rows.append((target.relative_to(folder).as_posix(), caption, group))
    listing = folder / "captions.csv"
    with open(listing, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(("path", "caption", "group"))
        writer.writerows(rows)
    return listing


__all__ = ["write_captioned_set"]
