"""The README's main job: ``./scripts/demo`` runs ``same-same demo`` (real CLI, offline here).

No pretrained weights can be downloaded on this machine, so the demo must say so in one line
and fall back to the bundled tiny model, then ingest, answer the text and image queries and
point at the server; a second run embeds nothing again.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from conftest import same_same_command

pytest.importorskip("open_clip")

from same_same.demo import SCENE_SEED, SCENE_SIZE, SCENES  # noqa: E402
from same_same.synthetic import generate_scenes  # noqa: E402


def run_demo(data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("SAME_SAME_CLIP_MODEL", None)
    env.pop("SAME_SAME_CLIP_PRETRAIN", None)
    # a process of its own: what ./scripts/demo runs, from a fresh interpreter's imports
    return subprocess.run(
        same_same_command("demo", "--data-dir", str(data_dir), "--device", "cpu"),
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )


def results_after(heading: str, stdout: str) -> list[str]:
    block = stdout.split(heading, 1)[1].split("\n\n", 1)[0]
    return re.findall(r"shapes/(scene-\d+)\.jpg", block)


def test_the_demo_falls_back_to_the_tiny_model_and_finds_the_right_pictures(
    tmp_path: Path,
) -> None:
    done = run_demo(tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    notes = [line for line in done.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "tiny test model" in notes[0] and "ViT-B-32/openai" in notes[0]
    assert f"stored {SCENES} images" in done.stderr
    assert "model: clip:same-same-tiny-clip" in done.stdout  # by name, not by this checkout's path

    scenes = generate_scenes(SCENES, SCENE_SEED, SCENE_SIZE)

    def attributes(name: str) -> dict[str, object]:
        return scenes[int(name.split("-")[1])].attributes

    red_circles = results_after('search by text "a red circle":', done.stdout)
    assert len(red_circles) == 3
    assert all(
        (attributes(n)["color"], attributes(n)["shape"]) == ("red", "circle") for n in red_circles
    )
    blue_squares = results_after('search by text "two blue squares":', done.stdout)
    top = attributes(blue_squares[0])
    assert (top["color"], top["shape"], top["count"]) == ("blue", "square", 2)
    # the image query is a smaller, recompressed copy of the fourth scene
    assert results_after("search by image", done.stdout)[0] == "scene-00003"
    assert "same-same serve --data-dir" in done.stdout

    again = run_demo(tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    # the photos are written again (new mtimes, same bytes): their vectors are reused
    counts = re.search(r"unchanged (\d+), reused (\d+)", again.stderr)
    assert counts and int(counts[1]) + int(counts[2]) == SCENES, again.stderr
