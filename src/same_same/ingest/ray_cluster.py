"""Connecting to a Ray cluster for one ingest, and sizing the embedding actor pool.

``auto`` starts a local cluster on loopback (no dashboard) for the run and stops it
afterwards; a process already connected (``ray.init`` by a Python caller or a test)
keeps its connection. An address is probed with a plain TCP connect first, so an
unreachable cluster fails in a second with one line, not after Ray's retries.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from urllib.parse import urlsplit

from ..errors import MissingDependencyError, SameSameError
from .ray_options import AUTO_CLUSTER

PROBE_SECONDS = 3.0
CPUS_PER_CPU_ACTOR = 4
"""A CPU actor runs torch on a few threads; decoding tasks use the other cores."""


class RayClusterError(SameSameError):
    """The Ray cluster cannot be reached, or failed while running the ingest."""

    code = "cluster_unavailable"
    status = 503


def import_ray() -> ModuleType:
    """``ray`` with Ray Data, or MissingDependencyError naming the extra."""
    try:
        import ray
        import ray.data  # noqa: F401  (the [data] part of the extra)
    except ImportError as exc:
        raise MissingDependencyError("--ray", "ray") from exc
    return ray


@contextmanager
def connected_cluster(address: str, verbose: bool = False) -> Iterator[ModuleType]:
    """Ray, connected to the cluster at ``address`` for the ``with`` block."""
    ray = import_ray()
    if address != AUTO_CLUSTER:
        probe_address(address)
    quiet_ray_logging(verbose)
    if ray.is_initialized():
        yield ray
        return
    try:
        if address == AUTO_CLUSTER:
            start_local_cluster(ray, verbose)
        else:
            ray.init(address=address, log_to_driver=verbose, logging_level=_level(verbose))
    except Exception as exc:  # noqa: BLE001 - Ray raises many kinds; the user sees one line
        where = "this machine" if address == AUTO_CLUSTER else address
        raise RayClusterError(f"cannot reach the Ray cluster at {where}: {_one_line(exc)}") from exc
    try:
        yield ray
    finally:
        ray.shutdown()


def start_local_cluster(ray: ModuleType, verbose: bool = False) -> None:
    """A cluster of this machine's cores, on 127.0.0.1 only, without the dashboard."""
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    ray.init(
        num_cpus=os.cpu_count() or 1,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        log_to_driver=verbose,
        logging_level=_level(verbose),
    )


def probe_address(address: str) -> None:
    """RayClusterError unless something accepts TCP connections at ``address``."""
    parts = urlsplit(address if "://" in address else f"//{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise RayClusterError(f"cannot reach the Ray cluster at {address}: {exc}") from exc
    if not host or port is None:
        raise RayClusterError(
            f"cannot reach the Ray cluster at {address}: give HOST:PORT or ray://HOST:PORT"
        )
    try:
        socket.create_connection((host, port), timeout=PROBE_SECONDS).close()
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise RayClusterError(f"cannot reach the Ray cluster at {address}: {reason}") from exc


def quiet_ray_logging(verbose: bool) -> None:
    """Ray Data's progress bars and per-run INFO lines only with ``-v``."""
    from ray.data import DataContext

    context = DataContext.get_current()
    context.enable_progress_bars = verbose
    logging.getLogger("ray.data").setLevel(_level(verbose))


@dataclass(frozen=True)
class ActorPool:
    """How many embedding actors run and what each reserves."""

    size: int
    gpus_per_actor: float
    cpus_per_actor: float


def plan_actor_pool(ray: ModuleType, device: str, requested: int | None) -> ActorPool:
    """One actor per GPU when the model runs on CUDA (``auto`` on a cluster with GPUs),
    else one per ``CPUS_PER_CPU_ACTOR`` cores."""
    resources = ray.cluster_resources()
    gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 1))
    on_gpu = device.startswith("cuda") or (device == "auto" and gpus > 0)
    if on_gpu:
        return ActorPool(requested or max(1, gpus), 1.0, 1.0)
    threads = 2 if cpus >= CPUS_PER_CPU_ACTOR else 1
    return ActorPool(requested or max(1, cpus // CPUS_PER_CPU_ACTOR), 0.0, float(threads))


def find_user_error(ray: ModuleType, exc: BaseException) -> SameSameError | None:
    """The typed error a task or actor raised, from inside Ray's wrappers."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ray.exceptions.RayTaskError):
            current = current.cause  # the exception the task raised, without Ray's wrapping
        elif isinstance(current, SameSameError):
            return current
        else:
            current = current.__cause__
    return None


def _level(verbose: bool) -> int:
    return logging.INFO if verbose else logging.ERROR


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
