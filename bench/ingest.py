"""Image ingest benchmark: end to end against the ceiling of this machine, per backend.

    python bench/ingest.py                 # 600 photos of 3000x2000, torch, onnx, onnx-int8
    python bench/ingest.py --quick         # ~24 photos, about a minute once models are exported
    python bench/ingest.py --device cuda --backends torch --sizes 1024x768   # on a GPU

For each picture size and each backend, three measurements, back to back:

* **D**, decoding alone: the ingest's own per-file work (read once, sha256,
  draft-decode, CLIP preprocessing; ``same_same.imaging.prepare``) on a thread
  per core, in a fresh process;
* **M**, the model alone: ``embed_preprocessed`` on batches of real preprocessed
  photos at the ingest's batch size, in the same process after D, with the
  backend's own thread settings, after one warm-up batch (an ONNX export, once
  per model, happens before and is reported as ``export_s``);
* **end to end**: ``same-same ingest images:DIR -e clip --clip-model ViT-B-32
  --clip-pretrain none --backend X`` as a real subprocess into an empty data
  directory, timed from process start to exit (imports and model loading
  included; exported ONNX files are linked in from the benchmark's cache, as a
  second run on a user's machine finds them). Its own report's ``seconds``
  (from the first file to the last commit) gives ``startup_s``, the rest.

``ceiling = 1 / (1/M + 1/D)`` is the rate of a perfect pipeline that spends all
cores on decoding and then on the model with nothing lost in between; the
efficiency is end-to-end rate / ceiling. ``vs torch`` compares end-to-end rates.
``--clip-pretrain none`` gives seeded random weights: the same compute as trained
ones, and nothing is downloaded. ``--device cuda`` runs M and the ingest on the GPU
(D stays on the CPU, with the ingest's decode threads for a GPU model);
``gpu_busy`` = the model's share of the pipeline's time, ``images / M /
pipeline_s``: near 1 when decoding keeps the GPU fed.

Prints a table and writes bench/results/ingest-<date>.json with the machine.
Pictures are generated once (bench/photos.py) and cached in bench/work/ingest/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe_machine, load_average  # noqa: E402
from photos import WORK, ensure_photos, link_folder, link_set, parse_size  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
BACKENDS = ("auto", "torch", "onnx", "onnx-int8")  # auto: the default, resolved per row
NOTE = (
    "shared 2-core machine: other people's builds and tests may run at the same time; "
    "D, M and the end-to-end run of a row are measured back to back to see the same load"
)


@dataclass(frozen=True)
class ModelArgs:
    """What ``--clip-model``/``--clip-pretrain`` the ingest gets."""

    model: str
    pretrained: str

    def embedder_kwargs(self) -> dict[str, str]:
        return {"model": self.model, "pretrained": self.pretrained}


# -- the measurements that run in their own process --------------------------------------


def measure_decode(folder: Path, model: ModelArgs, limit: int, device: str) -> dict[str, Any]:
    """D: the ingest's decode work on every core, nothing else."""
    import functools
    from concurrent.futures import ThreadPoolExecutor

    from same_same.embedders.clip import preprocess_image, resolve_model_choice
    from same_same.imaging.prepare import prepare_image_file
    from same_same.ingest.model_input import draft_side
    from same_same.ingest.scheduling import default_workers

    config = resolve_model_choice(model.model, model.pretrained).preprocess
    preprocess = functools.partial(preprocess_image, config=config)
    paths = sorted(folder.glob("*.jpg"))[:limit]
    workers = default_workers(device)

    def prepare(path: Path) -> int:
        prepared = prepare_image_file(path, preprocess=preprocess, min_side=draft_side(config))
        return int(prepared.pixels is not None)

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(prepare, paths[:workers]))  # threads started, files in the page cache
        started = time.perf_counter()
        done = sum(pool.map(prepare, paths))
        seconds = time.perf_counter() - started
    return {"images": done, "seconds": seconds, "rate": done / seconds, "threads": workers}


def measure_model(
    folder: Path,
    model: ModelArgs,
    backend: str,
    batch_size: int,
    cache_dir: Path,
    seconds: float,
    device: str = "cpu",
) -> dict[str, Any]:
    """M: ``embed_preprocessed`` alone, on real preprocessed photos, at ``batch_size``."""
    import functools

    import numpy as np

    from same_same.embedders.clip import CLIPEmbedder, preprocess_image
    from same_same.imaging.prepare import prepare_image_file
    from same_same.ingest.model_input import draft_side

    def make_embedder() -> CLIPEmbedder:
        return CLIPEmbedder(
            **model.embedder_kwargs(),
            device=device,
            batch_size=batch_size,
            backend=backend,
            data_dir=cache_dir.parent,  # the store's data dir: exports live in its onnx/
        )

    export_s = 0.0
    if backend != "torch":
        from same_same.embedders.clip.onnx_backend import forget_loaded_onnx_models

        started = time.perf_counter()
        make_embedder().load()  # exports the files the cache does not have yet
        export_s = time.perf_counter() - started
        forget_loaded_onnx_models()  # the load below finds the files, as the CLI will
    embedder = make_embedder()
    config = embedder.preprocess_config
    preprocess = functools.partial(preprocess_image, config=config)
    paths = sorted(folder.glob("*.jpg"))[:batch_size]
    pixels = [
        prepare_image_file(p, preprocess=preprocess, min_side=draft_side(config)).pixels
        for p in paths
    ]
    batch = np.stack([pixels[i % len(pixels)] for i in range(batch_size)])
    started = time.perf_counter()
    embedder.load()
    embedder.embed_preprocessed(batch)  # warm-up: sessions, allocations, first-call work
    load_s = time.perf_counter() - started
    done, started = 0, time.perf_counter()
    while done < 2 * batch_size or time.perf_counter() - started < seconds:
        embedder.embed_preprocessed(batch)
        done += batch_size
    elapsed = time.perf_counter() - started
    return {
        "images": done,
        "seconds": elapsed,
        "rate": done / elapsed,
        "load_s": load_s,
        "export_s": export_s if export_s > 2.0 else 0.0,  # a cache hit takes well under 2 s
        "resolved": embedder.writer,  # what auto chose (the ingest reads the same record)
    }


# -- the driver ----------------------------------------------------------------------------


def run_child(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), *args]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def same_same_command() -> list[str]:
    script = Path(sys.executable).parent / "same-same"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "same_same"]


def ingest_command(folder: Path, data_dir: Path, model: ModelArgs, *flags: str) -> list[str]:
    """``same-same ingest -e clip`` of ``folder`` into namespace ``bench`` of ``data_dir``,
    quiet, with a JSON report; ``flags`` are added as they are."""
    return [
        *same_same_command(),
        "ingest",
        f"images:{folder}",
        "-e",
        "clip",
        "--clip-model",
        model.model,
        "--clip-pretrain",
        model.pretrained,
        *flags,
        "--data-dir",
        str(data_dir),
        "--namespace",
        "bench",
        "--quiet",
        "--json",
    ]


def timed_ingest(command: list[str], env: dict[str, str]) -> tuple[float, dict[str, Any]]:
    """Runs an ``ingest_command``: (seconds from process start to exit, its JSON report)."""
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"same-same ingest failed ({done.returncode}):\n{done.stderr[-3000:]}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return seconds, report


def run_ingest(
    folder: Path,
    data_dir: Path,
    model: ModelArgs,
    backend: str,
    batch_size: int | None,
    env: dict[str, str],
    device: str = "cpu",
    gpu_decode: str = "auto",
) -> dict[str, Any]:
    """One real ``same-same ingest``, timed from process start to exit."""
    flags = ["--backend", backend, *device_flags(device, gpu_decode)]
    if batch_size is not None:
        flags += ["--batch-size", str(batch_size)]
    seconds, report = timed_ingest(ingest_command(folder, data_dir, model, *flags), env)
    return {"seconds": seconds, "report": report}


def bench_row(
    folder: Path,
    count: int,
    size: tuple[int, int],
    backend: str,
    args: argparse.Namespace,
    model: ModelArgs,
    env: dict[str, str],
    work: Path,
) -> dict[str, Any]:
    batch = args.batch_size or default_batch_size_for(args.device)
    load_before = load_average()
    onnx_cache = args.work_dir / "onnx-cache" / "onnx"  # DATA_DIR/onnx of a data dir
    # D, then M, in one fresh process; an ONNX export (once per model) happens
    # between the two and is timed apart from both
    measured = run_child(
        [
            "--measure",
            str(folder),
            "--clip-model",
            model.model,
            "--clip-pretrain",
            model.pretrained,
            "--backend",
            backend,
            "--batch-size",
            str(batch),
            "--cache-dir",
            str(onnx_cache),
            "--limit",
            str(args.decode_images),
            "--seconds",
            str(args.model_seconds),
            "--device",
            args.device,
        ],
        env,
    )
    decode, model_run = measured["decode"], measured["model"]
    data_dir = Path(tempfile.mkdtemp(prefix=f"ingest-{backend}-", dir=work))
    link_folder(onnx_cache, data_dir / "onnx")
    e2e = run_ingest(
        folder, data_dir, model, backend, args.batch_size, env, args.device, args.gpu_decode
    )
    shutil.rmtree(data_dir, ignore_errors=True)
    stored = int(e2e["report"]["stored"])
    if stored != count:
        raise RuntimeError(f"{backend}: stored {stored} of {count} images")
    rate = count / e2e["seconds"]
    ceiling = 1.0 / (1.0 / model_run["rate"] + 1.0 / decode["rate"])
    return {
        "size": f"{size[0]}x{size[1]}",
        "backend": backend,
        "resolved_backend": model_run.get("resolved", backend),
        "images": count,
        "seconds": round(e2e["seconds"], 2),
        "rate": round(rate, 3),
        "pipeline_s": e2e["report"]["seconds"],
        "startup_s": round(e2e["seconds"] - e2e["report"]["seconds"], 2),
        "model_rate": round(model_run["rate"], 3),
        "model_load_s": round(model_run["load_s"], 2),
        "decode_rate": round(decode["rate"], 3),
        "decode_threads": decode["threads"],
        "ceiling": round(ceiling, 3),
        "efficiency": round(rate / ceiling, 3),
        "pipeline_efficiency": round(count / e2e["report"]["seconds"] / ceiling, 3),
        "batch_size": batch,
        "batch_size_flag": args.batch_size,
        "device": args.device,
        "gpu_decode": args.gpu_decode,
        "gpu_busy": gpu_busy(count, model_run["rate"], e2e["report"]["seconds"], args.device),
        "export_s": round(model_run["export_s"], 1) if model_run["export_s"] else None,
        "loadavg_before": load_before,
        "loadavg_after": load_average(),
    }


def default_batch_size_for(device: str) -> int:
    from same_same.embedders.clip.backends import default_batch_size

    return default_batch_size(device)


def device_flags(device: str, gpu_decode: str) -> list[str]:
    """The ingest's flags for ``--device`` and ``--gpu-decode``."""
    return ["--device", device, "--gpu-decode", gpu_decode]


def gpu_busy(images: int, model_rate: float, pipeline_s: float, device: str) -> float | None:
    """The GPU's share of the pipeline's time (model time / wall time); None on a CPU."""
    if not device.startswith("cuda") or pipeline_s <= 0:
        return None
    return round(images / model_rate / pipeline_s, 3)


# -- report --------------------------------------------------------------------------------


def format_table(rows: list[dict[str, Any]]) -> str:
    header = (
        f"{'size':>9} {'backend':>9} {'images':>6} {'seconds':>8} {'img/s':>6} "
        f"{'M':>6} {'D':>6} {'ceiling':>7} {'effic.':>6} {'vs torch':>8} "
        f"{'startup':>7} {'pipe.eff':>8}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        ratio = row.get("ratio_vs_torch")
        resolved = row.get("resolved_backend", row["backend"])
        name = row["backend"] if resolved == row["backend"] else f"auto:{resolved}"
        lines.append(
            f"{row['size']:>9} {name:>9} {row['images']:>6} {row['seconds']:>8.1f} "
            f"{row['rate']:>6.2f} {row['model_rate']:>6.2f} {row['decode_rate']:>6.1f} "
            f"{row['ceiling']:>7.2f} {row['efficiency']:>6.2f} "
            f"{'' if ratio is None else f'{ratio:.2f}x':>8} "
            f"{row['startup_s']:>6.1f}s {row['pipeline_efficiency']:>8.2f}"
        )
    lines.append(
        "effic. = img/s / ceiling, ceiling = 1/(1/M + 1/D); startup = process start until the "
        "first file (imports, model names);\npipe.eff = the same efficiency from the first "
        "file to the last commit (model loading included)"
    )
    return "\n".join(lines)


def unused_path(path: Path) -> Path:
    """``path``, or ``name-2.json``, ``name-3.json``... when earlier runs of the day exist."""
    candidate, number = path, 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
    return candidate


def add_ratios(rows: list[dict[str, Any]]) -> None:
    torch_rates = {row["size"]: row["rate"] for row in rows if row["backend"] == "torch"}
    for row in rows:
        base = torch_rates.get(row["size"])
        row["ratio_vs_torch"] = round(row["rate"] / base, 3) if base else None


# -- command line --------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run (~1 minute)")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--count", type=int, default=None, help="photos per size (default 600)")
    parser.add_argument(
        "--sizes", default="3000x2000", help="comma-separated WIDTHxHEIGHT (also 1024x768)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=None, help="passed to the ingest (default: its own)"
    )
    parser.add_argument("--clip-model", default="ViT-B-32")
    parser.add_argument("--clip-pretrain", default="none", help="none: seeded random weights")
    parser.add_argument(
        "--model-config", type=Path, default=None, help="an open_clip config .json (tiny runs)"
    )
    parser.add_argument("--weights", type=Path, default=None, help="weights for --model-config")
    parser.add_argument("--decode-images", type=int, default=None, help="files D is measured on")
    parser.add_argument("--model-seconds", type=float, default=None, help="how long M runs")
    parser.add_argument("--work-dir", type=Path, default=WORK)
    parser.add_argument("--out", type=Path, default=None, help="JSON file (default: results/)")
    parser.add_argument("--note", default=NOTE)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (M and the ingest)")
    parser.add_argument(
        "--gpu-decode", default="auto", choices=("auto", "on", "off"), help="the ingest's flag"
    )
    # the measurements that run in a child process
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--backend", default="torch", help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, default=200, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=10.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.model_config is not None:
        args.clip_model = str(args.model_config.resolve())
        args.clip_pretrain = str(args.weights.resolve()) if args.weights else "none"
    args.count = args.count or (24 if args.quick else 600)
    args.decode_images = args.decode_images or min(args.count, 48 if args.quick else 200)
    args.model_seconds = args.model_seconds or (3.0 if args.quick else 15.0)
    return args


def child_main(args: argparse.Namespace) -> int:
    """D, then M, in this fresh process; prints them as one JSON line."""
    model = ModelArgs(args.clip_model, args.clip_pretrain)
    decode = measure_decode(args.measure, model, args.limit, args.device)
    measured = measure_model(
        args.measure,
        model,
        args.backend,
        args.batch_size,
        args.cache_dir,
        args.seconds,
        args.device,
    )
    print(json.dumps({"decode": decode, "model": measured}))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.measure:
        return child_main(args)
    sizes = [parse_size(text) for text in args.sizes.split(",") if text]
    backends = [name.strip() for name in args.backends.split(",") if name.strip()]
    model = ModelArgs(args.clip_model, args.clip_pretrain)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("SAME_SAME_ONNX_DIR", None)  # exports live in the benchmark's own cache
    env.pop("SAME_SAME_CLIP_BACKEND", None)
    report: dict[str, Any] = {
        "benchmark": "ingest",
        "machine": describe_machine(("pillow", "torch", "open_clip_torch", "onnxruntime", "onnx")),
        "note": args.note,
        "settings": {
            "quick": args.quick,
            "count": args.count,
            "sizes": [f"{w}x{h}" for w, h in sizes],
            "backends": backends,
            "clip_model": model.model,
            "clip_pretrain": model.pretrained,
            "batch_size": args.batch_size,
            "device": args.device,
            "gpu_decode": args.gpu_decode,
            "decode_images": args.decode_images,
            "model_seconds": args.model_seconds,
            "jpeg_quality": 90,
        },
        "results": [],
    }
    args.work_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="run-", dir=args.work_dir))
    try:
        for size in sizes:
            photos = ensure_photos(args.count, *size, root=args.work_dir)
            folder = link_set(photos, work / f"set-{size[0]}x{size[1]}-{args.count}")
            for backend in backends:
                row = bench_row(folder, args.count, size, backend, args, model, env, work)
                report["results"].append(row)
                print(
                    f"{row['size']} {backend}: {row['rate']:.2f} images/s end to end, "
                    f"M {row['model_rate']:.2f}, D {row['decode_rate']:.1f}, "
                    f"efficiency {row['efficiency']:.2f}"
                    + ("" if row["gpu_busy"] is None else f", GPU busy {row['gpu_busy']:.2f}"),
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    add_ratios(report["results"])
    report["machine"]["loadavg_end"] = load_average()
    print(format_table(report["results"]))
    out = args.out or unused_path(RESULTS / f"ingest-{dt.date.today().isoformat()}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
