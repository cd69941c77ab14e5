"""Byte progress for the long copies: model downloads, bundle checksums, writes and checks.

The library reports through ``ByteProgress`` (one phase at a time: ``begin`` with the
bytes the phase will move, ``advance`` as they move, ``end``); the CLI draws it
(``cli.transfer_progress``): a rich bar on a terminal, a plain line now and then
elsewhere, nothing with ``-q``. ``hub_tqdm_class`` routes a ``huggingface_hub``
download into the same reports.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Protocol

CHUNK = 1 << 20


class ByteProgress(Protocol):
    """Who hears how many bytes a long copy has moved."""

    def begin(self, label: str, total_bytes: int | None) -> None:
        """A phase starts: ``label`` says what (``downloading x``), ``total_bytes`` how
        much (``None`` when unknown)."""

    def advance(self, nbytes: int, current: str | None = None) -> None:
        """``nbytes`` more moved; ``current``: the file they belong to."""

    def end(self) -> None:
        """The phase is over (done or failed)."""


class NoProgress:
    """Hears nothing: the library's default."""

    def begin(self, label: str, total_bytes: int | None) -> None:
        pass

    def advance(self, nbytes: int, current: str | None = None) -> None:
        pass

    def end(self) -> None:
        pass


NO_PROGRESS: ByteProgress = NoProgress()


@contextlib.contextmanager
def phase(progress: ByteProgress, label: str, total_bytes: int | None) -> Iterator[ByteProgress]:
    """``begin`` ... ``end``, even when the phase fails."""
    progress.begin(label, total_bytes)
    try:
        yield progress
    finally:
        progress.end()


def copy_file(source: Path, target: Path, progress: ByteProgress = NO_PROGRESS) -> None:
    """``shutil.copyfile``, reporting each chunk (inside a phase the caller began)."""
    with source.open("rb") as reader, target.open("wb") as writer:
        while chunk := reader.read(CHUNK):
            writer.write(chunk)
            progress.advance(len(chunk), source.name)


class CountingReader:
    """A binary file whose reads are reported (``tarfile.addfile`` reads it in chunks)."""

    def __init__(self, handle: IO[bytes], progress: ByteProgress, name: str) -> None:
        self._handle = handle
        self._progress = progress
        self._name = name

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        if data:
            self._progress.advance(len(data), self._name)
        return data


def hub_tqdm_class(progress: ByteProgress, label: str) -> type[Any]:
    """A ``tqdm_class`` for ``huggingface_hub.hf_hub_download`` that draws nothing itself and
    reports the download's bytes to ``progress`` as one phase named ``label``.

    Only the first bar a download opens reports: the Xet path opens a second one for the
    bytes on the wire, which would count the same file twice.
    """
    from tqdm.std import tqdm

    state = {"open": False}

    class HubBytes(tqdm):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            total = kwargs.get("total")
            initial = int(kwargs.get("initial") or 0)
            kwargs["disable"] = True  # our display draws; tqdm's own bar stays off
            super().__init__(*args, **kwargs)
            self._reports = not state["open"]
            if self._reports:
                state["open"] = True
                progress.begin(label, int(total) if total else None)
                if initial:
                    progress.advance(initial)  # a resumed download's bytes already here

        def update(self, n: float | None = 1) -> bool | None:
            if self._reports and n:
                progress.advance(int(n))
            return True

        def close(self) -> None:
            if getattr(self, "_reports", False) and state["open"]:
                state["open"] = False
                progress.end()
            super().close()

    return HubBytes


@contextlib.contextmanager
def hub_bars_off() -> Iterator[None]:
    """huggingface_hub's own bars (config and tokenizer files) off while our display draws;
    the process-wide setting is put back afterwards."""
    try:
        from huggingface_hub.utils import (
            are_progress_bars_disabled,
            disable_progress_bars,
            enable_progress_bars,
        )
    except ImportError:
        yield
        return
    were_off = are_progress_bars_disabled()
    disable_progress_bars()
    try:
        yield
    finally:
        if not were_off:
            enable_progress_bars()


__all__ = [
    "NO_PROGRESS",
    "ByteProgress",
    "CountingReader",
    "NoProgress",
    "copy_file",
    "hub_bars_off",
    "hub_tqdm_class",
    "phase",
]
