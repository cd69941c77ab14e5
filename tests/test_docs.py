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


def _limit_constants() -> dict[str, object]:
    from same_same import identifiers, limits, validation
    from same_same.imaging import decode, query
    from same_same.server import settings

    found: dict[str, object] = {}
    for module in (limits, identifiers, validation, decode, query, settings):
        found.update({name: value for name, value in vars(module).items() if name.isupper()})
    return found


def _spellings(value: object) -> set[str]:
    """How the README may write a limit's value: 4,096, 32 MiB, 50 megapixels, 1e-15."""
    if isinstance(value, float):
        return {f"{value:g}".replace("+", "")}
    assert isinstance(value, int)
    out = {f"{value:,}", str(value)}
    if value % 2**20 == 0:
        out.add(f"{value // 2**20} MiB")
    if value % 10**6 == 0:
        out.add(f"{value // 10**6} megapixels")
    return out


def test_the_limits_table_names_each_limit_with_its_value() -> None:
    section = README.split("### Limits", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "`" in line]
    constants = _limit_constants()
    checked = 0
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        limit, names = cells[1], re.findall(r"`([A-Z_]+)`", cells[2])
        for name in names:
            assert name in constants, f"the README's limits table names {name}, which is gone"
            spellings = _spellings(constants[name])
            assert any(s in limit for s in spellings), f"{name} is {constants[name]}: {row}"
            checked += 1
    assert checked >= 20
