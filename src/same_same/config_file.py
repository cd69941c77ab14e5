"""``same-same.toml``: every setting that is a flag or an environment variable, in one file.

The file is found by ``--config FILE``, else ``$SAME_SAME_CONFIG``, else
``same-same.toml`` in the data directory. What it says is the lowest layer but the
defaults: a flag beats an environment variable, which beats the file. Settings the
library itself reads from the environment (``SAME_SAME_CLIP_MODEL``, the index
settings, ...) reach it through ``environment_overlay``: the file's values for the
variables that are not set, so subprocesses (server workers, Ray actors) see them too.
Settings that are only flags reach their commands through click's ``default_map``.

Keys are dotted paths into the TOML tables (``[clip] model = ...`` is ``clip.model``).
An unknown key or a value of the wrong type is an ``InvalidInputError`` naming the
key and the file, with the nearest known key when there is one.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .config import DATA_DIR_ENV, default_data_dir
from .errors import InvalidInputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 reads TOML with the tomli backport
    import tomli as tomllib

CONFIG_ENV = "SAME_SAME_CONFIG"
CONFIG_FILE_NAME = "same-same.toml"

Origin = Literal["flag", "env", "file", "default"]
ValueKind = Literal["text", "integer", "number", "boolean"]


@dataclass(frozen=True)
class Setting:
    """One key of the file: what it holds, and which variable or flag it stands for."""

    key: str
    kind: ValueKind
    help: str
    default: str
    """The default as shown by ``config show`` (some depend on the machine or command)."""
    env: str | None = None
    """The environment variable it fills when that is not set."""
    param: str | None = None
    """The click parameter it is the default of, in every command that has one."""
    commands: tuple[str, ...] = ()
    """Only these commands' ``param``; empty: every command with that parameter."""
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting("data_dir", "text", "store directory", "$XDG_DATA_HOME/same-same", DATA_DIR_ENV),
    Setting("store", "text", "sqlite or a milvus:// spec", "sqlite", "SAME_SAME_STORE"),
    Setting(
        "embedder", "text", "embedder by name", "local (watch, serve: clip)", "SAME_SAME_EMBEDDER"
    ),
    Setting("namespace", "text", "namespace to use", "default", param="namespace"),
    Setting("models_dir", "text", "CLIP models folder", "DATA_DIR/models", "SAME_SAME_MODELS_DIR"),
    Setting("debug", "boolean", "tracebacks instead of one line", "false", "SAME_SAME_DEBUG"),
    Setting("clip.model", "text", "CLIP architecture", "ViT-B-32", "SAME_SAME_CLIP_MODEL"),
    Setting("clip.pretrain", "text", "pretrained tag", "openai", "SAME_SAME_CLIP_PRETRAIN"),
    Setting(
        "clip.backend", "text", "auto, torch, onnx, onnx-int8", "auto", "SAME_SAME_CLIP_BACKEND"
    ),
    Setting("clip.device", "text", "auto, cpu, cuda, cuda:N, mps", "auto", param="device"),
    Setting("clip.onnx_dir", "text", "ONNX exports folder", "DATA_DIR/onnx", "SAME_SAME_ONNX_DIR"),
    Setting(
        "clip.onnx_threads", "integer", "ONNX threads", "one per core", "SAME_SAME_ONNX_THREADS"
    ),
    Setting(
        "ingest.batch_size",
        "integer",
        "items per batch",
        "32; clip: 16 CPU, 128 GPU",
        param="batch_size",
    ),
    Setting(
        "ingest.workers",
        "integer",
        "image decoding workers",
        "one per core",
        param="workers",
        commands=("ingest", "watch"),
    ),
    Setting(
        "ingest.gpu_decode",
        "text",
        "auto, on, off",
        "auto",
        param="gpu_decode",
    ),
    Setting("ingest.recursive", "boolean", "scan subfolders", "true", param="recursive"),
    Setting("server.addr", "text", "HOST:PORT", "127.0.0.1:8080", param="addr"),
    Setting("server.workers", "integer", "server processes", "1", "SAME_SAME_WORKERS"),
    Setting("server.access_log", "boolean", "one line per request", "false", param="access_log"),
    Setting(
        "server.metrics_auth",
        "boolean",
        "the API key on /metrics too",
        "false",
        param="metrics_auth",
    ),
    Setting(
        "server.api_key_file",
        "text",
        "file holding the API key",
        "none: no key",
        param="api_key_file",
    ),
    Setting(
        "server.max_body_bytes",
        "integer",
        "largest request body",
        "33554432",
        param="max_body_bytes",
    ),
    Setting("watch.poll", "number", "seconds between scans", "none: inotify", param="poll_seconds"),
    Setting("watch.settle", "number", "seconds a file must rest", "1.0", param="settle_seconds"),
    Setting(
        "index.min_vectors",
        "integer",
        "index namespaces this large; 0: never",
        "10000",
        "SAME_SAME_INDEX_MIN_VECTORS",
    ),
    Setting("index.connectivity", "integer", "HNSW M", "32", "SAME_SAME_INDEX_CONNECTIVITY"),
    Setting(
        "index.expansion_add",
        "integer",
        "HNSW efConstruction",
        "160",
        "SAME_SAME_INDEX_EXPANSION_ADD",
    ),
    Setting(
        "index.expansion_search",
        "integer",
        "HNSW ef",
        "grows with the namespace",
        "SAME_SAME_INDEX_EXPANSION_SEARCH",
    ),
    Setting(
        "index.save_changes",
        "integer",
        "save the index after this many changes",
        "5000",
        "SAME_SAME_INDEX_SAVE_CHANGES",
    ),
    Setting("milvus.token", "text", "Milvus token", "none", "SAME_SAME_MILVUS_TOKEN", secret=True),
)
SETTINGS_BY_KEY: dict[str, Setting] = {setting.key: setting for setting in SETTINGS}


@dataclass(frozen=True)
class ConfigFile:
    """The settings a file holds (validated, by dotted key); ``path`` None: no file."""

    path: Path | None = None
    found_by: str = "none"
    """How the file was found: ``--config``, ``$SAME_SAME_CONFIG``, ``data dir`` or none."""
    values: Mapping[str, Any] = field(default_factory=dict)

    def get(self, key: str) -> Any:
        return self.values.get(key)


@dataclass(frozen=True)
class ResolvedSetting:
    setting: Setting
    value: Any
    origin: Origin

    def to_dict(self) -> dict[str, Any]:
        shown = "***" if self.setting.secret and self.value is not None else self.value
        return {
            "key": self.setting.key,
            "value": shown if self.origin != "default" else None,
            "default": self.setting.default,
            "origin": self.origin,
            "env": self.setting.env,
        }


def find_config_file(
    explicit: str | os.PathLike[str] | None,
    data_dir: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[Path | None, str]:
    """Which file applies, and how it was found: ``--config``, ``$SAME_SAME_CONFIG``, or
    ``same-same.toml`` in ``data_dir`` (else the default data directory)."""
    env = os.environ if environ is None else environ
    if explicit:
        return _existing(Path(explicit).expanduser(), "--config"), "--config"
    named = env.get(CONFIG_ENV, "").strip()
    if named:
        return _existing(Path(named).expanduser(), f"${CONFIG_ENV}"), f"${CONFIG_ENV}"
    if data_dir:
        folder = Path(data_dir).expanduser()
    elif env.get(DATA_DIR_ENV):
        folder = Path(env[DATA_DIR_ENV]).expanduser()
    else:
        folder = default_data_dir()
    candidate = folder / CONFIG_FILE_NAME
    return (candidate, "data dir") if candidate.is_file() else (None, "none")


def load_config(
    explicit: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> ConfigFile:
    path, found_by = find_config_file(explicit, data_dir, environ)
    if path is None:
        return ConfigFile()
    values = read_config_file(path)
    if found_by == "data dir" and "data_dir" in values:
        raise InvalidInputError(
            f"{path}: data_dir in the data directory's own {CONFIG_FILE_NAME} has no effect",
            hint=f"name the file with --config or ${CONFIG_ENV} to choose the data directory",
        )
    return ConfigFile(path=path, found_by=found_by, values=values)


def read_config_file(path: Path) -> dict[str, Any]:
    """The file's settings by dotted key, or InvalidInputError naming the file and key."""
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInputError(f"{path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror or exc}") from None
    values: dict[str, Any] = {}
    for key, value in _flatten(document):
        setting = SETTINGS_BY_KEY.get(key)
        if setting is None:
            raise InvalidInputError(f"{path}: unknown setting {key!r}", hint=_suggest(key))
        values[key] = _check_kind(path, setting, value)
    return values


def resolve_settings(
    config: ConfigFile,
    environ: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> list[ResolvedSetting]:
    """Every setting with its value and origin: flag > env > file > default."""
    env = os.environ if environ is None else environ
    given = flags or {}
    resolved = []
    for setting in SETTINGS:
        if given.get(setting.key) is not None:
            resolved.append(ResolvedSetting(setting, given[setting.key], "flag"))
        elif setting.env and env.get(setting.env):
            resolved.append(ResolvedSetting(setting, env[setting.env], "env"))
        elif config.get(setting.key) is not None:
            resolved.append(ResolvedSetting(setting, config.get(setting.key), "file"))
        else:
            resolved.append(ResolvedSetting(setting, None, "default"))
    return resolved


def environment_overlay(
    config: ConfigFile, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The variables to set so the library sees the file: its values for those unset."""
    env = os.environ if environ is None else environ
    overlay = {}
    for setting in SETTINGS:
        value = config.get(setting.key)
        if setting.env is None or value is None or env.get(setting.env):
            continue
        if setting.kind == "boolean":
            if value:
                overlay[setting.env] = "1"
        else:
            overlay[setting.env] = str(value)
    return overlay


def parameter_defaults(config: ConfigFile) -> list[tuple[Setting, Any]]:
    """The file's values for settings that are flags (click parameters)."""
    return [
        (setting, config.get(setting.key))
        for setting in SETTINGS
        if setting.param is not None and config.get(setting.key) is not None
    ]


def _existing(path: Path, named_by: str) -> Path:
    if not path.is_file():
        raise InvalidInputError(f"config file {path} (from {named_by}) does not exist")
    return path


def _flatten(table: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = []
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and dotted not in SETTINGS_BY_KEY:
            items.extend(_flatten(value, f"{dotted}."))
        else:
            items.append((dotted, value))
    return items


_KIND_TYPES: dict[ValueKind, tuple[type, ...]] = {
    "text": (str, int, float),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}
_KIND_WORDS: dict[ValueKind, str] = {
    "text": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
}


def _check_kind(path: Path, setting: Setting, value: Any) -> Any:
    wanted = _KIND_TYPES[setting.kind]
    is_bool = isinstance(value, bool)
    if isinstance(value, wanted) and (setting.kind == "boolean" or not is_bool):
        return value
    raise InvalidInputError(
        f"{path}: {setting.key} must be {_KIND_WORDS[setting.kind]}, not {value!r}"
    )


def _suggest(key: str) -> str:
    close = difflib.get_close_matches(key, SETTINGS_BY_KEY, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}? `same-same config show` lists every setting"
    return "`same-same config show` lists every setting"


__all__ = [
    "CONFIG_ENV",
    "CONFIG_FILE_NAME",
    "SETTINGS",
    "ConfigFile",
    "ResolvedSetting",
    "Setting",
    "environment_overlay",
    "find_config_file",
    "load_config",
    "parameter_defaults",
    "read_config_file",
    "resolve_settings",
]
