"""Fuzz the API against its own OpenAPI document with schemathesis, over a real server.

``same-same serve`` (a subprocess on 127.0.0.1) serves a store holding a little of
everything: texts embedded by the local model, raw vectors, and an image the image
ingest would have written. schemathesis (its CLI, in a subprocess) sends schema-valid
and schema-violating requests to every operation and checks each answer: no 5xx, the
status documented, the body matching the documented schema, the content type and
headers documented, invalid input refused.

``positive_data_acceptance`` is left out: it expects every schema-valid request to
succeed, while some rules cannot be said in JSON Schema (``text`` and its synonym
``query`` are exclusive; a vector must have its namespace's dimension; a record must
exist), and the API rightly answers those with a documented 400 or 404.

Bounded and repeatable: a fixed number of examples per operation, one worker, and
schemathesis's deterministic generation (no random seed, no example database).
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from same_same.records import EmbeddingSpace, Record
from same_same.storage import open_store
from same_same.vectors import VectorService
from server_fixtures import running_server

pytest.importorskip("schemathesis", reason="schemathesis is in the [dev] extra")

API_KEY = "fuzz-key"
MAX_EXAMPLES = 60
"""Per operation and phase: well under a minute on two cores for the whole API."""
RUN_TIMEOUT_S = 600
EXCLUDED_CHECKS = "positive_data_acceptance"


def fill_store(data_dir: Path, picture: Path) -> None:
    Image.new("RGB", (96, 64), (30, 120, 200)).save(picture)
    with open_store(data_dir) as store:
        service = VectorService(store)
        for text in ["a red apple", "a blue sky over the sea", "green grass"]:
            service.add_text(text, namespace="texts", metadata={"year": 2020, "tag": "t"})
        service.add_vector([1.0, 0.0, 0.0, 0.5], record_id="v1", namespace="raw")
        store.ensure_namespace("pics", EmbeddingSpace("test", "fixed", "", 4))
        digest = hashlib.sha256(picture.read_bytes()).hexdigest()
        metadata = {"type": "image", "abs_path": str(picture), "path": picture.name}
        vector = np.array([0, 1, 0, 0], np.float32)
        store.upsert("pics", [Record("p1", vector, None, metadata, digest, True)])


def run_schemathesis(base_url: str, workdir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{base_url}/openapi.json",
        "--checks",
        "all",
        "--exclude-checks",
        EXCLUDED_CHECKS,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--generation-deterministic",
        "--workers",
        "1",
        "--request-timeout",
        "60",
        "--no-color",
        *extra,
    ]
    env = {**os.environ, "SCHEMATHESIS_TELEMETRY": "false", "HF_HUB_OFFLINE": "1"}
    # cwd: schemathesis keeps files of its own (.schemathesis/) in its working directory
    return subprocess.run(
        command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, env=env, cwd=workdir
    )


def summary_of(result: subprocess.CompletedProcess[str]) -> str:
    output = result.stdout + result.stderr
    start = output.find("FAILURES")
    return output[start if start >= 0 else 0 :][-12_000:]


def test_the_api_keeps_its_openapi_contract_under_fuzzing(tmp_path: Path) -> None:
    data_dir = tmp_path / "store"
    fill_store(data_dir, tmp_path / "picture.png")
    with running_server(data_dir, extra_args=["--api-key", API_KEY]) as base_url:
        with_key = run_schemathesis(
            base_url, tmp_path, "--header", f"Authorization: Bearer {API_KEY}"
        )
        # Without the key every /api/ answer is the documented 401, for undeclared
        # methods too: the key is checked before routing, so an anonymous caller learns
        # nothing about the routes (hence no unsupported_method check here).
        without_key = run_schemathesis(
            base_url,
            tmp_path,
            "--max-examples",
            "3",
            "--exclude-checks",
            f"{EXCLUDED_CHECKS},unsupported_method",
        )
    for result in (with_key, without_key):
        assert result.returncode == 0, summary_of(result)
        output = result.stdout
        assert re.search(r"Tested:\s+16", output), output[-3000:]
        assert "Server error" not in output and "Response violates schema" not in output
