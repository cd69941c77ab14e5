"""Where the server runs store searches: on its event loop while they are quick, else on
a thread of its own; and a store that searches through a server always on threads.

The decisions depend on how long the last search took. The tests give the runner a
budget no search can miss (an hour) or one every search misses (zero, with a call that
sleeps), so no outcome depends on the machine's speed.
"""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest
from fastapi.testclient import TestClient

from same_same.server import ServerSettings, create_app
from same_same.server.search_runner import SearchRunner

HOUR = 3600.0


def where() -> str:
    return threading.current_thread().name


def run(coroutine_factory):  # type: ignore[no-untyped-def]
    return asyncio.run(coroutine_factory())


def test_the_first_search_runs_on_a_thread_then_quick_ones_on_the_loop() -> None:
    runner = SearchRunner(1, inline_budget_s=HOUR)

    async def three() -> list[str]:
        loop_thread = where()
        names = [await runner.run(where) for _ in range(3)]
        return [("loop" if name == loop_thread else "thread") for name in names]

    try:
        assert run(three) == ["thread", "loop", "loop"]
        assert (runner.thread_runs, runner.inline_runs) == (1, 2)
    finally:
        runner.close()


class FakeClock:
    """A clock that moves only when a search says it took a while."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def search(self, seconds: float) -> str:
        self.now += seconds
        return where()


def test_a_search_past_the_budget_sends_the_next_one_to_a_thread() -> None:
    clock = FakeClock()
    runner = SearchRunner(1, inline_budget_s=0.02, clock=clock)

    async def scenario() -> list[str]:
        loop_thread = where()
        names = [
            await runner.run(clock.search, 0.0),  # the first: on a thread
            await runner.run(clock.search, 0.001),  # the last was quick: the loop
            await runner.run(clock.search, 0.5),  # still the loop (it could not know)
            await runner.run(clock.search, 0.001),  # after a slow one: a thread
            await runner.run(clock.search, 0.0),  # quick again: back on the loop
        ]
        return [("loop" if name == loop_thread else "thread") for name in names]

    try:
        assert run(scenario) == ["thread", "loop", "loop", "thread", "loop"]
        assert (runner.thread_runs, runner.inline_runs) == (2, 3)
    finally:
        runner.close()


def test_a_search_waits_on_a_thread_while_another_runs_on_one() -> None:
    clock = FakeClock()
    runner = SearchRunner(1, inline_budget_s=0.02, clock=clock)
    release = threading.Event()

    def held() -> str:  # as a real search holds the store's lock
        release.wait(30)
        return where()

    async def scenario() -> list[str]:
        loop_thread = where()
        await runner.run(clock.search, 1.0)  # slow: the next one goes to a thread
        slow = asyncio.ensure_future(runner.run(held))
        while runner.thread_runs < 2:  # handed to the thread, which it now holds
            await asyncio.sleep(0)
        runner.inline_budget_s = HOUR  # the last search time alone would allow the loop
        # but one is in flight: waiting for its lock on the loop would stall the loop
        second = asyncio.ensure_future(runner.run(where))
        await asyncio.sleep(0)
        release.set()
        names = [await slow, await second]
        return [("loop" if name == loop_thread else "thread") for name in names]

    try:
        assert run(scenario) == ["thread", "thread"]
        assert (runner.thread_runs, runner.inline_runs) == (3, 0)
    finally:
        release.set()
        runner.close()


def test_a_store_with_several_search_threads_is_never_searched_on_the_loop() -> None:
    runner = SearchRunner(8, inline_budget_s=HOUR)

    async def scenario() -> set[str]:
        loop_thread = where()
        names = await asyncio.gather(*(runner.run(where) for _ in range(16)))
        assert loop_thread not in names
        return set(names)

    try:
        names = run(scenario)
        assert runner.inline_runs == 0 and runner.thread_runs == 16
        assert all(name.startswith("same-same-search") for name in names)
    finally:
        runner.close()


def test_errors_reach_the_caller_from_the_loop_and_from_a_thread() -> None:
    runner = SearchRunner(1, inline_budget_s=HOUR)

    def fails() -> None:
        raise LookupError("no such namespace")

    async def scenario() -> None:
        with pytest.raises(LookupError):
            await runner.run(fails)  # first: on a thread
        with pytest.raises(LookupError):
            await runner.run(fails)  # then on the loop
        assert (runner.thread_runs, runner.inline_runs) == (1, 1)

    try:
        run(scenario)
    finally:
        runner.close()


def test_the_server_answers_vector_searches_through_its_runner(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The real app: repeated vector searches run on the loop once the first was quick."""
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(50, 8)).astype(np.float32)
    with TestClient(create_app(ServerSettings(data_dir=tmp_path))) as client:
        for i, vector in enumerate(vectors):
            answer = client.post(
                "/api/v1/vectors",
                json={"id": f"v{i}", "namespace": "raw", "embedding": vector.tolist()},
            )
            assert answer.status_code in (200, 201), answer.text
        runner = client.app.state.search_runner  # type: ignore[attr-defined]
        runner.inline_budget_s = HOUR
        for i in (3, 17, 42, 3):
            answer = client.post(
                "/api/v1/vectors/search",
                json={"namespace": "raw", "embedding": vectors[i].tolist(), "limit": 1},
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["results"][0]["id"] == f"v{i}"
        assert runner.thread_runs == 1 and runner.inline_runs == 3
        by_id = client.post(
            "/api/v1/search/image", json={"namespace": "raw", "id": "v17", "limit": 1}
        )  # more like this: the record itself is left out
        assert by_id.status_code == 200, by_id.text
        assert by_id.json()["results"][0]["id"] != "v17"
        assert runner.inline_runs + runner.thread_runs == 5
