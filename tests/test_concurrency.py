"""A real server keeps answering while another process ingests, and sees every new vector."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path

from conftest import same_same_command
from server_fixtures import fetch_json, running_server

RECORDS = 6_000


def test_server_answers_while_ingest_writes(tmp_path: Path, data_dir: Path) -> None:
    source = tmp_path / "stream.jsonl"
    with source.open("w", encoding="utf-8") as handle:
        for i in range(RECORDS):
            handle.write(
                json.dumps({"id": f"s{i}", "text": f"note {i} on subject {i % 50}", "n": i}) + "\n"
            )

    with running_server(data_dir) as base:  # started before anything was ingested
        status, body = fetch_json("POST", base + "/api/v1/search", {"text": "subject 7"})
        assert status == 404 and "ingest" in json.dumps(body)

        # a process of its own: the server must see another process's commits
        ingest = subprocess.Popen(
            same_same_command("ingest", "-q", "-n", "live", "--batch-size", "100", str(source)),
            env=dict(os.environ, SAME_SAME_DATA_DIR=str(data_dir)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        statuses: list[int] = []
        counts: list[int] = []
        errors: list[str] = []

        def hammer() -> None:
            while ingest.poll() is None:
                status, body = fetch_json(
                    "POST",
                    base + "/api/v1/search",
                    {"text": "note on subject 7", "limit": 5, "filters": {"n": {"gte": 0}}},
                )
                statuses.append(status)
                if status == 200:
                    assert all(r["namespace"] == "live" for r in body["results"])
                elif status != 404:  # 404 only until the namespace exists
                    errors.append(json.dumps(body))
                status, body = fetch_json("GET", base + "/api/v1/vectors/count?namespace=live")
                if status == 200:
                    counts.append(body["count"])

        threads = [threading.Thread(target=hammer) for _ in range(3)]
        for thread in threads:
            thread.start()
        assert ingest.wait(timeout=300) == 0, ingest.stderr.read() if ingest.stderr else ""
        for thread in threads:
            thread.join(timeout=60)

        assert not errors, errors[:3]
        assert statuses.count(200) > 0
        assert 500 not in statuses
        assert counts, "no count was answered during the ingest"
        # Only whole batches ever become visible.
        assert all(c % 100 == 0 for c in counts)

        # No restart: the server sees everything that was committed.
        status, body = fetch_json("GET", base + "/api/v1/vectors/count?namespace=live")
        assert (status, body["count"]) == (200, RECORDS)
        status, body = fetch_json(
            "POST",
            base + "/api/v1/search",
            {"text": "note 5999 on subject 49", "limit": 1, "namespace": "live"},
        )
        assert status == 200 and body["results"][0]["id"] == "s5999"


def test_readme_text_quick_start(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("ingest", "-n", "quotes", "demo").returncode == 0
    result = cli("search", "imagination and knowledge", "-n", "quotes", "-k", "3")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and "Imagination is more important than knowledge" in lines[0]
    as_json = json.loads(cli("search", "imagination", "-n", "quotes", "-k", "2", "--json").stdout)
    assert as_json["results"][0]["metadata"]["author"] == "Albert Einstein"
