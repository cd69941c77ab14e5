"""``/metrics`` of a real ``same-same serve`` on 127.0.0.1 (the real CLI in a process of its
own), watching a folder with the bundled tiny CLIP model, behind ``--metrics-auth``; and
the Grafana dashboard in docs/, whose every metric must be in such a scrape."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("open_clip", reason="needs the [clip] extra")
pytest.importorskip("watchdog", reason="needs the [watch] extra")

from PIL import Image  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from relevance_fixtures import tiny_model_args  # noqa: E402
from server_fixtures import fetch_json, running_server  # noqa: E402

NS = "watched"
KEY = "s3cret"
DEADLINE_S = 90.0
DASHBOARD = Path(__file__).resolve().parents[1] / "docs" / "grafana-dashboard.json"


def scrape(base_url: str, key: str | None = KEY) -> tuple[int, str]:
    headers = {"X-API-Key": key} if key else {}
    request = urllib.request.Request(base_url + "/metrics", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8")


def samples_of(text: str) -> list[Any]:
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def names_in(text: str) -> set[str]:
    """Every name a query may use: families and their samples (``_total``, ``_bucket``...)."""
    names: set[str] = set()
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(family.name + suffix for suffix in suffixes.get(family.type, []))
        names.update(sample.name for sample in family.samples)
    return names


def value(text: str, name: str, **labels: str) -> float:
    return sum(
        s.value
        for s in samples_of(text)
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def wait_until(what: str, condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {DEADLINE_S:.0f} s: {what}")


def write_jpeg(path: Path, seed: int) -> None:
    pixels = np.random.default_rng(seed).integers(0, 256, (96, 96, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, "JPEG")


def dashboard_metrics() -> set[str]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    exprs += [
        variable["query"]
        for variable in dashboard["templating"]["list"]
        if variable["type"] == "query"
    ]
    found = {name for expr in exprs for name in re.findall(r"\b(?:same_same|process)_\w+", expr)}
    assert found, "the dashboard queries no metric"
    return found


def test_metrics_of_a_real_server_with_a_watch_behind_the_key(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    write_jpeg(folder / "first.jpg", 1)
    write_jpeg(folder / "second.jpg", 2)
    args = [
        "--api-key", KEY, "--metrics-auth",
        "--watch", f"images:{folder}", "-e", "clip", *tiny_model_args(), "-n", NS,
        "--settle", "0.3",
    ]  # fmt: skip
    with running_server(tmp_path / "store", extra_args=args) as base_url:
        status, body = scrape(base_url, key=None)
        assert status == 401 and json.loads(body)["error"]["code"] == "unauthorized"
        assert scrape(base_url, key="wrong")[0] == 401

        def added(count: int) -> bool:
            text = scrape(base_url)[1]
            return value(text, "same_same_ingest_files_total", namespace=NS, outcome="added") == (
                count
            )

        wait_until("the first pass counted", lambda: added(2))
        write_jpeg(folder / "third.jpg", 3)
        wait_until("the new file counted", lambda: added(3))

        headers = {"X-API-Key": KEY}
        for mode in ("vector", "hybrid"):
            status, payload = fetch_json(
                "POST",
                base_url + "/api/v1/search",
                {"text": "a photo", "namespace": NS, "mode": mode},
                headers=headers,
            )
            assert status == 200, payload
        for _ in range(2):
            status, _ = fetch_json("GET", f"{base_url}/api/v1/vectors/x/{NS}", headers=headers)
            assert status == 404

        status, text = scrape(base_url)
        assert status == 200
        assert value(text, "same_same_vectors", namespace=NS) == 3
        searches = "same_same_search_duration_seconds_count"
        assert value(text, searches, mode="vector", kind="text") == 1
        assert value(text, searches, mode="hybrid", kind="text") == 1
        route = "/api/v1/vectors/{record_id:path}"
        requests = "same_same_http_requests_total"
        assert value(text, requests, method="GET", route=route, status="404") == 2
        assert not any("x/" + NS in s.labels.get("route", "") for s in samples_of(text))
        assert value(text, "same_same_ingest_passes_total", namespace=NS) >= 2
        loads = [s for s in samples_of(text) if s.name == "same_same_model_load_seconds"]
        assert {s.labels["use"] for s in loads} == {"query"}
        assert value(text, "process_resident_memory_bytes") > 0

        missing = dashboard_metrics() - names_in(text)
        assert not missing, f"docs/grafana-dashboard.json queries metrics no scrape has: {missing}"


def test_every_metric_named_in_the_docs_is_in_a_scrape(tmp_path: Path) -> None:
    docs = (DASHBOARD.parent / "metrics.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`((?:same_same|process)_\w+)`", docs))
    with running_server(tmp_path / "store") as base_url:
        status, text = scrape(base_url, key=None)  # open by default
    assert status == 200
    names = names_in(text)
    assert not documented - names, (
        f"docs/metrics.md names metrics no scrape has: {documented - names}"
    )
    # prometheus-client's _created series go with each counter and histogram
    ours = {n for n in names if n.startswith("same_same_") and not n.endswith("_created")}
    families = {family.name for family in text_string_to_metric_families(text)}
    undocumented = {
        name
        for name in ours & families
        if name not in documented and f"{name}_total" not in documented
    }
    assert not undocumented, f"docs/metrics.md does not describe {undocumented}"


def test_each_worker_labels_its_own_series(tmp_path: Path) -> None:
    seen: list[tuple[str, set[str]]] = []
    with running_server(tmp_path / "store", extra_args=["--workers", "2"]) as base_url:
        # each scrape is counted by the worker that answered it, after its answer: so a
        # worker's second scrape shows its first
        for _ in range(40):
            status, text = scrape(base_url, key=None)
            assert status == 200
            (info,) = [s for s in samples_of(text) if s.name == "same_same_server_info"]
            requests = [s for s in samples_of(text) if s.name == "same_same_http_requests_total"]
            seen.append((info.labels["pid"], {s.labels["worker"] for s in requests}))
            if requests:
                break
    pid, workers = seen[-1]
    assert workers == {pid}, seen
