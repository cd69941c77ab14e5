"""Filtered searches of an indexed namespace follow another writer's commits exactly.

The searching store keeps the namespace's metadata index in memory and catches it
up from SQLite; these tests write through a second store object, and through a
second process while the first searches, and check that a filter sees every
record committed before the search began and never one deleted (or changed to
stop matching) before it began.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from same_same.records import Record
from same_same.storage.sqlite import SQLiteStore
from store_fixtures import CLUSTERED_DIM, INDEX_MIN_VECTORS, clustered, make_records
from store_fixtures import CLUSTERED_SPACE as SPACE
from store_fixtures import INDEX_SETTINGS as SETTINGS

FILTERS = [
    {"labels": {"contains": "w"}},
    {"batch": {"gte": 0}},
    {"batch": {"in": list(range(40))}},
    {"w": 1},
]


def filled(tmp_path: Path) -> tuple[SQLiteStore, np.ndarray]:
    store = SQLiteStore(tmp_path, SETTINGS)
    store.ensure_namespace("ns", SPACE)
    ids, vectors = clustered(800)
    store.upsert("ns", make_records(ids, vectors))
    return store, vectors


def writer_record(record_id: str, vector: np.ndarray, batch: int) -> Record:
    return Record(record_id, vector, metadata={"labels": ["w"], "batch": batch, "w": 1})


def test_a_second_store_writes_and_the_filters_follow_incrementally(tmp_path: Path) -> None:
    searcher, vectors = filled(tmp_path)
    writer = SQLiteStore(tmp_path, SETTINGS)
    query = vectors[3]
    assert searcher.search(["ns"], query, 50, filters=FILTERS[0]) == []
    expected: set[str] = set()
    for batch in range(6):
        ids = [f"w{batch}-{j}" for j in range(4)]
        writer.upsert("ns", [writer_record(i, vectors[j], batch) for j, i in enumerate(ids)])
        expected |= set(ids)
        if batch >= 1:  # one record stops matching, one is deleted
            writer.upsert("ns", [Record(f"w{batch - 1}-0", query, metadata={"labels": ["x"]})])
            writer.delete("ns", [f"w{batch - 1}-1"])
            expected -= {f"w{batch - 1}-0", f"w{batch - 1}-1"}
        for raw in FILTERS:
            found = {match.id for match in searcher.search(["ns"], query, 50, filters=raw)}
            assert found == expected, raw
    # built once, then caught up from the log and the newer records only
    assert searcher._metadata.stats.builds == 1
    assert searcher._metadata.stats.catch_ups >= 6
    assert searcher._metadata.stats.rows_deleted >= 5
    writer.close()
    searcher.close()


WRITER = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    from pathlib import Path
    from same_same.records import Record
    from same_same.storage.sqlite import SQLiteStore

    data_dir, rounds, dim = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    store = SQLiteStore(data_dir)
    rng = np.random.default_rng(7)
    count = 0

    def say(name):
        (data_dir / f"{name}.tmp").write_text(str(count))
        os.replace(data_dir / f"{name}.tmp", data_dir / name)

    def commit(write):
        # "started" before the commit may be seen, "done" once it surely is
        global count
        count += 1
        say("started")
        write()
        say("done")

    for batch in range(rounds):
        meta = {"labels": ["w"], "batch": batch, "w": 1}
        rows = [
            Record(f"w{batch}-{j}", rng.normal(size=dim).astype(np.float32), metadata=meta)
            for j in range(5)
        ]
        commit(lambda: store.upsert("ns", rows))
        vector = rng.normal(size=dim).astype(np.float32)
        relabeled = [Record(f"w{batch - 1}-0", vector, metadata={"labels": ["x"]})]
        commit(lambda: batch >= 1 and store.upsert("ns", relabeled))
        commit(lambda: batch >= 2 and store.delete("ns", [f"w{batch - 2}-{j}" for j in range(5)]))
    store.close()
    """
)


def match_span(record_id: str, rounds: int) -> tuple[int, int]:
    """``(u, e)``: the record matches after the writer's first ``m`` commits exactly when
    ``u < m <= e``."""
    batch, j = (int(part) for part in record_id[1:].split("-"))
    written = 3 * batch  # the batch's upsert is commit number 3 * batch + 1
    relabeled = 3 * (batch + 1) + 1 if j == 0 and batch + 1 < rounds else None
    deleted = 3 * (batch + 2) + 2 if batch + 2 < rounds else None
    ends = [end for end in (relabeled, deleted) if end is not None]
    return written, (min(ends) if ends else 10**9)


def read_progress(path: Path) -> int:
    try:
        return int(path.read_text())
    except (FileNotFoundError, ValueError):
        return 0


def test_filters_see_every_commit_of_another_process_while_it_writes(tmp_path: Path) -> None:
    searcher, vectors = filled(tmp_path)
    rounds = 25
    env = dict(os.environ, SAME_SAME_INDEX_MIN_VECTORS=str(INDEX_MIN_VECTORS))
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path), str(rounds), str(CLUSTERED_DIM)],
        env=env,
        stderr=subprocess.PIPE,
    )
    everyone = [f"w{batch}-{j}" for batch in range(rounds) for j in range(5)]
    searches = 0
    seen_midway: set[int] = set()
    try:
        while writer.poll() is None or searches == 0:
            for raw in FILTERS:
                before = read_progress(tmp_path / "done")
                found = {m.id for m in searcher.search(["ns"], vectors[3], 50, filters=raw)}
                after = read_progress(tmp_path / "started")
                if 0 < before < 3 * rounds:
                    seen_midway.add(before)
                for record_id in everyone:
                    written, ended = match_span(record_id, rounds)
                    # committed before the search began, and not undone before it ended
                    if written < before and after <= ended:
                        assert record_id in found, (raw, record_id, before, after)
                    # not begun before the search ended, or undone before it began
                    if after <= written or ended < before:
                        assert record_id not in found, (raw, record_id, before, after)
                searches += 1
    finally:
        returncode = writer.wait(timeout=300)
    assert returncode == 0, writer.stderr.read() if writer.stderr else ""
    assert read_progress(tmp_path / "done") == 3 * rounds
    assert len(seen_midway) > 1  # the searches did run while the writer wrote
    final = {m.id for m in searcher.search(["ns"], vectors[3], 50, filters=FILTERS[0])}
    assert final == {f"w{rounds - 2}-{j}" for j in range(1, 5)} | {
        f"w{rounds - 1}-{j}" for j in range(5)
    }
    assert searcher._metadata.stats.builds == 1
    searcher.close()
