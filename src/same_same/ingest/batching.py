"""Small stream helpers shared by the text and image pipelines."""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

SAMPLE_SEED = 20240601


def sample_stream(items: Iterable[T], size: int, seed: int = SAMPLE_SEED) -> list[T]:
    """A uniform random sample of ``size`` items (reservoir), in their original order.

    Deterministic for a given input and seed, so ``--sample N`` run twice picks the
    same items and the second run finds them all unchanged.
    """
    rng = random.Random(seed)
    reservoir: list[tuple[int, T]] = []
    for index, item in enumerate(items):
        if index < size:
            reservoir.append((index, item))
        else:
            slot = rng.randint(0, index)
            if slot < size:
                reservoir[slot] = (index, item)
    return [item for _, item in sorted(reservoir, key=lambda pair: pair[0])]


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
