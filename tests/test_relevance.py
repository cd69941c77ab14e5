"""Calibrated relevance and "no good match", on the demo photos with the tiny CLIP model.

The real path throughout: the CLI ingests (and calibrates), the library searches a
real temp store, the API answers over a real server on 127.0.0.1.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli
from relevance_fixtures import ingest_demo_photos
from same_same.demo import DEMO_NAMESPACE
from same_same.embedders import EmbedderOptions
from same_same.errors import InvalidInputError
from same_same.evaluation import OFF_TOPIC_QUERIES
from same_same.ranking import RankingOptions, parse_ranking
from same_same.records import EmbeddingSpace, NamespaceInfo, Record
from same_same.relevance import NOTE_KEY, Calibration, NullDistribution
from same_same.relevance.calibration import RankNull
from same_same.relevance.null_set import NULL_TEXTS, null_images
from same_same.search import SearchService
from same_same.storage import open_store
from server_fixtures import fetch_json, running_server

pytest.importorskip("open_clip", reason="needs the [clip] extra")


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    data_dir = tmp_path_factory.mktemp("relevance") / "data"
    return data_dir, ingest_demo_photos(data_dir)


def _service(data_dir: Path) -> tuple[SearchService, object]:
    store = open_store(data_dir)
    return SearchService(store, EmbedderOptions(data_dir=data_dir)), store


# -- the method, without a model ---------------------------------------------------


def test_gumbel_fit_is_monotone_and_centred() -> None:
    rng = np.random.default_rng(3)
    scores = rng.gumbel(0.4, 0.05, size=400)
    fitted = RankNull.fit(scores)
    assert fitted.location == pytest.approx(0.4, abs=0.01)
    assert fitted.scale == pytest.approx(0.05, rel=0.15)
    values = [fitted.cdf(s) for s in np.linspace(-1, 1, 50)]
    assert values == sorted(values)
    assert values[0] == 0.0 and values[-1] > 0.9999


def test_calibration_round_trips_and_goes_stale() -> None:
    space = EmbeddingSpace("clip", "m", "p", 4)
    null = NullDistribution.fit([[0.5, 0.4], [0.6, 0.3], [0.55, 0.35]])
    assert null is not None
    made = Calibration(space, 100, null, null, 0.97)
    again = Calibration.from_dict(json.loads(json.dumps(made.to_dict())))
    assert again == made
    assert made.is_current(NamespaceInfo("n", space, 120))
    assert not made.is_current(NamespaceInfo("n", space, 126))
    assert not made.is_current(NamespaceInfo("n", space, 79))
    assert not made.is_current(NamespaceInfo("n", EmbeddingSpace("clip", "m", "q", 4), 100))
    for broken in (None, 3, {"version": 99}, {"version": 1, "space": {}}):
        assert Calibration.from_dict(broken) is None


def test_held_out_queries_are_not_calibration_queries() -> None:
    null = {text.casefold() for text in NULL_TEXTS}
    assert not null & {text.casefold() for text in OFF_TOPIC_QUERIES}
    assert len(null) == len(NULL_TEXTS) >= 100
    first, second = null_images(), null_images()
    assert [np.asarray(a).tobytes() for a in first] == [np.asarray(b).tobytes() for b in second]


def test_ranking_options_are_checked() -> None:
    assert parse_ranking() == RankingOptions()
    for bad in (
        {"mode": "fuzzy"},
        {"rrf_k": 0},
        {"rrf_k": True},
        {"min_score": 1.5},
        {"min_relevance": -0.1},
        {"min_relevance": float("nan")},
        {"min_relevance": "high"},
    ):
        with pytest.raises(InvalidInputError):
            parse_ranking(**bad)


# -- on the demo photos --------------------------------------------------------


def test_ingest_stores_a_calibration(demo_store: tuple[Path, Path]) -> None:
    data_dir, _ = demo_store
    with open_store(data_dir) as store:
        note = store.read_note(DEMO_NAMESPACE, NOTE_KEY)
        info = store.get_namespace(DEMO_NAMESPACE)
    calibration = Calibration.from_dict(note)
    assert calibration is not None and calibration.is_current(info)
    assert calibration.text is not None and calibration.text.queries == len(NULL_TEXTS)
    assert calibration.image is not None
    assert calibration.duplicate_threshold is not None
    assert 0.5 < calibration.duplicate_threshold < 1.0


def test_a_described_picture_is_a_good_match(demo_store: tuple[Path, Path]) -> None:
    data_dir, _ = demo_store
    service, store = _service(data_dir)
    with store:  # type: ignore[attr-defined]
        result = service.search_text("a red circle", namespace=DEMO_NAMESPACE, limit=3)
        strict = service.search_text(
            "a red circle",
            namespace=DEMO_NAMESPACE,
            limit=3,
            ranking=RankingOptions(min_relevance=0.95),
        )
    assert not result.no_good_match
    assert result.best_relevance is not None and result.best_relevance >= 0.95
    top = result.matches[0]
    assert top.relevance == result.best_relevance and top.score == result.best_score
    assert [m.id for m in strict.matches][:1] == [top.id]
    body = result.to_dict()
    assert body["no_good_match"] is False and "relevance" in body["results"][0]


def test_an_unrelated_query_answers_no_good_match(demo_store: tuple[Path, Path]) -> None:
    data_dir, _ = demo_store
    service, store = _service(data_dir)
    with store:  # type: ignore[attr-defined]
        loose = service.search_text("zebra on a motorbike", namespace=DEMO_NAMESPACE, limit=5)
        strict = service.search_text(
            "zebra on a motorbike",
            namespace=DEMO_NAMESPACE,
            limit=5,
            ranking=RankingOptions(min_relevance=0.95),
        )
    assert loose.no_good_match and len(loose.matches) == 5  # the closest, flagged
    assert strict.no_good_match and strict.matches == []
    assert strict.best_score == loose.best_score and strict.best_relevance is not None
    assert strict.to_dict()["results"] == []


def test_min_score_cuts_by_raw_cosine(demo_store: tuple[Path, Path]) -> None:
    data_dir, _ = demo_store
    service, store = _service(data_dir)
    with store:  # type: ignore[attr-defined]
        every = service.search_text("a red circle", namespace=DEMO_NAMESPACE, limit=20)
        cut = every.matches[4].score
        kept = service.search_text(
            "a red circle",
            namespace=DEMO_NAMESPACE,
            limit=20,
            ranking=RankingOptions(min_score=cut),
        )
    assert [m.id for m in kept.matches] == [m.id for m in every.matches if m.score >= cut]


def test_image_and_similar_searches_carry_relevance(demo_store: tuple[Path, Path]) -> None:
    data_dir, photos = demo_store
    service, store = _service(data_dir)
    with store:  # type: ignore[attr-defined]
        picture = sorted((photos / "shapes").glob("*.jpg"))[3].read_bytes()
        by_image = service.search_image(picture, namespace=DEMO_NAMESPACE, limit=3)
        similar = service.search_similar(by_image.matches[0].id, limit=3)
        with pytest.raises(InvalidInputError, match="needs a text query"):
            service.search_similar(by_image.matches[0].id, ranking=RankingOptions(mode="hybrid"))
    assert by_image.matches[0].relevance is not None and not by_image.no_good_match
    assert all(m.relevance is not None for m in similar.matches)


def test_raw_vectors_have_no_relevance(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        space = EmbeddingSpace("external", "none", "none", 4)
        store.ensure_namespace("raw", space)
        store.upsert("raw", [Record(f"r{i}", np.eye(4, dtype=np.float32)[i]) for i in range(4)])
        service = SearchService(store)
        result = service.search_vector([1, 0, 0, 0], namespace="raw", limit=2)
        assert result.matches[0].relevance is None and not result.no_good_match
        assert "relevance" not in result.to_dict()["results"][0]
        cut = service.search_vector(
            [1, 0, 0, 0], namespace="raw", ranking=RankingOptions(min_score=0.5)
        )
        assert [m.id for m in cut.matches] == ["r0"]
        with pytest.raises(InvalidInputError, match="no relevance calibration"):
            service.search_vector(
                [1, 0, 0, 0], namespace="raw", ranking=RankingOptions(min_relevance=0.5)
            )


def test_calibration_is_made_again_when_the_namespace_grows(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        service = SearchService(store)
        store.ensure_namespace("quotes", service.embedders.get(_local_space()).space)
        embedder = service.embedders.get(_local_space())
        texts = [f"note number {i} about gardens and {i % 7} roses" for i in range(40)]
        vectors = embedder.embed_texts(texts)
        store.upsert(
            "quotes",
            [Record(f"q{i}", v, t) for i, (v, t) in enumerate(zip(vectors, texts, strict=True))],
        )
        service.search_text("roses", namespace="quotes")
        first = Calibration.from_dict(store.read_note("quotes", NOTE_KEY))
        assert first is not None and first.record_count == 40
        more = embedder.embed_texts([f"extra {i}" for i in range(20)])
        store.upsert("quotes", [Record(f"x{i}", v, f"extra {i}") for i, v in enumerate(more)])
        service.search_text("roses", namespace="quotes")
        second = Calibration.from_dict(store.read_note("quotes", NOTE_KEY))
        assert second is not None and second.record_count == 60


def _local_space() -> EmbeddingSpace:
    from same_same.embedders import create_embedder

    return create_embedder("local").space


# -- the CLI ------------------------------------------------------------------------


def test_cli_says_no_good_match(demo_store: tuple[Path, Path]) -> None:
    data_dir, _ = demo_store
    loose = run_cli("search", "zebra on a motorbike", "-n", DEMO_NAMESPACE, data_dir=data_dir)
    assert loose.returncode == 0
    assert loose.stderr.startswith("no good match (best score ")
    assert len(loose.stdout.splitlines()) == 10  # the closest, still listed
    strict = run_cli(
        "search", "zebra on a motorbike", "-n", DEMO_NAMESPACE, "--min-relevance", "0.95",
        "--json", data_dir=data_dir,
    )  # fmt: skip
    answer = json.loads(strict.stdout)
    assert answer["results"] == [] and answer["no_good_match"] is True
    assert isinstance(answer["best_score"], float)
    good = run_cli("search", "a red circle", "-n", DEMO_NAMESPACE, "-k", "2", data_dir=data_dir)
    assert good.returncode == 0 and "no good match" not in good.stderr
    assert "%" in good.stdout.splitlines()[0]
    bad = run_cli("search", "x", "--min-relevance", "2", data_dir=data_dir)
    assert bad.returncode == 2 and "--min-relevance" in bad.stderr


# -- keywords and fusion ------------------------------------------------------------


def test_a_typed_file_name_comes_first_in_hybrid_mode(demo_store: tuple[Path, Path]) -> None:
    data_dir, _ = demo_store
    service, store = _service(data_dir)
    with store:  # type: ignore[attr-defined]
        by_meaning = service.search_text("scene-00010.jpg", namespace=DEMO_NAMESPACE, limit=5)
        hybrid = service.search_text(
            "scene-00010.jpg", namespace=DEMO_NAMESPACE, limit=5,
            ranking=RankingOptions(mode="hybrid"),
        )  # fmt: skip
        keyword = service.search_text(
            "scene-00010.jpg", namespace=DEMO_NAMESPACE, limit=5,
            ranking=RankingOptions(mode="keyword"),
        )  # fmt: skip
        described = service.search_text(
            "a red circle", namespace=DEMO_NAMESPACE, limit=3,
            ranking=RankingOptions(mode="hybrid"),
        )  # fmt: skip
        plain = service.search_text("a red circle", namespace=DEMO_NAMESPACE, limit=3)

    def name(match: object) -> str:
        return str(match.metadata["path"])  # type: ignore[attr-defined]

    wanted = "shapes/scene-00010.jpg"
    assert [name(m) for m in by_meaning.matches][:1] != [wanted]  # CLIP cannot read names
    assert name(hybrid.matches[0]) == wanted and hybrid.matches[0].keyword_rank == 1
    assert hybrid.mode == "hybrid" and not hybrid.no_good_match
    assert name(keyword.matches[0]) == wanted and keyword.matches[0].relevance is not None
    # a query that only describes the picture still ranks by meaning
    assert [m.id for m in described.matches] == [m.id for m in plain.matches]


def test_hybrid_filters_apply_to_both_lists(demo_store: tuple[Path, Path]) -> None:
    data_dir, _ = demo_store
    service, store = _service(data_dir)
    with store:  # type: ignore[attr-defined]
        result = service.search_text(
            "scene-00010.jpg", namespace=DEMO_NAMESPACE, limit=10,
            filters={"filename": {"neq": "scene-00010.jpg"}},
            ranking=RankingOptions(mode="hybrid", rrf_k=1),
        )  # fmt: skip
    assert result.matches
    assert all(m.metadata["path"] != "shapes/scene-00010.jpg" for m in result.matches)


def test_api_modes_cutoffs_and_their_errors(demo_store: tuple[Path, Path]) -> None:
    data_dir, _ = demo_store
    with running_server(data_dir) as base:
        search = f"{base}/api/v1/search"
        status, body = fetch_json(
            "POST", search, {"text": "scene-00010.jpg", "mode": "hybrid", "options": {"rrf_k": 10}}
        )
        assert status == 200, body
        assert body["results"][0]["metadata"]["path"] == "shapes/scene-00010.jpg"
        assert body["mode"] == "hybrid"
        top_id = body["results"][0]["id"]
        status, body = fetch_json(
            "POST", search, {"text": "zebra on a motorbike", "min_relevance": 0.95}
        )
        assert status == 200 and body["results"] == [] and body["no_good_match"] is True
        assert isinstance(body["best_score"], float)
        for bad in (
            {"text": "x", "mode": "fuzzy"},
            {"text": "x", "min_relevance": 1.5},
            {"text": "x", "min_score": "high"},
            {"text": "x", "mode": "hybrid", "options": {"rrf_k": 0}},
        ):
            status, body = fetch_json("POST", search, bad)
            assert status == 400 and body["error"]["code"] == "invalid_input", (bad, body)
        like = {"id": top_id, "min_score": 0.99}
        status, body = fetch_json("POST", f"{base}/api/v1/search/image", like)
        assert status == 200 and all(r["score"] >= 0.99 for r in body["results"])
