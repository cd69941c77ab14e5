"""Text encoding that does not pay for padding.

open_clip tokenises every text to the full context (77 tokens for most models), but
its standard text tower is causal: position *k* only attends to positions <= *k*,
and the sentence vector is read at the end-of-text token (``argmax`` of the token
ids, or the first ``eos`` id). Everything after the last end-of-text token of a batch
therefore cannot change the result, so the sequence is cut there and the positional
embedding and causal mask sliced to match. A four-word query runs ~7 tokens, not 77.

Towers where that reasoning does not hold (Hugging Face text models, bidirectional
attention, other pooling) go through ``encode_text`` unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

TRUNCATABLE_POOLING = ("argmax", "eos")


def can_truncate(model: Any) -> bool:
    """True for open_clip's standard ``CLIP`` text tower with a causal mask."""
    from open_clip.model import CLIP

    return (
        type(model) is CLIP
        and getattr(model, "attn_mask", None) is not None
        and getattr(model, "text_pool_type", None) in TRUNCATABLE_POOLING
    )


def end_of_text_positions(model: Any, tokens: torch.Tensor) -> torch.Tensor | None:
    """Per row, the position the text tower pools at; None if some row has no such token."""
    import torch

    if model.text_pool_type == "argmax":
        return tokens.argmax(dim=-1)
    eos = (tokens == model.text_eos_id).to(torch.int32)
    if bool((eos.sum(dim=-1) == 0).any()):
        return None
    return eos.argmax(dim=-1)


def needed_length(model: Any, tokens: torch.Tensor) -> int:
    """How many leading tokens decide the batch's vectors (the full length if unsure)."""
    if not can_truncate(model):
        return int(tokens.shape[-1])
    positions = end_of_text_positions(model, tokens)
    if positions is None:
        return int(tokens.shape[-1])
    return int(positions.max().item()) + 1


def encode_text_tokens(model: Any, tokens: torch.Tensor) -> torch.Tensor:
    """``model.encode_text(tokens)`` (unnormalised), from the shortest prefix that decides it."""
    length = needed_length(model, tokens)
    if length >= tokens.shape[-1]:
        return model.encode_text(tokens)
    return _encode_prefix(model, tokens[:, :length])


def _encode_prefix(model: Any, tokens: torch.Tensor) -> torch.Tensor:
    """open_clip 3.x ``CLIP.encode_text`` on a cut sequence (tested equal to it)."""
    length = tokens.shape[-1]
    cast_dtype = model.transformer.get_cast_dtype()
    x = model.token_embedding(tokens).to(cast_dtype)
    x = x + model.positional_embedding[:length].to(cast_dtype)
    x = model.transformer(x, attn_mask=model.attn_mask[:length, :length])
    return pool_and_project(model, x, tokens)


def pool_and_project(model: Any, x: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """The end of open_clip's ``encode_text``: final norm, pooling, text projection."""
    from open_clip.transformer import text_global_pool
    from torch import nn

    x = model.ln_final(x)
    x = text_global_pool(x, tokens, model.text_pool_type, eos_token_id=model.text_eos_id)
    if model.text_projection is not None:
        if isinstance(model.text_projection, nn.Linear):
            x = model.text_projection(x)
        else:
            x = x @ model.text_projection
    return x
