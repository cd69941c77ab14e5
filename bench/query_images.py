"""Query-image benchmark: a server's memory during and after a burst of image uploads.

    python bench/query_images.py [--clients 8] [--images issue,bilevel-49mp,rgba-49mp]
    python bench/query_images.py --source /tmp/old/src      # the same against older code

Issue 9's reproduction: ``Image.new('1', (12000, 12000), 1).save('b.png',
optimize=True)`` (a 32 KB PNG) uploaded by 8 clients at once to
``POST /api/v1/search/image`` cost 6 GB at peak and 5.96 GB still held when idle.
For each image, a fresh ``same-same serve`` (one text namespace: every upload is
decoded, then answered 400 "no namespace can answer an image query", so what is
measured is the decode alone, not a model) gets ``--clients`` concurrent uploads,
``--rounds`` times; the server's peak RSS (VmHWM) and its RSS once idle (after
``--settle`` seconds) are reported next to the RSS before the burst.

Images: ``issue`` (12000x12000 1-bit), ``bilevel-49mp`` (7000x7000 1-bit, under the
query limit), ``rgba-49mp`` (7000x7000 RGBA noise in a few colours: 196 MB decoded).
``--source DIR`` runs the server from another checkout's ``src`` (PYTHONPATH), to
compare with the code before the fix. Prints a table and writes
bench/results/query-images-<date>.json with the machine. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe_machine  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"


def make_image(name: str) -> bytes:
    buffer = io.BytesIO()
    if name == "issue":
        Image.new("1", (12000, 12000), 1).save(buffer, "PNG", optimize=True)
    elif name == "bilevel-49mp":
        Image.new("1", (7000, 7000), 1).save(buffer, "PNG", optimize=True)
    elif name == "rgba-49mp":
        # a few colours in big blocks: compresses to little, decodes to 4 bytes a pixel
        blocks = np.random.default_rng(0).integers(0, 4, (70, 70), dtype=np.uint8) * 60
        small = Image.fromarray(np.stack([blocks] * 4, axis=-1), "RGBA")
        small.resize((7000, 7000), Image.Resampling.NEAREST).save(buffer, "PNG")
    else:
        raise SystemExit(f"unknown image {name!r}; known: issue, bilevel-49mp, rgba-49mp")
    return buffer.getvalue()


def memory_kb(pid: int) -> dict[str, int]:
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0])
    return fields


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serve(data_dir: Path, source: str | None) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    if source:
        env["PYTHONPATH"] = source
    command = [sys.executable, "-m", "same_same", "serve", "--addr", f"127.0.0.1:{port}",
               "--data-dir", str(data_dir)]  # fmt: skip
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        base_url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError("server did not start:\n" + log.read().decode()[-3000:])
                try:
                    urllib.request.urlopen(base_url + "/health", timeout=2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            yield base_url, process.pid
        finally:
            process.terminate()
            process.wait(timeout=30)


def make_text_store(data_dir: Path, source: str | None) -> None:
    """One text namespace, written by the same code that will serve it."""
    env = {**os.environ, **({"PYTHONPATH": source} if source else {})}
    script = (
        "import sys; from pathlib import Path; from same_same.storage import open_store; "
        "from same_same.vectors import VectorService\n"
        "with open_store(Path(sys.argv[1])) as store:\n"
        "    VectorService(store).add_text('a red sunset', record_id='t', namespace='pics')"
    )
    subprocess.run([sys.executable, "-c", script, str(data_dir)], env=env, check=True)


def upload(base_url: str, data: bytes) -> int:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="namespace"\r\n\r\npics\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="b.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        base_url + "/api/v1/search/image",
        data=body,
        method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def burst(base_url: str, data: bytes, clients: int) -> tuple[list[int], float]:
    statuses: list[int] = []
    began = time.perf_counter()
    threads = [
        threading.Thread(target=lambda: statuses.append(upload(base_url, data)))
        for _ in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(statuses), time.perf_counter() - began


def bench_image(name: str, args: argparse.Namespace) -> dict[str, Any]:
    data = make_image(name)
    with tempfile.TemporaryDirectory() as store_dir:
        make_text_store(Path(store_dir), args.source)
        with serve(Path(store_dir), args.source) as (base_url, pid):
            urllib.request.urlopen(base_url + "/api/v1/namespaces", timeout=10).close()
            before = memory_kb(pid)["VmRSS"]
            rounds = []
            for _ in range(args.rounds):
                statuses, wall = burst(base_url, data, args.clients)
                time.sleep(args.settle)
                rounds.append({"statuses": statuses, "wall_s": round(wall, 2),
                               "idle_rss_mb": memory_kb(pid)["VmRSS"] // 1024})  # fmt: skip
            peak = memory_kb(pid)["VmHWM"]
            cpu_s = _cpu_seconds(pid)
    return {
        "image": name,
        "file_kb": len(data) // 1024,
        "clients": args.clients,
        "rss_before_mb": before // 1024,
        "peak_rss_mb": peak // 1024,
        "idle_rss_mb": rounds[-1]["idle_rss_mb"],
        "server_cpu_s": cpu_s,
        "rounds": rounds,
    }


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime + stime
    return round(ticks / os.sysconf("SC_CLK_TCK"), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--settle", type=float, default=2.0, help="seconds idle before RSS")
    parser.add_argument("--images", default="issue,bilevel-49mp,rgba-49mp")
    parser.add_argument("--source", help="run the server from this src directory instead")
    parser.add_argument("--label", default="", help="added to the result file's name")
    args = parser.parse_args()
    runs = [bench_image(name, args) for name in args.images.split(",") if name]
    print(f"{'image':<14}{'file KB':>8}{'before MB':>10}{'peak MB':>9}{'idle MB':>9}"
          f"{'cpu s':>7}  statuses")  # fmt: skip
    for run in runs:
        statuses = sorted({s for r in run["rounds"] for s in r["statuses"]})
        print(f"{run['image']:<14}{run['file_kb']:>8}{run['rss_before_mb']:>10}"
              f"{run['peak_rss_mb']:>9}{run['idle_rss_mb']:>9}{run['server_cpu_s']:>7}  "
              f"{statuses}")  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = f"-{args.label}" if args.label else ""
    out = RESULTS / f"query-images-{time.strftime('%Y-%m-%d')}{suffix}.json"
    report = {"machine": describe_machine(["pillow", "numpy"]), "source": args.source,
              "runs": runs}  # fmt: skip
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
