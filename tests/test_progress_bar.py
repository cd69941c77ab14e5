"""The ingest progress bar on a terminal: bar, count/total, rate, ETA and the current item,
drawn by rich. Off a terminal the plain line stays (test_image_ingest, test_cli_contract).
No timing is asserted: ``interval=0`` draws on every step."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

from rich.console import Console

from same_same.ingest import Progress
from same_same.ingest.progress_bar import RichBar
from terminal_fixtures import ANSI, run_on_terminal


def buffer_bar(unit: str = "images") -> tuple[RichBar, io.StringIO]:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=160, color_system=None)
    return RichBar(buffer, unit, console=console), buffer


def test_the_bar_shows_count_total_rate_eta_and_the_current_file() -> None:
    bar, buffer = buffer_bar()
    progress = Progress(total=10, unit="images", interval=0, display=bar)
    progress.advance(3, current="beach/sunset.jpg")
    drawn = ANSI.sub("", buffer.getvalue())
    assert "3/10" in drawn and "30%" in drawn
    assert "images/s" in drawn and "ETA" in drawn
    assert "beach/sunset.jpg" in drawn
    assert "━" in drawn  # the bar itself


def test_messages_go_above_the_bar_and_the_bar_goes_at_close() -> None:
    bar, buffer = buffer_bar()
    progress = Progress(total=4, unit="images", interval=0, display=bar)
    progress.advance(1, current="a.jpg")
    progress.message("skipping b.jpg: not an image")
    progress.advance(3, current="d.jpg")
    progress.close()
    drawn = ANSI.sub("", buffer.getvalue())
    assert "skipping b.jpg: not an image\n" in drawn
    assert "4/4" in drawn and "d.jpg" in drawn


def test_a_long_path_keeps_its_end() -> None:
    bar, buffer = buffer_bar()
    progress = Progress(total=1, interval=0, display=bar)
    progress.advance(1, current="/very/" + "deep/" * 20 + "IMG_0042.jpg")
    assert "IMG_0042.jpg" in ANSI.sub("", buffer.getvalue())


def test_ingest_on_a_real_terminal_draws_the_bar(tmp_path: Path) -> None:
    """The real command with stderr on a pseudo-terminal (``pty``), as a user sees it.
    ``--sample`` (here: every row) makes the total known before the first batch."""
    rows = "\n".join(f"{index},quote number {index}" for index in range(40))
    csv_path = tmp_path / "quotes.csv"
    csv_path.write_text(f"id,text\n{rows}\n", encoding="utf-8")
    env = {**os.environ, "SAME_SAME_DATA_DIR": str(tmp_path / "store")}
    command = [sys.executable, "-m", "same_same", "ingest", str(csv_path),
               "--batch-size", "8", "--sample", "40"]  # fmt: skip
    run = run_on_terminal(command, env)
    terminal, stdout, returncode = run.terminal, run.stdout, run.returncode
    assert returncode == 0, terminal
    assert "40/40" in terminal, terminal
    assert "records/s" in terminal and "ETA" in terminal, terminal
    assert "quotes.csv" in terminal, terminal  # the current item: "quotes.csv line N"
    assert stdout == b""  # results (none without --json) only on stdout; the bar on stderr
