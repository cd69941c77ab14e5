"""SearchService and VectorService against a real SQLite store and the real local embedder."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from same_same.embedders.hashing import HashingEmbedder
from same_same.errors import (
    AmbiguousSpaceError,
    InvalidInputError,
    NamespaceNotFoundError,
    NotFoundError,
    RecordNotFoundError,
    SameSameError,
    UnsupportedModalityError,
)
from same_same.hybrid import HybridWeights, parse_hybrid_weights
from same_same.records import EmbeddingSpace, Record
from same_same.search import SearchService
from same_same.storage import VectorStore, open_store
from same_same.vectors import VectorService

QUOTES = [
    ("sunset", "a red sunset over the ocean with waves on the beach", {"author": "Ann"}),
    ("cat", "a cat sleeping on a warm sofa", {"author": "Bob"}),
    ("market", "stock market prices fell sharply today", {"author": "Cy"}),
    ("mountain", "snow on the mountain peak at dawn", {"author": "Ann", "year": 1999}),
]


class CountingEmbedder(HashingEmbedder):
    """The real local embedder, counting how often it is asked to embed."""

    calls = 0

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        return super().embed_texts(texts)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[VectorStore]:
    with open_store(tmp_path) as opened:
        yield opened


@pytest.fixture
def vectors(store: VectorStore) -> VectorService:
    service = VectorService(store)
    for record_id, text, metadata in QUOTES:
        service.add_text(text, record_id=record_id, namespace="quotes", metadata=metadata)
    return service


@pytest.fixture
def searcher(store: VectorStore, vectors: VectorService) -> SearchService:
    return SearchService(store)


def ids(result: object) -> list[str]:
    return [match.id for match in result.matches]  # type: ignore[attr-defined]


# -- text search -------------------------------------------------------------


def test_text_search_ranks_the_matching_record_first(searcher: SearchService) -> None:
    result = searcher.search_text("sunset over the ocean", limit=2)
    assert ids(result)[0] == "sunset"
    assert len(result.matches) == 2
    assert result.namespaces == ["quotes"]
    assert result.space.embedder == "local"
    assert result.matches[0].text == QUOTES[0][1]
    assert result.to_dict()["total"] == 2


def test_repeated_query_is_embedded_once_and_the_model_kept(
    store: VectorStore, vectors: VectorService
) -> None:
    searcher = SearchService(store)
    counting = CountingEmbedder()
    assert searcher.embedders.remember(counting) is counting
    searcher.search_text("snow at dawn")
    searcher.search_text("snow at dawn", limit=3)
    assert counting.calls == 1
    searcher.search_text("a sleeping cat")
    assert counting.calls == 2
    space = store.get_namespace("quotes").space
    assert searcher.embedders.get(space) is counting


def test_filters_restrict_results_and_bad_filters_are_rejected(searcher: SearchService) -> None:
    result = searcher.search_text("sunset over the ocean", filters={"author": "Ann"})
    assert set(ids(result)) == {"sunset", "mountain"}
    result = searcher.search_text("anything", filters={"year": {"gte": 1990}})
    assert ids(result) == ["mountain"]
    with pytest.raises(InvalidInputError, match="unknown operator"):
        searcher.search_text("sunset", filters={"year": {"greater": 3}})


@pytest.mark.parametrize("limit", [0, 1001, -1, True, 2.5, "3"])
def test_limit_out_of_range_or_of_wrong_type_is_refused(
    searcher: SearchService, limit: object
) -> None:
    with pytest.raises(InvalidInputError, match="limit"):
        searcher.search_text("sunset", limit=limit)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["", "   ", None, 5])
def test_empty_or_non_text_query_is_refused(searcher: SearchService, text: object) -> None:
    with pytest.raises(InvalidInputError):
        searcher.search_text(text)  # type: ignore[arg-type]


def test_records_written_after_the_service_started_are_found(
    tmp_path: Path, searcher: SearchService
) -> None:
    # Another store object on the same directory stands for another process (an ingest).
    with open_store(tmp_path) as other:
        VectorService(other).add_text(
            "a lighthouse in the fog", record_id="late", namespace="quotes"
        )
    assert ids(searcher.search_text("lighthouse fog", limit=1)) == ["late"]


# -- namespaces --------------------------------------------------------------


def test_empty_store_says_how_to_ingest(store: VectorStore) -> None:
    with pytest.raises(NotFoundError) as caught:
        SearchService(store).search_text("anything")
    assert "no namespaces" in caught.value.message
    assert caught.value.hint and "ingest" in caught.value.hint


def test_unknown_namespace_lists_existing_ones(searcher: SearchService) -> None:
    with pytest.raises(NamespaceNotFoundError, match="'nope'.*existing: quotes"):
        searcher.search_text("sunset", namespace="nope")


def test_namespaces_of_several_spaces_need_a_choice(
    store: VectorStore, searcher: SearchService
) -> None:
    space = EmbeddingSpace("minilm", "all-MiniLM-L6-v2", "", 384)
    store.ensure_namespace("sentences", space)
    store.upsert("sentences", [Record("s", np.ones(384, dtype=np.float32) / np.sqrt(384))])
    with pytest.raises(AmbiguousSpaceError) as caught:
        searcher.search_text("sunset")
    message = caught.value.message
    assert "quotes (local:hashing-v1 (dim 512))" in message
    assert "sentences (minilm:all-MiniLM-L6-v2 (dim 384))" in message
    assert caught.value.hint == "say which namespace to search"
    assert ids(searcher.search_text("sunset", namespace="quotes", limit=1)) == ["sunset"]


def test_an_empty_namespace_of_another_space_does_not_make_a_query_ambiguous(
    store: VectorStore, searcher: SearchService
) -> None:
    # what a failed ingest used to leave behind: "default 0 clip:ViT-B-32/openai"
    store.ensure_namespace("default", EmbeddingSpace("clip", "ViT-B-32", "openai", 512))
    result = searcher.search_text("sunset", limit=1)
    assert result.namespaces == ["quotes"] and ids(result) == ["sunset"]


def test_raw_vectors_name_their_namespace_in_metadata_like_ingested_records(
    vectors: VectorService, searcher: SearchService
) -> None:
    vectors.add_vector([1.0, 0.0, 0.0], record_id="r", namespace="raw", metadata={"a": 1})
    assert vectors.get("r", namespace="raw").record.metadata == {"a": 1, "namespace": "raw"}
    found = searcher.search_vector([1.0, 0.0, 0.0], filters={"namespace": "raw"})
    assert ids(found) == ["r"]
    vectors.update("r", namespace="raw", metadata={"b": 2})
    assert vectors.get("r").record.metadata == {"b": 2, "namespace": "raw"}
    assert vectors.get("sunset").record.metadata["namespace"] == "quotes"


def test_every_namespace_of_the_space_is_searched(
    vectors: VectorService, searcher: SearchService
) -> None:
    vectors.add_text("an orange sunset over a calm ocean", record_id="s2", namespace="more")
    result = searcher.search_text("sunset ocean", limit=2)
    assert result.namespaces == ["more", "quotes"]
    assert {(m.namespace, m.id) for m in result.matches} == {("more", "s2"), ("quotes", "sunset")}


def test_raw_vector_namespaces_are_left_out_of_text_search(
    vectors: VectorService, searcher: SearchService
) -> None:
    vectors.add_vector([1.0, 0.0, 0.0], record_id="r1", namespace="raw")
    assert searcher.search_text("sunset").namespaces == ["quotes"]
    with pytest.raises(InvalidInputError, match="raw embeddings"):
        searcher.search_text("sunset", namespace="raw")


# -- vector search -----------------------------------------------------------


def test_vector_taken_from_a_stored_record_finds_that_record(
    vectors: VectorService, searcher: SearchService
) -> None:
    vector = vectors.get("cat").record.vector
    result = searcher.search_vector(vector.tolist(), limit=2)
    assert ids(result)[0] == "cat"
    assert result.matches[0].score == pytest.approx(1.0, abs=1e-5)
    assert ids(searcher.search_vector(vector, exclude_ids=["cat"], limit=1)) != ["cat"]


def test_vector_search_picks_namespaces_by_dimension(
    vectors: VectorService, searcher: SearchService
) -> None:
    vectors.add_vector([0.0, 1.0, 0.0], record_id="r1", namespace="raw")
    result = searcher.search_vector([0.1, 0.9, 0.0])
    assert result.namespaces == ["raw"] and ids(result) == ["r1"]
    with pytest.raises(InvalidInputError, match=r"dim 2; existing dims: 3, 512"):
        searcher.search_vector([1.0, 2.0])
    with pytest.raises(InvalidInputError, match="holds vectors of dim 512; the query vector has 3"):
        searcher.search_vector([1.0, 2.0, 3.0], namespace="quotes")
    vectors.add_vector([0.0, 0.0, 1.0], record_id="r2", namespace="raw2")
    # Both raw namespaces are external:custom (dim 3): one space, searched together.
    assert searcher.search_vector([0.0, 0.5, 0.5]).namespaces == ["raw", "raw2"]


def test_same_dimension_in_two_spaces_is_ambiguous(
    store: VectorStore, vectors: VectorService, searcher: SearchService
) -> None:
    store.ensure_namespace("other", EmbeddingSpace("clip", "ViT-B-32", "openai", 512))
    vector = vectors.get("cat").record.vector
    store.upsert("other", [Record("photo", vector)])
    with pytest.raises(AmbiguousSpaceError, match="other .*quotes"):
        searcher.search_vector(vector)


@pytest.mark.parametrize(
    "vector, message",
    [
        ([], "empty"),
        ([0.0, 0.0, 0.0], "all zeros"),
        ([1.0, float("nan"), 0.0], r"embedding\[1\] is nan"),
        ([1.0, float("inf"), 0.0], r"embedding\[1\] is inf"),
        ([1.0, "2", 0.0], r"embedding\[1\] must be a number"),
        ([1.0, True, 0.0], r"embedding\[1\] must be a number"),
        ([[1.0, 2.0]], r"embedding\[0\] must be a number"),
        ("1,2,3", "must be a list of numbers"),
    ],
)
def test_bad_vectors_are_refused(searcher: SearchService, vector: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        searcher.search_vector(vector)


# -- more like this, images --------------------------------------------------


def test_similar_search_leaves_the_record_itself_out(searcher: SearchService) -> None:
    result = searcher.search_similar("sunset", limit=3)
    assert "sunset" not in ids(result)
    assert len(result.matches) == 3
    with pytest.raises(RecordNotFoundError):
        searcher.search_similar("no-such-id")
    with pytest.raises(NamespaceNotFoundError, match="existing: quotes"):
        searcher.search_similar("sunset", namespace="nope")


def test_image_search_on_a_text_model_is_unsupported(searcher: SearchService) -> None:
    from io import BytesIO

    from PIL import Image

    buffer = BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, format="PNG")
    with pytest.raises(UnsupportedModalityError):
        searcher.search_image(buffer.getvalue(), namespace="quotes")
    with pytest.raises(InvalidInputError, match="image query"):
        searcher.search_image(buffer.getvalue())


def test_undecodable_image_is_a_400(searcher: SearchService) -> None:
    with pytest.raises(SameSameError) as caught:
        searcher.search_image(b"this is not an image", namespace="quotes")
    assert caught.value.status == 400


# -- hybrid ------------------------------------------------------------------


def test_hybrid_score_is_the_weighted_sum_of_cosine_and_keyword_overlap(
    searcher: SearchService,
) -> None:
    query = "sunset Ann"
    cosine = {m.id: m.score for m in searcher.search_text(query, limit=4).matches}
    result = searcher.search_text(query, limit=4, hybrid={"vector": 0.8, "metadata": 0.2})
    # Query terms: "sunset", "ann". sunset has both, mountain only "ann" (author), others none.
    keyword = {"sunset": 1.0, "mountain": 0.5, "cat": 0.0, "market": 0.0}
    for match in result.matches:
        assert match.score == pytest.approx(0.8 * cosine[match.id] + 0.2 * keyword[match.id])
    assert [m.score for m in result.matches] == sorted(
        (m.score for m in result.matches), reverse=True
    )


def test_keyword_weight_can_reorder_results(
    vectors: VectorService, searcher: SearchService
) -> None:
    vectors.add_text("time", record_id="plain", namespace="quotes")
    vectors.add_text(
        "the nature of time and space",
        record_id="tagged",
        namespace="quotes",
        metadata={"author": "Einstein"},
    )
    assert ids(searcher.search_text("time einstein", limit=2)) == ["plain", "tagged"]
    reordered = searcher.search_text("time einstein", limit=2, hybrid={"vector": 1, "keyword": 1})
    assert ids(reordered) == ["tagged", "plain"]


def test_hybrid_weights_parse_and_normalise() -> None:
    assert parse_hybrid_weights(None) is None
    assert parse_hybrid_weights({}) is None
    assert parse_hybrid_weights({"vector": 4, "metadata": 1}) == HybridWeights(0.8, 0.2)
    assert parse_hybrid_weights({"keyword": 1}) == HybridWeights(0.0, 1.0)
    for bad, message in [
        ({"vector": -1}, ">= 0"),
        ({"vector": 0, "metadata": 0}, "above 0"),
        ({"vectors": 1}, "unknown hybrid_weight key"),
        ({"metadata": 1, "keyword": 1}, "not both"),
        ({"vector": "high"}, "must be a number"),
        ({"vector": float("nan")}, "finite"),
        ([0.8, 0.2], "must be an object"),
    ]:
        with pytest.raises(InvalidInputError, match=message):
            parse_hybrid_weights(bad)


# -- single records ----------------------------------------------------------


def test_added_text_gets_a_stable_id_and_text_metadata(store: VectorStore) -> None:
    service = VectorService(store)
    first = service.add_text("Time is relative", metadata={"author": "Einstein"})
    again = service.add_text("Time is relative", metadata={"author": "Einstein"})
    assert first.record.id == again.record.id and first.namespace == "default"
    assert first.record.metadata == {"author": "Einstein", "type": "text", "namespace": "default"}
    assert store.count("default") == 1
    assert store.get_namespace("default").space.embedder == "local"


def test_raw_vectors_are_normalised_and_their_dimension_enforced(store: VectorStore) -> None:
    service = VectorService(store)
    stored = service.add_vector([3.0, 4.0], record_id="v", namespace="raw")
    assert stored.record.vector.tolist() == pytest.approx([0.6, 0.8])
    assert store.get_namespace("raw").space == EmbeddingSpace("external", "custom", "", 2)
    with pytest.raises(
        InvalidInputError, match="external:custom \\(dim 2\\); this embedding has 3"
    ):
        service.add_vector([1.0, 2.0, 3.0], namespace="raw")


def test_update_reembeds_new_text_and_replaces_metadata(vectors: VectorService) -> None:
    before = vectors.get("cat").record
    after = vectors.update(
        "cat", text="a dog barking in the garden", metadata={"pet": "dog"}
    ).record
    assert after.metadata == {"pet": "dog", "namespace": "quotes"}
    assert not np.allclose(before.vector, after.vector)
    assert vectors.get("cat").record.text == "a dog barking in the garden"


def test_delete_and_pages_across_namespaces(vectors: VectorService) -> None:
    vectors.add_vector([1.0, 0.0], record_id="a", namespace="raw")
    page = vectors.list_page(offset=3, limit=2)
    assert [(item.namespace, item.record.id) for item in page.records] == [
        ("quotes", "sunset"),
        ("raw", "a"),
    ]
    assert page.total == 5 and page.next_offset is None
    assert vectors.list_page(limit=2).next_offset == 2
    assert vectors.delete("a").namespace == "raw"
    with pytest.raises(RecordNotFoundError):
        vectors.get("a")
    with pytest.raises(InvalidInputError):
        vectors.list_page(limit=0)
