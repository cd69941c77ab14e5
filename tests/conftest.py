"""Fixtures shared by every test module. Helper modules (server_fixtures, clip_fixtures...)
hold the heavier ones; import them where needed."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest_plugins = ["milvus_fixtures", "browser_fixtures"]  # one Milvus, one Chromium per session

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

# Exported ONNX models and --backend auto's checks are kept in one folder for the whole
# session instead of in each test's fresh data directory: with auto the default, every
# CLIP ingest into a new data directory would export the tiny model and check it again.
# Tests about the data directory's own ``onnx`` folder unset it (monkeypatch.delenv).
ONNX_DIR_ENV = "SAME_SAME_ONNX_DIR"
_SESSION_ONNX_DIR = tempfile.mkdtemp(prefix="same-same-tests-onnx-")
os.environ.setdefault(ONNX_DIR_ENV, _SESSION_ONNX_DIR)
atexit.register(shutil.rmtree, _SESSION_ONNX_DIR, True)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh store directory, also set as SAME_SAME_DATA_DIR for code that reads the env."""
    path = tmp_path / "store"
    monkeypatch.setenv("SAME_SAME_DATA_DIR", str(path))
    yield path


def same_same_command(*args: str) -> list[str]:
    """The argv of the real ``same-same`` command in a process of its own."""
    return [sys.executable, "-m", "same_same", *args]


def run_process(
    *args: str,
    data_dir: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 300,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``same-same`` in a subprocess, for what needs a process of its own (a kill, two
    processes at once, a fresh interpreter's imports); anything else uses ``run_cli``."""
    full_env = {**os.environ, **_cli_environment(data_dir, env)}
    return subprocess.run(
        same_same_command(*args),
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=cwd,
    )


def run_cli(
    *args: str,
    data_dir: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 300,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the ``same-same`` command in this process (click's CliRunner).

    It prints what the real command prints, on separate stdout and stderr, and exits
    with its status; models loaded stay loaded for the next run. ``env`` is set for the
    run only; ``timeout`` is ``run_process``'s (a run in this process cannot be stopped).
    An exception that escapes the command (``SAME_SAME_DEBUG=1``) ends up in ``stderr``
    with its traceback, as it would from the real process.
    """
    from same_same.cli import cli as same_same

    del timeout
    with _working_directory(cwd):
        result = CliRunner().invoke(
            same_same, list(args), env=_cli_environment(data_dir, env), prog_name="same-same"
        )
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
    return subprocess.CompletedProcess(
        same_same_command(*args), result.exit_code, result.stdout, stderr
    )


def _cli_environment(data_dir: Path | None, env: dict[str, str] | None) -> dict[str, str]:
    overrides = {} if data_dir is None else {"SAME_SAME_DATA_DIR": str(data_dir)}
    return {**overrides, **(env or {})}


@contextmanager
def _working_directory(path: Path | None) -> Iterator[None]:
    if path is None:
        yield
        return
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


@pytest.fixture
def cli(data_dir: Path):  # type: ignore[no-untyped-def]
    """``cli("ingest", "demo")`` runs the CLI (``run_cli``) against this test's store."""

    def invoke(
        *args: str, env: dict[str, str] | None = None, timeout: float = 300, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, data_dir=data_dir, env=env, timeout=timeout, cwd=cwd)

    return invoke
