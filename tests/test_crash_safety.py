"""SIGKILL during ingest leaves a readable store of whole batches; a rerun completes the job."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import same_same_command
from same_same.storage import STORE_ENV, open_store

# on the embedded store and on Milvus (milvus_fixtures.every_store sets $SAME_SAME_STORE)
pytestmark = pytest.mark.usefixtures("every_store")

RECORDS = 20_000
BATCH = 50


def write_jsonl(path: Path) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for i in range(RECORDS):
            handle.write(
                json.dumps({"id": f"r{i}", "text": f"record number {i} about topic {i % 97}"})
                + "\n"
            )


def count_or_zero(data_dir: Path) -> int:
    if not data_dir.exists() and not os.environ.get(STORE_ENV, "").startswith("milvus"):
        return 0
    with open_store(data_dir) as store:
        return sum(ns.count for ns in store.list_namespaces())


def test_sigkill_mid_ingest_then_rerun(tmp_path: Path, data_dir: Path) -> None:
    source = tmp_path / "big.jsonl"
    write_jsonl(source)
    # a process of its own, to be killed
    command = same_same_command(
        "ingest", "-q", "-n", "crash", "--batch-size", str(BATCH), str(source)
    )
    env = dict(os.environ, SAME_SAME_DATA_DIR=str(data_dir))

    counts = []
    for kill_after in (1, 3 * BATCH):  # right after the first commit, then a little later
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        baseline = counts[-1] if counts else 0
        while time.monotonic() < deadline and proc.poll() is None:
            if count_or_zero(data_dir) >= baseline + kill_after:
                break
            time.sleep(0.005)
        assert proc.poll() is None, (
            "ingest finished before it could be killed; make the input bigger"
        )
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        count = count_or_zero(data_dir)  # the store opens and reads after the kill
        assert 0 < count < RECORDS
        assert count % BATCH == 0, "a batch was half-committed"
        counts.append(count)

    rerun = subprocess.run(
        [*command, "--json"], env=env, capture_output=True, text=True, timeout=600
    )
    assert rerun.returncode == 0, rerun.stderr
    report = json.loads(rerun.stdout)
    assert report["unchanged"] == counts[-1]
    assert report["stored"] == RECORDS - counts[-1]
    assert count_or_zero(data_dir) == RECORDS
    with open_store(data_dir) as store:
        _, record = store.get("r12345", "crash")
        assert record.text == "record number 12345 about topic 26"
