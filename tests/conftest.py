"""Fixtures shared by every test module. Helper modules (server_fixtures, clip_fixtures...)
hold the heavier ones; import them where needed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"

# scripts/test (what CI runs) installs every extra and Debian's chromium, so there a skipped
# test means a missing install step hiding a feature: the run fails. Only skips whose reason
# starts with one of these may happen there (../shared is beside CI's checkout, not a clone's).
STRICT_ENV = "SAME_SAME_TESTS_STRICT"
ALLOWED_STRICT_SKIPS = ("../shared is not beside this checkout",)
_strict_skips: list[str] = []


def _note_skip(report: pytest.CollectReport | pytest.TestReport) -> None:
    if os.environ.get(STRICT_ENV) != "1" or not report.skipped:
        return
    if isinstance(report, pytest.TestReport) and hasattr(report, "wasxfail"):
        return
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    reason = reason.removeprefix("Skipped: ")
    if not reason.startswith(ALLOWED_STRICT_SKIPS):
        _strict_skips.append(f"{report.nodeid}: {reason}")


def pytest_collectreport(report: pytest.CollectReport) -> None:
    _note_skip(report)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _note_skip(report)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _strict_skips:
        print(f"\n${STRICT_ENV}=1 and {len(_strict_skips)} test(s) skipped:", file=sys.stderr)
        for line in _strict_skips:
            print(f"  {line}", file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# Nothing in the tests may reach a model hub; fail at once instead of retrying.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh store directory, also set as SAME_SAME_DATA_DIR for code that reads the env."""
    path = tmp_path / "store"
    monkeypatch.setenv("SAME_SAME_DATA_DIR", str(path))
    yield path


def run_cli(
    *args: str,
    data_dir: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 300,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the real ``same-same`` command in a subprocess (``python -m same_same``)."""
    full_env = dict(os.environ)
    if data_dir is not None:
        full_env["SAME_SAME_DATA_DIR"] = str(data_dir)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "same_same", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=cwd,
    )


@pytest.fixture
def cli(data_dir: Path):  # type: ignore[no-untyped-def]
    """``cli("ingest", "demo")`` runs the real CLI against this test's store."""

    def invoke(
        *args: str, env: dict[str, str] | None = None, timeout: float = 300, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, data_dir=data_dir, env=env, timeout=timeout, cwd=cwd)

    return invoke
