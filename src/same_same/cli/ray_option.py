"""``--ray [ADDRESS]``: a flag whose value is optional, told apart from the SOURCE after it.

``ingest --ray images:./photos`` means the local cluster and the source
``images:./photos``; ``--ray auto``, ``--ray ray://head:10001``, ``--ray 10.0.0.5:6379``
and ``--ray=ADDRESS`` name the cluster. The arguments are rewritten before click
parses them, so click only ever sees ``--ray=VALUE``.
"""

from __future__ import annotations

import re

from ..ingest.ray_options import AUTO_CLUSTER
from ..sources import list_sources

RAY_FLAG = "--ray"

_HOST_PORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.\-]+):\d{1,5}$")


def looks_like_cluster_address(value: str) -> bool:
    """``auto``, ``ray://...`` or ``HOST:PORT`` (a port number, so ``images:DIR`` is not;
    nor is ``images:2024``, whose host is a source's name)."""
    if value == AUTO_CLUSTER or value.startswith("ray://"):
        return True
    host = value.rpartition(":")[0]
    sources = {spec.name for spec in list_sources()}
    return bool(_HOST_PORT.match(value)) and host not in sources


def normalize_ray_flag(args: list[str]) -> list[str]:
    """``--ray`` followed by a non-address becomes ``--ray=auto``; ``--ray ADDR``,
    ``--ray=ADDR``. Stops at ``--``."""
    out: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            out.extend(args[index:])
            break
        if arg == RAY_FLAG:
            following = args[index + 1] if index + 1 < len(args) else None
            if following is not None and looks_like_cluster_address(following):
                out.append(f"{RAY_FLAG}={following}")
                index += 2
                continue
            out.append(f"{RAY_FLAG}={AUTO_CLUSTER}")
        else:
            out.append(arg)
        index += 1
    return out
