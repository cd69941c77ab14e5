"""What only the SQLite store promises: its file settings, incremental refreshes of the
in-memory matrices, crash safety under SIGKILL, threads, and damaged or foreign files."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from same_same.errors import InvalidInputError, NamespaceNotFoundError, StoreError
from same_same.records import Record
from same_same.storage import open_store, sqlite_transactions
from same_same.storage.sqlite import SQLiteStore
from same_same.storage.sqlite_schema import SCHEMA_VERSION
from store_fixtures import DIM, SPACE, drop_keyword_schema, random_records


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[SQLiteStore, SQLiteStore]]:
    """A writer and a reader on one directory, as ``ingest`` and ``serve`` would be."""
    writer, reader = SQLiteStore(tmp_path), SQLiteStore(tmp_path)
    yield writer, reader
    writer.close()
    reader.close()


def test_open_store_gives_the_sqlite_store(tmp_path: Path) -> None:
    with open_store(tmp_path / "new" / "dir") as store:
        assert isinstance(store, SQLiteStore)
    assert (tmp_path / "new" / "dir" / "same-same.db").is_file()


def test_the_file_uses_wal_and_full_sync(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path) as store:
        assert isinstance(store, SQLiteStore)
        conn = store._connection()
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 30_000
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_vectors_are_float32_blobs_and_metadata_is_json(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path) as store:
        store.ensure_namespace("ns", SPACE)
        store.upsert("ns", [Record("a", np.arange(DIM), text="t", metadata={"k": [1]})])
    conn = sqlite3.connect(tmp_path / "same-same.db")
    vector, metadata, text = conn.execute("SELECT vector, metadata, text FROM records").fetchone()
    conn.close()
    assert np.frombuffer(vector, dtype="<f4").tolist() == list(range(DIM))
    assert (json.loads(metadata), text) == ({"k": [1]}, "t")


def test_counts_kept_by_triggers_match_the_rows(tmp_path: Path, rng: np.random.Generator) -> None:
    with SQLiteStore(tmp_path) as store:
        store.ensure_namespace("ns", SPACE)
        store.upsert("ns", random_records(rng, 10))
        store.upsert("ns", random_records(rng, 15))  # 10 replaced, 5 new
        store.delete("ns", ["r0000", "r0014", "zzz"])
        actual = store._connection().execute("SELECT count(*) FROM records").fetchone()[0]
        assert store.count("ns") == store.count() == actual == 13


# -- incremental refresh ---------------------------------------------------------


def test_reader_refreshes_incrementally(
    pair: tuple[SQLiteStore, SQLiteStore], rng: np.random.Generator
) -> None:
    writer, reader = pair
    writer.ensure_namespace("ns", SPACE)
    writer.upsert("ns", random_records(rng, 200))
    query = rng.normal(size=DIM)
    reader.search(["ns"], query)
    assert (reader.cache_stats.full_loads, reader.cache_stats.rows_read) == (1, 200)

    reader.search(["ns"], query)  # nothing changed: nothing read
    assert (reader.cache_stats.full_loads, reader.cache_stats.rows_read) == (1, 200)

    writer.upsert("ns", [Record("new", query)])
    assert reader.search(["ns"], query, limit=1)[0].id == "new"
    assert (reader.cache_stats.full_loads, reader.cache_stats.rows_read) == (1, 201)

    writer.upsert("ns", [Record("r0003", query * 2)])  # an update reads one row
    assert [m.id for m in reader.search(["ns"], query, limit=2)] == ["new", "r0003"]
    assert (reader.cache_stats.full_loads, reader.cache_stats.rows_read) == (1, 202)

    writer.delete("ns", ["new", "r0003"])
    assert "new" not in [m.id for m in reader.search(["ns"], query, limit=300)]
    stats = reader.cache_stats
    assert (stats.full_loads, stats.rows_read, stats.rows_deleted) == (1, 202, 2)

    # Writes to another namespace leave this one's matrix alone.
    writer.ensure_namespace("other", SPACE)
    writer.upsert("other", random_records(rng, 50))
    reader.search(["ns"], query)
    assert (reader.cache_stats.full_loads, reader.cache_stats.rows_read) == (1, 202)


def test_a_recreated_namespace_is_reloaded(
    pair: tuple[SQLiteStore, SQLiteStore], rng: np.random.Generator
) -> None:
    writer, reader = pair
    writer.ensure_namespace("ns", SPACE)
    writer.upsert("ns", random_records(rng, 20))
    reader.search(["ns"], np.ones(DIM))
    writer.delete_namespace("ns")
    writer.ensure_namespace("ns", SPACE)
    writer.upsert("ns", random_records(rng, 3, prefix="new"))
    assert len(reader.search(["ns"], np.ones(DIM), limit=100)) == 3
    assert reader.cache_stats.full_loads == 2


def test_a_reader_behind_the_trimmed_deletion_log_reloads(
    pair: tuple[SQLiteStore, SQLiteStore],
    rng: np.random.Generator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sqlite_transactions, "KEPT_DELETIONS", 5)
    writer, reader = pair
    writer.ensure_namespace("ns", SPACE)
    writer.upsert("ns", random_records(rng, 30))
    reader.search(["ns"], np.ones(DIM))
    for i in range(12):  # one transaction each, so the log is trimmed past the reader
        writer.delete("ns", [f"r{i:04d}"])
    log_rows = writer._connection().execute("SELECT count(*) FROM deletions").fetchone()[0]
    assert log_rows <= 6
    got = {m.id for m in reader.search(["ns"], np.ones(DIM), limit=100)}
    assert got == {f"r{i:04d}" for i in range(12, 30)}
    assert reader.cache_stats.full_loads == 2

    # A reader that keeps up still refreshes incrementally after the trim.
    writer.delete("ns", ["r0012"])
    assert len(reader.search(["ns"], np.ones(DIM), limit=100)) == 17
    assert reader.cache_stats.full_loads == 2


def test_a_failed_batch_changes_nothing_a_reader_sees(
    pair: tuple[SQLiteStore, SQLiteStore], rng: np.random.Generator
) -> None:
    writer, reader = pair
    writer.ensure_namespace("ns", SPACE)
    writer.upsert("ns", random_records(rng, 5))
    reader.search(["ns"], np.ones(DIM))
    seq_before = writer._connection().execute("SELECT value FROM store_state WHERE key='seq'")
    before = seq_before.fetchone()[0]
    with pytest.raises(InvalidInputError):
        writer.upsert("ns", [Record("ok", np.ones(DIM)), Record("bad", np.ones(3))])
    after = writer._connection().execute("SELECT value FROM store_state WHERE key='seq'")
    assert after.fetchone()[0] == before
    assert len(reader.search(["ns"], np.ones(DIM), limit=100)) == 5


# -- crash safety ------------------------------------------------------------------

CRASH_WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from same_same.records import EmbeddingSpace, Record
    from same_same.storage.sqlite import SQLiteStore

    store = SQLiteStore(sys.argv[1])
    store.ensure_namespace("ns", EmbeddingSpace("test", "random-8", "", 8))
    rng = np.random.default_rng(0)
    batch = 0
    while True:
        ids = [f"b{batch:05d}-{i:02d}" for i in range(50)]
        store.upsert("ns", [Record(i, rng.normal(size=8), metadata={"b": batch}) for i in ids])
        batch += 1
        print(batch, flush=True)
    """
)


def test_sigkill_mid_ingest_keeps_every_committed_batch(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CRASH_WRITER, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        committed = 0
        for line in child.stdout:
            committed = int(line)
            if committed >= 20:
                break
        assert committed >= 20, child.stderr.read() if child.stderr else ""
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        if child.stdout:
            child.stdout.close()
        if child.stderr:
            child.stderr.close()
    with SQLiteStore(tmp_path) as store:
        conn = store._connection()
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        total = store.count("ns")
        assert total >= committed * 50
        assert total % 50 == 0  # whole batches only
        batches = {meta["b"] for _, _, meta in store.scan_metadata("ns")}
        assert batches == set(range(total // 50))
        assert len(store.search(["ns"], np.ones(8), limit=total)) == total


# -- threads -----------------------------------------------------------------------


def test_threads_search_while_another_thread_writes(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    store = SQLiteStore(tmp_path)
    store.ensure_namespace("ns", SPACE)
    store.upsert("ns", random_records(rng, 100))
    batches = [random_records(np.random.default_rng(i), 10, prefix=f"t{i}-") for i in range(20)]
    errors: list[BaseException] = []
    sizes: list[int] = []

    def write() -> None:
        try:
            for batch in batches:
                store.upsert("ns", batch)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def search(seed: int) -> None:
        local = np.random.default_rng(seed)
        try:
            for _ in range(30):
                hits = store.search(["ns"], local.normal(size=DIM), limit=400)
                sizes.append(len(hits))
                assert len({m.id for m in hits}) == len(hits)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write)] + [
        threading.Thread(target=search, args=(seed,)) for seed in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert all(100 <= size <= 300 for size in sizes)
    assert len(store.search(["ns"], np.ones(DIM), limit=400)) == 300
    store.close()


# -- damaged, foreign and closed stores ---------------------------------------------


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "same-same.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError):
        SQLiteStore(tmp_path)


def test_a_data_dir_that_is_a_file_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="data directory"):
        SQLiteStore(tmp_path / "file")


def test_a_schema_3_store_gains_the_namespace_writers(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path) as store:
        store.ensure_namespace("old", SPACE)
        store.upsert("old", random_records(np.random.default_rng(3), 2))
    with sqlite3.connect(tmp_path / "same-same.db") as conn:  # as version 3 wrote it
        drop_keyword_schema(conn)
        conn.execute("ALTER TABLE namespaces DROP COLUMN writers")
        conn.execute("PRAGMA user_version = 3")
    conn.close()
    with SQLiteStore(tmp_path) as store:
        assert store.get_namespace("old").writers == ()  # what wrote it is not known
        store.upsert("old", random_records(np.random.default_rng(4), 1, "n"), writer="onnx-int8")
        assert store.get_namespace("old").writers == ("onnx-int8",)
        assert store.count("old") == 3
    conn = sqlite3.connect(tmp_path / "same-same.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5
    assert conn.execute("SELECT writers FROM namespaces").fetchall() == [('["onnx-int8"]',)]
    conn.close()


def test_a_store_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    SQLiteStore(tmp_path).close()
    conn = sqlite3.connect(tmp_path / "same-same.db")
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(StoreError, match="schema version 99"):
        SQLiteStore(tmp_path)


def test_a_closed_store_refuses_work(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path)
    store.ensure_namespace("ns", SPACE)
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.count()
    store.close()  # closing twice is fine


def test_a_locked_store_fails_with_a_store_error(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path)
    store.ensure_namespace("ns", SPACE)
    blocker = sqlite3.connect(tmp_path / "same-same.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        store._connection().execute("PRAGMA busy_timeout = 50")
        with pytest.raises(StoreError, match="locked"):
            store.upsert("ns", [Record("a", np.ones(DIM))])
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert store.upsert("ns", [Record("a", np.ones(DIM))]) == 1
    store.close()


def test_search_after_the_namespace_vanishes_between_searches(
    pair: tuple[SQLiteStore, SQLiteStore], rng: np.random.Generator
) -> None:
    writer, reader = pair
    writer.ensure_namespace("ns", SPACE)
    writer.upsert("ns", random_records(rng, 3))
    reader.search(["ns"], np.ones(DIM))
    writer.delete_namespace("ns")
    with pytest.raises(NamespaceNotFoundError):
        reader.search(["ns"], np.ones(DIM))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_opens_its_own_connection(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path)
    store.ensure_namespace("ns", SPACE)
    parent_conn = store._connection()
    pid = os.fork()
    if pid == 0:  # the child: write through the inherited store object
        code = 1
        try:
            store.upsert("ns", [Record("from-child", np.ones(DIM))])
            code = 0 if store._connection() is not parent_conn else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert store._connection() is parent_conn
    assert store.get("from-child", "ns")[0] == "ns"
    store.close()


def test_a_change_counter_that_went_back_means_a_full_reload(
    pair: tuple[SQLiteStore, SQLiteStore], rng: np.random.Generator
) -> None:
    """As after restoring an older copy of the file: the counter is lower than the reader
    last saw, so nothing the reader remembers can be trusted."""
    writer, reader = pair
    writer.ensure_namespace("ns", SPACE)
    writer.upsert("ns", random_records(rng, 5))
    reader.search(["ns"], np.ones(DIM))
    raw = sqlite3.connect(writer.path, isolation_level=None)
    raw.execute("DELETE FROM records WHERE id = 'r0000'")  # not logged, like a restore
    raw.execute("UPDATE store_state SET value = 1 WHERE key = 'seq'")
    raw.close()
    assert len(reader.search(["ns"], np.ones(DIM), limit=100)) == 4
    assert reader.cache_stats.full_loads == 2
