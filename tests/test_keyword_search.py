"""Keyword search in the embedded store: its terms, BM25 order, filters, and an FTS5
table that follows every write (and is built for files of the version before)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from same_same.errors import InvalidInputError, NamespaceNotFoundError, SpaceMismatchError
from same_same.records import EmbeddingSpace, Record
from same_same.storage.keyword_terms import match_expression, record_terms, split_terms
from same_same.storage.sqlite import SQLiteStore
from same_same.storage.sqlite_schema import SCHEMA_VERSION
from store_fixtures import DIM, SPACE, drop_keyword_schema


def _record(record_id: str, text: str | None = None, seed: int = 0, **metadata: object) -> Record:
    vector = np.random.default_rng(seed).normal(size=DIM).astype(np.float32)
    return Record(record_id, vector, text=text, metadata=dict(metadata))


def _ids(matches: list) -> list[str]:  # type: ignore[type-arg]
    return [match.id for match in matches]


def test_file_names_and_paths_split_into_words() -> None:
    assert split_terms("IMG_2041_beach-sunset.jpg") == ["img", "2041", "beach", "sunset", "jpg"]
    assert split_terms("BeachSunset scene00010") == ["beach", "sunset", "scene", "00010"]
    assert split_terms("Café  Zürich, 東京") == ["café", "zürich", "東京"]
    assert record_terms("a/b.png", "Red fox", {"tags": ["Snow", {"k": "Night"}], "n": 3}) == (
        "a b png red fox snow night"
    )


def test_query_syntax_never_reaches_fts5() -> None:
    assert match_expression('sunset" OR NEAR(x') == '"sunset" OR "or" OR "near" OR "x"'
    assert match_expression("  ...  ") is None


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    opened = SQLiteStore(tmp_path)
    opened.ensure_namespace("photos", SPACE)
    opened.upsert(
        "photos",
        [
            _record("IMG_0001_beach-sunset.jpg", seed=1, year=2020),
            _record("IMG_0002_mountain.jpg", "snowy mountain at sunset", seed=2, year=2021),
            _record("notes.txt", "the sunsets of August, the beach at dawn", seed=3, year=2022),
            _record("cat.png", "a cat asleep", seed=4, labels=["pet", "indoor"]),
        ],
    )
    yield opened  # type: ignore[misc]
    opened.close()


def test_bm25_ranks_the_records_matching_most_terms_first(store: SQLiteStore) -> None:
    found = store.keyword_search(["photos"], "beach sunset", limit=10)
    assert set(_ids(found)[:2]) == {"IMG_0001_beach-sunset.jpg", "notes.txt"}  # both terms
    assert set(_ids(found)) == {"IMG_0001_beach-sunset.jpg", "notes.txt", "IMG_0002_mountain.jpg"}
    assert "cat.png" not in _ids(found)  # no term matches: never a keyword answer
    assert _ids(store.keyword_search(["photos"], "pet")) == ["cat.png"]  # metadata lists count
    assert _ids(store.keyword_search(["photos"], "sunsets")) == _ids(
        store.keyword_search(["photos"], "sunset")
    )  # stemmed
    assert store.keyword_search(["photos"], "the of a") != []  # the store keeps every word
    assert store.keyword_search(["photos"], "!!!") == []
    assert len(store.keyword_search(["photos"], "sunset", limit=1)) == 1


def test_scores_are_cosine_to_the_given_vector(store: SQLiteStore) -> None:
    query = np.random.default_rng(2).normal(size=DIM).astype(np.float32)  # the mountain's
    found = store.keyword_search(["photos"], "mountain", vector=query)
    assert _ids(found) == ["IMG_0002_mountain.jpg"]
    assert found[0].score == pytest.approx(1.0, abs=1e-6)
    vector_hit = store.search(["photos"], query, limit=1)[0]
    assert found[0].score == pytest.approx(vector_hit.score, abs=1e-6)  # float32 rounding
    assert found[0].metadata == {"year": 2021}
    assert all(match.score == 0.0 for match in store.keyword_search(["photos"], "sunset"))
    with pytest.raises(InvalidInputError):
        store.keyword_search(["photos"], "sunset", vector=np.zeros(DIM, dtype=np.float32))


def test_filters_and_namespaces_are_checked_like_search(store: SQLiteStore) -> None:
    found = store.keyword_search(["photos"], "sunset", filters={"year": {"gte": 2021}})
    assert set(_ids(found)) == {"IMG_0002_mountain.jpg", "notes.txt"}
    with pytest.raises(NamespaceNotFoundError):
        store.keyword_search(["photos", "missing"], "sunset")
    with pytest.raises(InvalidInputError):
        store.keyword_search(["photos"], "sunset", limit=0)
    with pytest.raises(InvalidInputError):
        store.keyword_search(["photos"], 42)  # type: ignore[arg-type]
    store.ensure_namespace("wide", EmbeddingSpace("test", "random-16", "", 16))
    with pytest.raises(SpaceMismatchError):
        store.keyword_search(["photos", "wide"], "x", vector=np.ones(DIM, dtype=np.float32))


def test_the_terms_follow_upserts_and_deletes(store: SQLiteStore) -> None:
    store.upsert("photos", [_record("cat.png", "a dog at the beach", seed=4)])
    assert "cat.png" in _ids(store.keyword_search(["photos"], "dog"))
    assert _ids(store.keyword_search(["photos"], "asleep")) == []
    store.delete("photos", ["notes.txt"])
    assert "notes.txt" not in _ids(store.keyword_search(["photos"], "august beach"))
    store.ensure_namespace("other", SPACE)
    store.upsert("other", [_record("beach.jpg", seed=9)])
    both = store.keyword_search(["photos", "other"], "beach")
    assert {(m.namespace, m.id) for m in both} >= {("other", "beach.jpg"), ("photos", "cat.png")}
    store.delete_namespace("other")
    store.ensure_namespace("other", SPACE)
    assert store.keyword_search(["other"], "beach") == []


def test_a_version_4_file_is_indexed_when_opened(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path) as store:
        store.ensure_namespace("old", SPACE)
        store.upsert("old", [_record("harbour.jpg", "boats at night"), _record("b.jpg")])
    conn = sqlite3.connect(tmp_path / "same-same.db")  # as version 4 left it
    drop_keyword_schema(conn)
    conn.execute("PRAGMA user_version = 4")
    conn.commit()
    conn.close()
    with SQLiteStore(tmp_path) as store:
        assert _ids(store.keyword_search(["old"], "boats")) == ["harbour.jpg"]
        assert store.read_note("old", "relevance") is None
        store.upsert("old", [_record("c.jpg", "more boats")])
        assert sorted(_ids(store.keyword_search(["old"], "boats"))) == ["c.jpg", "harbour.jpg"]
    conn = sqlite3.connect(tmp_path / "same-same.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5
    conn.close()


def test_terms_every_record_has_are_no_evidence(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path) as store:
        store.ensure_namespace("photos", SPACE)
        store.upsert("photos", [_record(f"IMG_{i:04d}.jpg", seed=i) for i in range(30)])
        assert _ids(store.keyword_search(["photos"], "IMG_0007.jpg", limit=10)) == ["IMG_0007.jpg"]
        everything = store.keyword_search(["photos"], "img jpg", limit=50)
        assert len(everything) == 30  # nothing stands out: every record is as good
