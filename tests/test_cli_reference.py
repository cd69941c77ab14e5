"""docs/cli.md is every command's --help as it is now; click's shell completion works for
the real command (a process of its own: completion runs before any command)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from conftest import run_process
from same_same.cli import cli
from same_same.cli.reference import render_cli_reference

ROOT = Path(__file__).resolve().parents[1]


def test_docs_cli_md_is_what_scripts_cli_reference_writes_now() -> None:
    written = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert written == render_cli_reference(cli), (
        "docs/cli.md is out of date: run scripts/cli-reference and commit docs/cli.md"
    )


def test_the_reference_has_every_command_and_subcommand() -> None:
    text = render_cli_reference(cli)
    for name, command in cli.commands.items():
        assert f"## `same-same {name}`" in text
        for sub in command.commands if isinstance(command, click.Group) else ():
            assert f"## `same-same {name} {sub}`" in text


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "complete -o nosort -F _same_same_completion same-same"),
        ("zsh", "compdef _same_same_completion same-same"),
        ("fish", "complete --no-files --command same-same"),
    ],
)
def test_the_completion_script_is_produced(shell: str, marker: str) -> None:
    done = run_process(env={"_SAME_SAME_COMPLETE": f"{shell}_source"})
    assert done.returncode == 0, done.stderr
    assert marker in done.stdout


def test_completion_completes_commands_and_options() -> None:
    env = {"_SAME_SAME_COMPLETE": "bash_complete", "COMP_WORDS": "same-same con", "COMP_CWORD": "1"}
    done = run_process(env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["plain,config"]
    env = {**env, "COMP_WORDS": "same-same serve --api-key-", "COMP_CWORD": "2"}
    done = run_process(env=env)
    assert "plain,--api-key-file" in done.stdout.split()
