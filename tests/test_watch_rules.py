"""The watch's rules without a watch running: when the debouncer lets a file be read, and
how a pass's changes are told. Time and file sizes are given by the test (the rules take
a clock and a stat function), so nothing here waits or depends on the machine's speed."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import run_cli
from relevance_fixtures import tiny_model_args
from same_same.watch.changes import Change, ChangeKind, RecordState, describe_changes
from same_same.watch.debounce import MAX_HOLD_SECONDS, Debouncer, Signature
from same_same.watch.events import EventKind, FileEvent


@dataclass
class World:
    """A clock and file signatures the test moves by hand."""

    now: float = 100.0
    files: dict[str, Signature] = field(default_factory=dict)

    def clock(self) -> float:
        return self.now

    def signature(self, path: str) -> Signature | None:
        return self.files.get(path)


def make_debouncer(world: World, tells_closes: bool, settle: float = 1.0) -> Debouncer:
    return Debouncer(
        settle=settle,
        tells_closes=tells_closes,
        list_folder=lambda folder: sorted(p for p in world.files if p.startswith(folder + "/")),
        clock=world.clock,
        read_signature=world.signature,
    )


def settle_long(debouncer: Debouncer, world: World, seconds: float = 10.0) -> None:
    """Advance time in small steps, looking at pending files each step as the watcher does."""
    steps = int(seconds / 0.25)
    for _ in range(steps):
        world.now += 0.25
        batch = debouncer.take()
        if batch:
            raise AssertionError(f"became ready while it should wait: {batch}")


def take_after(debouncer: Debouncer, world: World, seconds: float) -> set[str]:
    ready: set[str] = set()
    for _ in range(int(seconds / 0.25)):
        world.now += 0.25
        ready |= debouncer.take().changed
    return ready


def test_a_file_still_open_for_writing_is_never_read_however_long_its_writer_pauses() -> None:
    world = World(files={"/w/a.jpg": (10, 1)})
    debouncer = make_debouncer(world, tells_closes=True)
    debouncer.note(FileEvent(EventKind.CHANGED, "/w/a.jpg"))  # created
    debouncer.note(FileEvent(EventKind.OPENED, "/w/a.jpg"))
    debouncer.note(FileEvent(EventKind.CHANGED, "/w/a.jpg"))  # first chunk
    settle_long(debouncer, world, 60.0)  # size and mtime stable for a minute: still open
    world.files["/w/a.jpg"] = (20, 2)
    debouncer.note(FileEvent(EventKind.CLOSED, "/w/a.jpg"))
    assert take_after(debouncer, world, 5.0) == {"/w/a.jpg"}


def test_a_reader_closing_the_file_does_not_end_the_wait_for_its_writer() -> None:
    world = World(files={"/w/a.jpg": (10, 1)})
    debouncer = make_debouncer(world, tells_closes=True)
    debouncer.note(FileEvent(EventKind.CHANGED, "/w/a.jpg"))
    debouncer.note(FileEvent(EventKind.OPENED, "/w/a.jpg"))  # the writer
    debouncer.note(FileEvent(EventKind.OPENED, "/w/a.jpg"))  # a reader
    debouncer.note(FileEvent(EventKind.CLOSED_UNCHANGED, "/w/a.jpg"))
    settle_long(debouncer, world)
    debouncer.note(FileEvent(EventKind.CLOSED, "/w/a.jpg"))
    assert take_after(debouncer, world, 5.0) == {"/w/a.jpg"}


def test_a_file_moved_into_place_needs_no_close() -> None:
    world = World(files={"/w/b.jpg": (10, 1)})
    debouncer = make_debouncer(world, tells_closes=True)
    debouncer.note(FileEvent(EventKind.ARRIVED, "/w/b.jpg"))
    assert take_after(debouncer, world, 5.0) == {"/w/b.jpg"}


def test_polling_reads_a_file_once_its_size_and_mtime_stopped_changing() -> None:
    world = World(files={"/w/c.jpg": (10, 1)})
    debouncer = make_debouncer(world, tells_closes=False)
    debouncer.note(FileEvent(EventKind.CHANGED, "/w/c.jpg"))
    for size in range(11, 30):  # still growing at every look
        world.now += 0.5
        world.files["/w/c.jpg"] = (size, size)
        assert not debouncer.take().changed
    assert take_after(debouncer, world, 5.0) == {"/w/c.jpg"}


def test_a_deletion_waits_for_the_other_half_of_a_move_then_goes_alone() -> None:
    world = World(files={"/w/new.jpg": (10, 1)})
    debouncer = make_debouncer(world, tells_closes=True)
    debouncer.note(FileEvent(EventKind.CHANGED, "/w/new.jpg"))  # still being written
    debouncer.note(FileEvent(EventKind.GONE, "/w/old.jpg"))
    gone: set[str] = set()
    for _ in range(int((MAX_HOLD_SECONDS - 1) / 0.25)):
        world.now += 0.25
        gone |= debouncer.take().gone
    assert gone == set()
    gone |= debouncer.take().gone
    for _ in range(8):
        world.now += 0.25
        gone |= debouncer.take().gone
    assert gone == {"/w/old.jpg"}


def test_both_halves_of_a_move_come_in_one_batch() -> None:
    world = World(files={"/w/there.jpg": (10, 1)})
    debouncer = make_debouncer(world, tells_closes=True)
    debouncer.note(FileEvent(EventKind.GONE, "/w/here.jpg"))
    debouncer.note(FileEvent(EventKind.ARRIVED, "/w/there.jpg"))
    for _ in range(20):
        world.now += 0.25
        batch = debouncer.take()
        if batch:
            assert batch.changed == {"/w/there.jpg"} and batch.gone == {"/w/here.jpg"}
            return
    raise AssertionError("the move never became ready")


def test_a_folder_that_arrives_is_walked_and_one_that_goes_asks_for_a_full_pass() -> None:
    world = World(files={"/w/sub/x.jpg": (1, 1), "/w/sub/y.jpg": (1, 1)})
    debouncer = make_debouncer(world, tells_closes=True)
    debouncer.note(FileEvent(EventKind.FOLDER_ARRIVED, "/w/sub"))
    assert take_after(debouncer, world, 5.0) == {"/w/sub/x.jpg", "/w/sub/y.jpg"}
    debouncer.note(FileEvent(EventKind.FOLDER_GONE, "/w/sub"))
    assert debouncer.take().full_pass


def test_a_file_that_vanished_before_it_settled_is_treated_as_gone() -> None:
    world = World(files={"/w/tmp.jpg": (1, 1)})
    debouncer = make_debouncer(world, tells_closes=False)
    debouncer.note(FileEvent(EventKind.CHANGED, "/w/tmp.jpg"))
    del world.files["/w/tmp.jpg"]
    gone: set[str] = set()
    for _ in range(20):
        world.now += 0.25
        batch = debouncer.take()
        assert not batch.changed
        gone |= batch.gone
    assert gone == {"/w/tmp.jpg"}


def state(content: str, path: str) -> RecordState:
    return RecordState(content, path)


def test_changes_are_told_as_added_updated_moved_and_removed() -> None:
    before = {
        "a": state("h1", "p/a.jpg"),
        "b": state("h2", "p/b.jpg"),
        "c": state("h3", "p/c.jpg"),
        "d": state("h4", "p/d.jpg"),
    }
    after = {
        "a": state("h1", "p/a.jpg"),  # unchanged
        "b": state("h9", "p/b.jpg"),  # new content
        "e": state("h3", "p/sub/e.jpg"),  # c moved here
        "f": state("h5", "p/f.jpg"),  # new file
    }
    assert describe_changes(before, after) == [
        Change(ChangeKind.UPDATED, "p/b.jpg"),
        Change(ChangeKind.REMOVED, "p/d.jpg"),
        Change(ChangeKind.ADDED, "p/f.jpg"),
        Change(ChangeKind.MOVED, "p/sub/e.jpg", "p/c.jpg"),
    ]
    assert [str(change) for change in describe_changes(before, after)] == [
        "updated p/b.jpg",
        "removed p/d.jpg",
        "added p/f.jpg",
        "moved p/c.jpg -> p/sub/e.jpg",
    ]


def test_a_copy_of_a_file_that_stays_is_added_not_moved() -> None:
    before = {"a": state("h1", "p/a.jpg")}
    after = {"a": state("h1", "p/a.jpg"), "b": state("h1", "p/b.jpg")}
    assert describe_changes(before, after) == [Change(ChangeKind.ADDED, "p/b.jpg")]


def test_without_the_watch_extra_both_commands_say_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # watchdog is installed here; None in sys.modules makes its import fail as if it were not
    monkeypatch.setitem(sys.modules, "watchdog", None)
    folder = tmp_path / "photos"
    folder.mkdir()
    for command in (["serve", "--watch"], ["watch"]):
        done = run_cli(*command, f"images:{folder}", *tiny_model_args(), data_dir=tmp_path / "s")
        assert done.returncode == 1, done.stderr
        name = "serve --watch" if command[0] == "serve" else "watch"
        assert done.stderr == (
            f"error: same-same {name} needs the [watch] extra (pip install 'same-same[watch]')\n"
        )
