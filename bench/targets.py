"""Issue 13's targets against what a run measured: each with its value, met or not, the ratio.

``check_targets(query, writers, ingest)`` reads the reports of bench/query.py,
bench/concurrent_writers.py and bench/ingest.py (any may be None: its targets are then
"not measured") and returns one row per target. ``ratio`` is how far the measurement
is toward the target, 1.00x or more when met: measured / goal for a floor (q/s,
recall, efficiency), goal / measured for a ceiling (latency, time ratio).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

QPS_8 = 2500.0
P99_8_MS = 15.0
RECALL = 0.98
P50_1_MS = 1.5
FILTER_P50_MS = 5.0
WRITERS_RATIO = 1.0
EFFICIENCY = 0.9
GPU_IMAGES_S = 1500.0
TARGET_SIZE = 1_000_000


def target_row(
    name: str, measured: float | None, goal: float, floor: bool, unit: str = "", note: str = ""
) -> dict[str, Any]:
    """One target; ``floor``: the measurement must be at least ``goal`` (else at most)."""
    if measured is None or (isinstance(measured, float) and math.isnan(measured)):
        return {"target": name, "goal": goal, "floor": floor, "measured": None, "ratio": None,
                "met": None, "unit": unit, "note": note or "not measured"}  # fmt: skip
    if floor:
        ratio = measured / goal if goal else math.inf
    else:
        ratio = goal / measured if measured > 0 else math.inf
    return {"target": name, "goal": goal, "floor": floor, "measured": measured,
            "ratio": ratio, "met": ratio >= 1.0, "unit": unit, "note": note}  # fmt: skip


def size_note(size: int) -> str:
    return "" if size >= TARGET_SIZE else f"at {size:,} vectors; the target is at 1M"


def _largest_run(query: dict[str, Any]) -> dict[str, Any] | None:
    runs = [run for run in query.get("vector_search", []) if "concurrency" in run]
    return max(runs, key=lambda run: run["size"]) if runs else None


def query_targets(query: dict[str, Any] | None) -> list[dict[str, Any]]:
    run = _largest_run(query) if query else None
    if run is None:
        return [target_row("vector search targets", None, 0, True)]
    size, note = run["size"], size_note(run["size"])
    short = f"{size / 1e6:g}M" if size >= 1e6 else f"{size / 1e3:g}k"
    rows = [
        target_row(f"q/s at {short}, 8 clients", run.get("c8_qps"), QPS_8, True, "q/s", note),
        target_row(f"p99 at {short}, 8 clients", run.get("c8_p99_ms"), P99_8_MS, False, "ms", note),
        target_row(
            f"recall@10 at {short}, 8 clients", run.get("c8_recall_at_10"), RECALL, True, "", note
        ),
        target_row(f"p50 at {short}, 1 client", run.get("c1_p50_ms"), P50_1_MS, False, "ms", note),
    ]
    rows += filter_targets(run.get("filters", []), short, note)
    return rows


def filter_targets(filters: list[dict[str, Any]], short: str, note: str) -> list[dict[str, Any]]:
    """Per phase (idle, ingest) and mode (cold, warm): the worst case's p50 and recall over
    every kind and selectivity, and how many cases met the target (each case is in the
    report's ``filters``)."""
    rows = []
    for phase, mode in sorted({(f["phase"], f["mode"]) for f in filters}):
        cases = [f for f in filters if (f["phase"], f["mode"]) == (phase, mode)]
        slowest = max(cases, key=lambda f: f["p50_ms"])
        poorest = min(cases, key=lambda f: f["recall_at_10"])
        fast = sum(f["p50_ms"] <= FILTER_P50_MS for f in cases)
        exact = sum(f["recall_at_10"] >= RECALL for f in cases)
        where = f"{phase}, {mode}"
        rows.append(target_row(
            f"filter p50 at {short}, {where}, worst case", slowest["p50_ms"], FILTER_P50_MS,
            False, "ms", f"{slowest['kind']} {slowest['selectivity'] * 100:g}%; {fast} of "
            f"{len(cases)} cases met" + (f"; {note}" if note else ""),
        ))  # fmt: skip
        rows.append(target_row(
            f"filter recall@10 at {short}, {where}, worst case", poorest["recall_at_10"], RECALL,
            True, "", f"{poorest['kind']} {poorest['selectivity'] * 100:g}%; {exact} of "
            f"{len(cases)} cases met" + (f"; {note}" if note else ""),
        ))  # fmt: skip
    return rows


def writer_targets(writers: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not writers:
        return [target_row("concurrent / sequential ingest time", None, WRITERS_RATIO, False)]
    stored = "every row stored" if writers.get("all_stored") else "ROWS LOST"
    return [
        target_row(
            f"concurrent / sequential ingest time ({writers['writers']} x {writers['rows']:,})",
            writers["concurrent_over_sequential"],
            WRITERS_RATIO,
            False,
            "x",
            stored,
        ),  # fmt: skip
        target_row(
            "rows stored by concurrent writers",
            float(writers.get("all_stored", False)),
            1.0,
            True,
            "",
            stored,
        ),  # fmt: skip
    ]


def ingest_targets(ingest: dict[str, Any] | None) -> list[dict[str, Any]]:
    rows_in = (ingest or {}).get("results", [])
    rows: list[dict[str, Any]] = []
    default = [r for r in rows_in if r.get("backend") == "auto" and "efficiency" in r]
    note = ""
    if not default:
        default = [r for r in rows_in if r.get("backend") == "torch" and "efficiency" in r]
        note = "no auto row: torch, today's default" if default else ""
    for row in default:
        rows.append(target_row(f"pipeline efficiency, {row['backend']} ({row['size']})",
                               row["efficiency"], EFFICIENCY, True, "", note))  # fmt: skip
        fastest = max((r["rate"] for r in rows_in if r.get("size") == row["size"] and "rate" in r),
                      default=None)  # fmt: skip
        if fastest:
            rows.append(target_row(
                f"default backend's images/s / fastest backend's ({row['size']})",
                row["rate"] / fastest, 1.0, True, "x", row.get("resolved_backend") or note,
            ))  # fmt: skip
    if not rows:
        rows.append(target_row("pipeline efficiency of the default backend", None, EFFICIENCY,
                               True))  # fmt: skip
    cuda = [r for r in rows_in if r.get("device") == "cuda" and "rate" in r]
    gpu = max((r["rate"] for r in cuda), default=None)
    rows.append(target_row("GPU images/s, ViT-B-32, 1024x768", gpu, GPU_IMAGES_S, True, "img/s",
                           "" if cuda else "no --device cuda run in this report"))  # fmt: skip
    return rows


def check_targets(
    query: dict[str, Any] | None, writers: dict[str, Any] | None, ingest: dict[str, Any] | None
) -> list[dict[str, Any]]:
    return [*query_targets(query), *writer_targets(writers), *ingest_targets(ingest)]


def format_value(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def format_targets(rows: Iterable[dict[str, Any]]) -> str:
    """One line a target: ``q/s at 1M, 8 clients: 812 (target >= 2500: 0.32x, not met)``."""
    lines = []
    for row in rows:
        sign = ">=" if row["floor"] else "<="
        if row["measured"] is None:
            lines.append(f"{row['target']}: not measured ({row['note']})")
            continue
        verdict = "met" if row["met"] else "not met"
        note = f"; {row['note']}" if row["note"] else ""
        lines.append(
            f"{row['target']}: {format_value(row['measured'])} (target {sign} "
            f"{format_value(row['goal'])}: {row['ratio']:.2f}x, {verdict}{note})"
        )
    return "\n".join(lines)
