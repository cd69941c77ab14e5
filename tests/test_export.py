"""same-same export and ingest parquet:/npy:/vectors: on real temp stores, through the CLI."""

from __future__ import annotations

import gc
import json
import weakref
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli
from milvus_fixtures import drop_scope, milvus_spec
from same_same.exchange import ExportOptions, ImportOptions, export_namespace, import_file
from same_same.records import NAMESPACE_KEY, EmbeddingSpace, Record, stamp_namespace
from same_same.storage import open_store
from same_same.storage.sqlite import SQLiteStore

SPACE = EmbeddingSpace("clip", "ViT-B-32", "openai", 8)
FORMATS = {"parquet": "out.parquet", "npy": "out.npy", "jsonl": "out.jsonl"}
SOURCE_NAMES = {"parquet": "parquet", "npy": "npy", "jsonl": "vectors"}


def make_records(count: int, namespace: str = "photos") -> list[Record]:
    """Vectors with awkward float32 bits (subnormals, many digits) and nested metadata."""
    rng = np.random.default_rng(7)
    records = []
    for index in range(count):
        vector = rng.standard_normal(SPACE.dim).astype(np.float32)
        vector[0] = np.float32(1e-40) if index % 3 == 0 else vector[0]  # a subnormal
        metadata = {
            "tags": ["a", f"t{index}"],
            "exif": {"camera": {"make": "Ü-Cam", "iso": index * 100}, "gps": None},
            "score": index / 7,
        }
        records.append(
            Record(
                id=f"rec-{index:04d}",
                vector=vector,
                text=None if index % 4 == 0 else f"text {index} ✓",
                metadata=stamp_namespace(metadata, namespace),
                content_hash=None if index % 5 == 0 else f"hash-{index}",
            )
        )
    return records


def fill_store(data_dir: Path, records: Sequence[Record], namespace: str = "photos") -> None:
    with open_store(data_dir) as store:
        store.ensure_namespace(namespace, SPACE)
        store.upsert(namespace, records, writer="torch")


def stored(data_dir: Path, namespace: str, spec: str | None = None) -> list[Record]:
    with open_store(data_dir, spec) as store:
        return store.list_records(namespace, limit=10_000, with_vectors=True)


def assert_same_records(got: list[Record], want: Sequence[Record], namespace: str) -> None:
    assert [r.id for r in got] == [r.id for r in want]
    for mine, theirs in zip(got, want, strict=True):
        assert mine.vector.dtype == np.float32
        assert mine.vector.tobytes() == np.asarray(theirs.vector, np.float32).tobytes()
        assert mine.text == theirs.text
        assert mine.content_hash == theirs.content_hash
        assert mine.metadata == {**theirs.metadata, NAMESPACE_KEY: namespace}


@pytest.mark.parametrize("format_name", sorted(FORMATS))
def test_round_trip_is_bit_exact_into_a_fresh_store(tmp_path: Path, format_name: str) -> None:
    records = make_records(23)
    fill_store(tmp_path / "a", records)
    out = tmp_path / FORMATS[format_name]
    done = run_cli("export", "-n", "photos", "-o", str(out), "--page-size", "5", "--json",
                   data_dir=tmp_path / "a")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["count"] == 23
    source = f"{SOURCE_NAMES[format_name]}:{out}"
    back = run_cli("ingest", source, "-n", "photos", "--batch-size", "4", data_dir=tmp_path / "b")
    assert back.returncode == 0, back.stderr
    assert "imported 23 records" in back.stderr
    assert_same_records(stored(tmp_path / "b", "photos"), records, "photos")
    with open_store(tmp_path / "b") as store:
        info = store.get_namespace("photos")
    assert info.space == SPACE
    assert info.writers == ("torch",)


@pytest.mark.parametrize("format_name", sorted(FORMATS))
def test_import_into_another_namespace_of_the_same_store(tmp_path: Path, format_name: str) -> None:
    records = make_records(9)
    fill_store(tmp_path, records)
    out = tmp_path / FORMATS[format_name]
    assert run_cli("export", "-n", "photos", "-o", str(out), data_dir=tmp_path).returncode == 0
    back = run_cli("ingest", f"{SOURCE_NAMES[format_name]}:{out}", "-n", "copy", data_dir=tmp_path)
    assert back.returncode == 0, back.stderr
    assert_same_records(stored(tmp_path, "copy"), records, "copy")
    assert_same_records(stored(tmp_path, "photos"), records, "photos")


def test_extensions_name_the_format(tmp_path: Path) -> None:
    fill_store(tmp_path, make_records(3))
    assert run_cli("export", "-o", str(tmp_path / "x.parquet"), "-n", "photos",
                   data_dir=tmp_path).returncode == 0  # fmt: skip
    assert run_cli("export", "-o", str(tmp_path / "x.npy"), "-n", "photos",
                   data_dir=tmp_path).returncode == 0  # fmt: skip
    assert (tmp_path / "x.jsonl").is_file()  # the .npy's sibling
    for name in ("x.parquet", "x.npy"):
        back = run_cli("ingest", str(tmp_path / name), "-n", name, data_dir=tmp_path)
        assert back.returncode == 0, back.stderr
        assert len(stored(tmp_path, name)) == 3
    unknown = run_cli("export", "-o", str(tmp_path / "x.bin"), "-n", "photos", data_dir=tmp_path)
    assert unknown.returncode == 1
    assert unknown.stderr.count("\n") == 1 and "--format" in unknown.stderr


def test_the_text_jsonl_source_is_unchanged(tmp_path: Path) -> None:
    """A plain .jsonl is still text to embed; only vectors:FILE reads an export's vectors."""
    texts = tmp_path / "texts.jsonl"
    texts.write_text('{"text": "hello there"}\n{"text": "general kenobi"}\n', encoding="utf-8")
    done = run_cli("ingest", str(texts), "-n", "t", "-q", data_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(stored(tmp_path, "t")) == 2


def test_import_into_milvus(tmp_path: Path, milvus_address: str) -> None:
    records = make_records(12)
    fill_store(tmp_path, records)
    out = tmp_path / "out.parquet"
    assert run_cli("export", "-n", "photos", "-o", str(out), data_dir=tmp_path).returncode == 0
    spec = milvus_spec(milvus_address, tmp_path)
    try:
        back = run_cli("ingest", f"parquet:{out}", "-n", "photos", "--store", spec,
                       "--batch-size", "5", data_dir=tmp_path / "m")  # fmt: skip
        assert back.returncode == 0, back.stderr
        assert_same_records(stored(tmp_path / "m", "photos", spec), records, "photos")
        # and out again, from Milvus, to a file equal in content to the first
        again = tmp_path / "again.jsonl"
        done = run_cli("export", "-n", "photos", "-o", str(again), "--store", spec,
                       data_dir=tmp_path / "m")  # fmt: skip
        assert done.returncode == 0, done.stderr
        run_cli("ingest", f"vectors:{again}", "-n", "round", data_dir=tmp_path / "c")
        assert_same_records(stored(tmp_path / "c", "round"), records, "round")
    finally:
        drop_scope(spec)


def test_another_embedding_space_is_refused_in_one_line(tmp_path: Path) -> None:
    fill_store(tmp_path / "a", make_records(4))
    out = tmp_path / "out.parquet"
    assert (
        run_cli("export", "-n", "photos", "-o", str(out), data_dir=tmp_path / "a").returncode == 0
    )
    with open_store(tmp_path / "b") as store:
        store.ensure_namespace("photos", EmbeddingSpace("clip", "ViT-L-14", "openai", 8))
    refused = run_cli("ingest", f"parquet:{out}", "-n", "photos", data_dir=tmp_path / "b")
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1, refused.stderr
    assert "ViT-B-32" in refused.stderr and "ViT-L-14" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert stored(tmp_path / "b", "photos") == []


def damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) * 2 // 3])
    else:
        path.write_bytes(data[:20] + b"\x00garbage\xff" * 40 + data[420:])


@pytest.mark.parametrize("how", ["truncated", "corrupt"])
@pytest.mark.parametrize("format_name", sorted(FORMATS))
def test_a_damaged_file_is_refused_in_one_line(tmp_path: Path, format_name: str, how: str) -> None:
    fill_store(tmp_path / "a", make_records(40))
    out = tmp_path / FORMATS[format_name]
    assert (
        run_cli("export", "-n", "photos", "-o", str(out), data_dir=tmp_path / "a").returncode == 0
    )
    damage(out, how)
    refused = run_cli("ingest", f"{SOURCE_NAMES[format_name]}:{out}", "-n", "photos",
                      data_dir=tmp_path / "b")  # fmt: skip
    assert refused.returncode == 1, refused.stderr
    assert refused.stderr.count("\n") == 1, refused.stderr
    assert refused.stderr.startswith("error: "), refused.stderr
    assert "internal error" not in refused.stderr and "Traceback" not in refused.stderr


def test_an_npy_without_its_records_file_is_refused(tmp_path: Path) -> None:
    fill_store(tmp_path, make_records(3))
    out = tmp_path / "out.npy"
    assert run_cli("export", "-n", "photos", "-o", str(out), data_dir=tmp_path).returncode == 0
    (tmp_path / "out.jsonl").unlink()
    refused = run_cli("ingest", f"npy:{out}", "-n", "x", data_dir=tmp_path)
    assert refused.returncode == 1
    assert "out.jsonl is missing" in refused.stderr and refused.stderr.count("\n") == 1


def test_pandas_reads_the_parquet(tmp_path: Path) -> None:
    pandas = pytest.importorskip("pandas")  # in the [dev] extra
    records = make_records(6)
    fill_store(tmp_path, records)
    out = tmp_path / "photos.parquet"
    assert run_cli("export", "-n", "photos", "-o", str(out), data_dir=tmp_path).returncode == 0
    frame = pandas.read_parquet(out)
    assert list(frame.columns) == ["id", "vector", "text", "metadata", "content_hash"]
    assert list(frame["id"]) == [r.id for r in records]
    assert (
        np.stack(frame["vector"]).astype(np.float32).tobytes()
        == np.stack([r.vector for r in records]).tobytes()
    )
    assert json.loads(frame["metadata"][1])["exif"]["camera"]["make"] == "Ü-Cam"
    import pyarrow.parquet as pq

    schema = pq.read_schema(out)
    assert json.loads(schema.metadata[b"same_same.space"])["space"] == SPACE.to_dict()
    vector_type = schema.field("vector").type
    assert (vector_type.list_size, str(vector_type.value_type)) == (8, "float")


class PageCountingStore(SQLiteStore):
    """The real store, noting how many records it handed out are still alive at each read
    or write: the most an export or import ever holds at once."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir)
        self.handed_out: list[weakref.ref[Record]] = []
        self.most_alive = 0
        self.pages = 0
        self.offsets: list[int] = []
        self.cursors: list[str | None] = []

    def note_alive(self) -> None:
        gc.collect()
        self.handed_out = [ref for ref in self.handed_out if ref() is not None]
        self.most_alive = max(self.most_alive, len(self.handed_out))

    def list_records(
        self,
        namespace: str,
        offset: int = 0,
        limit: int = 100,
        with_vectors: bool = False,
        after_id: str | None = None,
    ) -> list[Record]:
        self.note_alive()
        page = super().list_records(namespace, offset, limit, with_vectors, after_id)
        self.pages += 1
        self.offsets.append(offset)
        self.cursors.append(after_id)
        self.handed_out.extend(weakref.ref(record) for record in page)
        return page

    def upsert(self, namespace: str, records: Sequence[Record], writer: str | None = None) -> int:
        self.handed_out.extend(weakref.ref(record) for record in records)
        self.note_alive()  # this batch, and any earlier one still held
        self.pages += 1
        return super().upsert(namespace, records, writer)


@pytest.mark.parametrize("format_name", sorted(FORMATS))
def test_export_and_import_hold_one_page_at_a_time(tmp_path: Path, format_name: str) -> None:
    count, page = 200, 16
    fill_store(tmp_path / "a", make_records(count))
    out = tmp_path / FORMATS[format_name]
    with PageCountingStore(tmp_path / "a") as store:
        export_namespace(store, "photos", out, ExportOptions(page_size=page))
        assert store.pages == count // page + 1
        assert 0 < store.most_alive <= page
        # each page continues after the last id (no offset to scan through): a page costs
        # the same at the millionth record as at the first
        assert set(store.offsets) == {0}
        ids = sorted(record.id for record in make_records(count))
        assert store.cursors == [None, *ids[page - 1 :: page]]
    with PageCountingStore(tmp_path / "b") as store:
        report = import_file(store, out, "photos", ImportOptions(batch_size=page))
        assert report.count == count
        assert store.pages == -(-count // page)
        assert 0 < store.most_alive <= page
    assert_same_records(stored(tmp_path / "b", "photos"), make_records(count), "photos")


def test_dry_run_reads_everything_and_stores_nothing(tmp_path: Path) -> None:
    fill_store(tmp_path / "a", make_records(5))
    out = tmp_path / "out.parquet"
    assert (
        run_cli("export", "-n", "photos", "-o", str(out), data_dir=tmp_path / "a").returncode == 0
    )
    done = run_cli("ingest", f"parquet:{out}", "-n", "p", "--dry-run", "--json",
                   data_dir=tmp_path / "b")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"namespace": "p", "source": str(out), "imported": 0,
                                       "read": 5, "dry_run": True}  # fmt: skip
    with open_store(tmp_path / "b") as store:
        assert store.find_namespace("p") is None


def test_an_unknown_namespace_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    fill_store(tmp_path, make_records(2))
    out = tmp_path / "none.parquet"
    refused = run_cli("export", "-n", "nope", "-o", str(out), data_dir=tmp_path)
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1 and "no namespace 'nope'" in refused.stderr
    assert list(tmp_path.glob("*.parquet")) == [] and list(tmp_path.glob(".*partial")) == []


class FailingSecondPageStore(SQLiteStore):
    """The real store, failing its second page read (a disk error, a store gone away)."""

    pages = 0

    def list_records(
        self,
        namespace: str,
        offset: int = 0,
        limit: int = 100,
        with_vectors: bool = False,
        after_id: str | None = None,
    ) -> list[Record]:
        self.pages += 1
        if self.pages == 2:
            raise OSError("the disk went away")
        return super().list_records(namespace, offset, limit, with_vectors, after_id)


@pytest.mark.parametrize("format_name", sorted(FORMATS))
def test_a_failed_export_leaves_no_file(tmp_path: Path, format_name: str) -> None:
    fill_store(tmp_path, make_records(10))
    out = tmp_path / "out" / FORMATS[format_name]
    out.parent.mkdir()
    with FailingSecondPageStore(tmp_path) as store, pytest.raises(OSError):
        export_namespace(store, "photos", out, ExportOptions(page_size=4))
    assert list(out.parent.iterdir()) == []
