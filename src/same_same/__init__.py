"""same-same: self-hosted multimodal search. Text and images, one vector space."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .embedders.clip import CLIPEmbedder


def __getattr__(name: str) -> Any:
    # CLIPEmbedder pulls in torch; import it only when asked for.
    if name == "CLIPEmbedder":
        from .embedders.clip import CLIPEmbedder

        return CLIPEmbedder
    raise AttributeError(name)


__all__ = ["CLIPEmbedder", "__version__"]
