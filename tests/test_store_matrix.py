"""The in-memory search matrix: contiguous rows through updates and deletes, geometric
growth, and deterministic top-k."""

from __future__ import annotations

import numpy as np

from same_same.storage.matrix import SearchMatrix, normalize_rows_in_place, select_top


def reference_scores(vectors: dict[str, np.ndarray], query: np.ndarray) -> dict[str, float]:
    q = query / np.linalg.norm(query)
    return {rid: float(v @ q / np.linalg.norm(v)) for rid, v in vectors.items()}


def test_rows_stay_contiguous_through_updates_and_deletes() -> None:
    rng = np.random.default_rng(3)
    matrix = SearchMatrix(dim=5)
    expected: dict[str, np.ndarray] = {}
    for step in range(40):
        ids = [f"id{rng.integers(0, 60)}" for _ in range(7)]
        vectors = rng.normal(size=(7, 5)) * rng.uniform(0.1, 10)
        matrix.upsert(ids, vectors)
        for rid, vector in zip(ids, vectors, strict=True):
            expected[rid] = vector
        gone = [f"id{rng.integers(0, 60)}" for _ in range(3)]
        removed = matrix.delete(gone)
        assert removed == len({g for g in gone if g in expected})
        for rid in gone:
            expected.pop(rid, None)
        assert matrix.size == len(expected) == len(matrix.row_of)
        assert sorted(matrix.ids) == sorted(expected)
        assert all(matrix.ids[row] == rid for rid, row in matrix.row_of.items())
        query = rng.normal(size=5).astype(np.float32)
        query /= np.linalg.norm(query)
        scores = matrix.score(query)
        reference = reference_scores(expected, query)
        for row, rid in enumerate(matrix.ids):
            assert abs(scores[row] - reference[rid]) < 1e-5, step


def test_the_last_vector_of_a_repeated_id_wins() -> None:
    matrix = SearchMatrix(dim=2)
    matrix.upsert(["a", "b", "a"], np.array([[1, 0], [0, 1], [0, 3]], dtype=np.float32))
    assert matrix.ids == ["a", "b"]
    np.testing.assert_allclose(matrix.vectors[matrix.row_of["a"]], [0, 1])


def test_growth_is_geometric_not_per_row() -> None:
    matrix = SearchMatrix(dim=3)
    capacities = set()
    for i in range(5000):
        matrix.upsert([f"r{i}"], np.ones((1, 3)))
        capacities.add(len(matrix.vectors))
    assert len(capacities) < 25  # about log_1.5(5000 / 64) reallocations
    assert matrix.size == 5000


def test_a_preallocated_matrix_does_not_grow() -> None:
    matrix = SearchMatrix(dim=3, capacity=1000)
    block = matrix.vectors
    matrix.upsert([f"r{i}" for i in range(1000)], np.ones((1000, 3)))
    assert matrix.vectors is block


def test_scoring_a_subset_matches_scoring_everything() -> None:
    rng = np.random.default_rng(0)
    matrix = SearchMatrix(dim=4)
    matrix.upsert([f"r{i}" for i in range(100)], rng.normal(size=(100, 4)))
    query = normalize_rows_in_place(rng.normal(size=(1, 4)).astype(np.float32))[0]
    full = matrix.score(query)
    for rows in (np.array([3, 7, 50]), np.arange(0, 100, 2)):  # gathered, then masked
        np.testing.assert_allclose(matrix.score(query, rows), full[rows], rtol=1e-6)
    assert matrix.rows_for(["r9", "nope", "r2"]).tolist() == [2, 9]


def test_zero_vectors_stay_zero() -> None:
    matrix = SearchMatrix(dim=3)
    matrix.upsert(["z"], np.zeros((1, 3)))
    assert matrix.score(np.array([1, 0, 0], dtype=np.float32)).tolist() == [0.0]


def test_select_top_orders_by_score_then_id() -> None:
    ids = ["e", "d", "c", "b", "a"]
    scores = np.array([0.5, 0.9, 0.5, 0.5, 0.1], dtype=np.float32)
    assert [ids[p] for p in select_top(scores, ids.__getitem__, 3)] == ["d", "b", "c"]
    assert [ids[p] for p in select_top(scores, ids.__getitem__, 10)] == ["d", "b", "c", "e", "a"]
    assert select_top(scores, ids.__getitem__, 0) == []
    assert select_top(np.array([], dtype=np.float32), ids.__getitem__, 3) == []


def test_select_top_agrees_with_a_full_sort() -> None:
    rng = np.random.default_rng(11)
    scores = rng.integers(0, 20, size=500).astype(np.float32)  # many ties
    ids = [f"{rng.integers(0, 10**6):07d}-{i}" for i in range(500)]
    expected = sorted(range(500), key=lambda i: (-scores[i], ids[i]))[:25]
    assert select_top(scores, ids.__getitem__, 25) == expected


def test_append_then_update_and_delete() -> None:
    matrix = SearchMatrix(dim=2, capacity=2)
    matrix.append(["a", "b"], np.array([[3, 4], [0, 2]], dtype=np.float32))
    matrix.append(["c"], np.array([[1, 0]], dtype=np.float32))  # grows
    np.testing.assert_allclose(matrix.vectors[:3], [[0.6, 0.8], [0, 1], [1, 0]])
    matrix.upsert(["b"], np.array([[5, 0]]))
    matrix.delete(["a"])
    assert sorted(matrix.ids) == ["b", "c"]
    assert matrix.score(np.array([1, 0], dtype=np.float32)).tolist() == [1.0, 1.0]
