"""Broken disks for the fault tests: a small tmpfs that fills up, a read-only view of a folder.

Both need ``mount``, which needs root (CI runs as root); elsewhere the tests that use
them skip, naming why (a skip fails the strict run of scripts/test, see conftest).
Every mount is undone in a ``finally``, lazily if something still holds it open.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from same_same.storage import open_store


def _mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        reason = (done.stderr or done.stdout).strip()
        pytest.skip(f"cannot mount here (needs root and mount(8)): {reason}")


def _unmount(where: Path) -> None:
    gc.collect()  # a failed sqlite3.connect can keep its file open until collected
    if subprocess.run(["umount", str(where)], capture_output=True, timeout=30).returncode:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=30)


@contextmanager
def small_disk(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (``"4m"``) mounted on ``where``."""
    where.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where))
    try:
        yield where
    finally:
        _unmount(where)


@contextmanager
def read_only_view(source: Path, where: Path) -> Iterator[Path]:
    """``source`` seen read-only at ``where`` (a bind mount, remounted ro)."""
    where.mkdir(parents=True, exist_ok=True)
    _mount("--bind", str(source), str(where))
    try:
        _mount("-o", "remount,bind,ro", str(where))
        yield where
    finally:
        _unmount(where)


def fill_disk(folder: Path, leave_bytes: int) -> Path:
    """Write a file that leaves about ``leave_bytes`` free on ``folder``'s file system."""
    stats = os.statvfs(folder)
    free = stats.f_bavail * stats.f_frsize
    filler = folder / "filler"
    with filler.open("wb") as handle:
        handle.write(b"\0" * max(0, free - leave_bytes))
    return filler


def write_jsonl(path: Path, count: int, start: int = 0) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for i in range(start, start + count):
            record = {"id": f"r{i}", "text": f"record number {i} about topic {i % 97}"}
            handle.write(json.dumps(record) + "\n")
    return path


def stored_ids(data_dir: Path, namespace: str) -> set[str]:
    """Every id the namespace holds (empty when the store or namespace does not exist)."""
    if not (data_dir / "same-same.db").exists():
        return set()
    with open_store(data_dir) as store:
        if store.find_namespace(namespace) is None:
            return set()
        return {record_id for record_id, _, _ in store.scan_metadata(namespace)}


def count_or_zero(data_dir: Path, namespace: str) -> int:
    if not (data_dir / "same-same.db").exists():
        return 0
    with open_store(data_dir) as store:
        info = store.find_namespace(namespace)
        return 0 if info is None else info.count


def kill_after(
    command: list[str],
    env: dict[str, str],
    data_dir: Path,
    namespace: str,
    delay: float,
    at_least: int = 1,
) -> None:
    """Start ``command``, wait until it has committed ``at_least`` more records, then
    ``delay`` s more, then SIGKILL it.

    ``delay`` is where the kill lands, not an assertion: anywhere in reading, embedding,
    committing, building or saving an index is fair game."""
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        baseline = count_or_zero(data_dir, namespace)
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if count_or_zero(data_dir, namespace) >= baseline + at_least:
                break
            time.sleep(0.02)
        time.sleep(delay)
        assert proc.poll() is None, "the ingest finished before it could be killed"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.stderr is not None
        proc.stderr.close()


__all__ = [
    "count_or_zero",
    "fill_disk",
    "kill_after",
    "read_only_view",
    "small_disk",
    "stored_ids",
    "write_jsonl",
]
