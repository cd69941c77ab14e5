"""``same-same watch`` and ``serve --watch`` as a user runs them: a real process watching a
real folder with the bundled tiny CLIP model, while the test writes, rewrites, moves and
deletes real JPEG files. A real process is right here: the watch runs until signalled,
and is killed (SIGKILL) and stopped (SIGTERM). The store is read through the library
from this process while the watch writes it; every wait polls with a generous deadline
and nothing is timed."""

from __future__ import annotations

import hashlib
import io
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("open_clip", reason="needs the [clip] extra")
pytest.importorskip("watchdog", reason="needs the [watch] extra")

from PIL import Image  # noqa: E402

from conftest import run_cli, same_same_command  # noqa: E402
from relevance_fixtures import tiny_model_args  # noqa: E402
from same_same.records import Record  # noqa: E402
from same_same.storage import open_store  # noqa: E402
from server_fixtures import fetch_json, running_server  # noqa: E402

NS = "watched"
DEADLINE_S = 90.0
"""How long a change may take to show: generous, for a loaded CI machine."""
SETTLE = "0.3"
"""--settle for the tests: shorter than the pauses of the slow writer below."""


def jpeg_bytes(seed: int, size: int = 160) -> bytes:
    """A JPEG of noise: distinct content (and hash) per seed, large enough to write slowly."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stored(data_dir: Path) -> dict[str, Record]:
    """The namespace's records by their path in the folder, read now."""
    with open_store(data_dir) as store:
        if store.find_namespace(NS) is None:
            return {}
        records = store.list_records(NS, limit=1000, with_vectors=True)
    return {str(record.metadata["path"]): record for record in records}


def wait_until(what: str, condition: Callable[[], Any], watch: WatchProcess | None = None) -> Any:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if watch is not None and watch.process.poll() is not None:
            raise AssertionError(f"the watch exited ({watch.process.returncode}):\n{watch.log()}")
        time.sleep(0.2)
    log = watch.log() if watch is not None else ""
    raise AssertionError(f"not within {DEADLINE_S:.0f} s: {what}\n{log}")


class WatchProcess:
    def __init__(self, process: subprocess.Popen[bytes], log_path: Path) -> None:
        self.process = process
        self.log_path = log_path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def lines(self) -> list[str]:
        return self.log().splitlines()

    def wait_for_line(self, line: str) -> None:
        wait_until(f"the line {line!r}", lambda: line in self.lines(), self)

    def wait_for_caught_up(self, count: int) -> None:
        self.wait_for_line(
            f"caught up with images:{self.folder}: {count} records in namespace {NS!r}; "
            "watching for changes"
        )

    folder: Path


@contextmanager
def watching(
    folder: Path, data_dir: Path, *extra: str, log_name: str = "watch.log"
) -> Iterator[WatchProcess]:
    log_path = data_dir.parent / log_name
    args = [
        "watch", "-e", "clip", *tiny_model_args(), "-n", NS, "--data-dir", str(data_dir),
        "--settle", SETTLE, *extra, f"images:{folder}",
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            same_same_command(*args),
            stdout=subprocess.DEVNULL,
            stderr=log,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )
    watch = WatchProcess(process, log_path)
    watch.folder = folder
    try:
        yield watch
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def write_photos(folder: Path, seeds: dict[str, int]) -> dict[str, bytes]:
    written = {}
    for name, seed in seeds.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        written[name] = jpeg_bytes(seed)
        path.write_bytes(written[name])
    return written


def write_slowly(
    path: Path, data: bytes, chunks: int, pause: float, check: Callable[[], None]
) -> None:
    """Write ``data`` in ``chunks`` pieces with ``pause`` s between them (longer than
    --settle: a rule that only waited for size and mtime to settle would read it
    half-written), calling ``check`` during each pause."""
    step = len(data) // chunks + 1
    with open(path, "wb") as stream:
        for start in range(0, len(data), step):
            stream.write(data[start : start + step])
            stream.flush()
            os.fsync(stream.fileno())
            time.sleep(pause)
            check()


def test_watch_follows_writes_rewrites_moves_and_deletes_and_catches_up_after_a_kill(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "photos"
    data_dir = tmp_path / "store"
    (folder / "sub").mkdir(parents=True)
    photos = write_photos(folder, {"a.jpg": 1, "b.jpg": 2, "c.jpg": 3, "d.jpg": 4})
    with watching(folder, data_dir) as watch:
        watch.wait_for_caught_up(4)
        for name in photos:
            assert f"added {folder}/{name}" in watch.lines()
        before = stored(data_dir)
        assert {path: record.content_hash for path, record in before.items()} == {
            name: sha256(data) for name, data in photos.items()
        }

        # a new file, written slowly: never read before its writer closes it
        slow = jpeg_bytes(5, size=320)

        def not_read_yet() -> None:
            assert "new.jpg" not in stored(data_dir), "read while still being written"
            assert not [line for line in watch.lines() if "new.jpg" in line], watch.log()

        write_slowly(folder / "new.jpg", slow, chunks=5, pause=1.0, check=not_read_yet)
        wait_until("new.jpg stored", lambda: "new.jpg" in stored(data_dir), watch)
        assert stored(data_dir)["new.jpg"].content_hash == sha256(slow)
        watch.wait_for_line(f"added {folder}/new.jpg")

        # a rewritten file gets a new vector
        rewritten = jpeg_bytes(6)
        (folder / "b.jpg").write_bytes(rewritten)
        wait_until(
            "b.jpg updated",
            lambda: stored(data_dir)["b.jpg"].content_hash == sha256(rewritten),
            watch,
        )
        watch.wait_for_line(f"updated {folder}/b.jpg")

        # a moved file keeps its vector
        os.rename(folder / "c.jpg", folder / "sub" / "c.jpg")
        wait_until(
            "c.jpg moved",
            lambda: "sub/c.jpg" in (now := stored(data_dir)) and "c.jpg" not in now,
            watch,
        )
        moved = stored(data_dir)["sub/c.jpg"]
        assert moved.content_hash == before["c.jpg"].content_hash
        assert np.array_equal(moved.vector, before["c.jpg"].vector)  # the stored one, reused
        watch.wait_for_line(f"moved {folder}/c.jpg -> {folder}/sub/c.jpg")

        # a deleted file's record goes
        (folder / "d.jpg").unlink()
        wait_until("d.jpg removed", lambda: "d.jpg" not in stored(data_dir), watch)
        watch.wait_for_line(f"removed {folder}/d.jpg")

        # a bad file is told and skipped, the watch goes on
        (folder / "broken.jpg").write_bytes(b"not a picture at all")
        wait_until(
            "broken.jpg skipped",
            lambda: any(
                line.startswith(f"skipping {folder}/broken.jpg: ") for line in watch.lines()
            ),
            watch,
        )
        (folder / "broken.jpg").unlink()

        # SIGKILL: nothing committed is lost
        watch.process.kill()
        watch.process.wait()
    assert set(stored(data_dir)) == {"a.jpg", "b.jpg", "new.jpg", "sub/c.jpg"}

    # changes while nothing watches
    (folder / "a.jpg").unlink()
    os.rename(folder / "new.jpg", folder / "renamed.jpg")
    late = write_photos(folder, {"late.jpg": 7})
    with watching(folder, data_dir, log_name="again.log") as watch:
        watch.wait_for_caught_up(4)
        lines = watch.lines()
        assert f"removed {folder}/a.jpg" in lines
        assert f"moved {folder}/new.jpg -> {folder}/renamed.jpg" in lines
        assert f"added {folder}/late.jpg" in lines
        now = stored(data_dir)
        assert set(now) == {"b.jpg", "late.jpg", "renamed.jpg", "sub/c.jpg"}
        assert now["late.jpg"].content_hash == sha256(late["late.jpg"])
        assert now["renamed.jpg"].content_hash == sha256(slow)

        # SIGTERM stops cleanly
        watch.process.send_signal(signal.SIGTERM)
        assert watch.process.wait(timeout=DEADLINE_S) == 0, watch.log()
        assert watch.lines()[-1] == "stopped watching"
        assert "Traceback" not in watch.log()


def test_watch_with_poll_finds_changes_without_file_events(tmp_path: Path) -> None:
    folder = tmp_path / "share"
    data_dir = tmp_path / "store"
    folder.mkdir()
    photos = write_photos(folder, {"one.jpg": 11, "two.jpg": 12})
    with watching(folder, data_dir, "--poll", "0.5") as watch:
        watch.wait_for_caught_up(2)
        assert "(polling every 0.5 s)" in watch.lines()[0]
        before = stored(data_dir)

        added = write_photos(folder, {"three.jpg": 13})
        wait_until("three.jpg stored", lambda: "three.jpg" in stored(data_dir), watch)
        assert stored(data_dir)["three.jpg"].content_hash == sha256(added["three.jpg"])
        watch.wait_for_line(f"added {folder}/three.jpg")

        os.rename(folder / "one.jpg", folder / "uno.jpg")
        wait_until(
            "one.jpg moved",
            lambda: "uno.jpg" in (now := stored(data_dir)) and "one.jpg" not in now,
            watch,
        )
        assert np.array_equal(stored(data_dir)["uno.jpg"].vector, before["one.jpg"].vector)
        watch.wait_for_line(f"moved {folder}/one.jpg -> {folder}/uno.jpg")

        (folder / "two.jpg").unlink()
        wait_until("two.jpg removed", lambda: "two.jpg" not in stored(data_dir), watch)
        watch.wait_for_line(f"removed {folder}/two.jpg")
        assert sha256(photos["one.jpg"]) == stored(data_dir)["uno.jpg"].content_hash

        watch.process.send_signal(signal.SIGINT)  # Ctrl-C
        assert watch.process.wait(timeout=DEADLINE_S) == 0, watch.log()


def test_serve_watch_keeps_a_folder_searchable_while_serving(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    data_dir = tmp_path / "store"
    folder.mkdir()
    write_photos(folder, {"first.jpg": 21})
    args = ["--watch", f"images:{folder}", "-e", "clip", *tiny_model_args(), "-n", NS]
    with running_server(data_dir, extra_args=args) as base_url:

        def count() -> int:
            status, payload = fetch_json("GET", f"{base_url}/api/v1/vectors/count?namespace={NS}")
            return int(payload["count"]) if status == 200 else 0

        wait_until("first.jpg served", lambda: count() == 1)
        write_photos(folder, {"second.jpg": 22})
        wait_until("second.jpg served", lambda: count() == 2)
        status, payload = fetch_json(
            "POST", base_url + "/api/v1/search", {"text": "a photo", "namespace": NS, "limit": 5}
        )
        assert status == 200, payload
        assert {result["metadata"]["path"] for result in payload["results"]} == {
            "first.jpg",
            "second.jpg",
        }
        (folder / "first.jpg").unlink()
        wait_until("first.jpg gone", lambda: count() == 1)


def test_watch_refuses_what_it_cannot_watch_in_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for args, expected in [
        (["watch", "-e", "clip", "demo"], "error: only a folder can be watched, not demo"),
        (["watch", "-e", "clip", f"images:{tmp_path}/missing"], "error: no such folder"),
        (["watch", "-e", "local", f"images:{folder}"], "holds images; embed them with -e clip"),
        (["watch", "-e", "clip", "--poll", "0", f"images:{folder}"], "Invalid value for '--poll'"),
        (
            ["serve", "--watch", f"images:{folder}", "-e", "clip", "--workers", "2"],
            "error: --watch runs in the server process",
        ),
        (["serve", "--watch", f"images:{tmp_path}/missing", "-e", "clip"], "error: no such folder"),
    ]:
        done = run_cli(*args, data_dir=tmp_path / "store")
        assert done.returncode != 0, (args, done.stderr)
        assert expected in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr


def test_a_stop_during_the_first_pass_keeps_what_it_committed_and_the_next_start_finishes(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "photos"
    data_dir = tmp_path / "store"
    folder.mkdir()
    photos = write_photos(folder, {f"p{index:02d}.jpg": 100 + index for index in range(40)})
    with watching(folder, data_dir, "--batch-size", "2") as watch:
        wait_until("a first batch committed", lambda: stored(data_dir), watch)
        watch.process.send_signal(signal.SIGTERM)  # most likely mid-pass; either way is fine
        assert watch.process.wait(timeout=DEADLINE_S) == 0, watch.log()
        assert watch.lines()[-1] == "stopped watching"
    kept = stored(data_dir)
    assert 1 <= len(kept) <= len(photos)
    with watching(folder, data_dir, log_name="again.log") as watch:
        watch.wait_for_caught_up(len(photos))
        added = [line for line in watch.lines() if line.startswith("added ")]
        assert len(added) == len(photos) - len(kept)  # only what the first run had not stored
    assert {path: record.content_hash for path, record in stored(data_dir).items()} == {
        name: sha256(data) for name, data in photos.items()
    }
