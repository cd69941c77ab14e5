"""The cosine above which two pictures count as near duplicates, measured for one model.

A model is shown generated scenes (``synthetic``, a seed of their own) and altered
copies of them: made smaller and recompressed, cropped a little, recompressed hard,
the changes a photo goes through between a camera and a shared folder. The copies'
scores with their originals say how low a duplicate scores (``DUPLICATE_QUANTILE``);
the scores between different scenes say how high two distinct pictures score
(their maximum). The threshold lies a quarter of the way from the copies' score down
to the distinct pictures' (``GAP_SHARE``), or at the copies' quantile when the two
overlap (a model that cannot tell them apart keeps its duplicates' recall and loses
precision). ``same-same duplicates --threshold`` and
``?threshold=`` override it.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image

SCENES = 24
SCENE_SEED = 5150
SCENE_SIZE = 192
DUPLICATE_QUANTILE = 0.02
GAP_SHARE = 0.25
"""How far into the gap between the copies' and the distinct scenes' scores the threshold
sits, from the copies' side: near the copies, since the distinct scenes measured here
are fewer than the pictures of a real collection, whose closest distinct pair is closer."""

EmbedImages = Callable[[Sequence[Image.Image]], np.ndarray]


def altered_copies(image: Image.Image) -> list[Image.Image]:
    """The kinds of copies a photo library accumulates."""
    width, height = image.size
    smaller = image.resize((width * 3 // 5, height * 3 // 5), Image.Resampling.BILINEAR)
    margin_x, margin_y = width // 50, height // 50
    cropped = image.crop((margin_x, margin_y, width - margin_x, height - margin_y))
    return [_recompress(smaller, 45), cropped, _recompress(image, 20)]


def measure_duplicate_threshold(embed_images: EmbedImages) -> float:
    from ..synthetic import generate_scenes

    scenes = generate_scenes(SCENES, SCENE_SEED, SCENE_SIZE)
    originals = [scene.image.convert("RGB") for scene in scenes]
    copies = [copy for image in originals for copy in altered_copies(image)]
    vectors = embed_images(originals + copies)
    base, altered = vectors[: len(originals)], vectors[len(originals) :]
    per_original = len(copies) // len(originals)
    duplicate_scores = np.einsum("id,id->i", np.repeat(base, per_original, axis=0), altered)
    pairwise = base @ base.T
    distinct_scores = pairwise[np.triu_indices(len(base), 1)]
    return threshold_between(duplicate_scores, distinct_scores)


def threshold_between(duplicate_scores: np.ndarray, distinct_scores: np.ndarray) -> float:
    low_duplicate = float(np.quantile(duplicate_scores, DUPLICATE_QUANTILE))
    high_distinct = float(np.max(distinct_scores))
    if high_distinct >= low_duplicate:
        return round(min(low_duplicate, 0.9999), 4)
    return round(low_duplicate - GAP_SHARE * (low_duplicate - high_distinct), 4)


def _recompress(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return decoded.convert("RGB")


__all__ = ["altered_copies", "measure_duplicate_threshold", "threshold_between"]
