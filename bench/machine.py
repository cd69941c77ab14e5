"""What a benchmark ran on: CPU, SIMD flags, memory, package versions, commit.

Shared by bench/ingest.py, bench/query.py and bench/peers_report.py; each composes
the fields its JSON has always carried.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

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


def git_commit() -> str:
    """The commit the benchmark ran from (``unknown`` outside a git checkout)."""
    try:
        done = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
    except OSError:
        return "unknown"
    return done.stdout.strip() or "unknown"
