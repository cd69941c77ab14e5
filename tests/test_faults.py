"""Faults the embedded store survives, each asserting that nothing committed is lost.

SIGKILL at random points of text and image ingests (the kill points come from a
seeded generator, printed on failure); an ingest killed again and again before it
could save an index keeps the index work it did; a full disk (a small tmpfs) while
committing and while saving the index; a read-only data directory (a read-only bind
mount) that still serves reads. Errors are one line without paths or SQL.

The mounts need root, as in CI; elsewhere those tests skip and say why. The Milvus
store keeps its data in its server: these faults are the server's business there.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli, run_process, same_same_command
from fault_fixtures import (
    fill_disk,
    kill_after,
    read_only_view,
    small_disk,
    stored_ids,
    write_jsonl,
)
from same_same.errors import InvalidInputError, ReadOnlyStoreError, StoreError
from same_same.records import EmbeddingSpace, Record
from same_same.server import ServerSettings
from same_same.storage import open_store
from same_same.storage.index_files import IndexFiles
from same_same.storage.index_settings import MIN_VECTORS_ENV, IndexSettings
from same_same.storage.sqlite import SQLiteStore
from same_same.storage.sqlite_transactions import describe_sqlite_error
from server_fixtures import fetch_json, running_app_server

SEED = int(os.environ.get("SAME_SAME_FAULT_SEED", "9"))
NS = "faults"
BATCH = 50
INDEX_ON = {MIN_VECTORS_ENV: "300", "SAME_SAME_INDEX_SAVE_CHANGES": "200"}
INDEX_OFF = {MIN_VECTORS_ENV: "off"}


def ingest_command(source: Path, data_dir: Path, *extra: str) -> list[str]:
    return same_same_command(
        "ingest", "-q", "-n", NS, "--batch-size", str(BATCH), "--data-dir", str(data_dir),
        *extra, str(source),
    )  # fmt: skip


def ingest(
    source: Path, data_dir: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The real ``ingest`` command, in this process."""
    return run_cli(
        "ingest", "-q", "-n", NS, "--batch-size", str(BATCH), str(source),
        data_dir=data_dir, env=env,
    )  # fmt: skip


def leftovers(data_dir: Path) -> list[str]:
    index = data_dir / "index"
    return sorted(path.name for path in index.glob("*.tmp")) if index.is_dir() else []


# -- SIGKILL ------------------------------------------------------------------


def test_sigkill_at_random_points_of_a_text_ingest_loses_nothing_committed(
    tmp_path: Path,
) -> None:
    records = 8000
    source = write_jsonl(tmp_path / "texts.jsonl", records)
    data_dir = tmp_path / "store"
    env = {**os.environ, **INDEX_ON}  # kills also land in index builds and saves
    rng = random.Random(SEED)
    seen: set[str] = set()
    for kill in range(3):
        # A kill point is a count of new records to reach, then a short delay: a delay
        # alone let a fast machine finish the whole ingest before the kill.
        at_least, delay = rng.randrange(1, 1000), rng.uniform(0.0, 0.15)
        kill_after(ingest_command(source, data_dir), env, data_dir, NS, delay, at_least)
        now = stored_ids(data_dir, NS)  # the store opens and reads after the kill
        context = f"seed {SEED}, kill {kill} after {at_least} records and {delay:.2f}s"
        assert seen <= now, f"committed records were lost ({context})"
        assert 0 < len(now) < records and len(now) % BATCH == 0, context
        seen = now
    rerun = run_process(*ingest_command(source, data_dir)[3:], "--json", env=INDEX_ON)
    assert rerun.returncode == 0, rerun.stderr
    report = json.loads(rerun.stdout)
    assert (report["unchanged"], report["stored"]) == (len(seen), records - len(seen))
    assert stored_ids(data_dir, NS) == {f"r{i}" for i in range(records)}
    assert leftovers(data_dir) == []  # a save that was killed halfway was cleaned up


def test_sigkill_at_random_points_of_an_image_ingest_loses_nothing_committed(
    tmp_path: Path,
) -> None:
    pytest.importorskip("torch", reason="needs the [clip] extra")
    from PIL import Image

    pictures = tmp_path / "pics"
    pictures.mkdir()
    colours = np.random.default_rng(SEED).integers(0, 256, size=(400, 3))
    for i, colour in enumerate(colours):
        Image.new("RGB", (24, 24), tuple(int(c) for c in colour)).save(pictures / f"{i:03}.png")
    data_dir = tmp_path / "store"
    command = same_same_command(
        "ingest", "-q", "-e", "clip", "--clip-model", "same-same-tiny-clip", "--device", "cpu",
        "--batch-size", "8", "--workers", "1", "-n", NS, "--data-dir", str(data_dir),
        f"images:{pictures}",
    )  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **INDEX_ON}
    rng = random.Random(SEED + 1)
    seen: set[str] = set()
    for kill in range(2):
        # The tiny model is fast: a kill point is a count to reach, then a short delay.
        at_least, delay = rng.randrange(8, 120), rng.uniform(0.0, 0.1)
        kill_after(command, env, data_dir, NS, delay, at_least)
        now = stored_ids(data_dir, NS)
        context = f"seed {SEED + 1}, kill {kill} after {at_least} images and {delay:.2f}s"
        assert seen <= now and 0 < len(now) < len(colours), context
        seen = now
    rerun = run_process(*command[3:], "--json", env={"HF_HUB_OFFLINE": "1", **INDEX_ON})
    assert rerun.returncode == 0, rerun.stderr
    report = json.loads(rerun.stdout)
    assert report["unchanged"] == len(seen)
    assert report["stored"] == len(colours) - len(seen)
    assert len(stored_ids(data_dir, NS)) == len(colours)


# The child dies at a chosen point of the index work: once it has inserted LIMIT vectors
# into an index. Only the moment of death is injected; the ingest and the index are real.
KILLED_INGEST = textwrap.dedent(
    """
    import os, signal, sys
    from same_same.storage import ann_index

    LIMIT = int(os.environ["KILL_AFTER_VECTORS"])
    upsert = ann_index.VectorIndex.upsert
    inserted = 0

    def dying_upsert(self, keys, vectors):
        global inserted
        if inserted + len(keys) > LIMIT:
            os.kill(os.getpid(), signal.SIGKILL)
        upsert(self, keys, vectors)
        inserted += len(keys)

    ann_index.VectorIndex.upsert = dying_upsert
    from same_same.cli import main
    main(sys.argv[1:])
    """
)


def test_an_ingest_killed_before_its_first_index_save_keeps_its_index_work(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "store"
    first = write_jsonl(tmp_path / "first.jsonl", 1200)
    assert ingest(first, data_dir, env=INDEX_OFF).returncode == 0  # no index yet
    second = write_jsonl(tmp_path / "second.jsonl", 400, start=1200)
    files = IndexFiles.of(data_dir, NS)
    env = {**os.environ, **INDEX_ON, "KILL_AFTER_VECTORS": "300"}
    counts = []
    for _ in range(4):
        # Each run commits a batch, then starts indexing 1,250+ records and dies after 300.
        done = run_python(KILLED_INGEST, *ingest_command(second, data_dir)[3:], env=env)
        assert done.returncode == -9, done.stderr[-2000:]
        sidecar = files.read_sidecar()
        assert sidecar is not None, "nothing of the index work was saved"
        counts.append(sidecar["count"])
    # Every run went on from the last checkpoint instead of starting again from zero.
    # (A checkpoint ends at a whole batch of commits: 150 of each run's 300 vectors here.)
    gains = [after - before for before, after in zip([0, *counts], counts, strict=False)]
    assert min(gains) >= 100, counts
    finished = ingest(second, data_dir, env=INDEX_ON)
    assert finished.returncode == 0, finished.stderr
    sidecar = files.read_sidecar()
    assert sidecar is not None and sidecar["count"] == 1600
    assert leftovers(data_dir) == []


def run_python(script: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, env=env,
        timeout=300,
    )  # fmt: skip


# -- a full disk --------------------------------------------------------------


def test_disk_full_while_committing_is_one_line_naming_what_is_stored(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "texts.jsonl", 1500)
    with small_disk(tmp_path / "disk", "16m") as disk:
        data_dir = disk / "store"
        first = write_jsonl(tmp_path / "one.jsonl", 1, start=10_000)
        assert ingest(first, data_dir).returncode == 0
        filler = fill_disk(disk, leave_bytes=600_000)  # a few batches, not 1,500 records
        done = ingest(source, data_dir, env=INDEX_OFF)
        assert done.returncode == 1, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
        assert lines[0].startswith("error: disk full while storing a batch; "), lines[0]
        stored = int(lines[0].split("; ")[1].split()[0])
        assert str(disk) not in lines[0]
        filler.unlink()
        # readable afterwards, holding exactly what the line said, in whole batches
        ids = stored_ids(data_dir, NS)
        assert len(ids) == stored and (stored - 1) % BATCH == 0 and stored > 1
        again = ingest(source, data_dir, env=INDEX_OFF)
        assert again.returncode == 0, again.stderr
        assert len(stored_ids(data_dir, NS)) == 1501


def test_disk_full_while_saving_the_index_keeps_the_records_and_the_last_good_index(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with small_disk(tmp_path / "disk", "16m") as disk:
        data_dir = disk / "store"
        done = ingest(write_jsonl(tmp_path / "first.jsonl", 1500), data_dir, env=INDEX_ON)
        assert done.returncode == 0, done.stderr
        files = IndexFiles.of(data_dir, NS)
        good = files.read_sidecar()
        assert good is not None and good["count"] == 1500
        # Room for a batch of rows (about 150 KB), not for an index of 1,550 (about 2 MB).
        filler = fill_disk(disk, leave_bytes=700_000)
        more = write_jsonl(tmp_path / "more.jsonl", BATCH, start=1500)
        done = ingest(more, data_dir, env=INDEX_ON)
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr and str(disk) not in done.stderr
        last = done.stderr.strip().splitlines()[-1]
        assert last.startswith("error: disk full while saving the index; all 1550 records")
        assert f"stored {BATCH} records" in done.stderr  # the summary still came
        assert leftovers(data_dir) == []  # temporary files removed
        assert files.read_sidecar() == good  # the last good index is still the one named
        assert len(stored_ids(data_dir, NS)) == 1550

        # A server on the full disk serves from the last good index and shuts down cleanly.
        settings = ServerSettings(data_dir=data_dir)
        with caplog.at_level(logging.WARNING), running_app_server(settings) as url:
            status, body = fetch_json(
                "POST", url + "/api/v1/search", {"query": "record number 1520", "limit": 1}
            )
            assert status == 200, body
            assert body["results"][0]["id"] == "r1520"
        assert "Application shutdown failed" not in caplog.text
        assert leftovers(data_dir) == []
        filler.unlink()


# -- a read-only data directory -------------------------------------------------


def test_a_read_only_store_serves_reads_and_refuses_writes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "store"
    done = ingest(write_jsonl(tmp_path / "texts.jsonl", 400), data_dir, env=INDEX_OFF)
    assert done.returncode == 0
    with read_only_view(data_dir, tmp_path / "ro") as view:
        found = run_cli("search", "record number 123", "-k", "1", "--json", data_dir=view)
        assert found.returncode == 0, found.stderr
        assert json.loads(found.stdout)["results"][0]["id"] == "r123"
        listed = run_cli("namespaces", data_dir=view)
        assert listed.returncode == 0 and NS in listed.stdout, listed.stderr
        refused = ingest(tmp_path / "texts.jsonl", view)
        assert refused.returncode == 1
        assert refused.stderr.count("\n") == 1 and "read-only" in refused.stderr
        assert str(view) not in refused.stderr

        # A large namespace and no saved index: built in memory, said once.
        with caplog.at_level(logging.WARNING):
            with SQLiteStore(view, index_settings_for(300)) as store:
                for probe in ("record number 7", "record number 8"):
                    store.search([NS], store_query(store, probe), limit=1)
                assert store.index_stats.builds == 1 and store.index_stats.saves == 0
                with pytest.raises(ReadOnlyStoreError, match="read-only"):
                    store.upsert(NS, [Record("x", np.ones(512))])
        assert caplog.text.count("kept in memory, not saved") == 1

        with (
            caplog.at_level(logging.WARNING),
            running_app_server(ServerSettings(data_dir=view)) as url,
        ):
            status, body = fetch_json("POST", url + "/api/v1/search", {"query": "record 5"})
            assert status == 200 and body["results"], body
            record = {"id": "new", "embedding": [1.0] * 512, "namespace": NS}
            status, body = fetch_json("POST", url + "/api/v1/vectors", record)
            assert status == 403, body
            assert body["error"]["code"] == "store_read_only"
            assert "read-only" in body["error"]["message"]
            assert str(view) not in json.dumps(body)
        assert "read-only" in caplog.text  # the server said so when it started
        assert "Application shutdown failed" not in caplog.text
    assert len(stored_ids(data_dir, NS)) == 400


def test_a_store_killed_mid_ingest_then_mounted_read_only_shows_every_commit(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "store"
    source = write_jsonl(tmp_path / "texts.jsonl", 4000)
    env = {**os.environ, **INDEX_OFF}
    kill_after(ingest_command(source, data_dir), env, data_dir, NS, 0.3)
    assert (data_dir / "same-same.db-wal").exists()  # its last commits are in the WAL
    # Copied as the kill left them: the writable view would fold the WAL into the file.
    snapshot = tmp_path / "snapshot"
    shutil.copytree(data_dir, snapshot)
    committed = stored_ids(data_dir, NS)
    with read_only_view(snapshot, tmp_path / "ro") as view:
        assert stored_ids(view, NS) == committed
    # The same without the -shm file: refused in one line rather than read without the WAL.
    (snapshot / "same-same.db-shm").unlink()
    with read_only_view(snapshot, tmp_path / "ro2") as view:
        with pytest.raises(StoreError, match="cannot read") as refused:
            open_store(view)
        assert "writable" in str(refused.value)


# -- messages without paths or SQL ---------------------------------------------


def test_sqlite_errors_reach_clients_without_the_path_or_the_sql(tmp_path: Path) -> None:
    conn = sqlite3.connect(":memory:")
    deep = "SELECT " + " + ".join(["1"] * 5000)
    with pytest.raises(sqlite3.Error) as raised:
        conn.execute(deep)
    error = describe_sqlite_error(raised.value, tmp_path / "same-same.db")
    assert isinstance(error, InvalidInputError) and error.status == 400
    assert "too complex" in error.message
    assert str(tmp_path) not in str(error) and "SELECT" not in str(error)


def test_a_damaged_store_is_a_clean_error_without_its_path(tmp_path: Path) -> None:
    data_dir = tmp_path / "store"
    assert ingest(write_jsonl(tmp_path / "texts.jsonl", 300), data_dir).returncode == 0
    database = data_dir / "same-same.db"
    with sqlite3.connect(database) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        (root,) = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'records'"
        ).fetchone()
    conn.close()
    data = bytearray(database.read_bytes())
    start = (root - 1) * page_size  # the records table's root page: zeros; the rest intact
    data[start : start + page_size] = bytes(page_size)
    database.write_bytes(bytes(data))
    done = run_cli("search", "record", data_dir=data_dir)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    assert str(tmp_path) not in done.stderr and "SELECT" not in done.stderr
    with running_app_server(ServerSettings(data_dir=data_dir)) as url:
        status, body = fetch_json("POST", url + "/api/v1/search", {"query": "record"})
    assert 400 <= status < 600 and set(body) == {"error"}, body
    assert str(tmp_path) not in json.dumps(body) and "SELECT" not in json.dumps(body)


# -- helpers --------------------------------------------------------------------


def index_settings_for(min_vectors: int) -> IndexSettings:
    return IndexSettings(min_vectors=min_vectors)


def store_query(store: SQLiteStore, text: str) -> np.ndarray:
    from same_same.embedders import EmbedderOptions, create_embedder

    info = store.get_namespace(NS)
    assert isinstance(info.space, EmbeddingSpace)
    embedder = create_embedder(info.space.embedder, EmbedderOptions())
    return np.asarray(embedder.embed_texts([text])[0])
