"""The queries a calibration asks on purpose: texts and pictures unrelated to any collection.

A score means something only next to the scores that unrelated queries get from the
same model against the same records. These queries are that yardstick: generic
captions ("a photo") that every picture resembles a little, and texts about things
no single collection is about. They are fixed (so a calibration can be repeated) and
kept apart from the off-topic queries the eval holds out (``evaluation.off_topic``):
a test checks that the two lists share nothing, so the eval's false-positive rate is
measured on queries the calibration never saw.

Null pictures for image queries are drawn, not shipped: noise, flat colours,
gradients, stripes and checkerboards, which resemble no photo and no generated scene.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

GENERIC_CAPTIONS: tuple[str, ...] = (
    "a photo",
    "an image",
    "a picture",
    "a photograph of something",
    "a close-up photo",
    "a blurry picture",
    "a screenshot",
    "an illustration",
    "a drawing",
    "a scan of a document",
    "a photo taken with a phone",
    "a picture with some colours",
    "an object",
    "a thing",
    "something",
    "the background",
    "a pattern",
    "a texture",
    "a bright picture",
    "a dark picture",
)

UNRELATED_TEXTS: tuple[str, ...] = (
    "an invoice for office supplies",
    "the minutes of a board meeting",
    "a spreadsheet of monthly expenses",
    "a recipe for vegetable soup",
    "instructions for assembling a bookshelf",
    "a train timetable",
    "a crossword puzzle",
    "the terms and conditions of a contract",
    "a weather forecast for the weekend",
    "a football match in the rain",
    "a violin concerto",
    "a jazz band playing in a bar",
    "a helicopter landing on a roof",
    "a submarine under the ice",
    "a volcano erupting at night",
    "a tornado over a wheat field",
    "an elephant crossing a river",
    "a penguin colony on a glacier",
    "a jellyfish in dark water",
    "a beehive full of honey",
    "a surgeon in an operating theatre",
    "a wedding cake with seven tiers",
    "a chess tournament",
    "a knitting pattern for a scarf",
    "a motorway traffic jam",
    "a lighthouse in a storm",
    "an astronaut repairing a satellite",
    "a medieval castle on a hill",
    "a skyscraper under construction",
    "a farmer milking a cow",
    "a bowl of ramen noodles",
    "a pile of old newspapers",
    "a calculator and a pencil",
    "a passport photo",
    "a map of the underground railway",
    "a circuit board with capacitors",
    "an x-ray of a broken arm",
    "a microscope slide of bacteria",
    "a poem about autumn leaves",
    "a tax return form",
    "a lecture on thermodynamics",
    "an ice hockey goalkeeper",
    "a ballet dancer on stage",
    "a fishing boat in the harbour",
    "a crowded ski slope",
    "a desert caravan of camels",
    "a waterfall in the jungle",
    "a kangaroo in the outback",
    "a parrot on a branch",
    "a snail on a lettuce leaf",
    "a haunted house at midnight",
    "a carnival parade",
    "a stack of pancakes with syrup",
    "a toothbrush and toothpaste",
    "a broken umbrella",
    "an empty parking garage",
    "a laundry basket",
    "a vintage typewriter",
    "a pair of hiking boots",
    "a bicycle repair shop",
    "a row of beach huts",
    "a thunderstorm over the city",
    "a field of sunflowers",
    "a frozen lake with skaters",
    "a cup of tea and biscuits",
    "a locksmith cutting a key",
    "a dentist's waiting room",
    "a vending machine",
    "a satellite dish on a balcony",
    "a wind farm at sea",
    "a barcode",
    "a page of sheet music",
    "a queue at the post office",
    "a garden gnome",
    "a mosquito",
    "a bag of potatoes",
    "legal disclaimer text",
    "error code 404 page not found",
    "lorem ipsum dolor sit amet",
    "zxcv bnm poiuy",
)

NULL_TEXTS: tuple[str, ...] = GENERIC_CAPTIONS + UNRELATED_TEXTS

NULL_IMAGE_COUNT = 32
NULL_IMAGE_SIZE = 224
NULL_IMAGE_SEED = 424242


def null_images(
    count: int = NULL_IMAGE_COUNT, size: int = NULL_IMAGE_SIZE, seed: int = NULL_IMAGE_SEED
) -> list[Image.Image]:
    """Pictures of nothing in particular: the same ones for the same arguments."""
    rng = np.random.default_rng(seed)
    drawers = (_noise, _flat, _gradient, _stripes, _checkerboard, _blobs)
    return [
        Image.fromarray(drawers[index % len(drawers)](rng, size), "RGB") for index in range(count)
    ]


def _noise(rng: np.random.Generator, size: int) -> np.ndarray:
    return rng.integers(0, 256, (size, size, 3), dtype=np.uint8)


def _flat(rng: np.random.Generator, size: int) -> np.ndarray:
    colour = rng.integers(0, 256, 3, dtype=np.uint8)
    return np.broadcast_to(colour, (size, size, 3)).copy()


def _gradient(rng: np.random.Generator, size: int) -> np.ndarray:
    start, end = rng.integers(0, 256, (2, 3)).astype(np.float64)
    ramp = np.linspace(0.0, 1.0, size)[:, None]
    line = start + (end - start) * ramp
    image = np.broadcast_to(line[:, None, :], (size, size, 3))
    if rng.random() < 0.5:
        image = image.transpose(1, 0, 2)
    return np.ascontiguousarray(image).astype(np.uint8)


def _stripes(rng: np.random.Generator, size: int) -> np.ndarray:
    first, second = rng.integers(0, 256, (2, 3), dtype=np.uint8)
    width = int(rng.integers(4, 32))
    bands = (np.arange(size) // width) % 2 == 0
    image = np.where(bands[:, None, None], first, second)
    return np.broadcast_to(image, (size, size, 3)).astype(np.uint8)


def _checkerboard(rng: np.random.Generator, size: int) -> np.ndarray:
    first, second = rng.integers(0, 256, (2, 3), dtype=np.uint8)
    cell = int(rng.integers(8, 48))
    grid = (np.arange(size)[:, None] // cell + np.arange(size)[None, :] // cell) % 2 == 0
    return np.where(grid[:, :, None], first, second).astype(np.uint8)


def _blobs(rng: np.random.Generator, size: int) -> np.ndarray:
    coarse = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    picture = Image.fromarray(coarse, "RGB").resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(picture)


__all__ = ["GENERIC_CAPTIONS", "NULL_TEXTS", "UNRELATED_TEXTS", "null_images"]
