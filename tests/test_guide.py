"""Every command and curl call of the founding guide (docs/IMAGE_EMBEDDING_GUIDE.md), verbatim.

Pretrained weights cannot be downloaded on the machines that test this project, so the
project's tiny CLIP stands in for ``ViT-B-32/openai`` and ``ViT-L-14/laion2b_s34b_b79k``
through the local model folders (``SAME_SAME_MODELS_DIR``) that air-gapped users fill
with real weights. Nothing else is replaced: the commands run as the guide prints them,
with the real CLI (in this process, ``run_cli``), a real server on 127.0.0.1 (the guide's
``localhost:8080`` is rewritten to its free port) and the real curl.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from same_same.synthetic import generate_scenes

pytest.importorskip("open_clip", reason="the [clip] extra is not installed")

from conftest import run_cli  # noqa: E402
from milvus_fixtures import rescoped  # noqa: E402
from same_same.embedders.clip import tiny_model_paths  # noqa: E402
from server_fixtures import running_server  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED_GUIDE = REPO.parent / "shared" / "seed" / "IMAGE_EMBEDDING_GUIDE.md"
GUIDE = REPO / "docs" / "IMAGE_EMBEDDING_GUIDE.md"
STAND_INS = ("ViT-B-32/openai", "ViT-L-14/laion2b_s34b_b79k")
FOLDERS = (
    "photos/beach/sunset.jpg",
    "photos/beach/waves.jpg",
    "photos/mountains/peak.jpg",
    "beach/sunset.jpg",
    "beach/waves.jpg",
    "mountains/peak.jpg",
    "city/downtown.jpg",
    "vacation_photos/a.jpg",
    "vacation_photos/b.jpg",
    "product_photos/dress.jpg",
    "product_photos/shoe.png",
    "uploads/u1.jpg",
    "uploads/u2.png",
    "collection/c1.jpg",
    "collection/c2.jpg",
    "collection/sub/c3.jpg",
    "large_collection/l1.jpg",
    "large_collection/l2.jpg",
    "home/Pictures/p1.jpg",
    "home/Pictures/p2.jpg",
)


# every test runs on the embedded store and on Milvus (milvus_fixtures.every_store)
pytestmark = pytest.mark.usefixtures("every_store")

def guide_blocks() -> list[list[str]]:
    """The guide's ```bash blocks as lists of commands (continuations joined, comments cut)."""
    text = GUIDE.read_text(encoding="utf-8")
    blocks = []
    for body in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        joined = body.replace("\\\n", " ")
        commands = []
        for line in joined.splitlines():
            line = line.strip()
            if line.startswith(("same-same ", "curl ")):
                commands.append(re.sub(r"\s+#[^'\"]*$", "", line).strip())
        if commands:
            blocks.append(commands)
    return blocks


def test_the_guide_copy_is_the_founding_document() -> None:
    if not SHARED_GUIDE.exists():
        pytest.skip("../shared is not beside this checkout (CI and developers have it)")
    assert GUIDE.read_bytes() == SHARED_GUIDE.read_bytes()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("guide")
    scenes = generate_scenes(len(FOLDERS), seed=4242, size=128)
    for relative, scene in zip(FOLDERS, scenes, strict=True):
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        scene.image.convert("RGB").save(path)
    (root / "images.txt").write_text(
        "beach/sunset.jpg,landscape\nbeach/waves.jpg,seascape\n"
        "mountains/peak.jpg,landscape\ncity/downtown.jpg,urban\n",
        encoding="utf-8",
    )
    config, weights = tiny_model_paths()
    for stand_in in STAND_INS:
        folder = root / "models" / stand_in
        folder.mkdir(parents=True)
        hub_config = {"model_cfg": json.loads(config.read_text(encoding="utf-8"))}
        (folder / "open_clip_config.json").write_text(json.dumps(hub_config), encoding="utf-8")
        shutil.copy(weights, folder / "open_clip_model.safetensors")
    return root


def environment(workdir: Path, data_dir: Path) -> dict[str, str]:
    env = dict(
        os.environ,
        SAME_SAME_DATA_DIR=str(data_dir),
        SAME_SAME_MODELS_DIR=str(workdir / "models"),
        HOME=str(workdir / "home"),
        HF_HUB_OFFLINE="1",
    )
    return rescoped(env, data_dir)


def run_same_same(
    command: str, workdir: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    program, *args = shlex.split(command)
    assert program == "same-same", command
    return run_cli(*args, env=env, cwd=workdir)


def run_curl(
    command: str, base_url: str, workdir: Path, env: dict[str, str], vector: list[float]
) -> dict:
    command = command.replace("http://localhost:8080", base_url)
    command = command.replace("[/* vector from image */]", json.dumps(vector))
    result = subprocess.run(
        [*shlex.split(command), "-s", "--fail-with-body"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return json.loads(result.stdout)


def run_block(block: list[str], data_dir: Path, workdir: Path, scratch: Path) -> None:
    env = environment(workdir, data_dir)
    for index, command in enumerate(block):
        if not command.startswith("same-same "):
            continue
        result = run_same_same(command, workdir, env)
        if result.returncode == 1 and "holds vectors of" in result.stderr:
            # The guide's "Model Selection" block writes three models into one namespace;
            # a namespace keeps one model, so the store refuses in one line. Each command
            # works on its own: run it again in a store of its own.
            assert result.stderr.count("\n") == 1
            result = run_same_same(command, workdir, environment(workdir, scratch / f"own-{index}"))
        assert result.returncode == 0, f"{command}\n{result.stderr}"
        assert "Traceback" not in result.stderr
    curls = [c for c in block if c.startswith("curl ")]
    if not curls:
        return
    from same_same.storage import STORE_ENV, open_store

    with open_store(data_dir, env.get(STORE_ENV)) as store:
        vector: list[float] = []
        for info in store.list_namespaces():
            for record in store.list_records(info.name, with_vectors=True):
                if record.metadata.get("type") == "image":
                    vector = [float(x) for x in record.vector]
                    break
    with running_server(data_dir, env=env) as base:
        for command in curls:
            body = run_curl(command, base, workdir, env, vector)
            assert body["results"], command
            assert body["results"] == sorted(body["results"], key=lambda r: -r["score"])


def test_every_guide_command_runs_verbatim(workdir: Path, tmp_path: Path) -> None:
    """Blocks run in the guide's order; a block of curl calls alone searches the store the
    block before it filled, as a reader following the guide would."""
    blocks = guide_blocks()
    commands = [c for block in blocks for c in block]
    assert sum(c.startswith("same-same ") for c in commands) >= 20
    assert sum(c.startswith("curl ") for c in commands) >= 6
    data_dir = tmp_path / "store-0"
    for number, block in enumerate(blocks):
        if any(c.startswith("same-same ") for c in block):
            data_dir = tmp_path / f"store-{number}"
        run_block(block, data_dir, workdir, tmp_path / f"scratch-{number}")


def test_example_results_match_the_guide(workdir: Path, tmp_path: Path) -> None:
    env = environment(workdir, tmp_path / "store")
    result = run_same_same("same-same ingest -e clip images:./photos --json", workdir, env)
    assert json.loads(result.stdout)["stored"] == 3  # "Result: 3 images ingested"
    flat = run_same_same(
        "same-same ingest -e clip -n top -r=false images:./photos --json", workdir, env
    )
    assert json.loads(flat.stdout)["stored"] == 0  # nothing in the top folder itself
    listed = run_same_same(
        "same-same ingest -e clip -n photos image-list:./images.txt", workdir, env
    )
    assert listed.returncode == 0, listed.stderr
    from same_same.storage import STORE_ENV, open_store

    with open_store(tmp_path / "store", env.get(STORE_ENV)) as store:
        by_name = {r.metadata["path"]: r.metadata for r in store.list_records("photos")}
        [default] = [
            r.metadata
            for r in store.list_records("default")
            if r.metadata["filename"] == "sunset.jpg"
        ]
    sunset = by_name[str(workdir / "beach" / "sunset.jpg")]
    assert {k: sunset[k] for k in ("type", "filename", "extension", "label", "namespace")} == {
        "type": "image",
        "filename": "sunset.jpg",
        "extension": ".jpg",
        "label": "landscape",
        "namespace": "photos",
    }
    assert {k: default[k] for k in ("type", "filename", "path", "extension", "namespace")} == {
        "type": "image",
        "filename": "sunset.jpg",
        "path": "beach/sunset.jpg",
        "extension": ".jpg",
        "namespace": "default",
    }


def test_programmatic_usage(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The guide's Go example, in Python: one embedder, text and images in one space."""
    monkeypatch.setenv("SAME_SAME_MODELS_DIR", str(workdir / "models"))
    from same_same import CLIPEmbedder

    embedder = CLIPEmbedder("ViT-B-32", "openai")
    text_embedding = embedder.embed("a photo of a cat")
    image_embedding = embedder.embed_image(workdir / "beach" / "sunset.jpg")
    assert text_embedding.shape == image_embedding.shape == (embedder.space.dim,)
    assert abs(float(text_embedding @ text_embedding) - 1) < 1e-4
    assert -1 <= float(text_embedding @ image_embedding) <= 1
    assert embedder.embed_texts(["a", "b"]).shape[0] == 2
    assert embedder.embed_images([Image.open(workdir / "beach" / "waves.jpg")]).shape[0] == 1
