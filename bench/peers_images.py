"""Image ingestion side by side: ``same-same ingest`` against rclip and clip-retrieval.

Neither peer can download its model here, so each gets the same randomly
initialised open_clip ViT-B-32-256 through a door it already has, without
editing its source:

* rclip 3.x runs two ONNX files it normally downloads from the Hugging Face hub
  into ``$RCLIP_DATADIR/ViT-B-32-256-datacomp_s34b_b86k/``, with the CLIP BPE
  vocabulary in ``$RCLIP_DATADIR/tokenizer/``; when they are already there it
  never goes online. We export the random model to those two files (it hard-codes
  that file layout, the 256-pixel preprocessing and the input/output names).
* clip-retrieval loads models through all_clip, whose ``open_clip:ARCH/CHECKPOINT``
  form passes a local checkpoint path to open_clip. We save the random weights.
* same-same: ``--clip-model ViT-B-32-256 --clip-pretrain none`` (seeded random init),
  with each backend (``torch``, ``onnx``, ``onnx-int8``; the ONNX export is done once
  before the timed runs, as a user's first run would).

Timed: the wall clock of each command on the same folder of JPEG files, model
loading included. Run by bench/peers.py --images N; ``python bench/peers_images.py
export DIR`` (main venv) writes the model files.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from peers_venv import ensure_venv, last_line  # noqa: E402
from photos import link_folder  # noqa: E402

MODEL = "ViT-B-32-256"
RCLIP_SUBDIR = "ViT-B-32-256-datacomp_s34b_b86k"
BPE_NAME = "bpe_simple_vocab_16e6.txt.gz"
CHECKPOINT = "vit-b-32-256-random.pt"
BATCH = 32
SMALL_RUN = 8  # images in the run that measures start-up cost
IMAGE_PEERS = {
    "rclip": {"rclip": "rclip==3.3.0"},
    # clip-anytorch (a clip-retrieval dependency) imports pkg_resources, which
    # setuptools dropped in 81, and clip-retrieval's install pulls the newest one
    "clip-retrieval": {"clip-retrieval": "clip-retrieval==2.45.0", "setuptools": "setuptools<81"},
}
HOW = {
    "same-same": f"same-same ingest images:DIR -e clip --clip-model {MODEL} --clip-pretrain none",
    "same-same-onnx": "the same with --backend onnx (exported once before, untimed)",
    "same-same-onnx-int8": "the same with --backend onnx-int8 (exported once before, untimed)",
    "rclip": (
        f"RCLIP_DATADIR holding {RCLIP_SUBDIR}/visual.onnx and textual.onnx (the random "
        f"{MODEL} exported with torch.onnx) and tokenizer/{BPE_NAME} (open_clip's copy); "
        "`rclip -f -t 1 QUERY` run in the folder indexes it, then answers one text query"
    ),
    "clip-retrieval": (
        f"clip-retrieval inference --clip_model open_clip:{MODEL}/<local checkpoint of the "
        f"random weights> --enable_text False --use_jit False --batch_size {BATCH}"
    ),
}


def write_photo_folder(folder: Path, count: int, seed: int = 0) -> None:
    """``count`` 640x480 JPEGs with smooth gradients, blobs and sensor-like noise.

    Only decoding and resizing cost matter here (the models are random), so these
    just need to be photo-sized and compress like photos, not look like anything.
    """
    from PIL import Image, ImageDraw, ImageFilter

    if (folder / "done").exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    height, width = 480, 640
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    for index in range(count):
        base = rng.uniform(0, 255, size=(2, 3)).astype(np.float32)
        angle = rng.uniform(0, 2 * np.pi)
        ramp = (np.cos(angle) * xs / width + np.sin(angle) * ys / height + 1) / 2
        pixels = base[0] + (base[1] - base[0]) * ramp[..., None]
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(image)
        for _ in range(int(rng.integers(3, 9))):
            x, y = rng.uniform(0, width), rng.uniform(0, height)
            r = rng.uniform(20, 160)
            colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
            draw.ellipse((x - r, y - r * rng.uniform(0.5, 1.5), x + r, y + r), fill=colour)
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(1, 4)))
        noisy = np.asarray(image, dtype=np.float32) + rng.normal(0, 6, size=(height, width, 3))
        photo = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
        photo.save(folder / f"photo-{index:05d}.jpg", quality=90)
    (folder / "done").write_text("ok\n", encoding="utf-8")


def export_models(out: Path) -> None:
    """Random ViT-B-32-256 (seed 0): a checkpoint, and rclip's two ONNX files and vocabulary."""
    import open_clip
    import torch

    torch.manual_seed(0)
    model = open_clip.create_model(MODEL, pretrained=None).eval()
    out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out / CHECKPOINT)

    class Tower(torch.nn.Module):
        """One encoder of the model, called the way rclip calls it: ``input`` -> ``output``."""

        def __init__(self, clip: torch.nn.Module, method: str) -> None:
            super().__init__()
            self.clip = clip
            self.method = method

        def forward(self, input: torch.Tensor) -> torch.Tensor:  # noqa: A002 - rclip's name
            return getattr(self.clip, self.method)(input)

    onnx_dir = out / "rclip" / RCLIP_SUBDIR
    onnx_dir.mkdir(parents=True, exist_ok=True)
    size = model.visual.image_size
    examples = {
        "visual": ("encode_image", torch.zeros(1, 3, *size)),
        "textual": ("encode_text", torch.zeros(1, 77, dtype=torch.long)),
    }
    for name, (method, example) in examples.items():
        # not under no_grad: there eval-mode attention takes a fused path ONNX cannot export
        torch.onnx.export(
            Tower(model, method),
            (example,),
            str(onnx_dir / f"{name}.onnx"),
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
            opset_version=17,
            dynamo=False,  # the dynamo exporter needs onnxscript, which we do not ship
        )
    vocabulary = Path(open_clip.__file__).parent / BPE_NAME
    (out / "rclip" / "tokenizer").mkdir(exist_ok=True)
    shutil.copy(vocabulary, out / "rclip" / "tokenizer" / BPE_NAME)
    (out / "done").write_text("ok\n", encoding="utf-8")


def _run(
    command: list[str], timeout: int, cwd: Path | None = None, env: dict[str, str] | None = None
) -> tuple[float, subprocess.CompletedProcess[str] | None, str]:
    """Wall seconds, the finished process (None on timeout) and a failure reason ('' if ok)."""
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **(env or {})}
    start = time.perf_counter()
    try:
        done = subprocess.run(
            command, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return time.perf_counter() - start, None, f"ran over {timeout} s"
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        return seconds, done, f"exit {done.returncode}: {last_line(done.stderr + done.stdout)}"
    return seconds, done, ""


def _result(system: str, count: int, seconds: float, embedded: int, reason: str) -> dict[str, Any]:
    if not reason and embedded != count:
        reason = f"embedded {embedded} of {count} images"
    result: dict[str, Any] = {"system": system, "images": count, "how": HOW[system]}
    if reason:
        return {**result, "status": "failed", "reason": reason, "seconds": round(seconds, 2)}
    rate = count / seconds if seconds else None
    return {**result, "status": "ok", "seconds": round(seconds, 2), "images_per_s": rate}


def _same_same_command(folder: Path, data_dir: Path, backend: str) -> list[str]:
    command = [sys.executable, "-m", "same_same", "ingest", f"images:{folder}", "-e", "clip"]
    command += ["--clip-model", MODEL, "--clip-pretrain", "none", f"--batch-size={BATCH}"]
    return command + ["--backend", backend, "--data-dir", str(data_dir), "-q", "--json"]


def _same_same_runner(backend: str) -> Runner:
    """same-same with ``backend``; an ONNX export happens once, untimed, like a user's first run."""
    system = "same-same" if backend == "torch" else f"same-same-{backend}"

    def run(
        venv: Path | None, folder: Path, models: Path, work: Path, count: int, timeout: int
    ) -> dict[str, Any]:
        data_dir = work / f"{system}-store"
        shutil.rmtree(data_dir, ignore_errors=True)
        if backend != "torch":
            cache = work / f"{system}-export"
            if not (cache / "onnx").is_dir():
                _run(_same_same_command(folder, cache, backend), timeout)
            link_folder(cache / "onnx", data_dir / "onnx")
        seconds, done, reason = _run(_same_same_command(folder, data_dir, backend), timeout)
        stored = 0
        if done is not None and not reason:
            stored = int(json.loads(done.stdout.strip().splitlines()[-1])["stored"])
        return _result(system, count, seconds, stored, reason)

    return run


def run_rclip(
    venv: Path, folder: Path, models: Path, work: Path, count: int, timeout: int
) -> dict[str, Any]:
    datadir = work / "rclip-data"
    shutil.rmtree(datadir, ignore_errors=True)
    shutil.copytree(models / "rclip", datadir)  # the database lands beside the model files
    assert venv is not None
    command = [str(venv / "bin" / "rclip"), "-f", "-t", "1", "a photo of a dog"]
    seconds, _, reason = _run(command, timeout, cwd=folder, env={"RCLIP_DATADIR": str(datadir)})
    stored = 0
    if not reason:
        with sqlite3.connect(datadir / "db.sqlite3") as db:
            stored = db.execute("SELECT count(*) FROM images WHERE vector IS NOT NULL").fetchone()[
                0
            ]
    return _result("rclip", count, seconds, stored, reason)


def run_clip_retrieval(
    venv: Path | None, folder: Path, models: Path, work: Path, count: int, timeout: int
) -> dict[str, Any]:
    out = work / "clip-retrieval-out"
    shutil.rmtree(out, ignore_errors=True)
    assert venv is not None
    command = [str(venv / "bin" / "clip-retrieval"), "inference", f"--input_dataset={folder}"]
    command += [f"--output_folder={out}", f"--clip_model=open_clip:{MODEL}/{models / CHECKPOINT}"]
    command += ["--enable_text=False", "--use_jit=False", f"--batch_size={BATCH}"]
    command += [f"--num_prepro_workers={max(1, len(os.sched_getaffinity(0)))}"]
    seconds, _, reason = _run(command, timeout)
    stored = 0
    if not reason:
        stored = sum(len(np.load(path, mmap_mode="r")) for path in out.glob("img_emb/*.npy"))
    return _result("clip-retrieval", count, seconds, stored, reason)


Runner = Callable[[Path | None, Path, Path, Path, int, int], dict[str, Any]]
RUNNERS: dict[str, Runner] = {
    "same-same": _same_same_runner("torch"),
    "same-same-onnx": _same_same_runner("onnx"),
    "same-same-onnx-int8": _same_same_runner("onnx-int8"),
    "rclip": run_rclip,
    "clip-retrieval": run_clip_retrieval,
}


def run_both_folders(
    runner: Runner,
    venv: Path | None,
    folders: dict[int, Path],
    models: Path,
    work: Path,
    timeout: int,
) -> dict[str, Any]:
    """Run the small folder, then the large one; the difference is the per-image rate.

    Model loading and imports take seconds to a minute and would otherwise hide
    the rate at which each pipeline decodes, embeds and stores images.
    """
    (small, small_folder), (large, large_folder) = sorted(folders.items())
    first = runner(venv, small_folder, models, work, small, timeout)
    result = runner(venv, large_folder, models, work, large, timeout)
    if first["status"] == "ok" and result["status"] == "ok":
        extra = result["seconds"] - first["seconds"]
        result["small_run"] = {"images": small, "seconds": first["seconds"]}
        result["marginal_images_per_s"] = (large - small) / extra if extra > 0 else None
    return result


def run_image_peers(
    work_dir: Path, count: int, install: bool, timeout: int, log: Callable[[str], None]
) -> dict[str, Any]:
    """Ingest generated JPEG folders with each system; returns the 'images' report."""
    base = work_dir / "peers-images"
    folders = {SMALL_RUN: base / f"jpeg-{SMALL_RUN}", count: base / f"jpeg-{count}"}
    for size, folder in folders.items():
        log(f"writing {size} JPEGs to {folder}")
        write_photo_folder(folder, size, seed=size)
    models = base / "model"
    if not (models / "done").exists():
        log(f"exporting a random {MODEL} for the peers to {models}")
        command = [sys.executable, str(Path(__file__)), "export", str(models)]
        _, _, reason = _run(command, timeout)
        if reason:
            return {"status": "failed", "reason": f"model export: {reason}", "results": []}
    work = base / "run"
    work.mkdir(exist_ok=True)
    results = []
    for system, runner in RUNNERS.items():
        venv = None
        if system in IMAGE_PEERS:
            venv = work_dir / f"imgpeer-{system}-venv"
            reason = ensure_venv(venv, IMAGE_PEERS[system], install, log).missing_reason(system)
            if reason:
                results.append(
                    {"system": system, "images": count, "status": "not installed", "reason": reason}
                )
                continue
        log(f"{system}: ingesting {SMALL_RUN} then {count} images ...")
        results.append(run_both_folders(runner, venv, folders, models, work, timeout))
    versions = {peer: list(packages.values()) for peer, packages in IMAGE_PEERS.items()}
    return {
        "model": f"{MODEL}, random weights (no pretrained weights can be downloaded here)",
        "images": count,
        "image_size": "640x480 JPEG, quality 90",
        "batch": BATCH,
        "pins": versions,
        "results": results,
    }


def format_image_table(report: dict[str, Any]) -> str:
    header = f"{'system':<15} {'images':>6} {'seconds':>8} {'images/s':>9} {'marginal/s':>10}"
    lines = [header, "-" * len(header)]
    for result in report.get("results", []):
        head = f"{result['system']:<15} {result['images']:>6}"
        if result["status"] != "ok":
            lines.append(f"{head}  {result['status']}: {result['reason']}")
            continue
        marginal = result.get("marginal_images_per_s")
        marginal_text = "-" if marginal is None else f"{marginal:.1f}"
        lines.append(
            f"{head} {result['seconds']:>8.1f} {result['images_per_s']:>9.1f} {marginal_text:>10}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "export":
        export_models(Path(sys.argv[2]))
    else:
        raise SystemExit("usage: python bench/peers_images.py export DIR")
