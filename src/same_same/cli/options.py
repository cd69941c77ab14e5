"""Options shared by several commands, and the ``--flag=false`` spelling of boolean flags."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from ..config import DATA_DIR_ENV, DEFAULT_NAMESPACE
from ..embedders import DEFAULT_EMBEDDER, EmbedderOptions
from ..ingest.options import GPU_DECODE_AUTO, GPU_DECODE_CHOICES
from ..storage import STORE_ENV
from ..watch.options import DEFAULT_SETTLE_SECONDS

F = TypeVar("F", bound=Callable[..., Any])

TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "on"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "off"})


def parse_bool_word(word: str, flag: str) -> bool:
    lowered = word.strip().lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise click.UsageError(f"{flag} takes true or false, not {word!r}")


def normalize_boolean_values(args: list[str], flags: dict[str, tuple[str, str]]) -> list[str]:
    """Rewrite ``--recursive=false`` / ``-r=false`` into ``--no-recursive`` (Go-style flags).

    ``flags`` maps each spelling to its (on, off) click flags. Stops at ``--``.
    """
    out: list[str] = []
    for index, arg in enumerate(args):
        if arg == "--":
            out.extend(args[index:])
            break
        name, sep, value = arg.partition("=")
        if sep and name in flags:
            on, off = flags[name]
            out.append(on if parse_bool_word(value, name) else off)
        else:
            out.append(arg)
    return out


class BooleanValueCommand(click.Command):
    """A click command that also accepts ``--flag=true|false`` for its boolean flags."""

    boolean_flags: dict[str, tuple[str, str]] = {}

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, normalize_boolean_values(args, self.boolean_flags))


EMBEDDER_ENV = "SAME_SAME_EMBEDDER"


def embedder_option(default: str = DEFAULT_EMBEDDER) -> Callable[[F], F]:
    """``-e/--embedder``: which embedder makes the vectors (``ingest``; ``watch`` and
    ``serve --watch`` default to clip, since a watched folder holds images)."""
    return click.option(
        "-e",
        "--embedder",
        envvar=EMBEDDER_ENV,
        default=default,
        show_default=True,
        help=f"Embedder by name: local, clip, minilm [env {EMBEDDER_ENV}].",
    )


def data_dir_option(func: F) -> F:
    return click.option(
        "--data-dir",
        envvar=DATA_DIR_ENV,
        type=click.Path(file_okay=False),
        default=None,
        help=f"Store directory [env {DATA_DIR_ENV}; default ~/.local/share/same-same].",
    )(func)


def store_option(func: F) -> F:
    return click.option(
        "--store",
        "store_spec",
        envvar=STORE_ENV,
        default=None,
        metavar="SPEC",
        help="Where vectors live: sqlite (the embedded store in --data-dir, the default) or "
        f"milvus://HOST:PORT, milvus+tls://[USER:PASSWORD@]HOST:PORT[/DB] [env {STORE_ENV}].",
    )(func)


def namespace_option(
    default: str | None = DEFAULT_NAMESPACE, help_text: str | None = None
) -> Callable[[F], F]:
    return click.option(
        "-n",
        "--namespace",
        default=default,
        show_default=default is not None,
        help=help_text or "Namespace to use.",
    )


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")(func)


@dataclass(frozen=True)
class ModelFlags:
    """What ``model_options`` parsed: which model embeds, and how."""

    clip_model: str | None
    clip_pretrain: str | None
    device: str
    backend: str | None

    def embedder_options(
        self, data_dir: Path, *, batch_size: int | None = None, quiet: bool = False
    ) -> EmbedderOptions:
        return EmbedderOptions(
            model=self.clip_model,
            pretrained=self.clip_pretrain,
            device=self.device,
            backend=self.backend,
            batch_size=batch_size,
            data_dir=data_dir,
            quiet=quiet,
        )


def model_options(func: F) -> F:
    """``--clip-model``, ``--clip-pretrain``, ``--device`` and ``--backend``: which model
    embeds, and how (``ingest``, ``eval``, ``watch``, ``serve``); the command gets them as
    one ``model_flags: ModelFlags``."""

    @functools.wraps(func)
    def grouped(
        *args: Any,
        clip_model: str | None,
        clip_pretrain: str | None,
        device: str,
        backend: str | None,
        **kwargs: Any,
    ) -> Any:
        flags = ModelFlags(clip_model, clip_pretrain, device, backend)
        return func(*args, model_flags=flags, **kwargs)

    command: Any = grouped
    command = click.option(
        "--backend",
        default=None,
        help="clip: inference backend: auto (default: the fastest that agrees with torch, "
        "checked once per model), torch, onnx or onnx-int8 [env SAME_SAME_CLIP_BACKEND].",
    )(command)
    command = click.option(
        "--device", default="auto", show_default=True, help="clip: auto, cpu, cuda, cuda:N or mps."
    )(command)
    command = click.option(
        "--clip-pretrain",
        default=None,
        help="clip: pretrained tag (openai), hf-hub: name or local checkpoint "
        "[env SAME_SAME_CLIP_PRETRAIN].",
    )(command)
    command = click.option(
        "--clip-model",
        default=None,
        help="clip: architecture (ViT-B-32), hf-hub: name or model config JSON "
        "[env SAME_SAME_CLIP_MODEL].",
    )(command)
    return command


def batch_size_option(func: F) -> F:
    return click.option(
        "--batch-size",
        type=click.IntRange(1, 4096),
        default=None,
        help="Items per model batch and per committed transaction "
        "[default: 32; clip: 16 on CPU, 128 on a GPU].",
    )(func)


def recursive_option(func: F) -> F:
    return click.option(
        "-r",
        "--recursive/--no-recursive",
        default=True,
        help="images: also scan subfolders [default: recursive; --recursive=false, -r=false "
        "or --no-recursive to stay in the top folder].",
    )(func)


def image_decode_options(func: F) -> F:
    """``--workers`` and ``--gpu-decode``: how image files are decoded (``ingest``, ``watch``)."""
    func = click.option(
        "--gpu-decode",
        type=click.Choice(GPU_DECODE_CHOICES),
        default=GPU_DECODE_AUTO,
        show_default=True,
        help="images: decode JPEGs in batches on the model's CUDA GPU (auto: when it runs on "
        "one; on: also with torchvision on a CPU; off: always with PIL).",
    )(func)
    func = click.option(
        "--workers",
        type=click.IntRange(0, 256),
        default=None,
        help="images: decoding workers (default: one per core).",
    )(func)
    return func


def watch_timing_options(func: F) -> F:
    """``--poll`` and ``--settle``: how a watch hears of changes and when it reads a file
    (``watch``, ``serve --watch``)."""
    func = click.option(
        "--settle",
        "settle_seconds",
        type=click.FloatRange(min=0),
        default=DEFAULT_SETTLE_SECONDS,
        show_default=True,
        metavar="SECONDS",
        help="watch: read a changed file once its size and mtime stayed the same this long "
        "(and, with inotify, its writer closed it).",
    )(func)
    func = click.option(
        "--poll",
        "poll_seconds",
        type=click.FloatRange(min=0, min_open=True),
        default=None,
        metavar="SECONDS",
        help="watch: look for changes every SECONDS instead of being told by the kernel "
        "(inotify): for network shares (NFS, SMB), where changes made elsewhere raise no "
        "events.",
    )(func)
    return func
