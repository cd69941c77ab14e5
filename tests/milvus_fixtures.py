"""A real Milvus standalone server for the tests, started once per test session.

The PyPI package ``milvus`` (the [milvus] extra's test dependency) ships Milvus's own
standalone binary with an embedded etcd and local object storage. It starts in
about 8 s; the first test that needs it starts it, on free loopback ports, in a
temp directory, and the session's end stops it. ``$SAME_SAME_TEST_MILVUS=HOST:PORT``
points the tests at a server that is already running instead (one Milvus
standalone per machine: it locks /run/milvus/standalone.pid). A second test session on
the machine joins the server the first one started (its base dir names the session that
owns it and those that joined); the last session to leave stops it, and a server whose
sessions were all killed is stopped by the next session, never one a live session uses.

Each test gets its own *scope* of namespaces (``?scope=`` in the store URL), so
tests share the server's collections and never see each other's records, and
its namespaces are deleted afterwards.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from same_same.storage import STORE_ENV

SERVER_ENV = "SAME_SAME_TEST_MILVUS"
BASE_PREFIX = "same-same-milvus-"
# $SAME_SAME_TEST_MILVUS_PREFIX keeps runs that share one server out of each other's way
PREFIX = os.environ.get("SAME_SAME_TEST_MILVUS_PREFIX", "same_same_test")
_server: object | None = None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(address: str, timeout: float = 120) -> None:
    from pymilvus import MilvusClient

    deadline = time.monotonic() + timeout
    while True:
        try:
            MilvusClient(uri=f"http://{address}", timeout=5).close()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


OWNER_FILE = "owner.json"
"""In a server's base dir: the pid of the test session that stops it, and its address."""
SHARERS = "sessions"
"""In a server's base dir: one file per test session using it, named by its pid."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _live_servers() -> Iterator[tuple[int, Path]]:
    """(pid, base dir) of every Milvus server a test session of ours started."""
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError, ValueError):
            binary = (proc / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            if f"/{BASE_PREFIX}" in binary and binary.endswith("/bin/milvus"):
                head, _, rest = binary.partition(f"/{BASE_PREFIX}")
                yield int(proc.name), Path(f"{head}/{BASE_PREFIX}{rest.split('/')[0]}")


def _read_owner(base: Path) -> dict[str, Any] | None:
    with contextlib.suppress(OSError, ValueError):
        owner = json.loads((base / OWNER_FILE).read_text())
        if isinstance(owner, dict) and isinstance(owner.get("pid"), int):
            return owner
    return None


def _write_owner(base: Path, pid: int, address: str) -> None:
    temp = base / f".{OWNER_FILE}.{os.getpid()}"
    temp.write_text(json.dumps({"pid": pid, "address": address}))
    os.replace(temp, base / OWNER_FILE)


def _other_sessions(base: Path) -> list[int]:
    """Live test sessions other than this one that share the server in ``base``."""
    sessions = []
    for entry in (base / SHARERS).glob("[0-9]*"):
        pid = int(entry.name)
        if pid != os.getpid() and _pid_alive(pid):
            sessions.append(pid)
    return sorted(sessions)


def _join_or_clean_up() -> tuple[str, Path] | None:
    """(address, base dir) of a server a live test session owns, which this session joins
    (one Milvus standalone per machine); servers whose sessions are all gone are stopped."""
    for pid, base in _live_servers():
        owner = _read_owner(base)
        if owner is not None and owner["pid"] != os.getpid() and _pid_alive(owner["pid"]):
            (base / SHARERS).mkdir(exist_ok=True)
            (base / SHARERS / str(os.getpid())).touch()
            return str(owner["address"]), base
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return None


def _leave(base: Path, address: str) -> bool:
    """Leave the server in ``base``; True when this session is the last and must stop it.
    An owner that leaves first hands the server over to a session still using it."""
    with contextlib.suppress(OSError):
        (base / SHARERS / str(os.getpid())).unlink()
    owner = _read_owner(base)
    if owner is None or owner["pid"] != os.getpid():
        return False
    others = _other_sessions(base)
    if others:
        _write_owner(base, others[0], address)
        return False
    return True


def _stop_left_over(base: Path) -> None:
    """Stop a server this session took over from the one that started it."""
    for pid, server_base in _live_servers():
        if server_base == base:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def milvus_address() -> Iterator[str]:
    """``HOST:PORT`` of a running Milvus server (started here unless the env names one)."""
    pytest.importorskip("pymilvus", reason="needs the [milvus] extra")
    given = os.environ.get(SERVER_ENV, "").strip()
    if given:
        _wait_ready(given)
        yield given
        return
    milvus = pytest.importorskip("milvus", reason="needs the milvus server package (test extra)")
    joined = _join_or_clean_up()
    if joined is not None:
        address, base = joined
        try:
            _wait_ready(address)
            yield address
        finally:
            if _leave(base, address):
                _stop_left_over(base)
        return
    base = Path(tempfile.mkdtemp(prefix=BASE_PREFIX))
    server = milvus.MilvusServer()
    server.set_base_dir(str(base))
    server.listen_port = _free_port()
    # Strong reads wait for the next time tick: 20 ms instead of 200 ms keeps the suite
    # quick. Correctness does not depend on it (the tests pass at 200 ms, only slower).
    server.config.set("proxy.timeTickInterval", 20)
    server.config.set("dataNode.dataSync.skipMode.enable", "false")
    address = f"127.0.0.1:{server.listen_port}"
    (base / SHARERS).mkdir()
    _write_owner(base, os.getpid(), address)
    server.start()
    try:
        _wait_ready(address)
        yield address
    finally:
        if _leave(base, address):
            server.stop()
            shutil.rmtree(base, ignore_errors=True)
        else:  # handed over: the package's __del__ must not stop it when this process ends
            server.server_proc = None


def milvus_spec(address: str, key: object, **options: str | int) -> str:
    """A store URL on ``address`` whose namespaces no other ``key`` sees."""
    scope = hashlib.sha256(str(key).encode()).hexdigest()[:16]
    settings = {"prefix": PREFIX, "scope": scope, **options}
    query = "&".join(f"{name}={value}" for name, value in settings.items())
    return f"milvus://{address}/?{query}"


def rescoped(env: dict[str, str], key: object) -> dict[str, str]:
    """``env`` with a Milvus ``$SAME_SAME_STORE`` moved to a scope of ``key``'s own: the
    Milvus side of "a store of its own" (the embedded store's is a fresh data dir)."""
    spec = env.get(STORE_ENV, "")
    if not spec.startswith("milvus"):
        return env
    from urllib.parse import urlsplit

    return {**env, STORE_ENV: milvus_spec(urlsplit(spec).netloc, key)}


def drop_scope(spec: str) -> None:
    """Delete every namespace of ``spec``'s scope (a test's leftovers)."""
    from same_same.storage import open_store

    with open_store(Path(tempfile.gettempdir()), spec) as store:
        for info in store.list_namespaces():
            store.delete_namespace(info.name)


@contextlib.contextmanager
def _store_env(request: pytest.FixtureRequest, key: object) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch:
        if request.param == "sqlite":
            patch.delenv(STORE_ENV, raising=False)
            yield "sqlite"
            return
        spec = milvus_spec(request.getfixturevalue("milvus_address"), key)
        patch.setenv(STORE_ENV, spec)
        try:
            yield spec
        finally:
            drop_scope(spec)


@pytest.fixture(params=["sqlite", "milvus"])
def every_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Run a test once per store: ``$SAME_SAME_STORE`` names it, so the CLI, the server
    and child processes all open it (Milvus: a scope of the test's own)."""
    with _store_env(request, tmp_path) as spec:
        yield spec


@pytest.fixture(scope="module", params=["sqlite", "milvus"])
def every_store_for_module(request: pytest.FixtureRequest) -> Iterator[str]:
    """``every_store`` for module-scoped fixtures: one scope per module and store."""
    with _store_env(request, f"{request.module.__name__}-{time.time_ns()}") as spec:
        yield spec


__all__ = [
    "SERVER_ENV",
    "drop_scope",
    "every_store",
    "every_store_for_module",
    "milvus_address",
    "milvus_spec",
    "rescoped",
]
