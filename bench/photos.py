"""Photo-like JPEGs for the ingest benchmark: deterministic, generated once, cached.

    python bench/photos.py --count 600 --size 3000x2000

A picture is a smooth colour field (a few random colours blown up bicubically,
like sky and ground), a dozen soft-edged ellipses and rectangles, a coarse
texture and fine luminance and colour noise, saved as a baseline JPEG at quality
90 with 4:2:0 chroma subsampling, as cameras and phones write them. At 3000x2000
that is about 2 MB per file, and decoding it costs what decoding a camera photo
of that size costs (the noise keeps the entropy-coded data realistic).

Picture ``i`` depends only on the seed, its index and its size, so a cached
folder grows without changing the files it already has. Files are written to a
temporary name and renamed, so an interrupted run leaves no half files.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "bench" / "work" / "ingest"
GENERATOR_VERSION = 1
"""Part of the cache folder's name: bump it when pictures change."""
SEED = 20261127
QUALITY = 90
SIZES = ((3000, 2000), (1024, 768))


def draw_photo(index: int, width: int, height: int, seed: int = SEED) -> Image.Image:
    """Picture ``index`` of a set: an RGB image of ``width`` x ``height``."""
    rng = np.random.default_rng([seed, index, width, height])
    # structure is drawn at a quarter of the size and blown up: soft edges, and fast
    small_w, small_h = max(width // 4, 8), max(height // 4, 8)
    field = rng.integers(0, 256, (4, 6, 3), dtype=np.uint8)
    image = Image.fromarray(field).resize((small_w, small_h), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(6, 16))):
        x0, y0 = int(rng.integers(0, small_w)), int(rng.integers(0, small_h))
        box_w = int(rng.integers(small_w // 20 + 1, small_w // 3 + 2))
        box_h = int(rng.integers(small_h // 20 + 1, small_h // 3 + 2))
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape((x0, y0, x0 + box_w, y0 + box_h), fill=color)
    image = image.filter(ImageFilter.BoxBlur(1)).resize((width, height), Image.Resampling.BICUBIC)
    pixels = np.asarray(image, dtype=np.int16)
    coarse = rng.integers(0, 256, (max(height // 16, 1), max(width // 16, 1)), dtype=np.uint8)
    texture = Image.fromarray(coarse).resize((width, height), Image.Resampling.BILINEAR)
    pixels = pixels + ((np.asarray(texture, dtype=np.int16) - 128) // 6)[..., None]
    pixels = pixels + rng.integers(-14, 15, (height, width, 1), dtype=np.int16)
    pixels = pixels + rng.integers(-4, 5, (height, width, 3), dtype=np.int16)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def cache_folder(width: int, height: int, seed: int = SEED, root: Path = WORK) -> Path:
    return root / f"photos-v{GENERATOR_VERSION}-{width}x{height}-q{QUALITY}-seed{seed}"


def photo_name(index: int) -> str:
    return f"photo-{index:05d}.jpg"


def write_photo(path: Path, index: int, width: int, height: int, seed: int = SEED) -> Path:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    draw_photo(index, width, height, seed).save(temporary, "JPEG", quality=QUALITY)
    os.replace(temporary, path)
    return path


def ensure_photos(
    count: int,
    width: int,
    height: int,
    *,
    seed: int = SEED,
    root: Path = WORK,
    processes: int | None = None,
) -> list[Path]:
    """Paths of pictures ``0..count-1`` of this size, generating the missing ones."""
    folder = cache_folder(width, height, seed, root)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / photo_name(i) for i in range(count)]
    missing = [i for i, path in enumerate(paths) if not path.is_file()]
    if missing:
        print(f"generating {len(missing)} {width}x{height} JPEGs in {folder}", file=sys.stderr)
        workers = processes or os.cpu_count() or 1
        if workers <= 1 or len(missing) < 4:
            for i in missing:
                write_photo(paths[i], i, width, height, seed)
        else:
            with ProcessPoolExecutor(workers) as pool:
                jobs = [pool.submit(write_photo, paths[i], i, width, height, seed) for i in missing]
                for job in jobs:
                    job.result()
    return paths


def link_set(paths: Sequence[Path], folder: Path) -> Path:
    """A folder holding exactly ``paths`` (hard links where possible, else copies)."""
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    for path in paths:
        target = folder / path.name
        if target.exists():
            continue
        try:
            os.link(path, target)
        except OSError:
            shutil.copyfile(path, target)
    return folder


def link_folder(source: Path, target: Path) -> Path:
    """``target`` holding the files of ``source`` (none when it does not exist), as link_set."""
    files = sorted(source.iterdir()) if source.is_dir() else []
    return link_set([p for p in files if p.is_file() and not p.name.startswith(".")], target)


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"a size is WIDTHxHEIGHT, not {text!r}") from exc
    if width < 16 or height < 16:
        raise argparse.ArgumentTypeError(f"{text}: both sides must be at least 16 pixels")
    return width, height


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=600)
    parser.add_argument("--size", type=parse_size, default=SIZES[0], help="WIDTHxHEIGHT")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--root", type=Path, default=WORK)
    args = parser.parse_args(argv)
    paths = ensure_photos(args.count, *args.size, seed=args.seed, root=args.root)
    size_mb = sum(path.stat().st_size for path in paths) / 1e6
    print(f"{len(paths)} files, {size_mb:.0f} MB, in {paths[0].parent if paths else args.root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
