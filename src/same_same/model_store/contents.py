"""What a CLIP model is made of on disk: the files a bundle carries and a pull installs.

A model is gathered into the layout of the hub's open_clip repositories, which is
also the layout of a copy in the models folder (``embedders.clip.model_folders``):
``open_clip_config.json`` (``model_cfg`` + ``preprocess_cfg``), the weights as
``open_clip_model.safetensors`` or ``open_clip_pytorch_model.bin``, and the files of
its Hugging Face tokenizer when it has one. ONNX files already exported for the model
(``DATA_DIR/onnx``) come along; they are only a head start, never required.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..embedders.clip import ensure_clip_installed, resolve_model_choice
from ..embedders.clip.model_folders import HF_HUB_PREFIX, models_dir
from ..embedders.clip.names import LOCAL_DIR_PREFIX, TINY_MODEL_NAME, ModelChoice
from ..embedders.clip.runner import BackendSettings
from ..embedders.clip.tokenizers import (
    TOKENIZER_FILES,
    download_tokenizer,
    find_local_tokenizer,
    has_tokenizer_files,
    hub_tokenizer_name,
    require_tokenizer_source,
)
from ..embedders.clip.weights import (
    HUB_CONFIG_NAME,
    HUB_SAFE_WEIGHTS_NAME,
    HUB_WEIGHTS_NAME,
    fetch_hub_file,
    locate_tag_weights,
)
from ..errors import InvalidInputError, ModelUnavailableError
from ..transfers import ByteProgress

EXPORT_HINT = (
    "name an open_clip architecture and pretrained tag (same-same models list), "
    "hf-hub:org/repo, or same-same-tiny-clip"
)


@dataclass(frozen=True)
class ModelContents:
    """The files of one model, ready to be bundled or installed.

    ``model``/``pretrained``: the names the models folder keeps it under (``pretrained``
    is "" for ``hf-hub:`` models). ``onnx_files``: ``"fp32-image"`` style keys.
    """

    model: str
    pretrained: str
    embed_dim: int
    config: dict[str, Any]
    weights: Path
    tokenizer_name: str = ""
    tokenizer_files: tuple[Path, ...] = ()
    onnx_files: dict[str, Path] = field(default_factory=dict)

    @property
    def weights_name(self) -> str:
        """The weights' file name in the folder layout open_clip's ``local-dir:`` reads."""
        if self.weights.suffix == ".safetensors":
            return HUB_SAFE_WEIGHTS_NAME
        return HUB_WEIGHTS_NAME

    def describe(self) -> str:
        return f"{self.model}/{self.pretrained}" if self.pretrained else self.model

    def config_bytes(self) -> bytes:
        return json.dumps(self.config, indent=2, sort_keys=True).encode("utf-8") + b"\n"


def gather_model(
    model: str,
    pretrained: str | None,
    data_dir: Path | None,
    progress: ByteProgress | None = None,
) -> ModelContents:
    """The files of ``model``/``pretrained``: from the models folder or the caches, else
    downloaded (failing in seconds, in one line, when the network is not there; the
    weights' bytes reported to ``progress`` when given)."""
    ensure_clip_installed()
    choice = resolve_model_choice(model, pretrained, data_dir=data_dir)
    if choice.weights == "random":
        raise InvalidInputError(
            f"CLIP model {choice.describe()} has random weights: there is nothing to export",
            hint=EXPORT_HINT,
        )
    config, weights = _config_and_weights(choice, progress)
    tokenizer_name, tokenizer_files = _tokenizer_files(choice, config, data_dir)
    return ModelContents(
        model=choice.model,
        pretrained=choice.pretrained,
        embed_dim=choice.embed_dim,
        config=config,
        weights=weights,
        tokenizer_name=tokenizer_name,
        tokenizer_files=tokenizer_files,
        onnx_files=find_onnx_files(choice, data_dir),
    )


def find_onnx_files(choice: ModelChoice, data_dir: Path | None) -> dict[str, Path]:
    """The ONNX towers already exported for ``choice`` (none is fine)."""
    from ..embedders.clip.onnx_backend import PRECISIONS, TOWERS, onnx_file

    onnx_dir = BackendSettings(data_dir=data_dir).onnx_dir
    found = {}
    for precision in PRECISIONS:
        for tower in TOWERS:
            path = onnx_file(choice, onnx_dir, precision, tower)
            if path.is_file():
                found[f"{precision}-{tower}"] = path
    return found


def _config_and_weights(
    choice: ModelChoice, progress: ByteProgress | None
) -> tuple[dict[str, Any], Path]:
    if choice.weights == "tag":
        import open_clip

        model_cfg = dict(open_clip.get_model_config(choice.open_clip_name) or {})
        if choice.quick_gelu:
            # the tag's weights were trained with QuickGELU; a folder says so in its config
            model_cfg["quick_gelu"] = True
        tag_cfg = dict(open_clip.get_pretrained_cfg(choice.open_clip_name, choice.pretrained))
        weights = locate_tag_weights(choice.open_clip_name, choice.pretrained, tag_cfg, progress)
        return {"model_cfg": model_cfg, "preprocess_cfg": dict(choice.preprocess_overrides)}, Path(
            weights
        )
    if choice.weights == "file" and choice.model == TINY_MODEL_NAME:
        from ..embedders.clip import tiny_model_paths

        config_path, _ = tiny_model_paths()
        model_cfg = json.loads(config_path.read_text(encoding="utf-8"))
        return {"model_cfg": model_cfg, "preprocess_cfg": {}}, Path(choice.weights_file)
    folder = _model_folder(choice)
    if choice.hub_repo:
        # lands next to the already fetched open_clip_config.json
        fetch_hub_file(
            choice.hub_repo,
            [HUB_SAFE_WEIGHTS_NAME, HUB_WEIGHTS_NAME],
            f"weights {choice.model}",
            progress,
        )
    config = json.loads((folder / HUB_CONFIG_NAME).read_text(encoding="utf-8"))
    return config, _folder_weights(folder)


def _model_folder(choice: ModelChoice) -> Path:
    named = choice.model.startswith(HF_HUB_PREFIX) or not Path(choice.model).is_absolute()
    if choice.weights != "bundled" or not named:
        raise InvalidInputError(
            f"cannot export {choice.describe()}: a bundle is made of a named model, so that "
            "the offline machine asks for it by the same name",
            hint=EXPORT_HINT,
        )
    return Path(choice.open_clip_name[len(LOCAL_DIR_PREFIX) :])


def _folder_weights(folder: Path) -> Path:
    for name in (HUB_SAFE_WEIGHTS_NAME, HUB_WEIGHTS_NAME, "open_clip_pytorch_model.safetensors"):
        if (folder / name).is_file():
            return folder / name
    others = sorted(p for p in folder.iterdir() if p.suffix in (".safetensors", ".bin", ".pth"))
    if not others:
        raise ModelUnavailableError(f"CLIP model folder {folder} has no weights")
    return others[0]


def _tokenizer_files(
    choice: ModelChoice, config: dict[str, Any], data_dir: Path | None
) -> tuple[str, tuple[Path, ...]]:
    """(name, files) of the model's Hugging Face tokenizer; ("", ()) for open_clip's BPE."""
    name = hub_tokenizer_name(config.get("model_cfg") or {})
    if not name:
        return "", ()
    folder: Path | None = None
    if choice.open_clip_name.startswith(LOCAL_DIR_PREFIX):
        own = Path(choice.open_clip_name[len(LOCAL_DIR_PREFIX) :])
        folder = own if has_tokenizer_files(own) else None
    if folder is None:
        folder = find_local_tokenizer(name, models_dir(data_dir))
    if folder is None and choice.hub_repo:
        folder = find_local_tokenizer(choice.hub_repo, None)
    if folder is None:
        require_tokenizer_source(name, choice.describe())
        folder = download_tokenizer(name)
    files = tuple(folder / file for file in TOKENIZER_FILES if (folder / file).is_file())
    return name, files
