"""A real Milvus standalone server for the tests, started once per test session.

The PyPI package ``milvus`` (the [milvus] extra's test dependency) ships Milvus's own
standalone binary with an embedded etcd and local object storage. It starts in
about 8 s; the first test that needs it starts it, on free loopback ports, in a
temp directory, and the session's end stops it. ``$SAME_SAME_TEST_MILVUS=HOST:PORT``
points the tests at a server that is already running instead (one Milvus
standalone per machine: it locks /run/milvus/standalone.pid). A second test session on
the machine shares the server the first one started (its base dir names the owner), and
only a server whose session was killed is stopped, never a live session's.

Each test gets its own *scope* of namespaces (``?scope=`` in the store URL), so
tests share the server's collections and never see each other's records, and
its namespaces are deleted afterwards.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

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
"""In a server's base dir: the pid of the test session that started it, and its address."""


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


def _shared_or_stale() -> str | None:
    """The address of a server another live test session owns (one Milvus standalone per
    machine, so this session shares it); servers whose session was killed are stopped."""
    import json
    import signal

    for pid, base in _live_servers():
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            owner = json.loads((base / OWNER_FILE).read_text())
            if int(owner["pid"]) != os.getpid() and _pid_alive(int(owner["pid"])):
                return str(owner["address"])
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return None


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
    shared = _shared_or_stale()
    if shared:
        _wait_ready(shared)
        yield shared
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
    (base / OWNER_FILE).write_text(f'{{"pid": {os.getpid()}, "address": "{address}"}}')
    server.start()
    try:
        _wait_ready(address)
        yield address
    finally:
        server.stop()
        with contextlib.suppress(OSError):
            import shutil

            shutil.rmtree(base, ignore_errors=True)


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
