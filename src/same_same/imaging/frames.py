"""Which frames of an animation stand for it: sampled for its vector, one for its picture.

An animated GIF, WebP or PNG becomes one record, not one per frame: ids, moves,
``--prune`` and duplicates stay one-file-one-record, and a search for what happens in
the animation still finds it. Its vector is the mean of the vectors of up to
``ANIMATION_SAMPLES`` evenly spaced frames (first, ..., last), blank ones left out,
made unit length again (``ingest.model_input``); a 300-frame GIF costs four model
inputs, not 300. Its picture (thumbnail, the one frame the Ray path embeds) is the
first frame that is not blank: many animations fade in from a flat colour.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from PIL import Image

ANIMATION_SAMPLES = 4
"""Frames of an animation embedded for its vector (evenly spaced, first and last included)."""

MAX_FRAMES_SCANNED = 64
"""Frames looked at for the first one that is not blank; past that, the first frame."""

BLANK_SPREAD = 4
"""A frame whose every channel varies by at most this much (of 255) is blank."""


def count_frames(image: Image.Image) -> int:
    # Pillow's own idiom: only multi-frame plugins have ``n_frames``.
    return int(getattr(image, "n_frames", 1) or 1)


def pick_sample_indices(count: int, samples: int) -> list[int]:
    """Up to ``samples`` evenly spaced frame numbers of ``count``, first and last included."""
    if count <= samples:
        return list(range(count))
    if samples <= 1:
        return [0]
    return sorted({round(i * (count - 1) / (samples - 1)) for i in range(samples)})


def is_blank(rgb: Image.Image) -> bool:
    """Whether an RGB frame is one flat colour (within ``BLANK_SPREAD``)."""
    extrema = rgb.getextrema()
    return all(isinstance(band, tuple) and band[1] - band[0] <= BLANK_SPREAD for band in extrema)


def iterate_frames(
    image: Image.Image, indices: list[int], finish: Callable[[Image.Image], Image.Image]
) -> Iterator[tuple[int, Image.Image]]:
    """``(index, finish(frame))`` for each frame number in ``indices`` (ascending).

    ``finish`` gets the file's current frame and must return a new image (a copy
    in RGB): the next seek overwrites the frame in place.
    """
    for index in indices:
        image.seek(index)
        image.load()
        yield index, finish(image)


def pick_animation_frames(
    image: Image.Image, samples: int, finish: Callable[[Image.Image], Image.Image]
) -> tuple[Image.Image, list[Image.Image]]:
    """The first frame that is not blank, and the non-blank frames sampled for the vector
    (empty when ``samples`` <= 1: the picture alone stands for the file)."""
    count = count_frames(image)
    picture: Image.Image | None = None
    first: Image.Image | None = None
    for _, frame in iterate_frames(image, list(range(min(count, MAX_FRAMES_SCANNED))), finish):
        if first is None:
            first = frame
        if not is_blank(frame):
            picture = frame
            break
    assert first is not None, "an image has at least one frame"
    picture = picture or first
    if samples <= 1:
        return picture, []
    sampled = [
        frame
        for _, frame in iterate_frames(image, pick_sample_indices(count, samples), finish)
        if not is_blank(frame)
    ]
    return picture, sampled or [picture]
