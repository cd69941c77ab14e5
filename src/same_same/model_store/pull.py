"""``models pull``: a model downloaded (or taken from the caches) into the models folder.

On a machine without network it fails within seconds, in one line: the downloads go
through ``embedders.clip.weights``, which probes the hub once before asking it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ..errors import ModelUnavailableError
from ..transfers import copy_file, hub_bars_off, phase
from .bundle import BundleOptions, ImportedModel, format_size
from .contents import gather_model
from .install import check_model_name, install_model_folder, install_onnx_files, staging_folder

PULL_HINT = (
    "on a machine without network: `same-same models export MODEL TAG -o bundle.tar` on a "
    "connected one, then `same-same models import bundle.tar` here"
)


def pull_model(
    model: str, pretrained: str | None, options: BundleOptions = BundleOptions()
) -> ImportedModel:
    """Put ``model``/``pretrained`` into the models folder, downloading what is missing."""
    from ..embedders.clip.model_folders import models_dir

    options.say(f"looking for {model}/{pretrained or 'its default weights'}")
    try:
        with hub_bars_off():  # the weights' download is reported to options.progress
            contents = gather_model(model, pretrained, options.data_dir, options.progress)
    except ModelUnavailableError as exc:
        raise ModelUnavailableError(f"cannot pull {model}: {exc.message}", hint=PULL_HINT) from exc
    check_model_name(contents.model, contents.pretrained)
    with staging_folder(models_dir(options.data_dir)) as staging:
        folder = staging / "model"
        folder.mkdir()
        (folder / "open_clip_config.json").write_bytes(contents.config_bytes())
        size = contents.weights.stat().st_size
        options.say(f"copying {contents.weights} ({format_size(size)})")
        with phase(options.progress, f"copying {contents.weights_name}", size) as progress:
            copy_file(contents.weights, folder / contents.weights_name, progress)
        for path in contents.tokenizer_files:
            shutil.copyfile(path, folder / path.name)
        names = [path.name for path in contents.tokenizer_files]
        target = install_model_folder(
            folder, contents.model, contents.pretrained, contents.tokenizer_name, names,
            options.data_dir,
        )  # fmt: skip
    onnx: list[Path] = []
    if contents.onnx_files:
        onnx = install_onnx_files(
            contents.onnx_files, contents.model, contents.pretrained, options.data_dir
        )
    size = sum(path.stat().st_size for path in target.iterdir() if path.is_file())
    pulled = ImportedModel(contents.model, contents.pretrained, target, tuple(onnx), size)
    options.say(f"installed {pulled.describe()} in {target}")
    return pulled
