"""The image pipeline on a Ray cluster (``same-same ingest --ray``).

Where each step runs:

1. **Driver** (this process): walk the source and ``stat`` every file with the local
   pipeline's ``Planner``, against the namespace as stored. Unchanged files, files
   with only new labels and bad entries are settled here and never sent anywhere.
2. **Ray tasks**: the remaining files are read, hashed, decoded and preprocessed
   (``ray_stages.FilePreparer``). Content already stored is hashed, not decoded.
3. **Ray actors**: a pool of ``EmbeddingActor``s, one model each (a GPU each when the
   model runs on CUDA), embeds the preprocessed pixels in batches of ``batch_size``.
4. **Driver**: each batch that comes back is committed with ``ImageRun.commit``, the
   local pipeline's own step: one ``upsert`` per batch (a kill loses at most what is
   in flight), vectors of content stored under another id reused, a moved file's old
   record deleted. ``--prune``, ``--dry-run`` and ``--sample`` behave as locally.

Only the driver touches the store, through ``VectorStore``; any backend works.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from types import ModuleType

import numpy as np

from ..embedders import ImageEmbedder
from ..errors import SameSameError
from ..sources import BadItem, Source, SourceItem
from ..storage import VectorStore
from .batching import sample_stream
from .common import unusable_rows
from .image_plan import Job, Outcome, Ready, Skip, add_photo_metadata
from .images import ImageRun, describe_animation
from .options import IngestOptions
from .progress import Progress
from .ray_cluster import (
    RayClusterError,
    connected_cluster,
    find_user_error,
    plan_actor_pool,
)
from .ray_options import RayOptions
from .ray_stages import EmbeddingActor, FilePreparer
from .report import IngestReport

FILES_PER_TASK = 8
"""Files one preparing task decodes: small, so the cores share the work evenly."""
ACTOR_MEMORY_BYTES = 512 * 1024 * 1024
"""Memory an embedding actor reserves for its model, besides its batches."""


@dataclass
class RayRun(ImageRun):
    """The local run's planning and commit step, with vectors that come from the cluster."""

    arrived: dict[str, np.ndarray] = field(default_factory=dict)
    """Vectors the actors made for the batch being committed, by content hash."""

    def start_warm_up(self) -> None:
        """The driver loads no model: the actors have theirs."""

    def embed(self, todo: list[Ready]) -> tuple[dict[str, np.ndarray], dict[str, str], set[str]]:
        from_cluster = [ready for ready in todo if ready.sha256 in self.arrived]
        # Content whose stored copy vanished since planning: embedded here, as locally.
        here = [ready for ready in todo if ready.sha256 not in self.arrived]
        vectors, failed, unusable = super().embed(here) if here else ({}, {}, set())
        if from_cluster:
            matrix = np.stack([self.arrived[ready.sha256] for ready in from_cluster])
            unusable |= {from_cluster[row].sha256 for row in unusable_rows(matrix)}
            vectors.update({ready.sha256: matrix[row] for row, ready in enumerate(from_cluster)})
        return vectors, failed, unusable

    def consume_results(self, jobs: list[Job], batch: dict[str, np.ndarray]) -> None:
        """Commit one batch of the actors' output (rows in any order)."""
        outcomes: list[Outcome] = []
        self.arrived = {}
        for row, index in enumerate(batch["index"]):
            job = jobs[int(index)]
            reason = str(batch["reason"][row])
            if reason:
                outcomes.append(Skip(job.file.location, reason))
                continue
            sha256 = str(batch["sha256"][row])
            job.file.metadata.update(
                width=int(batch["width"][row]),
                height=int(batch["height"][row]),
                bytes=int(batch["bytes"][row]),
                mtime=job.mtime,
                sha256=sha256,
            )
            describe_animation(job.file.metadata, int(batch["frames"][row]))
            add_photo_metadata(job.file.metadata, json.loads(str(batch["photo"][row])))
            if batch["has_vector"][row]:
                self.arrived[sha256] = np.asarray(batch["vector"][row], dtype=np.float32)
            outcomes.append(Ready(job.file, sha256))
        self.consume(outcomes)
        self.arrived = {}


def ingest_images_on_ray(
    store: VectorStore,
    embedder: ImageEmbedder,
    source: Source,
    options: IngestOptions,
    ray_options: RayOptions,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest the image files of ``source`` on a Ray cluster; the same report as locally."""
    progress = progress or Progress(enabled=False)
    started = time.monotonic()
    run = RayRun.begin(store, embedder, source, options, progress)
    report = run.report
    with connected_cluster(ray_options.address, options.verbose) as ray:
        items: Iterable[SourceItem | BadItem] = source.items()
        if options.sample is not None:
            items = sample_stream(items, options.sample)
        jobs: list[Job] = []
        run.consume(_settled_here(run.planner.plan(items), jobs))
        report.seen = run.planner.seen
        progress.set_total(run.planner.seen)
        if jobs:
            _run_on_cluster(ray, run, jobs, embedder, ray_options)
    if options.prune:
        run.prune()
    report.seconds = time.monotonic() - started
    progress.close()
    return report


def _settled_here(planned: Iterable[Job | Outcome], jobs: list[Job]) -> Iterator[Outcome]:
    """The outcomes the driver settles itself; the jobs for the cluster go to ``jobs``."""
    for step in planned:
        if isinstance(step, Job):
            jobs.append(step)
        else:
            yield step


def _run_on_cluster(
    ray: ModuleType,
    run: RayRun,
    jobs: list[Job],
    embedder: ImageEmbedder,
    ray_options: RayOptions,
) -> None:
    config = embedder.preprocess_config
    preparer = FilePreparer(
        run.model.preprocess, run.model.min_side, config.shape, frozenset(run.known_hashes)
    )
    pool = plan_actor_pool(ray, ray_options.recipe.options.device, ray_options.actors)
    rows = [
        {"index": index, "path": os.fsencode(job.file.path), "mtime": job.mtime}
        for index, job in enumerate(jobs)
    ]
    dataset = (
        ray.data.from_items(rows)
        .map_batches(preparer, batch_size=FILES_PER_TASK, batch_format="numpy")
        .map_batches(
            EmbeddingActor,
            fn_constructor_args=(ray_options.recipe, embedder.space),
            batch_size=run.batch_size,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=pool.size),
            num_gpus=pool.gpus_per_actor,
            num_cpus=pool.cpus_per_actor,
            # A reservation for the model and its batches; also keeps Ray Data from fusing
            # the decoding tasks into the actors, which would decode one file at a time.
            memory=ACTOR_MEMORY_BYTES + 4 * run.batch_size * run.model.item_bytes,
        )
    )
    try:
        for batch in dataset.iter_batches(batch_size=run.batch_size, batch_format="numpy"):
            run.consume_results(jobs, batch)
    except SameSameError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever Ray raises, the user sees one line
        user_error = find_user_error(ray, exc)
        if user_error is not None:
            raise user_error from exc
        lines = str(exc).strip().splitlines()
        last = lines[-1] if lines else type(exc).__name__
        raise RayClusterError(f"the Ray cluster failed during the ingest: {last}") from exc
