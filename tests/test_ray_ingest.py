"""``same-same ingest --ray``: the image pipeline on a real local Ray cluster, checked against
the local pipeline with the bundled tiny CLIP, real photos and a real SQLite store.

One cluster (2 CPUs, loopback, no dashboard) serves every test of this file; the
ingest reuses a cluster this process is already connected to, as a Python caller's.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray", reason="needs the [ray] extra")
pytestmark = pytest.mark.clip

from clip_fixtures import real_photo_paths, tiny_model_paths  # noqa: E402
from conftest import run_cli  # noqa: E402
from format_fixtures import write_animation  # noqa: E402
from image_fixtures import halves, save_image  # noqa: E402
from milvus_fixtures import drop_scope, milvus_spec  # noqa: E402
from same_same.cli.ray_option import looks_like_cluster_address, normalize_ray_flag  # noqa: E402
from same_same.errors import MissingDependencyError  # noqa: E402
from same_same.records import Record  # noqa: E402
from same_same.storage import open_store  # noqa: E402

NS = "photos"


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[None]:
    import ray

    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        log_to_driver=False,
        logging_level="ERROR",
    )
    yield
    ray.shutdown()


def tiny_args() -> list[str]:
    config, weights = tiny_model_paths()
    return ["-e", "clip", "--clip-model", str(config), "--clip-pretrain", str(weights),
            "--device", "cpu", "-n", NS, "-q", "--json"]


Done = subprocess.CompletedProcess[str]


def ingest(data_dir: Path, *args: str) -> tuple[dict[str, object], Done]:
    done = run_cli("ingest", *tiny_args(), *args, data_dir=data_dir)
    assert done.returncode in (0, 3), done.stderr
    return json.loads(done.stdout), done


def skipping_lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    return sorted(line for line in done.stderr.splitlines() if line.startswith("skipping "))


def records(data_dir: Path) -> dict[str, Record]:
    with open_store(data_dir) as store:
        listed = store.list_records(NS, limit=10_000, with_vectors=True)
    return {record.id: record for record in listed}


def make_images(root: Path, count: int) -> list[Path]:
    return [
        save_image(halves((48, 40), (40 * i % 256, 255 - 30 * i, 90), (0, 0, 255), "RGB"),
                   root / f"made{i}.{'jpg' if i % 2 else 'png'}")
        for i in range(count)
    ]


# -- the same records as the local pipeline ----------------------------------------


def test_ray_and_local_store_the_same_records(ray_cluster: None, tmp_path: Path) -> None:
    folder = tmp_path / "pics"
    folder.mkdir()
    for photo in real_photo_paths():
        shutil.copy(photo, folder / photo.name)
    make_images(folder / "made", 3)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    write_animation(folder / "loop.gif", "GIF")

    local, local_done = ingest(tmp_path / "local", "--batch-size", "4", f"images:{folder}")
    on_ray, ray_done = ingest(tmp_path / "ray", "--batch-size", "4", "--ray", f"images:{folder}")

    assert local_done.returncode == ray_done.returncode == 3
    assert skipping_lines(ray_done) == skipping_lines(local_done)
    assert [line.split(":")[0] for line in skipping_lines(ray_done)] == [
        f"skipping {folder / 'broken.jpg'}"
    ]
    for key in ("seen", "stored", "skipped", "unchanged", "reused", "failed"):
        assert on_ray[key] == local[key], key
    expected = records(tmp_path / "local")
    got = records(tmp_path / "ray")
    assert sorted(got) == sorted(expected) and len(got) == len(real_photo_paths()) + 4
    for record_id, record in got.items():
        twin = expected[record_id]
        assert record.metadata == twin.metadata
        assert record.content_hash == twin.content_hash
        if record.metadata.get("animated"):
            # Ray's pixels travel in one shape: it embeds the first frame that is not
            # blank, where a local run takes the mean of a few frames (imaging.frames)
            assert record.metadata["frames"] == 6
            continue
        assert float(np.dot(record.vector, twin.vector)) >= 0.9999


def test_ray_into_milvus_stores_what_a_local_ingest_stores(
    ray_cluster: None, tmp_path: Path, milvus_address: str
) -> None:
    folder = tmp_path / "pics"
    make_images(folder, 5)
    spec = milvus_spec(milvus_address, tmp_path)
    try:
        local, _ = ingest(tmp_path / "local", f"images:{folder}")
        on_ray, _ = ingest(tmp_path / "ray", "--store", spec, "--ray", f"images:{folder}")
        assert on_ray["stored"] == local["stored"] == 5
        with open_store(tmp_path / "ray", spec) as store:
            listed = store.list_records(NS, limit=100, with_vectors=True)
        got = {record.id: record for record in listed}
        expected = records(tmp_path / "local")
        assert sorted(got) == sorted(expected)
        for record_id, record in got.items():
            assert record.metadata == expected[record_id].metadata
            assert float(np.dot(record.vector, expected[record_id].vector)) >= 0.9999
        again, _ = ingest(tmp_path / "ray", "--store", spec, "--ray", f"images:{folder}")
        assert (again["unchanged"], again["stored"]) == (5, 0)  # nothing re-embedded
    finally:
        drop_scope(spec)


# -- incremental rules -------------------------------------------------------------


def test_rerun_touch_move_and_prune(ray_cluster: None, tmp_path: Path) -> None:
    folder = tmp_path / "pics"
    paths = make_images(folder, 5)
    data = tmp_path / "store"
    first, _ = ingest(data, "--ray=auto", f"images:{folder}")
    assert (first["stored"], first["reused"]) == (5, 0)
    before = records(data)

    again, _ = ingest(data, "--ray", "auto", f"images:{folder}")
    assert (again["stored"], again["unchanged"], again["reused"]) == (0, 5, 0)

    os.utime(paths[0], (1_000_000_000, 1_000_000_000))  # same bytes, new mtime
    (folder / "sub").mkdir()
    moved = paths[1].rename(folder / "sub" / "moved.png")
    changed, _ = ingest(data, "--ray", f"images:{folder}")
    assert (changed["stored"], changed["reused"], changed["moved"], changed["unchanged"]) == (
        2, 2, 1, 3,
    )
    after = records(data)
    assert len(after) == 5
    by_path = {record.metadata["path"]: record for record in after.values()}
    old_by_path = {record.metadata["path"]: record for record in before.values()}
    assert np.array_equal(by_path["sub/moved.png"].vector, old_by_path[paths[1].name].vector)
    assert np.array_equal(by_path[paths[0].name].vector, old_by_path[paths[0].name].vector)
    assert by_path[paths[0].name].metadata["mtime"] == 1_000_000_000
    assert paths[1].name not in by_path and moved.exists()

    paths[2].unlink()
    kept, _ = ingest(data, "--ray", f"images:{folder}")
    assert kept["pruned"] == 0 and len(records(data)) == 5  # kept until --prune
    pruned, _ = ingest(data, "--ray", "--prune", f"images:{folder}")
    assert (pruned["pruned"], pruned["stored"], pruned["unchanged"]) == (1, 0, 4)
    assert len(records(data)) == 4


def test_dry_run_writes_nothing_and_sample_resumes(ray_cluster: None, tmp_path: Path) -> None:
    folder = tmp_path / "pics"
    make_images(folder, 6)
    data = tmp_path / "store"
    dry, _ = ingest(data, "--ray", "--dry-run", f"images:{folder}")
    assert dry["dry_run"] and dry["stored"] == 6
    with open_store(data) as store:
        assert store.list_namespaces() == []

    sampled, _ = ingest(data, "--ray", "--sample", "3", f"images:{folder}")
    assert (sampled["seen"], sampled["stored"]) == (3, 3)
    ids = set(records(data))
    resumed, _ = ingest(data, "--ray", "--sample", "3", f"images:{folder}")
    assert (resumed["stored"], resumed["unchanged"]) == (0, 3) and set(records(data)) == ids


# -- errors ------------------------------------------------------------------------


def free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_cluster_fails_fast_in_one_line(ray_cluster: None, tmp_path: Path) -> None:
    make_images(tmp_path / "pics", 1)
    address = f"ray://127.0.0.1:{free_loopback_port()}"
    started = time.monotonic()
    done = run_cli("ingest", *tiny_args(), "--ray", address, f"images:{tmp_path / 'pics'}",
                   data_dir=tmp_path / "store")
    assert time.monotonic() - started < 10
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: cannot reach the Ray cluster at {address}: Connection refused"
    ]


def test_text_sources_are_refused_with_ray(ray_cluster: None, data_dir: Path) -> None:
    done = run_cli("ingest", "--ray", "demo", data_dir=data_dir)
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: --ray embeds image sources; ingest ") and "without --ray" in line


def test_without_the_extra_ray_fails_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    # ray is installed here, so its absence is simulated: None in sys.modules makes
    # ``import ray`` raise ImportError, as on an install without the extra.
    from same_same.ingest.ray_cluster import import_ray

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(MissingDependencyError) as raised:
        import_ray()
    assert str(raised.value) == "--ray needs the [ray] extra (pip install 'same-same[ray]')"


def test_same_same_never_imports_ray() -> None:
    code = (
        "import sys, same_same, same_same.cli, same_same.ingest, same_same.ingest.ray_options;"
        "from same_same.cli import cli;"
        "from click.testing import CliRunner;"
        "CliRunner().invoke(cli, ['ingest', '--help']);"
        "sys.exit('ray' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0


# -- argument parsing ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--ray", "images:./photos"], ["--ray=auto", "images:./photos"]),
        (["--ray", "auto", "images:./p"], ["--ray=auto", "images:./p"]),
        (["--ray", "ray://h:10001", "images:./p"], ["--ray=ray://h:10001", "images:./p"]),
        (["--ray=ray://h:10001", "images:./p"], ["--ray=ray://h:10001", "images:./p"]),
        (["--ray", "10.0.0.5:6379", "demo"], ["--ray=10.0.0.5:6379", "demo"]),
        (["images:./p", "--ray"], ["images:./p", "--ray=auto"]),
        (["--ray", "-q", "images:./p"], ["--ray=auto", "-q", "images:./p"]),
        (["images:./p", "--", "--ray"], ["images:./p", "--", "--ray"]),
    ],
)
def test_ray_flag_value_is_optional(args: list[str], expected: list[str]) -> None:
    assert normalize_ray_flag(args) == expected


def test_addresses_and_sources_are_told_apart() -> None:
    assert all(map(looks_like_cluster_address, ["auto", "ray://head:10001", "head:6379",
                                                 "10.0.0.5:6379", "[::1]:6379"]))
    assert not any(map(looks_like_cluster_address, ["images:./photos", "demo", "a.csv",
                                                    "image-list:files.txt", "images:6379x",
                                                    "images:2024"]))


# -- the benchmark, tiny -------------------------------------------------------------


def test_bench_ingest_ray_tiny_run(tmp_path: Path) -> None:
    config, weights = tiny_model_paths()
    out = tmp_path / "ingest_ray.json"
    bench = Path(__file__).resolve().parents[1] / "bench" / "ingest_ray.py"
    done = subprocess.run(
        [sys.executable, str(bench), "--count", "4", "--size", "64x48", "--batch-size", "2",
         "--model-config", str(config), "--weights", str(weights),
         f"--work-dir={tmp_path / 'work'}", f"--out={out}"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["local"]["stored"] == report["ray"]["stored"] == 4
    assert "ray / local:" in done.stdout and report["machine"]["cores"]
