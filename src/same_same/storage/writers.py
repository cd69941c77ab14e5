"""Which backends wrote a namespace's vectors, and which may add to them.

Every backend of one model makes vectors of the same space, but not of the same
precision: ``onnx-int8`` quantizes the model's matrix products, so its vectors differ
from torch's by up to 1% in cosine (the auto check measures it per model). A
namespace keeps the names of its writers; one precision class per namespace is
allowed, so the scores of one search never compare fp32 vectors with int8 ones.
A writer whose name ends in ``-int8`` is of class ``int8``, every other ``fp32``.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import SpaceMismatchError

INT8_SUFFIX = "-int8"
PRECISIONS = ("fp32", "int8")


def vector_precision(writer: str) -> str:
    """``int8`` for a quantized backend (``onnx-int8``), else ``fp32``."""
    return "int8" if writer.endswith(INT8_SUFFIX) else "fp32"


def namespace_precision(writers: Iterable[str]) -> str | None:
    """The precision class of a namespace's writers, or None when none is recorded."""
    classes = {vector_precision(writer) for writer in writers}
    return classes.pop() if len(classes) == 1 else None


def check_writer(namespace: str, writers: Iterable[str], writer: str) -> None:
    """SpaceMismatchError when ``writer`` would mix precision classes in ``namespace``."""
    existing = sorted(set(writers))
    if not existing or vector_precision(writer) == namespace_precision(existing):
        return
    wanted = "onnx-int8" if vector_precision(existing[0]) == "int8" else "torch or onnx"
    raise SpaceMismatchError(
        f"namespace {namespace!r} holds {vector_precision(existing[0])} vectors (written by "
        f"{', '.join(existing)}); backend {writer} writes {vector_precision(writer)} ones",
        hint=f"use --backend auto or {wanted} for it, or ingest into another namespace",
    )


def add_writer(writers: Iterable[str], writer: str | None) -> tuple[str, ...]:
    """The sorted writers with ``writer`` among them."""
    names = set(writers)
    if writer:
        names.add(writer)
    return tuple(sorted(names))


__all__ = [
    "INT8_SUFFIX",
    "PRECISIONS",
    "add_writer",
    "check_writer",
    "namespace_precision",
    "vector_precision",
]
