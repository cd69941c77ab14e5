"""The models commands' progress on stderr, as ingest's: on a terminal a rich bar of bytes
(what, bar, done/total, percent, speed, ETA, current file) with the step lines above it;
elsewhere (CI logs, pipes) the step lines and, in a long step, a plain line every
``LOG_INTERVAL_S`` seconds so it still shows life.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, TextIO

from ..ingest.progress import format_duration
from ..model_store import format_size

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

LOG_INTERVAL_S = 10.0
REDRAW_S = 0.1
CURRENT_FILE_CHARS = 40


class TransferDisplay:
    """``say`` and ``ByteProgress`` for the models commands, drawn on ``stream``.

    ``console`` replaces the terminal's (tests draw into a buffer); it implies a
    terminal. ``redraw`` and ``log_interval``: seconds between redraws / plain lines.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        console: Console | None = None,
        redraw: float = REDRAW_S,
        log_interval: float = LOG_INTERVAL_S,
    ) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._console = console
        self._terminal = console is not None or self._stream.isatty()
        self._redraw = redraw
        self._log_interval = log_interval
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._label = ""
        self._total: int | None = None
        self._done = 0
        self._current = ""
        self._started = 0.0
        self._last = 0.0

    def say(self, line: str) -> None:
        text = f"same-same: {line}"
        if self._bar is not None:
            self._bar.console.print(text, markup=False, highlight=False, soft_wrap=True)
            return
        self._stream.write(text + "\n")
        self._stream.flush()

    def begin(self, label: str, total_bytes: int | None) -> None:
        self.end()
        self._label, self._total, self._done, self._current = label, total_bytes, 0, ""
        self._started = self._last = time.monotonic()
        if self._terminal:
            self._bar = _rich_bar(self._console or _console(self._stream))
            self._task = self._bar.add_task(label, total=total_bytes, current="")
            self._bar.start()
            self._bar.refresh()

    def advance(self, nbytes: int, current: str | None = None) -> None:
        self._done += nbytes
        if current:
            self._current = current
        now = time.monotonic()
        if self._bar is not None:
            if now - self._last >= self._redraw:
                self._last = now
                self._draw()
        elif now - self._last >= self._log_interval:
            self._last = now
            self.say(self.line())

    def end(self) -> None:
        if self._bar is not None:
            self._draw()  # the last count, then away (the bar is transient)
            self._bar.stop()
            self._bar = None

    def line(self) -> str:
        """The plain line: ``downloading x: 120.0 MB/605.2 MB (20%) 12.0 MB/s ETA 0:40``."""
        rate = self._done / max(time.monotonic() - self._started, 1e-9)
        if not self._total:
            return f"{self._label}: {format_size(self._done)} {format_size(int(rate))}/s"
        eta = (self._total - self._done) / rate if rate > 0 else 0.0
        return (
            f"{self._label}: {format_size(self._done)}/{format_size(self._total)} "
            f"({100.0 * self._done / self._total:.0f}%) {format_size(int(rate))}/s "
            f"ETA {format_duration(eta)}"
        )

    def _draw(self) -> None:
        if self._bar is None or self._task is None:
            return
        current = self._current
        if len(current) > CURRENT_FILE_CHARS:
            current = "…" + current[-(CURRENT_FILE_CHARS - 1) :]
        self._bar.update(self._task, completed=self._done, current=current)
        self._bar.refresh()


def _console(stream: TextIO) -> Console:
    from rich.console import Console

    return Console(file=stream)


def _rich_bar(console: Console) -> Progress:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TaskProgressColumn(),
        TransferSpeedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[current]}"),
        console=console,
        auto_refresh=False,
        transient=True,
    )


__all__ = ["LOG_INTERVAL_S", "TransferDisplay"]
