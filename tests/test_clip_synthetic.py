"""Generated scenes are deterministic, drawn as described, and captioned truthfully."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from same_same.synthetic import (
    BACKGROUNDS,
    COLORS,
    SHAPES,
    describe_objects,
    draw_scene,
    generate_scenes,
    matches_attributes,
    write_caption,
    write_image_folder,
)


def test_same_seed_same_scenes_other_seed_other_scenes() -> None:
    first, again, other = (generate_scenes(20, seed) for seed in (1, 1, 2))
    for a, b in zip(first, again, strict=True):
        assert a.caption == b.caption and a.attributes == b.attributes
        assert a.image.tobytes() == b.image.tobytes()
    assert [s.caption for s in first] != [s.caption for s in other]


def test_captions_tell_the_truth() -> None:
    for scene in generate_scenes(300, seed=5):
        attrs = scene.attributes
        words = scene.caption.split()
        assert attrs["color"] in words
        assert attrs["shape"] in scene.caption
        # a count word, when present, is the true count
        if "two" in words:
            assert attrs["count"] == 2
        if "three" in words:
            assert attrs["count"] == 3
        if "background" in words:
            assert f"on a {attrs['background']} background" in scene.caption


def test_all_attribute_values_occur() -> None:
    scenes = generate_scenes(400, seed=3)
    assert {s.attributes["color"] for s in scenes} == set(COLORS)
    assert {s.attributes["shape"] for s in scenes} == set(SHAPES)
    assert {s.attributes["count"] for s in scenes} == {1, 2, 3}


def test_pictures_show_their_colour_and_position() -> None:
    rng = np.random.default_rng(0)
    for color in COLORS:
        attrs = {"color": color, "shape": "square", "count": 1, "position": "left",
                 "background": "white"}
        pixels = np.asarray(draw_scene(attrs, rng, size=96)).astype(int)
        target = np.array(COLORS[color])
        close = np.abs(pixels - target).sum(axis=-1) < 80
        assert close.sum() > 200, color  # a visible shape of that colour
        columns = np.nonzero(close.any(axis=0))[0]
        assert columns.max() < 48  # all of it in the left half
        corner = pixels[2, -3]
        assert np.abs(corner - np.array(BACKGROUNDS["white"])).sum() < 60


def test_counts_are_separate_shapes() -> None:
    from scipy import ndimage  # scikit-image's dependency, in the dev extra

    rng = np.random.default_rng(1)
    for count in (1, 2, 3):
        for position in ("left", "top", "center"):
            attrs = {"color": "blue", "shape": "circle", "count": count, "position": position,
                     "background": "black"}
            pixels = np.asarray(draw_scene(attrs, rng)).astype(int)
            mask = np.abs(pixels - np.array(COLORS["blue"])).sum(axis=-1) < 80
            _, blobs = ndimage.label(mask)
            assert blobs == count, (count, position)


def test_write_image_folder(tmp_path: Path) -> None:
    items = write_image_folder(tmp_path / "scenes", 12, seed=9, size=48)
    assert [p.name for p, _, _ in items][:2] == ["scene-00000.png", "scene-00001.png"]
    for path, caption, attrs in items:
        with Image.open(path) as image:
            assert image.size == (48, 48) and image.mode == "RGB"
        # folder captions are full descriptions
        assert caption == write_caption(attrs)
        assert caption.startswith(describe_objects(attrs["color"], attrs["shape"], attrs["count"]))


def test_articles_and_plurals() -> None:
    assert describe_objects("orange", "star", 1) == "an orange star"
    assert describe_objects("red", "circle", 1) == "a red circle"
    assert describe_objects("blue", "square", 3) == "three blue squares"


def test_matches_attributes() -> None:
    attrs = {"color": "red", "shape": "circle", "count": 2}
    assert matches_attributes(attrs, {"color": "red"})
    assert matches_attributes(attrs, {})
    assert not matches_attributes(attrs, {"color": "red", "count": 1})
