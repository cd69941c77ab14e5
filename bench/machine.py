"""What a benchmark ran on: CPU, SIMD flags, memory, package versions, commit.

``describe_machine`` is the ``machine`` of every report (bench/ingest.py,
bench/query.py, bench/peers.py); a report adds ``loadavg_end`` when it is done.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SIMD_FLAGS = ("avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")


def proc_field(path: str, key: str) -> str:
    """The value after ``key:`` in a /proc file such as /proc/cpuinfo, else ``unknown``."""
    try:
        with open(path, encoding="utf-8") as file:
            for line in file:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def cpu_name() -> str:
    return proc_field("/proc/cpuinfo", "model name")


def simd_flags(candidates: Iterable[str] = SIMD_FLAGS) -> list[str]:
    flags = set(proc_field("/proc/cpuinfo", "flags").split())
    return [flag for flag in candidates if flag in flags]


def ram_gib() -> float:
    total = proc_field("/proc/meminfo", "MemTotal").split()
    return round(int(total[0]) / 2**20, 1) if total and total[0].isdigit() else 0.0


def package_versions(names: Iterable[str]) -> dict[str, str]:
    """Installed versions of these distributions (``absent`` when not installed)."""
    versions = {}
    for name in names:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "absent"
    return versions


def git(*args: str) -> str:
    """What ``git ARGS`` prints in this checkout, stripped; empty when git cannot answer."""
    try:
        done = subprocess.run(
            ["git", "-C", str(REPO), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip()


def git_commit() -> str:
    """The commit the benchmark ran from (``unknown`` outside a git checkout)."""
    return git("rev-parse", "HEAD") or "unknown"


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load: the machine is shared, other work shows in timings."""
    return [round(value, 2) for value in os.getloadavg()]


def describe_machine(packages: Iterable[str] = ()) -> dict[str, Any]:
    """The ``machine`` of a report: hardware, versions (python, numpy, same-same and
    ``packages``), commit, date and the load when the benchmark started."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    names = dict.fromkeys(("same-same", "numpy", *packages))
    return {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "simd": simd_flags(),
        "ram_gib": ram_gib(),
        "platform": platform.platform(),
        "versions": {"python": platform.python_version(), **package_versions(names)},
        "git_commit": git_commit(),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "loadavg_start": load_average(),
    }
