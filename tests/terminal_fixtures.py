"""A command run with stderr on a pseudo-terminal (``pty``), as a user at a terminal sees it:
rich draws its bars only there. Returns the exit code, what reached the terminal (ANSI
codes removed) and stdout."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import threading
from dataclasses import dataclass

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass(frozen=True)
class TerminalRun:
    returncode: int
    terminal: str
    stdout: bytes


def run_on_terminal(command: list[str], env: dict[str, str], timeout: float = 300) -> TerminalRun:
    env = {**env, "TERM": "xterm-256color", "COLUMNS": "160"}
    env.pop("NO_COLOR", None)
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=follower, env=env
    )
    os.close(follower)
    chunks: list[bytes] = []

    def read_terminal() -> None:
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the child closed its end
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=read_terminal, daemon=True)
    reader.start()
    try:
        stdout, _ = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
        reader.join(timeout=60)
        os.close(leader)
    terminal = ANSI.sub("", b"".join(chunks).decode("utf-8", "replace"))
    return TerminalRun(process.returncode, terminal, stdout)
