"""Byte progress for ``same-same models``: downloads (``pull``), checksums and writing
(``export``), checking (``import``) and copying, drawn as a rich bar on a terminal, as
plain lines elsewhere, reported exactly (every byte, once) by the library.

The download is real ``huggingface_hub`` code fetching from a stand-in hub on 127.0.0.1
(``fake_hub``): the real hub cannot be reached here. No timing is asserted: the
displays take ``redraw=0`` / ``log_interval=0`` to draw on every step.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
from pathlib import Path

import pytest
from rich.console import Console

from clip_fixtures import torch  # noqa: F401 - skips without the [clip] extra
from conftest import run_process, same_same_command
from fake_hub import running_hub
from model_bundle_fixtures import write_hub_repo
from same_same.cli.transfer_progress import TransferDisplay
from same_same.model_store import BundleOptions, export_bundle, import_bundle, pull_model
from same_same.transfers import hub_tqdm_class
from terminal_fixtures import ANSI, run_on_terminal

TINY = "same-same-tiny-clip"
HUB_REPO = "same-same-tests/served-clip"


class Recorder:
    """A ``ByteProgress`` that keeps every phase: [label, total, bytes advanced, ended]."""

    def __init__(self) -> None:
        self.phases: list[list[object]] = []
        self.files: set[str] = set()

    def begin(self, label: str, total_bytes: int | None) -> None:
        assert not self.phases or self.phases[-1][3], "a phase began inside another"
        self.phases.append([label, total_bytes, 0, False])

    def advance(self, nbytes: int, current: str | None = None) -> None:
        assert self.phases and not self.phases[-1][3], "bytes outside a phase"
        self.phases[-1][2] = int(self.phases[-1][2]) + nbytes  # type: ignore[call-overload]
        if current:
            self.files.add(current)

    def end(self) -> None:
        self.phases[-1][3] = True


def _members(bundle: Path) -> dict[str, int]:
    with tarfile.open(bundle) as tar:
        return {member.name: member.size for member in tar.getmembers()}


def test_export_import_and_pull_report_every_byte_once(tmp_path: Path) -> None:
    bundle = tmp_path / "tiny.tar"
    exported = Recorder()
    export_bundle(TINY, None, bundle, BundleOptions(tmp_path / "online", progress=exported))
    members = _members(bundle)
    payload = sum(size for name, size in members.items() if name != "manifest.json")
    assert exported.phases == [
        ["checksumming", payload, payload, True],
        ["writing tiny.tar", payload, payload, True],
    ]
    assert exported.files == set(members) - {"manifest.json"}

    imported = Recorder()
    import_bundle(bundle, BundleOptions(tmp_path / "offline", progress=imported))
    assert imported.phases == [["checking tiny.tar", payload, payload, True]]

    pulled = Recorder()
    done = pull_model(TINY, None, BundleOptions(tmp_path / "other", progress=pulled))
    weights = next(done.folder.glob("*.safetensors"))
    size = weights.stat().st_size
    assert pulled.phases == [[f"copying {weights.name}", size, size, True]]


def test_a_damaged_bundle_ends_its_phase(tmp_path: Path) -> None:
    """A refusal mid-check still closes the bar (the error line must not land inside it)."""
    bundle = tmp_path / "tiny.tar"
    export_bundle(TINY, None, bundle, BundleOptions(tmp_path / "online"))
    data = bytearray(bundle.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bundle.write_bytes(bytes(data))
    recorder = Recorder()
    with pytest.raises(Exception, match="refusing model bundle"):
        import_bundle(bundle, BundleOptions(tmp_path / "offline", progress=recorder))
    assert [phase[3] for phase in recorder.phases] == [True]


def terminal_display() -> tuple[TransferDisplay, io.StringIO]:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=160, color_system=None)
    return TransferDisplay(buffer, console=console, redraw=0), buffer


def test_the_terminal_bar_shows_bytes_speed_eta_and_the_file(tmp_path: Path) -> None:
    display, buffer = terminal_display()
    options = BundleOptions(tmp_path / "online", say=display.say, progress=display)
    export_bundle(TINY, None, tmp_path / "tiny.tar", options)
    drawn = ANSI.sub("", buffer.getvalue())
    assert "checksumming" in drawn and "writing tiny.tar" in drawn
    assert "━" in drawn and "100%" in drawn and "ETA" in drawn
    assert re.search(r"[0-9.]+/[0-9.]+ [kM]B +100% +[0-9.]+ [kMG]?B/s ETA", drawn), drawn
    assert "open_clip_model.safetensors" in drawn  # the current file
    # the step lines print above the bar, whole
    assert "same-same: writing model/open_clip_config.json\n" in drawn
    assert "same-same: wrote " in drawn


def test_off_a_terminal_a_long_step_prints_plain_lines() -> None:
    stream = io.StringIO()
    display = TransferDisplay(stream, log_interval=0)
    display.begin("downloading weights.safetensors", 2_000_000)
    display.advance(1_000_000, "weights.safetensors")
    display.end()
    display.begin("copying x", None)
    display.advance(1500)
    display.end()
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("same-same: downloading weights.safetensors: 1.0 MB/2.0 MB (50%) ")
    assert re.search(r" [0-9.]+ [KMG]?B/s ETA [0-9]+:[0-9]{2}$", lines[0]), lines[0]
    assert lines[1].startswith("same-same: copying x: 1.5 KB ") and lines[1].endswith("/s")
    assert "\x1b" not in stream.getvalue()  # no terminal codes in a log


def test_the_hub_download_adapter_counts_one_bar_once() -> None:
    """huggingface_hub's Xet path opens a second bar for the same file: it is not counted."""
    recorder = Recorder()
    bar_class = hub_tqdm_class(recorder, "downloading w")
    with bar_class(total=100, initial=10, unit="B", unit_scale=True, desc="w") as first:
        second = bar_class(total=100, unit="B", desc="w: bytes on the wire")
        first.update(40)
        second.update(40)
        second.close()
        first.update(50)
    assert recorder.phases == [["downloading w", 100, 100, True]]


def _served_repo(tmp_path: Path) -> dict[str, bytes]:
    snapshot = write_hub_repo(tmp_path / "maker-cache", HUB_REPO)
    return {path.name: path.read_bytes() for path in snapshot.iterdir()}


def _hub_env(tmp_path: Path, hub_url: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if "proxy" not in key.lower()}
    env.update({
        "HF_HUB_OFFLINE": "", "TRANSFORMERS_OFFLINE": "", "HF_ENDPOINT": hub_url,
        "HF_HUB_CACHE": str(tmp_path / "hub-cache"), "NO_PROXY": "127.0.0.1",
        "SAME_SAME_DATA_DIR": str(tmp_path / "store"),
    })  # fmt: skip
    return env


def test_pull_downloads_from_the_hub_with_a_bar_on_a_terminal(tmp_path: Path) -> None:
    files = _served_repo(tmp_path)
    with running_hub({HUB_REPO: files}) as hub:
        env = _hub_env(tmp_path, hub.url)
        run = run_on_terminal(same_same_command("models", "pull", f"hf-hub:{HUB_REPO}"), env)
        assert run.returncode == 0, run.terminal
        weights_name = "open_clip_model.safetensors"
        assert f"downloading {weights_name}" in run.terminal, run.terminal
        size = f"{len(files[weights_name]) / 1000:.1f}"
        assert f"{size}/{size} kB 100%" in run.terminal, run.terminal  # bytes done/total
        assert "━" in run.terminal and "ETA" in run.terminal
        assert "Fetching" not in run.terminal and "it/s" not in run.terminal  # no tqdm bars
        assert hub.gets.count(f"{HUB_REPO}/{weights_name}") == 1
        folder = tmp_path / "store" / "models" / "hf-hub" / HUB_REPO
        served = hashlib.sha256(files[weights_name]).hexdigest()
        assert hashlib.sha256((folder / weights_name).read_bytes()).hexdigest() == served
        assert (folder / "tokenizer.json").read_bytes() == files["tokenizer.json"]

        # again, off a terminal: the weights come from the hub cache, not the network
        again = run_process("models", "pull", f"hf-hub:{HUB_REPO}", "--json", env=env)
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["path"] == str(folder)
        assert hub.gets.count(f"{HUB_REPO}/{weights_name}") == 1
        assert "\x1b" not in again.stderr and "━" not in again.stderr
