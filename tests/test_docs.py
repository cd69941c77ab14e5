"""Docs that cannot drift: every command, flag and API route is in the README."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from same_same.cli import cli
from same_same.server import ServerSettings, create_app

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def commands() -> list[tuple[str, click.Command]]:
    return sorted(cli.commands.items())


@pytest.mark.parametrize(("name", "command"), commands())
def test_every_command_and_flag_is_documented(name: str, command: click.Command) -> None:
    assert f"same-same {name}" in README
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            longest = max(param.opts, key=len)
            if longest in ("--help",):
                continue
            assert longest in README, f"`same-same {name}` option {longest} is not in the README"


def documented_routes() -> set[tuple[str, str]]:
    """(METHOD, /path) pairs the README names, e.g. "`GET`/`PUT`/`DELETE /api/v1/vectors/{id}`"."""
    found = set()
    pattern = r"((?:GET|POST|PUT|DELETE|PATCH)(?:`?/`?(?:GET|POST|PUT|DELETE|PATCH))*) (/[^\s`?,]*)"
    for methods, path in re.findall(pattern, README):
        for method in re.findall(r"GET|POST|PUT|DELETE|PATCH", methods):
            found.add((method, normalize(path)))
    return found


def normalize(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_every_api_route_is_documented(tmp_path: Path) -> None:
    app = create_app(ServerSettings(data_dir=tmp_path))
    documented = documented_routes()
    for path, methods in app.openapi()["paths"].items():
        for method in methods:
            assert (method.upper(), normalize(path)) in documented, (
                f"{method.upper()} {path} is not in the README"
            )


def test_readme_starts_with_the_two_commands() -> None:
    fence = README.split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    assert fence[0].startswith("./scripts/demo")
    assert fence[1].startswith("./scripts/test")
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text(encoding="utf-8")
    assert "scripts/test" in ci
