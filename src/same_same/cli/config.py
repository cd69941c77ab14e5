"""``--config FILE`` and ``same-same config show``: the settings file, at the CLI's edge.

The group finds and reads the file before a command parses its own options, then
hands it on two ways: click's ``default_map`` for the settings that are flags (so a
flag and its environment variable still win), and the environment, for the
variables nobody set, which the library and its subprocesses read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import click

from ..config_file import (
    CONFIG_ENV,
    CONFIG_FILE_NAME,
    ConfigFile,
    environment_overlay,
    load_config,
    parameter_defaults,
    resolve_settings,
)
from ..errors import InvalidInputError
from .options import data_dir_option, json_option

ARGS_KEY = "same_same.args"
CONFIG_KEY = "same_same.config"
ENVIRON_KEY = "same_same.environ"


def config_option(func: Any) -> Any:
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        default=None,
        metavar="FILE",
        help=f"Settings file [env {CONFIG_ENV}; default DATA_DIR/{CONFIG_FILE_NAME}].",
    )(func)


def apply_config_file(ctx: click.Context, explicit: str | None) -> None:
    """Read the settings file and make it the defaults of the command about to run."""
    environ = dict(os.environ)
    config = load_config(explicit, data_dir=_data_dir_flag(ctx.meta.get(ARGS_KEY, [])))
    ctx.meta[CONFIG_KEY] = config
    ctx.meta[ENVIRON_KEY] = environ
    ctx.default_map = _merge(ctx.default_map or {}, _default_map(ctx.command, config))
    ctx.with_resource(_environment(environment_overlay(config, environ)))


def _data_dir_flag(args: list[str]) -> str | None:
    """``--data-dir`` of the command line, read before the command parses it: the file
    in the data directory decides the defaults of the options being parsed."""
    for index, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--data-dir" and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith("--data-dir="):
            return arg.partition("=")[2]
    return None


def _default_map(command: click.Command, config: ConfigFile) -> dict[str, Any]:
    defaults = parameter_defaults(config)
    found: dict[str, Any] = {}
    if not isinstance(command, click.Group):
        return found
    for name, sub in command.commands.items():
        if isinstance(sub, click.Group):
            nested = _default_map(sub, config)
            if nested:
                found[name] = nested
            continue
        params = {param.name: param for param in sub.params}
        values = {
            setting.param: _checked(config, setting.key, params[setting.param], value)
            for setting, value in defaults
            if setting.param in params and (not setting.commands or name in setting.commands)
        }
        if values:
            found[name] = values
    return found


def _checked(config: ConfigFile, key: str, param: click.Parameter, value: Any) -> Any:
    """``value`` if the option takes it (a range, a choice), else the file's one-line error
    rather than click's usage screen about a flag nobody typed."""
    try:
        param.type.convert(value, param, None)
    except click.BadParameter as exc:
        raise InvalidInputError(f"{config.path}: {key}: {exc.message}") from None
    return value


def _merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged.setdefault(key, value)
    return merged


@contextmanager
def _environment(overlay: Mapping[str, str]) -> Iterator[None]:
    """The file's variables for the length of the command (an in-process run, a test,
    leaves the environment as it found it)."""
    saved = {name: os.environ.get(name) for name in overlay}
    os.environ.update(overlay)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@click.group("config")
def config_command() -> None:
    """The settings file (same-same.toml) and where each setting comes from."""


@config_command.command("show")
@data_dir_option
@json_option
@click.pass_context
def show_command(ctx: click.Context, data_dir: str | None, as_json: bool) -> None:
    """Every setting with its value and where it came from: flag, env, file or default.

    Precedence: a flag beats its environment variable, which beats the file, which
    beats the default.
    """
    config: ConfigFile = ctx.meta.get(CONFIG_KEY) or ConfigFile()
    environ: Mapping[str, str] = ctx.meta.get(ENVIRON_KEY) or os.environ
    flag_given = ctx.get_parameter_source("data_dir") == click.core.ParameterSource.COMMANDLINE
    flags = {"data_dir": data_dir} if flag_given else {}
    resolved = resolve_settings(config, environ, flags)
    path = str(config.path) if config.path else None
    if as_json:
        payload = {
            "config_file": path,
            "found_by": config.found_by,
            "settings": [entry.to_dict() for entry in resolved],
        }
        click.echo(json.dumps(payload))
        return
    click.echo(f"config file: {path} ({config.found_by})" if path else "config file: none")
    width = max(len(entry.setting.key) for entry in resolved)
    for entry in resolved:
        shown = entry.to_dict()
        value = shown["value"] if entry.origin != "default" else shown["default"]
        origin = f"env {entry.setting.env}" if entry.origin == "env" else entry.origin
        click.echo(f"{entry.setting.key:<{width}}  {value}  [{origin}]")


__all__ = ["ARGS_KEY", "apply_config_file", "config_command", "config_option"]
