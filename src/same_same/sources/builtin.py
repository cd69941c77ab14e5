"""Built-in quote sets (``demo``, ``quotes``) and files of ``Quote — Author`` lines."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import SourceError
from .base import BadItem, Source, SourceItem

_AUTHOR_SEPARATOR = re.compile(r"\s+(?:—|–|--|-)\s+(?=[^—–-]+$)")


def load_builtin_quotes() -> list[dict[str, Any]]:
    data = resources.files("same_same").joinpath("data/quotes.json").read_text(encoding="utf-8")
    quotes: list[dict[str, Any]] = json.loads(data)["quotes"]
    return quotes


class BuiltinQuotesSource(Source):
    """``demo``: the first 24 quotes; ``quotes``: all of them. Each has author, year, tags."""

    def __init__(self, name: str) -> None:
        self.name = name
        quotes = load_builtin_quotes()
        self._quotes = [q for q in quotes if q["demo"]] if name == "demo" else quotes

    def describe(self) -> str:
        return self.name

    def count_hint(self) -> int:
        return len(self._quotes)

    def items(self) -> Iterator[SourceItem | BadItem]:
        for quote in self._quotes:
            metadata = {k: v for k, v in quote.items() if k not in ("id", "text", "demo")}
            yield SourceItem(
                location=quote["id"], id=quote["id"], text=quote["text"], metadata=metadata
            )


def split_quote_line(line: str) -> tuple[str, str | None]:
    """``"Quote text" — Author`` -> (text, author); the author is optional."""
    parts = _AUTHOR_SEPARATOR.split(line, maxsplit=1)
    text = parts[0].strip().strip('"“”').strip()
    author = parts[1].strip() if len(parts) > 1 else None
    return text, author


class QuotesFileSource(Source):
    """A text file with one quote per line, optionally ``— Author`` at its end (upstream)."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise SourceError(f"no such file: {path}")
        self.path = path

    def describe(self) -> str:
        return f"quotes-file:{self.path}"

    def items(self) -> Iterator[SourceItem | BadItem]:
        with self.path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                location = f"{self.path.name} line {number}"
                try:
                    line = raw.decode("utf-8-sig").strip()
                except UnicodeDecodeError as exc:
                    yield BadItem(location, f"not UTF-8 ({exc.reason})")
                    continue
                if not line or line.startswith("#"):
                    continue
                text, author = split_quote_line(line)
                if not text:
                    yield BadItem(location, "empty quote")
                    continue
                metadata: dict[str, Any] = {}
                if author:
                    metadata["author"] = author
                yield SourceItem(location=location, text=text, metadata=metadata)
