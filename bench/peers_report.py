"""The peer benchmark's report: the store version it measured, and its results as a table."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import git  # noqa: E402


def describe_store_version() -> dict[str, Any]:
    """The commit measured, and whether the store's code differed from it."""
    return {
        "commit": git("rev-parse", "HEAD"),
        "storage_last_commit": git("log", "-1", "--format=%H %s", "--", "src/same_same/storage"),
        # the tree is shared and same-same runs from it: name uncommitted store code too
        "storage_uncommitted_changes": git("status", "--porcelain", "--", "src/same_same/storage"),
        "storage_diff_sha256": hashlib.sha256(
            git("diff", "HEAD", "--", "src/same_same/storage").encode()
        ).hexdigest(),
        "python": sys.version.split()[0],
    }


def _number(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _bytes_per_vector(value: Any) -> str:
    return "-" if value is None else f"{value:,.0f}"


COLUMNS = (
    "system",
    "n",
    "build s",
    "vec/s",
    "p50 ms",
    "p99 ms",
    "recall@10",
    "knob",
    "RSS B/vec",
    "disk B/vec",
)


def format_row(result: dict[str, Any]) -> list[str]:
    build = result.get("build_s")
    rate = result["n"] / build if build else None
    build_text = _number(build, 1) + ("*" if result.get("build_extrapolated") else "")
    knob = result.get("knob")
    knob_text = "-" if knob is None else f"{result.get('knob_name')}={knob}".replace(" ", "")
    return [
        result["system"],
        str(result["n"]),
        build_text,
        _number(None if rate is None else round(rate)),
        _number(result.get("p50_ms")),
        _number(result.get("p99_ms")),
        _number(result.get("recall"), 3),
        knob_text,
        _bytes_per_vector(result.get("rss_delta_bytes_per_vector")),
        _bytes_per_vector(result.get("disk_bytes_per_vector")),
    ]


def format_table(results: list[dict[str, Any]]) -> str:
    """A fixed-width table; a system that did not run gets its reason across the row."""
    rows = [list(COLUMNS)] + [format_row(r) for r in results if r.get("status") == "ok"]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]

    def line(row: list[str]) -> str:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        return "  ".join(cells).rstrip()

    lines = [line(rows[0]), "-" * len(line(rows[0]))]
    ok_rows = iter(rows[1:])
    for result in results:
        if result.get("status") == "ok":
            lines.append(line(next(ok_rows)))
        else:
            head = f"{result['system']:<{widths[0]}}  {result['n']:>{widths[1]}}"
            lines.append(f"{head}  {result.get('status')}: {result.get('reason', '')}")
    return "\n".join(lines)
