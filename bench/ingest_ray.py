"""Image ingest in this process's pipeline against ``--ray auto``, on the same pictures.

    python bench/ingest_ray.py                  # 300 pictures of 224x224, ViT-B-32
    python bench/ingest_ray.py --count 40       # a quicker look

Each run is a real ``same-same ingest images:DIR -e clip --clip-model ViT-B-32
--clip-pretrain none --device cpu --json`` subprocess into an empty data directory,
once as is (local) and once with ``--ray auto`` (a local Ray cluster started for the
run, tasks decoding, an actor pool embedding), back to back so both see the same
load. ``--clip-pretrain none`` gives seeded random weights: the same compute as
trained ones, nothing downloaded. Rates are the ingest's own (first file to last
commit); ``wall_s`` adds process start, imports, model loading and, for Ray, the
cluster's start. Pictures come from bench/photos.py (cached in bench/work/ingest/).

Writes bench/results/ingest_ray.json with the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import ModelArgs, ingest_command, timed_ingest  # noqa: E402
from machine import describe_machine, load_average  # noqa: E402
from photos import WORK, ensure_photos, link_set, parse_size  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULT = REPO / "bench" / "results" / "ingest_ray.json"
NOTE = (
    "shared 2-core machine: other people's builds and tests may run at the same time; "
    "the two runs are measured back to back to see the same load"
)


def run_ingest(
    folder: Path, data_dir: Path, model: ModelArgs, extra: list[str], env: dict[str, str]
) -> dict[str, Any]:
    """One real ``same-same ingest``, timed from process start to exit."""
    command = ingest_command(folder, data_dir, model, "--device", "cpu", *extra)
    wall, report = timed_ingest(command, env)
    return {
        "wall_s": round(wall, 2),
        "ingest_s": report["seconds"],
        "rate": report["rate"],
        "wall_rate": round(report["stored"] / wall, 2) if wall > 0 else 0.0,
        "stored": report["stored"],
        "skipped": report["skipped"],
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="pictures (default 300)")
    parser.add_argument("--size", default="224x224", help="WIDTHxHEIGHT (default 224x224)")
    parser.add_argument("--batch-size", type=int, default=None, help="passed to both runs")
    parser.add_argument("--ray-actors", type=int, default=None, help="passed to the Ray run")
    parser.add_argument("--clip-model", default="ViT-B-32")
    parser.add_argument("--clip-pretrain", default="none", help="none: seeded random weights")
    parser.add_argument("--model-config", type=Path, default=None, help="open_clip config .json")
    parser.add_argument("--weights", type=Path, default=None, help="weights for --model-config")
    parser.add_argument("--work-dir", type=Path, default=WORK)
    parser.add_argument("--out", type=Path, default=RESULT)
    parser.add_argument("--note", default=NOTE)
    args = parser.parse_args(argv)
    if args.model_config is not None:
        args.clip_model = str(args.model_config.resolve())
        args.clip_pretrain = str(args.weights.resolve()) if args.weights else "none"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    width, height = parse_size(args.size)
    model = ModelArgs(args.clip_model, args.clip_pretrain)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("SAME_SAME_CLIP_BACKEND", None)
    common = ["--batch-size", str(args.batch_size)] if args.batch_size else []
    on_ray = ["--ray", "auto"]
    if args.ray_actors:
        on_ray += ["--ray-actors", str(args.ray_actors)]
    report: dict[str, Any] = {
        "benchmark": "ingest_ray",
        "machine": describe_machine(("pillow", "torch", "open_clip_torch", "ray")),
        "note": args.note,
        "settings": {
            "count": args.count,
            "size": f"{width}x{height}",
            "clip_model": model.model,
            "clip_pretrain": model.pretrained,
            "batch_size": args.batch_size,
            "ray_actors": args.ray_actors,
            "device": "cpu",
        },
    }
    args.work_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="ray-", dir=args.work_dir))
    try:
        photos = ensure_photos(args.count, width, height, root=args.work_dir)
        folder = link_set(photos, work / "set")
        local = run_ingest(folder, work / "local", model, common, env)
        print(f"local: {local['rate']:.2f} images/s", file=sys.stderr, flush=True)
        ray = run_ingest(folder, work / "ray", model, [*common, *on_ray], env)
        print(f"--ray auto: {ray['rate']:.2f} images/s", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report["local"], report["ray"] = local, ray
    report["ray_vs_local"] = round(ray["rate"] / local["rate"], 3) if local["rate"] else None
    report["machine"]["loadavg_end"] = load_average()
    print(f"{'run':<12}{'images/s':>10}{'ingest s':>10}{'wall s':>9}")
    for name, row in (("local", local), ("--ray auto", ray)):
        print(f"{name:<12}{row['rate']:>10.2f}{row['ingest_s']:>10.1f}{row['wall_s']:>9.1f}")
    print(f"ray / local: {report['ray_vs_local']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
