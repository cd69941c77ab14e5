"""Embedders by name: ``create_embedder("local")``, ``create_embedder("clip", options)``.

A new embedder is one module plus one ``register_embedder`` line below. Factories
import their heavy dependencies late, so the base install never imports torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ..errors import UnknownNameError
from ..normalization import normalized_rows
from ..records import EmbeddingSpace
from .base import (
    Embedder,
    EmbedderBase,
    EmbedderOptions,
    ImageEmbedder,
    ImageEmbedderBase,
    ImageInput,
    is_image_embedder,
)

EmbedderFactory = Callable[[EmbedderOptions], Embedder]

_EMBEDDERS: dict[str, EmbedderFactory] = {}
_ALIASES: dict[str, str] = {}

DEFAULT_EMBEDDER = "local"


def register_embedder(name: str, factory: EmbedderFactory, aliases: tuple[str, ...] = ()) -> None:
    _EMBEDDERS[name] = factory
    for alias in aliases:
        _ALIASES[alias] = name


def list_embedders() -> list[str]:
    return sorted(_EMBEDDERS)


def canonical_embedder_name(name: str) -> str:
    name = _ALIASES.get(name, name)
    if name not in _EMBEDDERS:
        raise UnknownNameError("embedder", name, list(_EMBEDDERS))
    return name


def create_embedder(name: str, options: EmbedderOptions | None = None) -> Embedder:
    """Build the embedder registered as ``name`` (UnknownNameError lists the known ones)."""
    return _EMBEDDERS[canonical_embedder_name(name)](options or EmbedderOptions())


def create_embedder_for_space(
    space: EmbeddingSpace, options: EmbedderOptions | None = None
) -> Embedder:
    """The embedder that made a namespace's vectors, to embed queries in the same space."""
    # Embedders whose size is a setting (``local``) rebuild the recorded size.
    opts = replace(
        options or EmbedderOptions(),
        model=space.model,
        pretrained=space.pretrained or None,
        dim=space.dim,
    )
    return create_embedder(space.embedder, opts)


def _create_local(options: EmbedderOptions) -> Embedder:
    from .hashing import HashingEmbedder

    return HashingEmbedder.from_options(options)


def _create_minilm(options: EmbedderOptions) -> Embedder:
    from .minilm import MiniLMEmbedder

    return MiniLMEmbedder.from_options(options)


def _create_clip(options: EmbedderOptions) -> Embedder:
    from .clip import CLIPEmbedder

    return CLIPEmbedder.from_options(options)


register_embedder("local", _create_local, aliases=("hashing", "tfidf"))
register_embedder("minilm", _create_minilm, aliases=("sentence-transformers",))
register_embedder("clip", _create_clip, aliases=("openclip",))

__all__ = [
    "DEFAULT_EMBEDDER",
    "Embedder",
    "EmbedderBase",
    "EmbedderOptions",
    "ImageEmbedder",
    "ImageEmbedderBase",
    "ImageInput",
    "canonical_embedder_name",
    "create_embedder",
    "create_embedder_for_space",
    "is_image_embedder",
    "list_embedders",
    "normalized_rows",
    "register_embedder",
]
