"""Procedural pictures with true captions: coloured shapes on plain backgrounds.

Deterministic for a seed, fast (PIL + numpy only) and labelled: every scene comes
with the attributes it was drawn from, so a test or a benchmark can tell whether a
search result is relevant without a human. The tiny CLIP model shipped in
``same_same/models/tiny-clip`` was trained on these scenes, the README demo and the
benchmarks use them too.

A scene is one kind of object, repeated: ``count`` shapes of one ``shape`` and one
``color``, placed in one ``position`` region of a ``background``. Its caption
mentions the colour and shape always, the other attributes sometimes, the way
people describe pictures ("two blue squares", "a green triangle on the left").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

#: name -> RGB; kept far apart so a tiny model can tell them from each other
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 170, 50),
    "blue": (30, 70, 220),
    "yellow": (240, 220, 30),
    "purple": (140, 40, 180),
    "orange": (250, 140, 20),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star")
POSITIONS: tuple[str, ...] = ("left", "right", "top", "bottom", "center")
COUNTS: tuple[int, ...] = (1, 2, 3)
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "white": (245, 245, 245),
    "black": (15, 15, 15),
    "gray": (128, 128, 128),
}

_COUNT_WORDS = {2: "two", 3: "three"}
_POSITION_PHRASES = {
    "left": "on the left",
    "right": "on the right",
    "top": "at the top",
    "bottom": "at the bottom",
    "center": "in the center",
}
# the region (x0, y0, x1, y1), as fractions of the image, that each position fills
_REGIONS = {
    "left": (0.0, 0.1, 0.5, 0.9),
    "right": (0.5, 0.1, 1.0, 0.9),
    "top": (0.1, 0.0, 0.9, 0.5),
    "bottom": (0.1, 0.5, 0.9, 1.0),
    "center": (0.15, 0.15, 0.85, 0.85),
}

DEFAULT_SIZE = 96


@dataclass(frozen=True)
class Scene:
    """One generated picture, its caption and the attributes it was drawn from."""

    image: Image.Image
    caption: str
    attributes: dict[str, Any]


def describe_objects(color: str, shape: str, count: int) -> str:
    """``a red circle``, ``two blue squares``."""
    if count == 1:
        article = "an" if color[0] in "aeiou" else "a"
        return f"{article} {color} {shape}"
    return f"{_COUNT_WORDS[count]} {color} {shape}s"


def write_caption(attributes: dict[str, Any], rng: np.random.Generator | None = None) -> str:
    """A caption for ``attributes``; with ``rng``, some optional parts are left out."""
    color, shape = attributes["color"], attributes["shape"]
    count, position = attributes["count"], attributes["position"]
    background = attributes["background"]
    if rng is None:
        keep_count = keep_position = keep_background = True
        prefix = ""
    else:
        keep_count = rng.random() < 0.7
        keep_position = rng.random() < 0.5
        keep_background = rng.random() < 0.3
        prefix = ("", "", "a picture of ", "an image with ")[int(rng.integers(4))]
    caption = describe_objects(color, shape, count if keep_count else 1)
    if prefix:
        caption = prefix + caption
    if keep_position:
        caption += " " + _POSITION_PHRASES[position]
    if keep_background:
        caption += f" on a {background} background"
    return caption


def sample_attributes(rng: np.random.Generator) -> dict[str, Any]:
    """Uniform over every attribute; the background never matches the shape's colour."""
    return {
        "color": list(COLORS)[int(rng.integers(len(COLORS)))],
        "shape": SHAPES[int(rng.integers(len(SHAPES)))],
        "count": COUNTS[int(rng.integers(len(COUNTS)))],
        "position": POSITIONS[int(rng.integers(len(POSITIONS)))],
        "background": list(BACKGROUNDS)[int(rng.integers(len(BACKGROUNDS)))],
    }


def draw_scene(
    attributes: dict[str, Any], rng: np.random.Generator, size: int = DEFAULT_SIZE
) -> Image.Image:
    """Render ``attributes`` with some jitter in tint, scale and placement."""
    background = _jitter_color(BACKGROUNDS[attributes["background"]], rng, 12)
    image = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(image)
    count = int(attributes["count"])
    x0, y0, x1, y1 = (v * size for v in _REGIONS[attributes["position"]])
    # shapes shrink when there are more of them so they fit side by side in the region
    short_side, long_side = sorted((x1 - x0, y1 - y0))
    # several shapes share the region's long side; keep them from overlapping
    radius = min(short_side * 0.375, long_side / (2 * count) * 0.85) * rng.uniform(0.8, 1.0)
    fill = _jitter_color(COLORS[attributes["color"]], rng, 20)
    for cx, cy in _place_centers(count, (x0, y0, x1, y1), radius, rng):
        _draw_shape(draw, attributes["shape"], cx, cy, radius, fill, rng)
    return image


def generate_scene(rng: np.random.Generator, size: int = DEFAULT_SIZE) -> Scene:
    """A random scene and a randomly worded caption for it."""
    attributes = sample_attributes(rng)
    image = draw_scene(attributes, rng, size)
    return Scene(image=image, caption=write_caption(attributes, rng), attributes=attributes)


def generate_scenes(n: int, seed: int, size: int = DEFAULT_SIZE) -> list[Scene]:
    rng = np.random.default_rng(seed)
    return [generate_scene(rng, size) for _ in range(n)]


def write_image_folder(
    directory: str | Path,
    n: int,
    seed: int,
    size: int = DEFAULT_SIZE,
    image_format: str = "png",
) -> list[tuple[Path, str, dict[str, Any]]]:
    """Write ``n`` scenes as ``scene-00000.png`` ... and return (path, caption, attributes).

    Captions returned here always mention every attribute, so they read as full
    descriptions of the picture.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    out: list[tuple[Path, str, dict[str, Any]]] = []
    for index, scene in enumerate(generate_scenes(n, seed, size)):
        path = directory / f"scene-{index:05d}.{image_format}"
        scene.image.save(path)
        out.append((path, write_caption(scene.attributes), scene.attributes))
    return out


def matches_attributes(attributes: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """True when every attribute in ``wanted`` has the same value in ``attributes``."""
    return all(attributes.get(key) == value for key, value in wanted.items())


def _jitter_color(
    rgb: tuple[int, int, int], rng: np.random.Generator, amount: int
) -> tuple[int, int, int]:
    jittered = np.clip(np.asarray(rgb) + rng.integers(-amount, amount + 1, size=3), 0, 255)
    return (int(jittered[0]), int(jittered[1]), int(jittered[2]))


def _place_centers(
    count: int,
    region: tuple[float, float, float, float],
    radius: float,
    rng: np.random.Generator,
) -> list[tuple[float, float]]:
    """Centres spread along the region's long side, jittered, kept inside the region."""
    x0, y0, x1, y1 = region
    horizontal = (x1 - x0) >= (y1 - y0)
    centers = []
    for i in range(count):
        along = (i + 0.5) / count
        jitter_x, jitter_y = rng.uniform(-0.08, 0.08, size=2) * radius
        if horizontal:
            cx, cy = x0 + along * (x1 - x0), (y0 + y1) / 2
        else:
            cx, cy = (x0 + x1) / 2, y0 + along * (y1 - y0)
        cx = float(np.clip(cx + jitter_x, x0 + radius, x1 - radius))
        cy = float(np.clip(cy + jitter_y, y0 + radius, y1 - radius))
        centers.append((cx, cy))
    return centers


def _draw_shape(
    draw: ImageDraw.ImageDraw,
    shape: str,
    cx: float,
    cy: float,
    radius: float,
    fill: tuple[int, int, int],
    rng: np.random.Generator,
) -> None:
    if shape == "circle":
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=fill)
    elif shape == "square":
        side = radius * 0.85
        draw.rectangle((cx - side, cy - side, cx + side, cy + side), fill=fill)
    elif shape == "triangle":
        draw.polygon(_regular_polygon(cx, cy, radius, 3, -math.pi / 2), fill=fill)
    elif shape == "star":
        rotation = -math.pi / 2 + float(rng.uniform(-0.2, 0.2))
        draw.polygon(_star_points(cx, cy, radius, rotation), fill=fill)
    else:
        raise ValueError(f"unknown shape {shape!r}")


def _regular_polygon(
    cx: float, cy: float, radius: float, sides: int, rotation: float
) -> list[tuple[float, float]]:
    return [
        (
            cx + radius * math.cos(rotation + 2 * math.pi * k / sides),
            cy + radius * math.sin(rotation + 2 * math.pi * k / sides),
        )
        for k in range(sides)
    ]


def _star_points(cx: float, cy: float, radius: float, rotation: float) -> list[tuple[float, float]]:
    points = []
    for k in range(10):
        r = radius if k % 2 == 0 else radius * 0.45
        angle = rotation + math.pi * k / 5
        points.append((cx + r * math.cos(angle), cy + r * math.sin(angle)))
    return points
