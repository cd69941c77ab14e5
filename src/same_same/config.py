"""Where things live, and the environment variables that change it."""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "SAME_SAME_DATA_DIR"
API_KEY_ENV = "SAME_SAME_API_KEY"
DEFAULT_NAMESPACE = "default"


def default_data_dir() -> Path:
    """``$SAME_SAME_DATA_DIR``, else ``$XDG_DATA_HOME/same-same``,
    else ``~/.local/share/same-same``.

    One store per user by default, where XDG says user data belongs.
    """
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "same-same"


def resolve_data_dir(value: str | os.PathLike[str] | None) -> Path:
    return Path(value).expanduser() if value else default_data_dir()
