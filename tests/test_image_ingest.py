"""The image pipeline end to end: a real SQLite store, the real OpenCLIP code path with the
bundled tiny model, real files (generated good and bad ones, real photos).

Counting embed calls uses ``CountingCLIPEmbedder``, a thin subclass of the real
embedder that counts the rows it is asked to embed and then embeds them for real.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from image_fixtures import (
    NON_UTF8_NAME,
    Collection,
    GoodCase,
    copy_photos,
    encode_image,
    halves,
    make_shared_tempdir,
    run_as_other_user,
    save_image,
    write_collection,
)

pytestmark = pytest.mark.clip

from clip_fixtures import tiny_model_paths  # noqa: E402  (skips without the [clip] extra)
from milvus_fixtures import drop_scope, milvus_spec  # noqa: E402
from same_same.embedders import ImageEmbedderBase, normalized_rows  # noqa: E402
from same_same.embedders.clip import CLIPEmbedder  # noqa: E402
from same_same.embedders.clip.preprocess import PreprocessConfig  # noqa: E402
from same_same.embedders.hashing import HashingEmbedder  # noqa: E402
from same_same.errors import (  # noqa: E402
    InvalidInputError,
    SpaceMismatchError,
    UnsupportedModalityError,
)
from same_same.imaging import decode_image, load_image  # noqa: E402
from same_same.imaging.frames import ANIMATION_SAMPLES  # noqa: E402
from same_same.ingest import (  # noqa: E402
    EXIT_SOME_SKIPPED,
    IngestOptions,
    IngestReport,
    Progress,
    run_ingest,
)
from same_same.records import EmbeddingSpace, Record  # noqa: E402
from same_same.sources import open_source  # noqa: E402
from same_same.sources.images import derive_image_id  # noqa: E402
from same_same.storage import VectorStore, open_store  # noqa: E402
from same_same.synthetic import write_image_folder  # noqa: E402

NS = "photos"


class CountingCLIPEmbedder(CLIPEmbedder):
    """The real CLIP embedder; it also counts what it embeds (not a mock: it embeds)."""

    def __init__(self) -> None:
        config, weights = tiny_model_paths()
        super().__init__(str(config), str(weights), device="cpu")
        self.rows = 0
        self.calls = 0

    def embed_preprocessed(self, batch: np.ndarray) -> np.ndarray:
        self.calls += 1
        self.rows += len(batch)
        return super().embed_preprocessed(batch)


def model_rows(collection: Collection) -> int:
    """Model inputs for the good files: one each, but an animation's sampled frames that
    are not blank (the real 24-frame GIF gives 4; its vector is their mean, see
    ``imaging.frames``)."""
    return sum(
        len(decode_image(collection.root / name, samples=ANIMATION_SAMPLES).samples) or 1
        for name in collection.good
    )


@pytest.fixture(scope="module")
def embedder() -> CountingCLIPEmbedder:
    return CountingCLIPEmbedder()


@pytest.fixture
def clip(embedder: CountingCLIPEmbedder) -> CountingCLIPEmbedder:
    embedder.rows = embedder.calls = 0
    return embedder


@pytest.fixture(params=["sqlite", "milvus"])
def store(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[VectorStore]:
    """Each test that takes ``store`` runs on the embedded store and on Milvus (a scope of
    its own on the session's server): skipping, reuse, moves and pruning alike."""
    spec = None
    if request.param == "milvus":
        spec = milvus_spec(request.getfixturevalue("milvus_address"), tmp_path)
    with open_store(tmp_path / "store", spec) as opened:
        yield opened
    if spec is not None:
        drop_scope(spec)


def ingest(
    store: VectorStore, embedder: ImageEmbedderBase, spec: str, *, recursive: bool = True,
    stream: io.StringIO | None = None, **options: Any,
) -> tuple[IngestReport, list[str]]:
    """Run the real pipeline; returns the report and the "skipping" lines of stderr."""
    from same_same.sources import SourceOptions

    stream = stream if stream is not None else io.StringIO()
    progress = Progress(unit="images", stream=stream)
    options.setdefault("batch_size", 4)
    options.setdefault("namespace", NS)
    report = run_ingest(
        store, embedder, open_source(spec, SourceOptions(recursive=recursive)),
        IngestOptions(**options), progress,
    )
    lines = [line for line in stream.getvalue().splitlines() if line.startswith("skipping ")]
    return report, lines


def records_by_path(store: VectorStore, namespace: str = NS) -> dict[str, Record]:
    records = store.list_records(namespace, limit=10_000, with_vectors=True)
    return {record.metadata["path"]: record for record in records}


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_folder(root: Path, count: int = 6) -> list[Path]:
    """``count`` small distinct JPEGs and PNGs."""
    paths = []
    for index in range(count):
        colour = (40 * index % 256, 255 - 30 * index, 90)
        ext = "jpg" if index % 2 else "png"
        image = halves((48, 40), colour, (0, 0, 255), "RGB")
        paths.append(save_image(image, root / f"{index}.{ext}"))
    return paths


# -- the collection of good and bad files ---------------------------------------


@pytest.fixture
def collection(tmp_path: Path) -> Collection:
    """Every generated good and bad case, plus real photos in photos/."""
    from PIL import Image

    made = write_collection(tmp_path / "pics")
    for name, path in copy_photos(tmp_path / "pics" / "photos").items():
        with Image.open(path) as photo:  # none of these carries an EXIF rotation
            made.good[f"photos/{name}"] = GoodCase(f"photos/{name}", photo.size, ())
    return made


def test_good_files_stored_bad_files_reported(
    store: VectorStore, clip: CountingCLIPEmbedder, collection: Collection
) -> None:
    root = collection.root
    report, lines = ingest(store, clip, f"images:{root}")

    assert sorted(lines) == sorted(
        f"skipping {root}/{name}: " + reason
        for name, reason in [
            ("bad/bomb.png",
             "too many pixels, possible decompression bomb (1600 MP, limit 144 MP)"),
            ("bad/corrupt.png", "corrupt image data (broken data stream when reading image file)"),
            ("bad/empty.jpg", "empty file (0 bytes)"),
            ("bad/notes.jpg",
             "not an image (or not a supported format: JPEG, PNG, GIF, WebP, BMP, TIFF, AVIF, "
             "HEIF, camera RAW)"),
            ("bad/truncated.jpg", "truncated (the file ends before the image does)"),
            ("links/broken_link.png", "broken symlink (to missing-target.png)"),
            ("links/pipe.gif", "not a regular file"),
            ("links/self_loop.jpg", "symlink loop"),
        ]
    )
    assert report.unit == "images"
    assert report.seen == len(collection.good) + len(collection.bad)
    assert report.stored == len(collection.good)
    assert report.skipped == len(collection.bad) == len(report.problems) == 8
    assert (report.unchanged, report.reused, report.failed) == (0, 0, 0)
    assert report.exit_code == EXIT_SOME_SKIPPED
    assert clip.rows == model_rows(collection)
    assert store.count(NS) == len(collection.good)

    stored = records_by_path(store)
    for name, case in collection.good.items():
        record = stored[name.replace("\udce9", "\\xe9")]
        path = root / name
        assert record.content_hash == record.metadata["sha256"] == sha256_of(path)
        assert record.metadata["bytes"] == path.stat().st_size
        assert record.metadata["mtime"] == path.stat().st_mtime
        assert record.metadata["namespace"] == NS and record.metadata["type"] == "image"
        assert record.id == derive_image_id(str(path.resolve()))
        assert (record.metadata["width"], record.metadata["height"]) == case.size
        # the stored vector is the model's vector of the correctly decoded picture
        # (test_imaging checks those pixels); big JPEGs were decoded at reduced scale;
        # an animation's is the mean of its sampled frames' (test_format_ingest)
        decoded = decode_image(path, samples=ANIMATION_SAMPLES)
        reference = clip.embed_images(decoded.samples or [load_image(path)]).mean(axis=0)
        reference /= np.linalg.norm(reference)
        assert record.metadata.get("frames", 1) == decoded.frames, name
        similarity = float(record.vector @ reference)
        drafted = path.suffix == ".jpg" and min(case.size) >= 2 * 64  # tiny model: 64 px
        assert similarity > (0.995 if drafted else 0.9999), (name, similarity)


def test_exif_rotated_and_real_photo_sizes_are_upright(
    store: VectorStore, clip: CountingCLIPEmbedder, collection: Collection
) -> None:
    ingest(store, clip, f"images:{collection.root}")
    stored = records_by_path(store)
    assert (stored["exif_rotated.jpg"].metadata["width"],
            stored["exif_rotated.jpg"].metadata["height"]) == (40, 60)
    assert (stored["photos/hubble_deep_field.jpg"].metadata["width"],
            stored["photos/hubble_deep_field.jpg"].metadata["height"]) == (1000, 872)


def test_decoded_variants_of_one_picture_embed_alike(
    store: VectorStore, clip: CountingCLIPEmbedder, tmp_path: Path
) -> None:
    # one synthetic scene saved as CMYK JPEG, palette PNG, 16-bit grey, RGBA on white...
    # decoded right, each is (nearly) the same picture to the model as the RGB original
    from PIL import Image

    ((scene_path, _, _),) = write_image_folder(tmp_path / "scene", 1, seed=5)
    rgb = Image.open(scene_path).convert("RGB")
    folder = tmp_path / "variants"
    save_image(rgb, folder / "original.png")
    save_image(rgb.convert("CMYK"), folder / "cmyk.jpg", quality=98)
    save_image(rgb.convert("P", palette=Image.Palette.ADAPTIVE), folder / "palette.png")
    rgba = rgb.convert("RGBA")
    rgba.putalpha(255)
    save_image(rgba, folder / "opaque_alpha.png")
    exif = Image.Exif()
    exif[0x0112] = 3  # stored upside down, EXIF says rotate 180
    save_image(rgb.rotate(180), folder / "upside_down.jpg", quality=98, exif=exif.tobytes())
    report, lines = ingest(store, clip, f"images:{folder}")
    assert lines == [] and report.stored == 5
    stored = records_by_path(store)
    original = stored["original.png"].vector
    for name in ["cmyk.jpg", "palette.png", "opaque_alpha.png", "upside_down.jpg"]:
        assert float(stored[name].vector @ original) > 0.95, name
    # and the model sees a difference when the picture is really different
    flipped = clip.embed_images([rgb.rotate(180)])[0]
    assert float(stored["upside_down.jpg"].vector @ original) > float(flipped @ original)


# -- incremental -----------------------------------------------------------------


def test_second_run_skips_unchanged_files_without_reading_them(
    store: VectorStore, clip: CountingCLIPEmbedder, tmp_path: Path
) -> None:
    paths = make_folder(tmp_path / "pics")
    first, _ = ingest(store, clip, f"images:{tmp_path / 'pics'}")
    assert first.stored == 6 and clip.rows == 6
    before = records_by_path(store)
    # Make every file undecodable but keep its size and mtime: a run that decoded or
    # even hashed them would now report them as bad or as changed.
    for path in paths:
        info = path.stat()
        path.write_bytes(b"\0" * info.st_size)
        os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    clip.rows = 0
    second, lines = ingest(store, clip, f"images:{tmp_path / 'pics'}")
    assert (second.stored, second.unchanged, second.skipped, second.reused) == (0, 6, 0, 0)
    assert lines == [] and clip.rows == 0
    assert second.exit_code == 0
    after = records_by_path(store)
    assert {k: r.content_hash for k, r in after.items()} == {
        k: r.content_hash for k, r in before.items()
    }


def test_touched_file_reuses_its_vector_and_changed_file_is_embedded(
    store: VectorStore, clip: CountingCLIPEmbedder, tmp_path: Path
) -> None:
    paths = make_folder(tmp_path / "pics")
    ingest(store, clip, f"images:{tmp_path / 'pics'}")
    os.utime(paths[0], (1_000_000_000, 1_000_000_000))  # same bytes, new mtime
    save_image(halves((48, 40), (255, 255, 0), (0, 0, 0), "RGB"), paths[1])  # new content
    clip.rows = 0
    report, _ = ingest(store, clip, f"images:{tmp_path / 'pics'}")
    assert (report.stored, report.reused, report.unchanged) == (2, 1, 4)
    assert clip.rows == 1
    stored = records_by_path(store)
    assert stored[paths[0].name].metadata["mtime"] == 1_000_000_000
    assert stored[paths[1].name].content_hash == sha256_of(paths[1])


def test_moved_file_reuses_its_vector_and_replaces_its_old_record_in_the_same_run(
    store: VectorStore, clip: CountingCLIPEmbedder, tmp_path: Path
) -> None:
    root = tmp_path / "pics"
    paths = make_folder(root)
    ingest(store, clip, f"images:{root}")
    old = records_by_path(store)[paths[2].name]
    (root / "moved").mkdir()
    renamed = paths[2].rename(root / "moved" / "renamed.png")
    clip.rows = 0
    report, _ = ingest(store, clip, f"images:{root}")
    assert (report.stored, report.reused, report.unchanged, report.moved) == (1, 1, 5, 1)
    assert clip.rows == 0  # not embedded again
    stored = records_by_path(store)
    new = stored["moved/renamed.png"]
    assert new.id == derive_image_id(str(renamed.resolve())) != old.id
    assert np.array_equal(new.vector, old.vector)
    assert paths[2].name not in stored and store.count(NS) == 6  # one record, at the new path
    assert [m.metadata["path"] for m in store.search([NS], new.vector, limit=2)][:1] == [
        "moved/renamed.png"
    ]
    report, _ = ingest(store, clip, f"images:{root}", prune=True)
    assert (report.stored, report.unchanged, report.pruned) == (0, 6, 0)


def test_copied_file_keeps_both_records_and_prune_forgets_deleted_ones(
    store: VectorStore, clip: CountingCLIPEmbedder, tmp_path: Path
) -> None:
    root = tmp_path / "pics"
    paths = make_folder(root)
    ingest(store, clip, f"images:{root}")
    shutil.copy(paths[2], root / "copy.png")  # the original stays: not a move
    report, _ = ingest(store, clip, f"images:{root}")
    assert (report.stored, report.reused, report.moved) == (1, 1, 0)
    assert paths[2].name in records_by_path(store) and store.count(NS) == 7
    paths[3].unlink()
    report, _ = ingest(store, clip, f"images:{root}")
    assert (report.pruned, report.moved) == (0, 0) and store.count(NS) == 7  # kept until --prune
    report, _ = ingest(store, clip, f"images:{root}", prune=True)
    assert report.pruned == 1 and paths[3].name not in records_by_path(store)


def test_identical_files_are_embedded_once(
    store: VectorStore, clip: CountingCLIPEmbedder, tmp_path: Path
) -> None:
    root = tmp_path / "pics"
    (first,) = make_folder(root, 1)
    for name in ["copy1.png", "copy2.png", "copy3.png"]:
        shutil.copy(first, root / name)
    report, _ = ingest(store, clip, f"images:{root}", batch_size=2)
    assert (report.stored, report.reused) == (4, 3)
    assert clip.rows == 1
    vectors = [record.vector for record in records_by_path(store).values()]
    assert all(np.array_equal(vectors[0], vector) for vector in vectors)


def test_prune_touches_only_this_sources_records(
    store: VectorStore, clip: CountingCLIPEmbedder, tmp_path: Path
) -> None:
    a = make_folder(tmp_path / "a", 3)
    b = make_folder(tmp_path / "ab", 3)  # a sibling whose name starts like "a"
    listing = tmp_path / "list.txt"
    listing.write_text(f"{a[0]},first\n")
    ingest(store, clip, f"images:{tmp_path / 'a'}")
    ingest(store, clip, f"images:{tmp_path / 'ab'}")
    ingest(store, clip, f"image-list:{listing}", namespace="listed")
    a[1].unlink()
    b[1].unlink()
    report, _ = ingest(store, clip, f"images:{tmp_path / 'a'}", prune=True, dry_run=True)
    assert report.pruned == 1 and store.count(NS) == 6  # dry run: nothing deleted
    report, _ = ingest(store, clip, f"images:{tmp_path / 'a'}", prune=True)
    assert report.pruned == 1
    remaining = {r.metadata["abs_path"] for r in store.list_records(NS, limit=100)}
    assert str(b[1].resolve()) in remaining  # the other folder's gone file is its business
    assert str(a[1].resolve()) not in remaining
    a[0].unlink()
    report, _ = ingest(store, clip, f"image-list:{listing}", namespace="listed", prune=True)
    assert report.pruned == 1 and report.skipped == 1 and store.count("listed") == 0


def test_prune_keeps_files_that_are_only_unreadable_or_unsampled(
    store: VectorStore, clip: CountingCLIPEmbedder, tmp_path: Path
) -> None:
    root = tmp_path / "pics"
    make_folder(root / "sub", 2)
    make_folder(root, 4)
    ingest(store, clip, f"images:{root}")
    report, _ = ingest(store, clip, f"images:{root}", prune=True, sample=2)
    assert report.pruned == 0 and store.count(NS) == 6
    report, _ = ingest(store, clip, f"images:{root}", prune=True, recursive=False)
    assert report.pruned == 0 and store.count(NS) == 6


def test_list_labels_are_stored_and_relabelling_does_not_re_embed(
    store: VectorStore, clip: CountingCLIPEmbedder, tmp_path: Path
) -> None:
    root = tmp_path / "photos"
    for rel in ["beach/sunset.jpg", "beach/waves.jpg", "mountains/peak.jpg"]:
        save_image(halves((40, 30), (250, 120, 20), (20, 60, 200), "RGB"), root / rel)
    listing = root / "images.txt"
    listing.write_text(
        "beach/sunset.jpg,landscape\nbeach/waves.jpg,seascape\n"
        "mountains/peak.jpg,landscape\ncity/downtown.jpg,urban\n"
    )
    report, lines = ingest(store, clip, f"image-list:{listing}")
    assert lines == ["skipping city/downtown.jpg (images.txt line 4): file not found"]
    assert (report.stored, report.skipped) == (3, 1)
    stored = records_by_path(store)
    sunset = stored[str(root / "beach" / "sunset.jpg")]
    assert {key: sunset.metadata[key] for key in
            ("type", "filename", "path", "extension", "label", "namespace")} == {
        "type": "image", "filename": "sunset.jpg", "path": str(root / "beach" / "sunset.jpg"),
        "extension": ".jpg", "label": "landscape", "namespace": NS,
    }
    listing.write_text("beach/sunset.jpg,golden hour,beach\nbeach/waves.jpg,seascape\n")
    clip.rows = 0
    report, _ = ingest(store, clip, f"image-list:{listing}")
    assert (report.stored, report.reused, report.unchanged) == (1, 1, 1) and clip.rows == 0
    relabelled = records_by_path(store)[str(root / "beach" / "sunset.jpg")]
    assert relabelled.metadata["labels"] == ["golden hour", "beach"]
    assert relabelled.metadata["width"] == 40 and np.array_equal(relabelled.vector, sunset.vector)

    # the same files through the folder: the guide's relative paths, same records
    report, _ = ingest(store, clip, f"images:{root}")
    assert report.reused == 3 and clip.rows == 0
    assert sorted(records_by_path(store)) == [
        "beach/sunset.jpg", "beach/waves.jpg", "mountains/peak.jpg",
    ]


# -- options ---------------------------------------------------------------------


def test_dry_run_decodes_and_embeds_but_writes_nothing(
    store: VectorStore, clip: CountingCLIPEmbedder, collection: Collection
) -> None:
    report, lines = ingest(store, clip, f"images:{collection.root}", dry_run=True)
    assert report.dry_run and report.stored == len(collection.good)
    assert len(lines) == report.skipped == 8  # bad files are found by decoding them
    assert clip.rows == model_rows(collection)  # as a real run would, model problems included
    assert store.list_namespaces() == []


def test_sample_is_deterministic_and_resumable(
    store: VectorStore, clip: CountingCLIPEmbedder, tmp_path: Path
) -> None:
    make_folder(tmp_path / "pics", 10)
    first, _ = ingest(store, clip, f"images:{tmp_path / 'pics'}", sample=4)
    ids = {record.id for record in store.list_records(NS, limit=100)}
    second, _ = ingest(store, clip, f"images:{tmp_path / 'pics'}", sample=4)
    assert (first.seen, first.stored) == (4, 4)
    assert (second.stored, second.unchanged) == (0, 4)
    assert {record.id for record in store.list_records(NS, limit=100)} == ids


def test_worker_counts_give_identical_results(
    clip: CountingCLIPEmbedder, tmp_path: Path
) -> None:
    make_folder(tmp_path / "pics", 7)
    copy_photos(tmp_path / "pics" / "real")
    results = []
    for workers in (0, 1, 3):
        with open_store(tmp_path / f"store{workers}") as store:
            ingest(store, clip, f"images:{tmp_path / 'pics'}", workers=workers, batch_size=3)
            results.append(
                [(r.id, r.content_hash, r.vector.tobytes(), r.metadata)
                 for r in store.list_records(NS, limit=100, with_vectors=True)]
            )
    assert results[0] == results[1] == results[2]


def test_progress_total_and_advance(
    store: VectorStore, clip: CountingCLIPEmbedder, collection: Collection
) -> None:
    progress = Progress(unit="images", stream=io.StringIO())
    source = open_source(f"images:{collection.root}")
    report = run_ingest(store, clip, source, IngestOptions(namespace=NS, batch_size=5), progress)
    assert progress.total == report.seen == progress.done


def test_refusals(store: VectorStore, clip: CountingCLIPEmbedder, tmp_path: Path) -> None:
    make_folder(tmp_path / "pics", 1)
    source = open_source(f"images:{tmp_path / 'pics'}")
    with pytest.raises(UnsupportedModalityError):
        run_ingest(store, HashingEmbedder(), source, IngestOptions(namespace=NS))
    store.ensure_namespace("other", EmbeddingSpace("clip", "ViT-B-32", "openai", 512))
    with pytest.raises(SpaceMismatchError):
        run_ingest(store, clip, source, IngestOptions(namespace="other"))
    with pytest.raises(SpaceMismatchError):
        run_ingest(store, clip, source, IngestOptions(namespace="other", dry_run=True))
    with pytest.raises(InvalidInputError):
        IngestOptions(namespace=NS, batch_size=0)
    assert store.count("other") == 0 and [n.name for n in store.list_namespaces()] == ["other"]


def test_non_utf8_file_name_is_stored_and_found_unchanged(
    store: VectorStore, clip: CountingCLIPEmbedder, tmp_path: Path
) -> None:
    root = tmp_path / "pics"
    root.mkdir()
    with open(os.path.join(os.fsencode(root), NON_UTF8_NAME), "wb") as out:
        out.write(encode_image(halves((30, 20), (0, 0, 255), (255, 0, 0), "RGB"), "JPEG"))
    report, lines = ingest(store, clip, f"images:{root}")
    assert report.stored == 1 and lines == []
    (record,) = store.list_records(NS, limit=10)
    assert record.metadata["filename"] == "caf\\xe9-latin1.jpg"
    again, _ = ingest(store, clip, f"images:{root}")
    assert again.unchanged == 1


class MeanColourEmbedder(ImageEmbedderBase):
    """A real but trivial image embedder (mean colour of the preprocessed pixels), numpy only.

    Used where torch cannot run: in a child forked from a process whose torch thread
    pool is already running (OpenMP is not fork-safe).
    """

    name = "mean-colour"
    device = "cpu"
    wants_cores_to_itself = False

    @property
    def space(self) -> EmbeddingSpace:
        return EmbeddingSpace(self.name, "rgb-mean", "", 4)

    @property
    def preprocess_config(self) -> PreprocessConfig:
        return PreprocessConfig(height=16, width=16)

    def embed_texts(self, texts: Any) -> np.ndarray:
        raise UnsupportedModalityError("images only")

    def embed_preprocessed(self, batch: np.ndarray) -> np.ndarray:
        means = np.asarray(batch, dtype=np.float32).mean(axis=(2, 3))
        return normalized_rows(np.hstack([means, np.ones((len(batch), 1), np.float32)]))


def test_unreadable_file_is_reported_with_its_reason() -> None:
    # Root reads chmod-000 files, so the ingest runs in a child that gave up root
    # (the Python install here is not reachable for a fresh unprivileged process).
    root = make_shared_tempdir()
    try:
        make_folder(root / "pics", 2)
        (root / "pics").chmod(0o755)
        secret = root / "pics" / "secret.png"
        save_image(halves((8, 8), (1, 2, 3), (4, 5, 6), "RGB"), secret).chmod(0)

        def ingest_folder() -> tuple[int, int, list[str]]:
            stream = io.StringIO()
            with open_store(root / "store") as store:
                report, lines = ingest(store, MeanColourEmbedder(), f"images:{root / 'pics'}",
                                       stream=stream, workers=2)
                return report.stored, store.count(NS), lines

        result = run_as_other_user(ingest_folder) if os.geteuid() == 0 else ingest_folder()
        assert result == (2, 2, [f"skipping {secret}: permission denied"])
    finally:
        shutil.rmtree(root)


def test_a_kill_loses_at_most_the_batch_in_flight(tmp_path: Path) -> None:
    make_folder(tmp_path / "pics", 10)
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_image_ingest import CountingCLIPEmbedder
        from same_same.ingest import IngestOptions, Progress, run_ingest
        from same_same.sources import open_source
        from same_same.storage import open_store

        class KillAfterTwoBatches(Progress):
            def advance(self, count=1, current=None):
                super().advance(count, current)
                if self.done >= 8:
                    os.kill(os.getpid(), signal.SIGKILL)

        store = open_store({str(tmp_path / "store")!r})
        run_ingest(store, CountingCLIPEmbedder(), open_source({f"images:{tmp_path / 'pics'}"!r}),
                   IngestOptions(namespace={NS!r}, batch_size=4),
                   KillAfterTwoBatches(enabled=False))
        """
    )
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=300)
    assert killed.returncode == -9, killed.stderr.decode()[-2000:]
    with open_store(tmp_path / "store") as store:
        assert store.count(NS) == 8  # two committed batches survive, nothing half-written
        report, _ = ingest(store, CountingCLIPEmbedder(), f"images:{tmp_path / 'pics'}")
        assert (report.unchanged, report.stored) == (8, 2)
