"""CSV, JSON Lines and JSON files: one record per row or object."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import SourceError
from .base import BadItem, Source, SourceItem, SourceOptions

#: tried in order when --text-col is not given (upstream's list)
TEXT_FIELDS = ("text", "content", "body", "message", "quote")
ID_FIELD = "id"

_INT = re.compile(r"^[+-]?(0|[1-9]\d*)$")
_FLOAT = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")


def parse_cell(value: str) -> Any:
    """CSV cells are text; give numbers their type so numeric filters work (``"1929"`` -> 1929).

    Values with leading zeros ("007", zip codes) stay strings.
    """
    stripped = value.strip()
    if _INT.match(stripped):
        return int(stripped)
    if _FLOAT.match(stripped) and not re.match(r"^[+-]?0\d", stripped):
        return float(stripped)
    return value


def _require_file(path: Path) -> None:
    if not path.exists():
        raise SourceError(f"no such file: {path}")
    if not path.is_file():
        raise SourceError(f"not a file: {path}")


class _RecordMapper:
    """Turns one row/object into a SourceItem according to the --*-col flags."""

    def __init__(self, options: SourceOptions) -> None:
        self.options = options

    def text_field(self, keys: Mapping[str, Any] | list[str]) -> str | None:
        if self.options.text_col:
            return self.options.text_col
        return next((field for field in TEXT_FIELDS if field in keys), None)

    def map(self, row: Mapping[str, Any], location: str) -> SourceItem | BadItem:
        text_field = self.text_field(row)
        if text_field is None:
            return BadItem(
                location, f"no text field (looked for {', '.join(TEXT_FIELDS)}; use --text-col)"
            )
        if text_field not in row:
            return BadItem(location, f"no {text_field!r} field")
        text = row[text_field]
        if not isinstance(text, str):
            return BadItem(location, f"{text_field!r} is not a string")
        if not text.strip():
            return BadItem(location, f"empty {text_field!r}")
        record_id: str | None = None
        id_field = self.options.id_col or (ID_FIELD if ID_FIELD in row else None)
        if id_field is not None:
            raw_id = row.get(id_field)
            if raw_id is None or str(raw_id).strip() == "":
                return BadItem(location, f"no {id_field!r} value")
            record_id = str(raw_id).strip()
        skip = {text_field, id_field}
        if self.options.meta_cols:
            metadata = {k: row[k] for k in self.options.meta_cols if k in row}
        else:
            metadata = {k: v for k, v in row.items() if k not in skip and k is not None}
        return SourceItem(location=location, id=record_id, text=text, metadata=metadata)


class CSVSource(Source):
    """A CSV file with a header row; ``--text-col`` names the text, other columns are metadata."""

    def __init__(self, path: Path, options: SourceOptions) -> None:
        _require_file(path)
        self.path = path
        self.mapper = _RecordMapper(options)
        with self._open() as handle:
            header = next(csv.reader(handle), None)
        if not header:
            raise SourceError(f"{path}: empty CSV file, expected a header row")
        if self.mapper.text_field(header) is None or (
            options.text_col and options.text_col not in header
        ):
            wanted = options.text_col or " or ".join(TEXT_FIELDS)
            raise SourceError(
                f"{path}: text column {wanted!r} not found in CSV headers: {', '.join(header)}",
                hint="pick one with --text-col",
            )
        if options.id_col and options.id_col not in header:
            raise SourceError(f"{path}: id column {options.id_col!r} not found in CSV headers")

    def _open(self) -> io.TextIOWrapper:
        try:
            return self.path.open(encoding="utf-8-sig", newline="")
        except OSError as exc:
            raise SourceError(f"cannot read {self.path}: {exc.strerror}") from None

    def describe(self) -> str:
        return f"csv:{self.path}"

    def items(self) -> Iterator[SourceItem | BadItem]:
        csv.field_size_limit(sys.maxsize)
        with self._open() as handle:
            reader = csv.DictReader(handle)
            try:
                for row in reader:
                    location = f"{self.path.name} line {reader.line_num}"
                    if None in row:
                        yield BadItem(location, "more cells than header columns")
                        continue
                    if any(v is None for v in row.values()):
                        yield BadItem(location, "fewer cells than header columns")
                        continue
                    typed = {k: parse_cell(v) for k, v in row.items()}
                    text_field = self.mapper.text_field(row)
                    if text_field in row:
                        typed[text_field] = row[text_field]
                    if self.mapper.options.id_col in row:
                        typed[self.mapper.options.id_col] = row[self.mapper.options.id_col]
                    yield self.mapper.map(typed, location)
            except (csv.Error, UnicodeDecodeError) as exc:
                raise SourceError(f"{self.path} line {reader.line_num + 1}: {exc}") from None


class JSONLinesSource(Source):
    """One JSON object per line (.jsonl, .ndjson). Broken lines are reported and skipped."""

    def __init__(self, path: Path, options: SourceOptions) -> None:
        _require_file(path)
        self.path = path
        self.mapper = _RecordMapper(options)

    def describe(self) -> str:
        return f"jsonl:{self.path}"

    def items(self) -> Iterator[SourceItem | BadItem]:
        with self.path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                location = f"{self.path.name} line {number}"
                if not raw.strip():
                    continue
                try:
                    obj = json.loads(raw)
                except UnicodeDecodeError as exc:
                    yield BadItem(location, f"not UTF-8 ({exc.reason})")
                    continue
                except json.JSONDecodeError as exc:
                    yield BadItem(location, f"invalid JSON: {exc.msg} at column {exc.colno}")
                    continue
                except RecursionError:
                    yield BadItem(location, "JSON nested too deeply to read")
                    continue
                if not isinstance(obj, dict):
                    yield BadItem(location, f"expected a JSON object, got {type(obj).__name__}")
                    continue
                yield self.mapper.map(obj, location)


class JSONSource(Source):
    """A JSON array of objects, or an object holding one under records/data/items."""

    def __init__(self, path: Path, options: SourceOptions) -> None:
        _require_file(path)
        self.path = path
        self.mapper = _RecordMapper(options)
        try:
            data = json.loads(path.read_bytes())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SourceError(f"{path}: invalid JSON: {exc}") from None
        except RecursionError:
            raise SourceError(f"{path}: JSON nested too deeply to read") from None
        if isinstance(data, dict):
            data = next(
                (data[k] for k in ("records", "data", "items") if isinstance(data.get(k), list)),
                None,
            )
        if not isinstance(data, list):
            raise SourceError(f"{path}: expected a JSON array of objects (or records/data/items)")
        self._rows: list[Any] = data

    def describe(self) -> str:
        return f"json:{self.path}"

    def count_hint(self) -> int:
        return len(self._rows)

    def items(self) -> Iterator[SourceItem | BadItem]:
        for index, obj in enumerate(self._rows, start=1):
            location = f"{self.path.name} item {index}"
            if not isinstance(obj, dict):
                yield BadItem(location, f"expected a JSON object, got {type(obj).__name__}")
                continue
            yield self.mapper.map(obj, location)
