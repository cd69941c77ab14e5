"""What a failing command shows: one line on stderr and its exit status, the same from the
real process (``main``, ``python -m same_same``) as in this process (``run_cli``)."""

from __future__ import annotations

import os
from pathlib import Path

import click
import pytest

from conftest import run_cli, run_process
from same_same.cli import DEBUG_ENV, cli, main
from same_same.errors import InvalidInputError


def add_failing_command(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    def fail() -> None:
        raise error

    monkeypatch.setitem(cli.commands, "fail", click.Command("fail", callback=fail))


FAILURES = [
    (InvalidInputError("bad value", hint="try 3"), 1, "error: bad value (try 3)\n"),
    (
        RuntimeError("boom"),
        70,
        f"internal error: RuntimeError: boom (set {DEBUG_ENV}=1 for a traceback)\n",
    ),
    (KeyboardInterrupt(), 130, "interrupted\n"),
    (click.Abort(), 130, "aborted\n"),
    (BrokenPipeError(), 0, ""),  # the reader of stdout went away (`same-same search ... | head`)
]


@pytest.mark.parametrize(("error", "status", "stderr"), FAILURES)
def test_a_failure_is_one_line_in_process_and_from_main(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    error: BaseException,
    status: int,
    stderr: str,
) -> None:
    monkeypatch.delenv(DEBUG_ENV, raising=False)
    add_failing_command(monkeypatch, error)
    done = run_cli("fail")
    assert (done.returncode, done.stdout, done.stderr) == (status, "", stderr)
    with pytest.raises(SystemExit) as exited:
        main(["fail"])
    assert exited.value.code == status
    assert capsys.readouterr() == ("", stderr)


def test_debug_lets_an_unexpected_error_through_with_its_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(DEBUG_ENV, "1")
    add_failing_command(monkeypatch, RuntimeError("boom"))
    done = run_cli("fail")
    assert done.returncode == 1  # what Python exits with after a traceback
    assert "Traceback (most recent call last)" in done.stderr
    assert done.stderr.rstrip().endswith("RuntimeError: boom")
    with pytest.raises(RuntimeError, match="boom"):
        main(["fail"])
    # typed errors stay one line even then
    add_failing_command(monkeypatch, InvalidInputError("bad value"))
    assert run_cli("fail").stderr == "error: bad value\n"


@pytest.mark.parametrize(
    "args",
    [
        ("ingest", "-e", "nosuch", "demo"),  # a typed error of the library
        ("ingest", "--batch-size", "0", "demo"),  # click's own usage error
        ("frobnicate",),  # no such command
        ("--version",),
    ],
)
def test_the_real_process_prints_what_run_cli_prints(tmp_path: Path, args: tuple[str, ...]) -> None:
    in_process = run_cli(*args, data_dir=tmp_path / "store")
    real = run_process(*args, data_dir=tmp_path / "store")
    assert (real.returncode, real.stdout, real.stderr) == (
        in_process.returncode,
        in_process.stdout,
        in_process.stderr,
    )
    assert in_process.stdout or in_process.stderr
    assert not (tmp_path / "store").exists()


def test_run_cli_restores_the_environment_and_the_working_directory(tmp_path: Path) -> None:
    before = os.getcwd()
    done = run_cli(
        "namespaces", data_dir=tmp_path / "store", env={"SAME_SAME_UNUSED": "1"}, cwd=tmp_path
    )
    assert done.returncode == 0 and "the store is empty" in done.stderr
    assert os.getcwd() == before
    assert "SAME_SAME_UNUSED" not in os.environ
