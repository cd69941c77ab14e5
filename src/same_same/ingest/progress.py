"""Progress on stderr: a bar (rich) with count, rate, ETA and the current item on a
terminal; a plain line every ``log_interval`` seconds elsewhere (CI logs, pipes)."""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO


class ProgressDisplay(Protocol):
    """What draws the bar on a terminal (``progress_bar.RichBar``)."""

    def update(self, done: int, total: int | None, current: str | None) -> None: ...

    def print_line(self, text: str) -> None: ...

    def stop(self) -> None: ...


def format_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:d}:{secs:02d}"


class Progress:
    """Counts done items and redraws one stderr line at most ``interval`` seconds apart.

    On a terminal a rich bar shows count, total, rate, ETA and the current item;
    otherwise (CI logs, pipes) a line is printed every ``log_interval`` seconds so long
    jobs still show life. ``display`` replaces the terminal's bar (tests draw it into a
    buffer); it implies a terminal.
    """

    def __init__(
        self,
        total: int | None = None,
        unit: str = "records",
        stream: TextIO | None = None,
        enabled: bool = True,
        interval: float = 0.2,
        log_interval: float = 10.0,
        display: ProgressDisplay | None = None,
    ) -> None:
        self.total = total
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.done = 0
        self.started = time.monotonic()
        self.current: str | None = None
        self._display = display
        self._last_draw = 0.0
        self._interval = interval if self._is_tty() else log_interval
        self._drawn = False

    def _is_tty(self) -> bool:
        if self._display is not None:
            return True
        isatty = getattr(self.stream, "isatty", None)
        return bool(isatty and isatty())

    def _bar(self) -> ProgressDisplay:
        if self._display is None:
            from .progress_bar import RichBar

            self._display = RichBar(self.stream, self.unit)
        return self._display

    def set_total(self, total: int | None) -> None:
        self.total = total

    def advance(self, count: int = 1, current: str | None = None) -> None:
        """``count`` more items done; ``current``: the last one's name, shown by the bar."""
        self.done += count
        if current is not None:
            self.current = current
        now = time.monotonic()
        if self.enabled and now - self._last_draw >= self._interval:
            self._last_draw = now
            self._draw()

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.done / elapsed
        if self.total:
            pct = 100.0 * self.done / self.total
            eta = (self.total - self.done) / rate if rate > 0 else 0.0
            return (
                f"{self.done}/{self.total} {self.unit} ({pct:.0f}%) "
                f"{rate:.1f} {self.unit}/s ETA {format_duration(eta)}"
            )
        return f"{self.done} {self.unit} {rate:.1f} {self.unit}/s"

    def _draw(self) -> None:
        if self._is_tty():
            self._bar().update(self.done, self.total, self.current)
        else:
            self.stream.write(self.line() + "\n")
            self.stream.flush()
        self._drawn = True

    def message(self, text: str) -> None:
        """Print a line (a skipped file, a warning) without garbling the bar."""
        if self._is_tty() and self._drawn:
            self._bar().print_line(text)  # above the bar, which stays at the bottom
            return
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self._drawn and self._is_tty():
            bar = self._bar()
            bar.update(self.done, self.total, self.current)  # the last count, then away
            bar.stop()
