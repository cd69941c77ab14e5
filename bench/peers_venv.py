"""The peers' own virtualenv (bench/work/peers-venv), so their dependencies never touch ours.

Created on first use with ``python -m venv``; each peer package is installed on
its own, so one that fails to install (offline, no wheel for this platform)
only takes out its own rows. What happened is kept in ``peers-install.json``
inside the venv: packages that installed are not reinstalled, failed ones are
retried on the next run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

# Versions that installed and ran offline here (see bench/README.md).
PEER_PACKAGES = {
    "faiss-cpu": "faiss-cpu==1.15.1",
    "chromadb": "chromadb==1.5.9",
    "lancedb": "lancedb==0.40.0",
    "qdrant-client": "qdrant-client==1.20.0",
}
STATE_FILE = "peers-install.json"
INSTALL_TIMEOUT_S = 1200


@dataclass
class PeerEnv:
    python: Path | None
    # package -> "ok" or the one-line reason it is missing
    packages: dict[str, str] = field(default_factory=dict)

    def missing_reason(self, package: str) -> str | None:
        """Why ``package`` cannot run, or None when it can."""
        if self.python is None:
            return self.packages.get(package, "peer venv not created (--no-install)")
        status = self.packages.get(package, "not installed")
        return None if status == "ok" else status


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def last_line(text: str) -> str:
    """The last informative line of pip's output (its mirror warnings are noise)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith("WARNING: Location")]
    return (useful or lines or ["no output"])[-1][:300]


def _read_state(venv: Path) -> dict[str, str]:
    try:
        data = json.loads((venv / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(key): str(value) for key, value in data.items()}


def _install(python: Path, requirement: str) -> str:
    command = [str(python), "-m", "pip", "install", "-q", requirement]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        return f"pip install {requirement} ran over {INSTALL_TIMEOUT_S} s"
    if done.returncode != 0:
        return f"pip install {requirement} failed: {last_line(done.stderr + done.stdout)}"
    return "ok"


def ensure_venv(
    venv: Path, packages: dict[str, str], install: bool = True, log: Callable[[str], None] = print
) -> PeerEnv:
    """A venv with ``packages`` (name -> requirement), created and filled when ``install``."""
    python = venv_python(venv)
    state = _read_state(venv) if python.exists() else {}
    if not install:
        return PeerEnv(python if python.exists() else None, state)
    if not python.exists():
        log(f"creating {venv} (first run only)")
        done = subprocess.run(
            [sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            reason = f"python -m venv failed: {last_line(done.stderr)}"
            return PeerEnv(None, dict.fromkeys(packages, reason))
    for package, requirement in packages.items():
        if state.get(package) == "ok":
            continue
        log(f"installing {requirement} into {venv}")
        state[package] = _install(python, requirement)
        if state[package] != "ok":
            log(f"  {state[package]}")
        (venv / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    return PeerEnv(python, state)


def ensure_peer_env(
    work_dir: Path, install: bool = True, log: Callable[[str], None] = print
) -> PeerEnv:
    """The vector peers' venv, bench/work/peers-venv."""
    return ensure_venv(work_dir / "peers-venv", PEER_PACKAGES, install, log)
