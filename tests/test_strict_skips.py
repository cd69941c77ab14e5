"""Under scripts/test (SAME_SAME_TESTS_STRICT=1) a skipped test fails the run: a missing install
step must not pass quietly as a skip. Runs pytest on a throwaway folder with this conftest."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")


def run_pytest(folder: Path, body: str, strict: bool) -> subprocess.CompletedProcess[str]:
    shutil.copy(CONFTEST, folder / "conftest.py")
    for plugin in ("milvus_fixtures.py", "browser_fixtures.py"):  # the conftest's plugins
        shutil.copy(CONFTEST.with_name(plugin), folder)
    (folder / "test_probe.py").write_text(body, encoding="utf-8")
    (folder / "test_fine.py").write_text("def test_fine():\n    pass\n", encoding="utf-8")
    env = {**os.environ, "SAME_SAME_TESTS_STRICT": "1" if strict else "0"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=folder,
    )


SKIPS = {
    "in a test": "import pytest\n\ndef test_x():\n    pytest.skip('no chromium')\n",
    "at import": "import pytest\n\npytest.importorskip('no_such_module_here')\n",
}


@pytest.mark.parametrize("where", sorted(SKIPS))
def test_a_skip_fails_the_strict_run_and_names_itself(tmp_path: Path, where: str) -> None:
    strict = run_pytest(tmp_path, SKIPS[where], strict=True)
    assert strict.returncode == 1, strict.stdout + strict.stderr
    assert "test_probe.py" in strict.stderr and "skipped" in strict.stderr
    relaxed = run_pytest(tmp_path, SKIPS[where], strict=False)
    assert relaxed.returncode == 0, relaxed.stdout + relaxed.stderr


def test_the_allowed_reason_passes_the_strict_run(tmp_path: Path) -> None:
    body = (
        "import pytest\n\ndef test_x():\n"
        "    pytest.skip('../shared is not beside this checkout (CI has it)')\n"
    )
    done = run_pytest(tmp_path, body, strict=True)
    assert done.returncode == 0, done.stdout + done.stderr
