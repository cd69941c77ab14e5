"""``--backend auto``: the fastest installed backend whose vectors agree with torch.

Everything runs for real with the bundled tiny model: this module starts from an
empty exports folder, so its first resolution exports both precisions, runs the
agreement check on the probe set and writes the record; the later tests read that
record. Failing checks are forced with stricter thresholds or by damaging the record
on disk, not by mocking the model.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from clip_fixtures import HELD_OUT_SEED, tiny_model_paths
from conftest import ONNX_DIR_ENV, run_cli
from same_same.embedder_cache import EmbedderCache
from same_same.embedders import EmbedderOptions
from same_same.embedders.clip import CLIPEmbedder
from same_same.embedders.clip.agreement import Thresholds
from same_same.embedders.clip.auto_backend import (
    CPU_PREFERENCE,
    AutoChoice,
    forget_auto_records,
    library_versions,
    read_record,
    record_file,
    resolve_auto_backend,
)
from same_same.embedders.clip.onnx_backend import forget_loaded_onnx_models
from same_same.embedders.clip.runner import BackendSettings
from same_same.errors import SpaceMismatchError
from same_same.records import NamespaceInfo
from same_same.synthetic import write_image_folder

pytest.importorskip("onnxruntime", reason="needs the [onnx] extra")
pytest.importorskip("onnx", reason="needs the [onnx] extra")
pytestmark = pytest.mark.clip

CPU = BackendSettings(device="cpu")


@pytest.fixture(scope="module")
def onnx_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An empty exports folder of this module's own: the first resolution does all the work."""
    folder = tmp_path_factory.mktemp("auto") / "onnx"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(ONNX_DIR_ENV, str(folder))
        forget_auto_records()
        forget_loaded_onnx_models()
        yield folder
    forget_auto_records()
    forget_loaded_onnx_models()


@pytest.fixture(scope="module")
def first(onnx_dir: Path) -> tuple[CLIPEmbedder, str]:
    """The first resolution of this module and what it said on stderr."""
    said = io.StringIO()
    with contextlib.redirect_stderr(said):
        embedder = tiny()
        embedder.embed_texts(["a red circle"])
    return embedder, said.getvalue()


def tiny(backend: str | None = None) -> CLIPEmbedder:
    config, weights = tiny_model_paths()
    return CLIPEmbedder(str(config), str(weights), device="cpu", backend=backend)


def resolve_again(
    precision: str | None = None, thresholds: Thresholds | None = None
) -> tuple[AutoChoice, str]:
    """A resolution as a new process makes it (nothing remembered), and its stderr."""
    forget_auto_records()
    said = io.StringIO()
    with contextlib.redirect_stderr(said):
        chosen = resolve_auto_backend(tiny().choice, CPU, precision, thresholds)
    return chosen, said.getvalue()


def test_auto_is_the_default_and_picks_the_first_backend_that_passed(
    first: tuple[CLIPEmbedder, str], onnx_dir: Path
) -> None:
    embedder, said = first
    assert embedder.backend_name == "auto"
    chosen = embedder.writer
    # the tiny model's fp32 export matches torch (test_clip_onnx), so ONNX wins on a CPU
    assert chosen in ("onnx-int8", "onnx")
    record = read_record(record_file(embedder.choice, onnx_dir, "cpu"))
    assert record is not None and record.device == "cpu"
    assert set(record.checks) == {"torch", "onnx", "onnx-int8"}
    assert record.versions == library_versions()
    assert all(check.seconds_per_image > 0 for check in record.checks.values())
    assert record.checks["onnx"].min_image_cosine >= 0.9999
    assert record.checks["onnx"].min_text_cosine >= 0.9999
    assert record.checks[chosen].failure(Thresholds()) is None
    for faster in CPU_PREFERENCE[: CPU_PREFERENCE.index(chosen)]:  # each said why not
        failure = record.checks[faster].failure(Thresholds())
        assert failure is not None and f"not using {faster}: {failure}" in said

    # the one-time work is told: what happens, each tower, and how long it took
    assert "checking which backend to run" in said
    assert "exporting CLIP model" in said and "to ONNX once" in said
    assert "image tower exported in" in said and "text tower exported in" in said
    assert "tower quantized to int8 in" in said and "exported in" in said
    assert f"clip: backend {chosen} (auto: passed the " in said and "x torch)" in said
    raw = json.loads(record_file(embedder.choice, onnx_dir, "cpu").read_text())
    assert {"min_image_cosine", "min_text_cosine", "top5_agreement", "seconds_per_image"} <= set(
        raw["checks"]["onnx-int8"]
    )


def test_the_recorded_check_is_reused(first: tuple[CLIPEmbedder, str], onnx_dir: Path) -> None:
    embedder, _ = first
    before = {path.name: path.stat().st_mtime_ns for path in onnx_dir.iterdir()}
    assert len([name for name in before if name.endswith(".onnx")]) == 4
    forget_loaded_onnx_models()  # as a new process would
    chosen, said = resolve_again()
    assert chosen.backend == embedder.writer
    assert "checking" not in said and "exporting" not in said
    assert said.count(f"clip: backend {chosen.backend} ") == 1
    again = tiny()
    assert again.embed_texts(["a blue square"]).shape == (1, again.dim)
    assert {path.name: path.stat().st_mtime_ns for path in onnx_dir.iterdir()} == before


def test_a_failing_check_falls_back(first: tuple[CLIPEmbedder, str]) -> None:
    strict = Thresholds(fp32_min_cosine=1.5, int8_min_cosine=1.5)
    chosen, said = resolve_again(thresholds=strict)
    assert chosen.backend == "torch"
    assert "not using onnx-int8: cosine to torch" in said and "below 1.5" in said
    assert "not using onnx: cosine to torch" in said
    assert "clip: backend torch (auto: onnx-int8 failed its check" in said

    lenient = Thresholds(int8_top5_agreement=0.0)  # int8 is within 0.99 of torch here
    chosen, said = resolve_again(thresholds=lenient)
    assert chosen.backend == "onnx-int8"
    assert "passed the int8 check" in chosen.reason


def test_a_damaged_record_is_believed_and_falls_back(
    first: tuple[CLIPEmbedder, str], onnx_dir: Path
) -> None:
    path = record_file(first[0].choice, onnx_dir, "cpu")
    original = path.read_text()
    data = json.loads(original)
    data["checks"]["onnx-int8"]["min_text_cosine"] = 0.5
    data["checks"]["onnx"]["error"] = "cannot run it: a broken export"
    try:
        path.write_text(json.dumps(data))
        chosen, said = resolve_again()
        assert chosen.backend == "torch"
        assert "not using onnx: cannot run it: a broken export" in said
        assert "not using onnx-int8: cosine to torch 0.50000" in said
        assert "checking" not in said  # the record is read, not measured again

        path.write_text("{not json")  # unreadable: measured again and rewritten
        chosen, said = resolve_again()
        assert "checking which backend" in said and "exporting" not in said
        assert read_record(path) is not None
    finally:
        path.write_text(original)
        forget_auto_records()


def test_auto_keeps_to_the_precision_of_a_namespace(first: tuple[CLIPEmbedder, str]) -> None:
    embedder, _ = first
    int8, _ = resolve_again(precision="int8")
    assert int8.backend == "onnx-int8" and "namespace holds int8" in int8.reason
    fp32, _ = resolve_again(precision="fp32")
    assert fp32.backend == "onnx"  # the fastest fp32 backend that passed

    quantized = NamespaceInfo("q", embedder.space, 3, ("onnx-int8",))
    follower = tiny()
    follower.follow_namespace(quantized)
    assert follower.writer == "onnx-int8"
    with pytest.raises(SpaceMismatchError, match="'q' holds int8 vectors") as refused:
        tiny("torch").follow_namespace(quantized)
    assert "backend torch writes fp32 ones" in str(refused.value)
    tiny("onnx").follow_namespace(NamespaceInfo("f", embedder.space, 3, ("torch",)))


def test_query_embedders_take_the_same_choice(first: tuple[CLIPEmbedder, str]) -> None:
    embedder, _ = first
    cache = EmbedderCache(EmbedderOptions(device="cpu"))
    assert cache.get(embedder.space).writer == embedder.writer


def test_the_command_line_refuses_to_mix_precisions(
    first: tuple[CLIPEmbedder, str], tmp_path: Path
) -> None:
    config, weights = tiny_model_paths()
    store = tmp_path / "store"
    common = ["-e", "clip", "--clip-model", str(config), "--clip-pretrain", str(weights),
              "--device", "cpu", "-q"]  # fmt: skip
    for name, seed in (("one", 0), ("two", 1), ("three", 2)):
        write_image_folder(tmp_path / name, 3, HELD_OUT_SEED + 10 + seed)

    def ingest(folder: str, namespace: str, *backend: str) -> tuple[int, str]:
        forget_auto_records()  # each run is a process of its own on the command line
        done = run_cli("ingest", f"images:{tmp_path / folder}", "-n", namespace, *backend,
                       *common, data_dir=store)  # fmt: skip
        return done.returncode, done.stderr

    assert ingest("one", "quantized", "--backend", "onnx-int8")[0] == 0
    status, said = ingest("two", "quantized", "--backend", "torch")
    assert status == 1 and "Traceback" not in said
    (line,) = [line for line in said.splitlines() if "holds int8 vectors" in line]
    assert "'quantized' holds int8 vectors (written by onnx-int8)" in line
    assert "backend torch writes fp32 ones" in said and "--backend auto" in said
    status, said = ingest("two", "quantized")
    assert status == 0, said
    assert "clip: backend onnx-int8 (auto: the namespace holds int8 vectors)" in said
    status, said = ingest("three", "plain")
    assert status == 0, said
    assert f"clip: backend {first[0].writer} (auto: " in said

    listed = run_cli("namespaces", "--json", data_dir=store)
    namespaces = {ns["name"]: ns for ns in json.loads(listed.stdout)["namespaces"]}
    assert {name: ns["writers"] for name, ns in namespaces.items()} == {
        "quantized": ["onnx-int8"],
        "plain": [first[0].writer],
    }
    assert namespaces["quantized"]["count"] == 6
    table = run_cli("namespaces", data_dir=store).stdout
    assert "written by onnx-int8" in table
