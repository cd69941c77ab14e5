"""From what a user typed (``--clip-model``, ``--clip-pretrain``) to one CLIP model identity.

Accepted models:

* an open_clip architecture name (``ViT-B-32``; ``open_clip.list_models()``),
* ``hf-hub:org/repo`` (config and weights from the Hugging Face hub),
* a folder with ``open_clip_config.json`` and weights (``local-dir:`` optional),
* a path to an open_clip model config ``.json`` (a custom architecture),
* ``same-same-tiny-clip``, the small model bundled with same-same.

A named model and tag (``ViT-L-14`` / ``laion2b_s34b_b79k``), a hub model and the tiny
model are first looked up in the models folder (``model_folders``:
``$SAME_SAME_MODELS_DIR/<model>/<tag>/``, default ``models/`` in the data directory),
which ``same-same models import`` fills. Air-gapped machines import a bundle once and
then run every command unchanged; the namespace still records the name and tag.

Accepted weights (for names and config files): an open_clip pretrained tag of that
architecture (``openai``), a local checkpoint file, or ``none``/``random`` for random
initialisation (reproducible: seeded). Hub and folder models bring their weights.

Nothing here loads weights: resolving a choice is cheap, so a bad name fails before
any work starts. Local paths are recorded absolute, so a server that later reloads
the model from a namespace's recorded space finds the same files.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ...errors import InvalidInputError, ModelUnavailableError, UnknownNameError
from .model_folders import HF_HUB_PREFIX, RANDOM_WEIGHTS, find_local_model
from .preprocess import PreprocessConfig
from .weights import HUB_CONFIG_NAME, HUB_SAFE_WEIGHTS_NAME, HUB_WEIGHTS_NAME, fetch_hub_file

DEFAULT_MODEL = "ViT-B-32"
DEFAULT_PRETRAINED = "openai"
BUNDLED_WEIGHTS = "bundled"
TINY_MODEL_NAME = "same-same-tiny-clip"
LOCAL_DIR_PREFIX = "local-dir:"
# shown when a model name is unknown and nothing close to it exists
POPULAR_MODELS = ("ViT-B-32", "ViT-B-16", "ViT-L-14", "ViT-H-14", "RN50", "convnext_base_w")
WEIGHT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".npz", ".ckpt")
WEIGHTS_HINT = "pass --clip-pretrain /path/to/weights, or --clip-pretrain none for random weights"
MODEL_HINT = (
    "--clip-model takes an open_clip architecture (python -c 'import open_clip; "
    "print(open_clip.list_models())'), hf-hub:org/repo, a folder with open_clip_config.json, "
    "or a path to a model config .json"
)


@dataclass(frozen=True)
class ModelChoice:
    """One resolved CLIP model: what to record, what to ask open_clip for, how to get weights.

    ``weights`` is ``tag`` (download or cache), ``file`` (``weights_file``), ``random``
    or ``bundled`` (the model folder or hub repo carries its own weights).
    """

    model: str
    pretrained: str
    open_clip_name: str
    embed_dim: int
    weights: str
    preprocess: PreprocessConfig
    weights_file: str = ""
    hub_repo: str = ""
    quick_gelu: bool = False
    preprocess_overrides: dict[str, Any] = field(default_factory=dict, compare=False)

    def describe(self) -> str:
        return f"{self.model}/{self.pretrained}" if self.pretrained else self.model

    @property
    def identity(self) -> tuple[str, ...]:
        """What decides the weights; loaded models are shared only between equal ones."""
        return (self.model, self.pretrained, self.open_clip_name, self.weights,
                self.weights_file, self.hub_repo, str(self.quick_gelu))  # fmt: skip


def tiny_model_paths() -> tuple[Path, Path]:
    """``(config_json, weights)`` of the tiny CLIP model bundled with same-same.

    It knows a handful of colours and shapes (see ``same_same.synthetic``) and exists
    so the real OpenCLIP code path can be tested, demonstrated and benchmarked
    without downloading anything.
    """
    folder = Path(__file__).resolve().parent.parent.parent / "models" / "tiny-clip"
    return folder / f"{TINY_MODEL_NAME}.json", folder / f"{TINY_MODEL_NAME}.safetensors"


def default_pretrained_for(model: str) -> str:
    """The weights used when none are named: the bundled ones for the tiny model, else openai."""
    return BUNDLED_WEIGHTS if model.strip() == TINY_MODEL_NAME else DEFAULT_PRETRAINED


def resolve_model_choice(
    model: str,
    pretrained: str | None = None,
    cache_dir: Path | None = None,
    data_dir: Path | None = None,
) -> ModelChoice:
    """Validate ``model``/``pretrained`` and describe how to build them; loads no weights.

    ``cache_dir``: where resolved builtin architectures are remembered, so later
    processes need not import open_clip (and torch) to resolve them (``choice_cache``).
    ``data_dir``: the store's data directory, whose ``models`` folder holds local copies
    of named models (``models_dir``).
    """
    model = (model or DEFAULT_MODEL).strip()
    pretrained = (pretrained or "").strip() or default_pretrained_for(model)
    local = find_local_model(model, pretrained, data_dir)
    if local is not None:
        choice = _choose_model_dir(local, keep_prefix=False)
        if model.startswith(HF_HUB_PREFIX):
            return replace(choice, model=f"{HF_HUB_PREFIX}{model[len(HF_HUB_PREFIX) :].strip('/')}")
        return replace(choice, model=model.replace("/", "-"), pretrained=pretrained)
    if model == TINY_MODEL_NAME:
        return _choose_tiny_model(pretrained)
    if model.startswith(HF_HUB_PREFIX):
        return _choose_hub_model(model)
    if model.startswith(LOCAL_DIR_PREFIX):
        return _choose_model_dir(Path(model[len(LOCAL_DIR_PREFIX) :]), keep_prefix=True)
    path = Path(model).expanduser()
    if path.is_dir():
        return _choose_model_dir(path, keep_prefix=False)
    if path.suffix.lower() == ".json" or path.is_file():
        return _choose_config_file(path, pretrained)
    if cache_dir is None:
        return _choose_builtin(model, pretrained)
    return _choose_builtin_cached(model, pretrained, cache_dir)


def _choose_builtin_cached(model: str, pretrained: str, cache_dir: Path) -> ModelChoice:
    from .choice_cache import choice_key, load_choice, store_choice

    key = choice_key(model, pretrained)
    if key is None:
        return _choose_builtin(model, pretrained)
    fields = load_choice(cache_dir, key)
    if fields is not None:
        try:
            return ModelChoice(**fields)
        except TypeError:
            pass  # written by another version of same-same: resolve again
    choice = _choose_builtin(model, pretrained)
    store_choice(cache_dir, key, choice)
    return choice


def _choose_builtin(model: str, pretrained: str) -> ModelChoice:
    import open_clip

    name = model.replace("/", "-")  # open_clip accepts "ViT-B/32" the same way
    if name not in open_clip.list_models():
        close = difflib.get_close_matches(name, open_clip.list_models(), n=8, cutoff=0.6)
        error = UnknownNameError("CLIP model", model, close or list(POPULAR_MODELS))
        error.hint = MODEL_HINT
        raise error
    model_cfg = open_clip.get_model_config(name)
    weights, weights_file, tag_cfg = _choose_weights(name, pretrained)
    if weights == "tag":
        recorded = _clean_tag(pretrained)
    else:
        recorded = weights_file or "none"
    overrides = _preprocess_keys(tag_cfg)
    tag_quick_gelu = bool(tag_cfg.get("quick_gelu", False))
    return ModelChoice(
        model=name,
        pretrained=recorded,
        open_clip_name=name,
        embed_dim=int(model_cfg["embed_dim"]),
        weights=weights,
        weights_file=weights_file,
        preprocess=_predict_preprocess(model_cfg, overrides),
        # weights trained with QuickGELU give wrong vectors under plain GELU; open_clip
        # only warns about the mismatch, we build the activation the weights expect
        quick_gelu=tag_quick_gelu and not model_cfg.get("quick_gelu", False),
        preprocess_overrides=overrides,
    )


def _choose_weights(name: str, pretrained: str) -> tuple[str, str, dict[str, Any]]:
    """(kind, absolute file, tag config) for the weights of builtin architecture ``name``."""
    import open_clip

    if pretrained.lower() in RANDOM_WEIGHTS:
        return "random", "", {}
    path = Path(pretrained).expanduser()
    if path.is_file():
        return "file", str(path.resolve()), {}
    tag_cfg = open_clip.get_pretrained_cfg(name, pretrained)
    if tag_cfg:
        return "tag", "", dict(tag_cfg)
    if path.suffix.lower() in WEIGHT_SUFFIXES or os.sep in pretrained:
        raise ModelUnavailableError(
            f"CLIP weights file not found: {pretrained}",
            hint="--clip-pretrain takes a pretrained tag, a checkpoint file or 'none'",
        )
    tags = open_clip.list_pretrained_tags_by_model(name)
    if not tags:
        raise ModelUnavailableError(
            f"CLIP model {name} has no pretrained tags, so {pretrained!r} names nothing",
            hint=WEIGHTS_HINT,
        )
    error = UnknownNameError(f"pretrained tag for {name}", pretrained, tags)
    error.hint = "or a path to a local checkpoint file, or 'none' for random weights"
    raise error


def _choose_config_file(path: Path, pretrained: str) -> ModelChoice:
    if not path.is_file():
        raise ModelUnavailableError(f"CLIP model config file not found: {path}", hint=MODEL_HINT)
    config_path = path.resolve()
    model_cfg, preprocess_cfg = _read_config_file(config_path)
    name = _register_model_config(config_path, model_cfg)
    if pretrained.lower() in RANDOM_WEIGHTS:
        weights, weights_file = "random", ""
    else:
        weights_path = Path(pretrained).expanduser()
        if not weights_path.is_file():
            raise ModelUnavailableError(
                f"CLIP weights file not found: {pretrained} (a model config file needs "
                "--clip-pretrain pointing at its weights)",
                hint=WEIGHTS_HINT,
            )
        weights, weights_file = "file", str(weights_path.resolve())
    return ModelChoice(
        model=str(config_path),
        pretrained=weights_file or "none",
        open_clip_name=name,
        embed_dim=int(model_cfg["embed_dim"]),
        weights=weights,
        weights_file=weights_file,
        preprocess=_predict_preprocess(model_cfg, preprocess_cfg),
        preprocess_overrides=preprocess_cfg,
    )


def _choose_tiny_model(pretrained: str) -> ModelChoice:
    config_path, weights_path = tiny_model_paths()
    model_cfg, _ = _read_config_file(config_path)
    name = _register_model_config(config_path, model_cfg)
    if pretrained.lower() in RANDOM_WEIGHTS:
        weights, weights_file, recorded = "random", "", "none"
    elif pretrained == BUNDLED_WEIGHTS:
        weights, weights_file, recorded = "file", str(weights_path), BUNDLED_WEIGHTS
    else:
        raise InvalidInputError(
            f"{TINY_MODEL_NAME} comes with its own weights; --clip-pretrain must be "
            f"{BUNDLED_WEIGHTS!r} or 'none', not {pretrained!r}",
            hint=f"for other weights pass --clip-model {config_path} --clip-pretrain FILE",
        )
    return ModelChoice(
        model=TINY_MODEL_NAME,
        pretrained=recorded,
        open_clip_name=name,
        embed_dim=int(model_cfg["embed_dim"]),
        weights=weights,
        weights_file=weights_file,
        preprocess=_predict_preprocess(model_cfg, {}),
    )


def _choose_hub_model(model: str) -> ModelChoice:
    repo_id = model[len(HF_HUB_PREFIX) :].strip("/")
    if not repo_id:
        raise InvalidInputError("empty hub name after 'hf-hub:'", hint=MODEL_HINT)
    config_file = fetch_hub_file(repo_id, [HUB_CONFIG_NAME], f"model config {model}")
    model_cfg, preprocess_cfg = _read_config_file(Path(config_file))
    return ModelChoice(
        model=f"{HF_HUB_PREFIX}{repo_id}",
        pretrained="",
        open_clip_name=LOCAL_DIR_PREFIX + str(Path(config_file).parent),
        embed_dim=int(model_cfg["embed_dim"]),
        weights="bundled",
        hub_repo=repo_id,
        preprocess=_predict_preprocess(model_cfg, preprocess_cfg),
        preprocess_overrides=preprocess_cfg,
    )


def _choose_model_dir(path: Path, keep_prefix: bool) -> ModelChoice:
    folder = path.expanduser().resolve()
    config_path = folder / HUB_CONFIG_NAME
    if not config_path.is_file():
        raise ModelUnavailableError(
            f"CLIP model folder {folder} has no {HUB_CONFIG_NAME}", hint=MODEL_HINT
        )
    model_cfg, preprocess_cfg = _read_config_file(config_path)
    weights = [p for p in folder.iterdir() if p.suffix in (".safetensors", ".bin", ".pth")]
    if not weights:
        raise ModelUnavailableError(
            f"CLIP model folder {folder} has no weights (.safetensors, .bin or .pth)",
            hint=f"put {HUB_SAFE_WEIGHTS_NAME} or {HUB_WEIGHTS_NAME} next to {HUB_CONFIG_NAME}",
        )
    return ModelChoice(
        model=(LOCAL_DIR_PREFIX if keep_prefix else "") + str(folder),
        pretrained="",
        open_clip_name=LOCAL_DIR_PREFIX + str(folder),
        embed_dim=int(model_cfg["embed_dim"]),
        weights="bundled",
        preprocess=_predict_preprocess(model_cfg, preprocess_cfg),
        preprocess_overrides=preprocess_cfg,
    )


def _read_config_file(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(model config, preprocess overrides) from open_clip's model_config or hub format."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelUnavailableError(f"cannot read CLIP model config {path}: {exc}") from exc
    if isinstance(data, dict) and isinstance(data.get("model_cfg"), dict):
        model_cfg, preprocess_cfg = data["model_cfg"], dict(data.get("preprocess_cfg") or {})
    else:
        model_cfg, preprocess_cfg = data, {}
    if not isinstance(model_cfg, dict) or not all(
        key in model_cfg for key in ("embed_dim", "vision_cfg", "text_cfg")
    ):
        raise ModelUnavailableError(
            f"{path} is not an open_clip model config (needs embed_dim, vision_cfg, text_cfg)",
            hint=MODEL_HINT,
        )
    return model_cfg, preprocess_cfg


def _register_model_config(path: Path, model_cfg: dict[str, Any]) -> str:
    """Make open_clip know ``model_cfg`` by a name; never shadow a different config."""
    import open_clip

    name = path.stem
    existing = open_clip.get_model_config(name)
    if existing == model_cfg:
        return name
    if existing is not None or path.suffix != ".json" or json.loads(path.read_text()) != model_cfg:
        # a builtin of the same name, or a hub-format file: register a copy under a
        # name unique to this file's content
        digest = hashlib.sha256(json.dumps(model_cfg, sort_keys=True).encode()).hexdigest()[:10]
        name = f"{path.stem}-{digest}"
        if open_clip.get_model_config(name) == model_cfg:
            return name
        copy_path = _config_copy_dir() / f"{name}.json"
        copy_path.write_text(json.dumps(model_cfg), encoding="utf-8")
        path = copy_path
    open_clip.add_model_config(path)
    return name


_CONFIG_COPY_DIR: Path | None = None


def _config_copy_dir() -> Path:
    global _CONFIG_COPY_DIR
    if _CONFIG_COPY_DIR is None:
        _CONFIG_COPY_DIR = Path(tempfile.mkdtemp(prefix="same-same-clip-configs-"))
    return _CONFIG_COPY_DIR


def _predict_preprocess(model_cfg: dict[str, Any], overrides: dict[str, Any]) -> PreprocessConfig:
    """What open_clip's create_model will set as the preprocess config, without building it."""
    merged: dict[str, Any] = {key: value for key, value in overrides.items() if value is not None}
    merged["size"] = model_cfg.get("vision_cfg", {}).get("image_size", 224)
    return PreprocessConfig.from_open_clip(merged)


def _preprocess_keys(cfg: dict[str, Any]) -> dict[str, Any]:
    keys = ("mean", "std", "interpolation", "resize_mode", "fill_color")
    return {key: cfg[key] for key in keys if cfg.get(key) is not None}


def _clean_tag(tag: str) -> str:
    # open_clip's own normalisation of tags
    return tag.lower().replace("-", "_")
