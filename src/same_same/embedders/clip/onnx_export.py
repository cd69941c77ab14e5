"""Exporting an open_clip model's towers to ONNX, and quantizing them to int8.

The image tower is ``model.encode_image`` with a dynamic batch axis. The text
tower of open_clip's standard causal CLIP also gets a dynamic *sequence* axis, so
queries are cut at their end-of-text token exactly as ``text.py`` does for torch:
positions, positional embedding and causal mask are taken with ``index_select``
over ``0..length-1`` instead of Python slices, which the tracer would freeze at
the example's length. Other text towers are exported at their full context length.

``nn.MultiheadAttention`` traces into reshapes with the example's sequence length
baked in; for export it is swapped for the same computation written with
shape-free reshapes (``ExportableSelfAttention``, same weights, tested equal).

This module imports torch at its top: it is only imported when an export is needed.
Files are written atomically (a temporary file renamed into place), so several
processes may export at once and readers never see half a model.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812 - torch's own convention
from torch import nn

from ...errors import ModelUnavailableError
from .text import can_truncate, pool_and_project
from .weights import first_line

OPSET = 17
"""LayerNormalization is a single op from opset 17, which ONNX Runtime fuses best."""
MAX_PROTO_BYTES = 2_000_000_000
"""One ONNX file holds at most 2 GB; larger towers would need external data files."""

META_TRUNCATABLE = "same_same.text_truncatable"
META_POOL = "same_same.text_pool_type"
META_EOS = "same_same.text_eos_id"
META_CONTEXT = "same_same.context_length"


def write_atomically(path: Path, produce: Callable[[Path], None]) -> None:
    """Call ``produce(temporary)`` and rename the result to ``path`` when it succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        produce(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def export_image_tower(model: Any, shape: tuple[int, int, int], path: Path) -> None:
    """``model.encode_image``: ``pixels (N, 3, H, W)`` float32 -> ``features (N, D)``."""
    example = torch.zeros((2, *shape), dtype=torch.float32)
    tower = ImageTower(model)
    _export(tower, example, path, "pixels", {0: "batch"}, {})


def export_text_tower(model: Any, path: Path) -> None:
    """``tokens (N, L)`` int64 -> ``features (N, D)``; L is dynamic when cutting is exact."""
    context = int(getattr(model, "context_length", 77))
    example = torch.zeros((2, context), dtype=torch.int64)
    example[:, 0] = 1
    example[:, 1] = 2
    truncatable = can_truncate(model)
    meta = {META_TRUNCATABLE: "1" if truncatable else "0", META_CONTEXT: str(context)}
    if truncatable:
        meta[META_POOL] = str(model.text_pool_type)
        meta[META_EOS] = str(model.text_eos_id)
        tower: Any = CutTextTower(model)
        axes = {0: "batch", 1: "sequence"}
        example = example[:, : min(context, 8)]
    else:
        tower = TextTower(model)
        axes = {0: "batch"}
    _export(tower, example, path, "tokens", axes, meta)


def quantize_to_int8(source: Path, path: Path) -> None:
    """Dynamic int8 quantization of the weight matrices (activations quantized at run time).

    Only products with a weight matrix are quantized: that is where the time goes.
    The attention products (queries x keys, weights x values) have no weights, are
    small, and feed a softmax that amplifies rounding, so they stay float; so do
    convolutions (the ViT patch embedding), for which ONNX Runtime's integer kernel
    is slower than its float one on CPUs. Per-channel scales keep the error small.
    Weights use 7 bits (``reduce_range``): on x86 CPUs without VNNI (AVX2 only), ONNX
    Runtime's u8 x s8 kernels saturate with 8-bit weights; on such a CPU the tiny model's
    int8 vectors fell to cosine 0.9975 against torch and its top-5 agreed on 78% of the
    probe texts. With 7 bits they stay above 0.999 there.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(source), load_external_data=False).graph
    weights = {initializer.name for initializer in graph.initializer}
    weights |= {node.output[0] for node in graph.node if node.op_type == "Constant"}
    without_weights = [
        node.name
        for node in graph.node
        if node.op_type == "MatMul" and not any(name in weights for name in node.input)
    ]
    del graph

    def produce(temporary: Path) -> None:
        with _quiet_root_logging():
            quantize_dynamic(
                str(source),
                str(temporary),
                weight_type=QuantType.QInt8,
                per_channel=True,
                reduce_range=True,
                op_types_to_quantize=["MatMul"],
                nodes_to_exclude=without_weights,
            )

    write_atomically(path, produce)


def swap_attention(model: Any) -> Any:
    """Replace every ``nn.MultiheadAttention`` of ``model`` (in place) by an exportable twin."""
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, nn.MultiheadAttention):
                setattr(module, name, ExportableSelfAttention(child))
    return model


def _export(
    tower: Any,
    example: Any,
    path: Path,
    input_name: str,
    input_axes: dict[int, str],
    meta: dict[str, str],
) -> None:
    import onnx

    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            # the TorchScript exporter needs no onnxscript and handles these towers;
            # its deprecation and tracer warnings are for people writing models
            warnings.simplefilter("ignore")
            torch.onnx.export(
                tower,
                (example,),
                buffer,  # type: ignore[arg-type]  # the TorchScript exporter writes to files too
                input_names=[input_name],
                output_names=["features"],
                dynamic_axes={input_name: input_axes, "features": {0: "batch"}},
                opset_version=OPSET,
                do_constant_folding=True,
                dynamo=False,
            )
    except Exception as exc:  # noqa: BLE001 - translated into one line for the user
        raise ModelUnavailableError(
            f"cannot export this CLIP model to ONNX: {first_line(exc)}",
            hint="use --backend torch",
        ) from exc
    if buffer.tell() > MAX_PROTO_BYTES:
        raise ModelUnavailableError(
            "this CLIP tower is larger than the 2 GB an ONNX file holds",
            hint="use --backend torch for models this large",
        )
    proto = onnx.load_from_string(buffer.getvalue())
    del buffer
    onnx.helper.set_model_props(proto, meta)
    write_atomically(path, lambda temporary: onnx.save(proto, str(temporary)))


@contextlib.contextmanager
def _quiet_root_logging() -> Iterator[None]:
    """onnxruntime.quantization advises "pre-processing" through ``logging.warning``: on the
    root logger, which prints it into the CLI's output (and installs a stderr handler
    when none exists). A NullHandler and a filter keep it out; nothing else is touched."""
    root = logging.getLogger()
    handler = None if root.handlers else logging.NullHandler()
    advice = _DropQuantizationAdvice()
    root.addFilter(advice)
    if handler is not None:
        root.addHandler(handler)
    try:
        yield
    finally:
        root.removeFilter(advice)
        if handler is not None:
            root.removeHandler(handler)


class _DropQuantizationAdvice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Please consider to run pre-processing")


# -- the modules that are traced ------------------------------------------------------


class ExportableSelfAttention(nn.Module):
    """``nn.MultiheadAttention`` self-attention with reshapes that keep dynamic sizes.

    Anything else (cross-attention, padding masks, boolean masks, separate
    projection weights) goes to the original module.
    """

    def __init__(self, mha: nn.MultiheadAttention) -> None:
        super().__init__()
        self.original = mha
        self.heads = mha.num_heads
        self.head_dim = mha.head_dim
        self.batch_first = mha.batch_first

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor | None = None,
        value: torch.Tensor | None = None,
        key_padding_mask: torch.Tensor | None = None,
        need_weights: bool = True,
        attn_mask: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        mha = self.original
        plain = (
            (key is None or key is query)
            and (value is None or value is query)
            and key_padding_mask is None
            and not kwargs
            and mha.in_proj_weight is not None
            and (attn_mask is None or attn_mask.is_floating_point())
        )
        if not plain:
            return mha(
                query,
                query if key is None else key,
                query if value is None else value,
                key_padding_mask=key_padding_mask,
                need_weights=need_weights,
                attn_mask=attn_mask,
                **kwargs,
            )
        x = query if self.batch_first else query.transpose(0, 1)
        qkv = F.linear(x, mha.in_proj_weight, mha.in_proj_bias)
        # (N, L, 3*E) -> 3 x (N, heads, L, head_dim)
        qkv = qkv.unflatten(-1, (3, self.heads, self.head_dim)).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        scores = torch.matmul(q * (1.0 / math.sqrt(self.head_dim)), k.transpose(-1, -2))
        if attn_mask is not None:
            scores = scores + attn_mask
        out = torch.matmul(scores.softmax(dim=-1), v).transpose(1, 2).flatten(2)
        out = mha.out_proj(out)
        return (out if self.batch_first else out.transpose(0, 1)), None


class ImageTower(nn.Module):
    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(pixels)


class TextTower(nn.Module):
    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.model.encode_text(tokens)


class CutTextTower(nn.Module):
    """open_clip 3.x ``CLIP.encode_text`` for any length up to the context (see text.py)."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        model = self.model
        positions = torch.cumsum(torch.ones_like(tokens[0]), 0) - 1
        cast_dtype = model.transformer.get_cast_dtype()
        x = model.token_embedding(tokens).to(cast_dtype)
        x = x + model.positional_embedding.index_select(0, positions).to(cast_dtype)
        mask = model.attn_mask.index_select(0, positions).index_select(1, positions)
        x = model.transformer(x, attn_mask=mask)
        return pool_and_project(model, x, tokens)
