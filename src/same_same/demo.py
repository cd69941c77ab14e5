"""The image demo behind ``same-same demo`` (and the README's first command).

It ingests sample photos with the default CLIP model and answers a text query and an
image query. Where the default weights cannot be downloaded (an air-gapped machine,
or this project's CI), it says so in one line and runs the same demo with the
project's tiny test model on generated pictures of coloured shapes, which that model
was trained to recognise.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from .embedders import Embedder, EmbedderOptions, create_embedder
from .errors import ModelUnavailableError
from .ingest import IngestOptions, IngestReport, Progress, run_ingest
from .records import Match
from .search import SearchService
from .sources import open_source
from .storage import VectorStore

DEMO_NAMESPACE = "demo-photos"
SCENES = 60
SCENE_SEED = 20261127
SCENE_SIZE = 192
# skimage.data photos that a real CLIP model knows how to describe
REAL_PHOTOS = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
)


@dataclass
class DemoQuery:
    description: str
    matches: list[Match]


@dataclass
class DemoRun:
    embedder: Embedder
    photos_dir: Path
    report: IngestReport
    queries: list[DemoQuery] = field(default_factory=list)


def choose_embedder(
    device: str = "auto", data_dir: Path | None = None
) -> tuple[Embedder, str | None]:
    """The default CLIP model, or the tiny test model with the reason it stands in.

    The weights load here, so missing ones are known before any photo is written.
    """
    from .embedders.clip.names import TINY_MODEL_NAME, default_pretrained_for

    embedder = create_embedder("clip", EmbedderOptions(device=device, data_dir=data_dir))
    try:
        embedder.load()
        return embedder, None
    except ModelUnavailableError as error:
        # by name: the namespace records "same-same-tiny-clip", not this checkout's paths
        tiny = create_embedder(
            "clip",
            EmbedderOptions(
                model=TINY_MODEL_NAME,
                pretrained=default_pretrained_for(TINY_MODEL_NAME),  # not $SAME_SAME_CLIP_PRETRAIN
                device=device,
                data_dir=data_dir,
            ),
        )
        tiny.load()
        return tiny, error.message


def write_demo_photos(folder: Path, real_photos: bool) -> None:
    """Generated scenes, plus real photos from scikit-image when installed and useful."""
    from .synthetic import write_image_folder

    write_image_folder(
        folder / "shapes", SCENES, seed=SCENE_SEED, size=SCENE_SIZE, image_format="jpg"
    )
    if real_photos and importlib.util.find_spec("skimage") is not None:
        from skimage import data

        (folder / "photos").mkdir(parents=True, exist_ok=True)
        for name in REAL_PHOTOS:
            image = Image.fromarray(getattr(data, name)()).convert("RGB")
            image.save(folder / "photos" / f"{name}.jpg", quality=90)


def make_query_image(photos_dir: Path) -> Path:
    """A smaller, recompressed copy of one photo: the image query should find its original."""
    original = sorted((photos_dir / "shapes").glob("*.jpg"))[3]
    with Image.open(original) as image:
        copy = image.convert("RGB").resize((image.width * 2 // 3, image.height * 2 // 3))
    target = photos_dir.parent / "query-copy.jpg"
    copy.save(target, quality=60)
    return target


def run_demo(
    store: VectorStore,
    data_dir: Path,
    *,
    device: str = "auto",
    progress: Progress | None = None,
    on_fallback: Callable[[str], None] | None = None,
) -> DemoRun:
    embedder, reason = choose_embedder(device, data_dir)
    if reason and on_fallback:
        on_fallback(reason)
    photos_dir = data_dir / "demo" / "photos"
    write_demo_photos(photos_dir, real_photos=reason is None)
    report = run_ingest(
        store,
        embedder,
        open_source(f"images:{photos_dir}"),
        IngestOptions(namespace=DEMO_NAMESPACE),
        progress,
    )
    run = DemoRun(embedder, photos_dir, report)
    service = SearchService(store, EmbedderOptions(device=device, data_dir=data_dir))
    service.embedders.remember(embedder)
    texts = ["a red circle", "two blue squares"] + (
        [] if reason else ["a photo of a cat", "a cup of coffee"]
    )
    for text in texts:
        result = service.search_text(text, namespace=DEMO_NAMESPACE, limit=3)
        run.queries.append(DemoQuery(f'text "{text}"', result.matches))
    query_image = make_query_image(photos_dir)
    result = service.search_image(query_image.read_bytes(), namespace=DEMO_NAMESPACE, limit=3)
    run.queries.append(
        DemoQuery(f"image {query_image.name} (a smaller, recompressed copy)", result.matches)
    )
    return run
