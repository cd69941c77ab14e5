"""Sources by name: ``demo``, ``quotes``, ``csv:FILE``, ``jsonl:FILE``, ``images:DIR``...

``open_source(spec, options)`` parses ``NAME:ARG`` (or a bare name, or a path whose
extension names its format) and opens the matching source. A new source is one
module plus one ``register_source`` line below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import SourceError
from .base import BadItem, Source, SourceItem, SourceOptions


@dataclass(frozen=True)
class SourceSpec:
    name: str
    factory: Callable[[str, SourceOptions], Source]
    takes_argument: bool
    summary: str


_SOURCES: dict[str, SourceSpec] = {}
_EXTENSIONS: dict[str, str] = {}


def register_source(
    name: str,
    factory: Callable[[str, SourceOptions], Source],
    *,
    takes_argument: bool,
    summary: str,
    extensions: tuple[str, ...] = (),
) -> None:
    _SOURCES[name] = SourceSpec(name, factory, takes_argument, summary)
    for ext in extensions:
        _EXTENSIONS[ext] = name


def list_sources() -> list[SourceSpec]:
    return [_SOURCES[name] for name in sorted(_SOURCES)]


def _known() -> str:
    return ", ".join(f"{s.name}:ARG" if s.takes_argument else s.name for s in list_sources())


def parse_source_spec(spec: str) -> tuple[str, str]:
    """``"images:./photos"`` -> ``("images", "./photos")``; ``"a.csv"`` -> ``("csv", "a.csv")``."""
    name, sep, arg = spec.partition(":")
    if sep and name in _SOURCES and _SOURCES[name].takes_argument:
        if not arg:
            raise SourceError(f"source {name!r} needs an argument: {name}:PATH")
        return name, arg
    if not sep and spec in _SOURCES and not _SOURCES[spec].takes_argument:
        return spec, ""
    suffix = Path(spec).suffix.lower()
    if suffix in _EXTENSIONS:
        return _EXTENSIONS[suffix], spec
    if Path(spec).expanduser().is_dir():
        raise SourceError(
            f"{spec!r} is a folder; say what it holds",
            hint=f"same-same ingest -e clip images:{spec}",
        )
    raise SourceError(f"unknown source {spec!r}; known sources: {_known()}")


def open_source(spec: str, options: SourceOptions | None = None) -> Source:
    """Open the source ``spec`` names. Raises SourceError (unknown source, missing file)."""
    name, arg = parse_source_spec(spec)
    return _SOURCES[name].factory(arg, options or SourceOptions())


def _demo(arg: str, options: SourceOptions) -> Source:
    from .builtin import BuiltinQuotesSource

    return BuiltinQuotesSource("demo")


def _quotes(arg: str, options: SourceOptions) -> Source:
    from .builtin import BuiltinQuotesSource

    return BuiltinQuotesSource("quotes")


def _quotes_file(arg: str, options: SourceOptions) -> Source:
    from .builtin import QuotesFileSource

    return QuotesFileSource(Path(arg).expanduser())


def _csv(arg: str, options: SourceOptions) -> Source:
    from .tabular import CSVSource

    return CSVSource(Path(arg).expanduser(), options)


def _jsonl(arg: str, options: SourceOptions) -> Source:
    from .tabular import JSONLinesSource

    return JSONLinesSource(Path(arg).expanduser(), options)


def _json(arg: str, options: SourceOptions) -> Source:
    from .tabular import JSONSource

    return JSONSource(Path(arg).expanduser(), options)


def _images(arg: str, options: SourceOptions) -> Source:
    from .images import ImageFolderSource

    return ImageFolderSource(Path(arg).expanduser(), recursive=options.recursive)


def _image_list(arg: str, options: SourceOptions) -> Source:
    from .images import ImageListSource

    return ImageListSource(Path(arg).expanduser())


register_source(
    "demo", _demo, takes_argument=False, summary="20+ built-in quotes with author, year, tags"
)
register_source("quotes-small", _demo, takes_argument=False, summary="alias of demo")
register_source("quotes", _quotes, takes_argument=False, summary="the full built-in quotes set")
register_source(
    "quotes-file",
    _quotes_file,
    takes_argument=True,
    summary="a text file, one 'Quote — Author' per line",
    extensions=(".txt",),
)
register_source(
    "csv", _csv, takes_argument=True, summary="a CSV file with a header row", extensions=(".csv",)
)
register_source(
    "jsonl",
    _jsonl,
    takes_argument=True,
    summary="JSON Lines, one object per line",
    extensions=(".jsonl", ".ndjson"),
)
register_source(
    "json", _json, takes_argument=True, summary="a JSON array of objects", extensions=(".json",)
)
register_source(
    "images", _images, takes_argument=True, summary="a folder of images (recursive by default)"
)
register_source(
    "image-list", _image_list, takes_argument=True, summary="a file listing image paths[,labels]"
)

__all__ = [
    "BadItem",
    "Source",
    "SourceItem",
    "SourceOptions",
    "list_sources",
    "open_source",
    "parse_source_spec",
    "register_source",
]
