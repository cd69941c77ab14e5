"""Running a CLIP model with ONNX Runtime (``--backend onnx`` and ``onnx-int8``).

The towers are exported once from the same open_clip weights the torch backend
loads (``onnx_export.py``) and kept in the data directory::

    DATA_DIR/onnx/<model>-<weights fingerprint>-opset<N>-<fp32|int8r>-<image|text>.onnx

The fingerprint covers everything that decides the weights (model, tag or file
with its size and modification time, open_clip's version; torch's for seeded
random weights), so changed weights get a new file and an unchanged model is
never exported twice. ``int8`` files are the ``fp32`` ones with dynamically
quantized matrix products.

Inference needs only onnxruntime and numpy; open_clip is imported for the
tokenizer on the first text, and torch only to export.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import InvalidInputError, MissingDependencyError, ModelUnavailableError
from .device import check_device_name
from .names import LOCAL_DIR_PREFIX, ModelChoice
from .preprocess import PreprocessConfig
from .runner import BackendSettings

PRECISIONS = ("fp32", "int8")
FILE_TAGS = {"fp32": "fp32", "int8": "int8r"}
"""A precision's part of the file name. ``int8r``: weights quantized to 7 bits
(``onnx_export.quantize_to_int8``); the 8-bit files of earlier versions, which saturate
on CPUs without VNNI, are not reused but made again."""
TOWERS = ("image", "text")
THREADS_ENV = "SAME_SAME_ONNX_THREADS"
EXPORT_FORMAT = 1
"""Bumped whenever the exported graphs change, so older cached files are not reused."""
OPSET = 17  # the same as onnx_export.OPSET, repeated so loading never imports torch
CPU_PROVIDER = "CPUExecutionProvider"
CUDA_PROVIDER = "CUDAExecutionProvider"


def default_threads() -> int:
    """ONNX Runtime's intra-op threads: ``$SAME_SAME_ONNX_THREADS``, else one per core."""
    value = os.environ.get(THREADS_ENV, "").strip()
    if value:
        try:
            return max(1, int(value))
        except ValueError as exc:
            raise InvalidInputError(f"{THREADS_ENV} must be a whole number, not {value!r}") from exc
    return max(1, os.cpu_count() or 1)


def weights_fingerprint(choice: ModelChoice) -> str:
    """12 hex digits that change whenever the weights of ``choice`` may have changed."""
    parts: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "model": choice.model,
        "pretrained": choice.pretrained,
        "open_clip_name": choice.open_clip_name,
        "weights": choice.weights,
        "hub_repo": choice.hub_repo,
        "quick_gelu": choice.quick_gelu,
        "preprocess": sorted((str(k), str(v)) for k, v in choice.preprocess_overrides.items()),
        "open_clip": _version("open_clip_torch"),
    }
    if choice.weights == "random":
        parts["torch"] = _version("torch")  # seeded initialisation follows torch's RNG
    files = [Path(choice.weights_file)] if choice.weights_file else []
    if choice.open_clip_name.startswith(LOCAL_DIR_PREFIX):
        folder = Path(choice.open_clip_name[len(LOCAL_DIR_PREFIX) :])
        files += sorted(p for p in folder.glob("*") if p.is_file())
    parts["files"] = [_describe_file(path) for path in files]
    text = json.dumps(parts, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def onnx_file(choice: ModelChoice, cache_dir: Path, precision: str, tower: str) -> Path:
    """Where the ``tower`` (image or text) of ``choice`` at ``precision`` is kept."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(choice.model.rstrip("/")).name or "model")[:60]
    tag = FILE_TAGS[precision]
    name = f"{slug}-{weights_fingerprint(choice)}-opset{OPSET}-{tag}-{tower}.onnx"
    return cache_dir / name


@dataclass(frozen=True)
class _TextCut:
    """How far a batch of tokens must go (see text.py); read from the exported file."""

    truncatable: bool
    pool_type: str
    eos_id: int

    def needed_length(self, tokens: np.ndarray) -> int:
        full = int(tokens.shape[-1])
        if not self.truncatable:
            return full
        if self.pool_type == "argmax":
            return int(tokens.argmax(axis=-1).max()) + 1
        is_eos = tokens == self.eos_id
        if not bool(is_eos.any(axis=-1).all()):
            return full
        return int(is_eos.argmax(axis=-1).max()) + 1


class OnnxCLIP:
    """Both towers of one CLIP model as ONNX Runtime sessions, created on first use."""

    def __init__(
        self,
        choice: ModelChoice,
        files: dict[str, Path],
        device: str,
        providers: list[Any],
        threads: int,
        models_folder: Path | None = None,
    ) -> None:
        self.choice = choice
        self.models_folder = models_folder
        self.files = files
        self.device = device
        self.providers = providers
        self.threads = threads
        self.preprocess: PreprocessConfig = choice.preprocess
        self.label = choice.describe()
        self._sessions: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._tokenizer: Any = None
        self._cut: _TextCut | None = None

    def encode_pixels(self, pixels: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(pixels, dtype=np.float32)
        features = self.session("image").run(None, {"pixels": batch})[0]
        return np.asarray(features, dtype=np.float32)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        session = self.session("text")
        tokens = np.asarray(self._tokenize(list(texts)), dtype=np.int64)
        assert self._cut is not None, "set with the text session"
        tokens = np.ascontiguousarray(tokens[:, : self._cut.needed_length(tokens)])
        features = session.run(None, {"tokens": tokens})[0]
        return np.asarray(features, dtype=np.float32)

    def open_image_tower(self) -> None:
        """Create the image session now (an ingest does it while its first files decode)."""
        self.session("image")

    def session(self, tower: str) -> Any:
        """The ONNX Runtime session of ``tower``, created once."""
        with self._lock:
            session = self._sessions.get(tower)
            if session is None:
                session = self._open(tower)
                self._sessions[tower] = session
            return session

    def _open(self, tower: str) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # idle workers sleep instead of spinning: during an ingest the decode threads
        # need those cycles between the model's operators
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        try:
            session = ort.InferenceSession(
                str(self.files[tower]), options, providers=self.providers
            )
        except Exception as exc:  # noqa: BLE001 - a damaged cache file, say so in one line
            raise ModelUnavailableError(
                f"cannot load the ONNX {tower} tower of {self.label} from "
                f"{self.files[tower]}: {str(exc).strip().splitlines()[0] if str(exc) else exc}",
                hint="delete that file to export it again, or use --backend torch",
            ) from exc
        if tower == "text":
            meta = session.get_modelmeta().custom_metadata_map
            self._cut = _TextCut(
                truncatable=meta.get("same_same.text_truncatable") == "1",
                pool_type=meta.get("same_same.text_pool_type", "argmax"),
                eos_id=int(meta.get("same_same.text_eos_id", "0") or 0),
            )
        return session

    def _tokenize(self, texts: list[str]) -> Any:
        if self._tokenizer is None:
            from .tokenizers import load_clip_tokenizer

            self._tokenizer = load_clip_tokenizer(self.choice, self.models_folder)
        tokens = self._tokenizer(texts)
        return tokens.numpy() if hasattr(tokens, "numpy") else tokens


_LOADED: dict[tuple[str, ...], OnnxCLIP] = {}
_LOAD_LOCK = threading.Lock()


def load_onnx_clip(choice: ModelChoice, settings: BackendSettings, precision: str) -> OnnxCLIP:
    """The ONNX model of ``choice``, exported first if its files are not cached yet."""
    if precision not in PRECISIONS:
        raise InvalidInputError(f"unknown ONNX precision {precision!r}; known: fp32, int8")
    if importlib.util.find_spec("onnxruntime") is None:
        raise MissingDependencyError(f"--backend {_backend_name(precision)}", "onnx")
    device = choose_onnx_device(settings.device)
    providers = _providers_for(device)
    cache_dir = settings.onnx_dir
    files = {tower: onnx_file(choice, cache_dir, precision, tower) for tower in TOWERS}
    threads = default_threads()
    key = (*choice.identity, precision, str(cache_dir), device, str(threads))
    with _LOAD_LOCK:
        loaded = _LOADED.get(key)
        if loaded is None:
            ensure_exported(choice, cache_dir, precision)
            loaded = OnnxCLIP(choice, files, device, providers, threads, settings.models_folder)
            _LOADED[key] = loaded
        return loaded


def forget_loaded_onnx_models() -> None:
    """Drop every cached session (tests)."""
    with _LOAD_LOCK:
        _LOADED.clear()


def ensure_exported(choice: ModelChoice, cache_dir: Path, precision: str) -> dict[str, Path]:
    """Both towers of ``choice`` at ``precision`` on disk; exports only what is missing."""
    files = {tower: onnx_file(choice, cache_dir, precision, tower) for tower in TOWERS}
    missing = [tower for tower, path in files.items() if not path.is_file()]
    if not missing:
        return files
    if importlib.util.find_spec("onnx") is None:
        raise MissingDependencyError(f"--backend {_backend_name(precision)}", "onnx")
    fp32 = {tower: onnx_file(choice, cache_dir, "fp32", tower) for tower in TOWERS}
    to_export = [tower for tower in missing if not fp32[tower].is_file()]
    started = time.monotonic()
    what = "to ONNX" if to_export else "to int8"
    _say(f"exporting CLIP model {choice.describe()} {what} once, into {cache_dir}")
    if to_export:
        _export_towers(choice, {tower: fp32[tower] for tower in to_export})
    if precision == "int8":
        from .onnx_export import quantize_to_int8

        for tower in missing:
            step = time.monotonic()
            quantize_to_int8(fp32[tower], files[tower])
            _say(f"  {tower} tower quantized to int8 in {time.monotonic() - step:.1f} s")
    _say(f"exported in {time.monotonic() - started:.1f} s")
    return files


def _export_towers(choice: ModelChoice, paths: dict[str, Path]) -> None:
    from .onnx_export import export_image_tower, export_text_tower, swap_attention
    from .torch_backend import build_torch_clip

    step = time.monotonic()
    model = swap_attention(build_torch_clip(choice, "cpu").model)
    _say(f"  model loaded in {time.monotonic() - step:.1f} s")
    for tower, path in paths.items():
        step = time.monotonic()
        if tower == "image":
            export_image_tower(model, choice.preprocess.shape, path)
        else:
            export_text_tower(model, path)
        _say(f"  {tower} tower exported in {time.monotonic() - step:.1f} s")


def choose_onnx_device(requested: str) -> str:
    """``cpu``, or ``cuda:N`` where onnxruntime offers CUDA (onnxruntime-gpu)."""
    name = check_device_name(requested)
    if name == "cpu":
        return name
    if name == "mps":
        raise InvalidInputError(
            "the onnx backends run on cpu or cuda, not mps", hint="use --backend torch"
        )
    has_cuda = False
    if importlib.util.find_spec("onnxruntime") is not None:
        import onnxruntime as ort

        has_cuda = CUDA_PROVIDER in ort.get_available_providers()
    if name == "auto":
        return "cuda:0" if has_cuda else "cpu"
    if not has_cuda:
        raise InvalidInputError(
            f"device {name!r} needs onnxruntime with CUDA (pip install onnxruntime-gpu)",
            hint="use --device cpu, or --backend torch on the GPU",
        )
    return name if ":" in name else "cuda:0"


def _providers_for(device: str) -> list[Any]:
    if device == "cpu":
        return [CPU_PROVIDER]
    return [(CUDA_PROVIDER, {"device_id": int(device.split(":", 1)[1])}), CPU_PROVIDER]


def _backend_name(precision: str) -> str:
    return "onnx" if precision == "fp32" else f"onnx-{precision}"


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def _describe_file(path: Path) -> list[Any]:
    try:
        info = path.stat()
    except OSError:
        return [str(path), None, None]
    return [str(path), info.st_size, info.st_mtime_ns]


def _say(text: str) -> None:
    # a one-time export takes a while; people watching the CLI should know why
    print(f"same-same: {text}", file=sys.stderr, flush=True)
