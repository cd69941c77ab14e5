"""The terminal's progress bar (rich): bar, count/total, percent, rate, ETA, current item.

Drawn only when ``Progress`` writes to a terminal; redrawn when ``Progress`` says so
(no refresh thread), and gone when it closes, so the summary lines follow a clean line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import ProgressColumn, Task
    from rich.text import Text

CURRENT_ITEM_CHARS = 40


class RichBar:
    """A ``ProgressDisplay`` drawn by rich on ``stream`` (or on ``console``, for tests)."""

    def __init__(self, stream: TextIO, unit: str, console: Console | None = None) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._console = console or Console(file=stream)
        self._unit = unit
        self._progress = Progress(
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            _rate_column(unit),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[current]}"),
            console=self._console,
            auto_refresh=False,
            transient=True,
        )
        self._task = self._progress.add_task(unit, total=None, current="")
        self._started = False

    def update(self, done: int, total: int | None, current: str | None) -> None:
        if not self._started:
            self._progress.start()
            self._started = True
        self._progress.update(
            self._task, completed=done, total=total, current=_shorten(current or "")
        )
        self._progress.refresh()

    def print_line(self, text: str) -> None:
        self._console.print(text, markup=False, highlight=False, soft_wrap=True)

    def stop(self) -> None:
        if self._started:
            self._progress.stop()
            self._started = False


def _rate_column(unit: str) -> ProgressColumn:
    from rich.progress import ProgressColumn
    from rich.text import Text

    class RateColumn(ProgressColumn):
        """Items per second, as rich measures it over its last samples."""

        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            shown = f"{speed:.1f}" if speed is not None else "?"
            return Text(f"{shown} {unit}/s")

    return RateColumn()


def _shorten(name: str) -> str:
    """The end of a long path: the file name is what tells items apart."""
    if len(name) <= CURRENT_ITEM_CHARS:
        return name
    return "…" + name[-(CURRENT_ITEM_CHARS - 1) :]


__all__ = ["RichBar"]
