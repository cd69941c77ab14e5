"""Resolved open_clip architectures kept on disk, so the ONNX backends skip importing torch.

Resolving ``ViT-B-32``/``openai`` asks open_clip for the architecture's dimension
and preprocessing, and importing open_clip imports torch: seconds of start-up, a
noticeable share of a whole ingest with ``--backend onnx-int8``, which never runs
torch otherwise (docs/performance-notes.md has the figures). The first resolution
writes what it found next to the exported models (``DATA_DIR/onnx/model-choices.json``);
later processes read it back.

Only builtin architectures with a pretrained tag or random weights are kept: their
resolution depends on nothing but the two names and open_clip's version, which is
part of the key. Checkpoint files, config files, model folders and hub models are
resolved every time (they read files that may change). A damaged or foreign cache
file is ignored and rewritten.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .preprocess import PreprocessConfig

CACHE_FILE = "model-choices.json"
_FORMAT = 1


def choice_key(model: str, pretrained: str) -> str | None:
    """The cache key of a builtin model and tag, or None when it must not be cached."""
    if Path(pretrained).expanduser().is_file():
        return None  # a checkpoint file: its content may change under the same name
    try:
        version = importlib.metadata.version("open_clip_torch")
    except importlib.metadata.PackageNotFoundError:
        return None
    return f"{model}|{pretrained}|open_clip {version}"


def load_choice(cache_dir: Path, key: str) -> dict[str, Any] | None:
    """The fields of a cached ``ModelChoice`` (preprocess as a ``PreprocessConfig``), or None."""
    entry = _read(cache_dir).get(key)
    if not isinstance(entry, dict):
        return None
    try:
        fields = dict(entry)
        preprocess = dict(fields.pop("preprocess"))
        for name in ("mean", "std"):
            preprocess[name] = tuple(preprocess[name])
        fields["preprocess"] = PreprocessConfig(**preprocess)
        # JSON has no tuples; open_clip's configs hold mean and std as tuples
        overrides = fields.get("preprocess_overrides", {})
        fields["preprocess_overrides"] = {
            name: tuple(value) if isinstance(value, list) else value
            for name, value in overrides.items()
        }
        return fields
    except (KeyError, TypeError, ValueError):
        return None


def store_choice(cache_dir: Path, key: str, choice: Any) -> None:
    """Remember ``choice`` (a ``ModelChoice``) under ``key``; a failed write is not an error."""
    entries = _read(cache_dir)
    entries[key] = asdict(choice)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", dir=cache_dir, prefix=".choices-", suffix=".tmp", delete=False, encoding="utf-8"
        ) as file:
            temporary = Path(file.name)
            json.dump({"format": _FORMAT, "choices": entries}, file, indent=1, sort_keys=True)
        os.replace(temporary, cache_dir / CACHE_FILE)
    except OSError:
        # a read-only or full data directory: resolve with open_clip next time too
        if "temporary" in locals():
            temporary.unlink(missing_ok=True)


def _read(cache_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((cache_dir / CACHE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        return {}
    choices = data.get("choices")
    return dict(choices) if isinstance(choices, dict) else {}
