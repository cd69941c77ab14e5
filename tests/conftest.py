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
