"""What CLIP models same-same knows, and which of them this machine has.

Known: open_clip's pretrained (architecture, tag) pairs, the bundled tiny model and
whatever the models folder holds. Present: in the models folder (imported or pulled),
bundled with same-same, or in the Hugging Face / open_clip caches of earlier
downloads. Nothing here makes a request.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..embedders.clip import TINY_MODEL_NAME, ensure_clip_installed, tiny_model_paths
from ..embedders.clip.model_folders import HUB_FOLDER, local_model_folder, models_dir
from ..embedders.clip.names import BUNDLED_WEIGHTS
from ..embedders.clip.tokenizers import TOKENIZERS_FOLDER
from ..embedders.clip.weights import (
    HUB_CONFIG_NAME,
    HUB_WEIGHTS_NAME,
    find_cached_hub_file,
    hub_weight_candidates,
)

MODELS_FOLDER = "models folder"
BUNDLED = "bundled"
CACHE = "cache"


@dataclass(frozen=True)
class ModelEntry:
    """One known model; ``location`` is "" when it is not on this machine."""

    model: str
    pretrained: str
    dim: int | None
    location: str = ""
    path: str = ""
    size_bytes: int | None = None

    @property
    def present(self) -> bool:
        return bool(self.location)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "present": self.present}


def list_models(data_dir: Path | None = None, present_only: bool = False) -> list[ModelEntry]:
    """Every known model (``present_only``: those on this machine), sorted by name and tag."""
    ensure_clip_installed()
    import open_clip

    folder = models_dir(data_dir)
    entries: dict[tuple[str, str], ModelEntry] = {}
    for model, tag in open_clip.list_pretrained():
        config = open_clip.get_model_config(model) or {}
        dim = int(config["embed_dim"]) if "embed_dim" in config else None
        local = _local_entry(folder, model, tag)
        if local is None:
            tag_cfg = dict(open_clip.get_pretrained_cfg(model, tag))
            local = _cached_entry(model, tag, dim, tag_cfg)
        entries[(model, tag)] = local or ModelEntry(model, tag, dim)
    config_path, weights_path = tiny_model_paths()
    tiny_dim = int(json.loads(config_path.read_text(encoding="utf-8"))["embed_dim"])
    entries[(TINY_MODEL_NAME, BUNDLED_WEIGHTS)] = _local_entry(
        folder, TINY_MODEL_NAME, BUNDLED_WEIGHTS
    ) or ModelEntry(
        TINY_MODEL_NAME, BUNDLED_WEIGHTS, tiny_dim, BUNDLED, str(weights_path),
        weights_path.stat().st_size,
    )  # fmt: skip
    for model, tag in _folder_models(folder):
        if (model, tag) not in entries or not entries[(model, tag)].present:
            local = _local_entry(folder, model, tag)
            if local is not None:
                entries[(model, tag)] = local
    found = sorted(entries.values(), key=lambda entry: (entry.model.lower(), entry.pretrained))
    return [entry for entry in found if entry.present] if present_only else found


def _local_entry(folder: Path, model: str, tag: str) -> ModelEntry | None:
    target = local_model_folder(folder, model, tag)
    config = target / HUB_CONFIG_NAME
    if not config.is_file():
        return None
    try:
        model_cfg = json.loads(config.read_text(encoding="utf-8")).get("model_cfg") or {}
        dim = int(model_cfg["embed_dim"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        dim = None
    size = sum(path.stat().st_size for path in target.iterdir() if path.is_file())
    return ModelEntry(model, tag, dim, MODELS_FOLDER, str(target), size)


def _cached_entry(
    model: str, tag: str, dim: int | None, tag_cfg: dict[str, Any]
) -> ModelEntry | None:
    hub = str(tag_cfg.get("hf_hub") or "")
    url = str(tag_cfg.get("url") or "")
    path = ""
    if hub:
        repo_id, filename = os.path.split(hub)
        path = (
            find_cached_hub_file(repo_id, hub_weight_candidates(filename or HUB_WEIGHTS_NAME)) or ""
        )
    if not path and url:
        candidate = Path("~/.cache/clip").expanduser() / os.path.basename(url)
        path = str(candidate) if candidate.is_file() else ""
    if not path:
        return None
    return ModelEntry(model, tag, dim, CACHE, path, Path(path).stat().st_size)


def _folder_models(folder: Path) -> list[tuple[str, str]]:
    """(model, tag) of every model copy in the models folder."""
    found = []
    for config in sorted(folder.glob(f"*/*/{HUB_CONFIG_NAME}")):
        model, tag = config.parent.parent.name, config.parent.name
        if model != HUB_FOLDER and model != TOKENIZERS_FOLDER and not model.startswith("."):
            found.append((model, tag))
    for config in sorted(folder.glob(f"{HUB_FOLDER}/*/*/{HUB_CONFIG_NAME}")):
        found.append((f"hf-hub:{config.parent.parent.name}/{config.parent.name}", ""))
    return found
