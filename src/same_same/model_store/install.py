"""Putting a model into the models folder, all at once or not at all.

Files are written into a staging folder inside the models folder and renamed into
place when complete, so a crash or a refused bundle never leaves half a model where
``ingest`` would find it. The tokenizer of a model is also kept on its own
(``MODELS_DIR/tokenizers/<org>/<repo>/``), where a builtin architecture with random
weights (``--clip-pretrain none``) finds it; ONNX files go where the ONNX backends
look for them, under the names the installed model has on this machine.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..embedders.clip import resolve_model_choice
from ..embedders.clip.model_folders import HF_HUB_PREFIX, local_model_folder, models_dir
from ..embedders.clip.runner import BackendSettings
from ..embedders.clip.tokenizers import tokenizer_folder
from ..errors import InvalidInputError

SAFE_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+=-]*$")
"""One path component of a model, tag or tokenizer name: no separators, no ``..``."""


def check_model_name(model: str, pretrained: str) -> None:
    """InvalidInputError unless ``model``/``pretrained`` make a folder inside the models folder."""
    if model.startswith(HF_HUB_PREFIX):
        parts = model[len(HF_HUB_PREFIX) :].strip("/").split("/")
        ok = len(parts) == 2 and all(SAFE_PART.match(part) for part in parts) and not pretrained
    else:
        ok = bool(SAFE_PART.match(model) and SAFE_PART.match(pretrained))
    if not ok:
        raise InvalidInputError(
            f"not a model name the models folder can hold: {model!r}/{pretrained!r}"
        )


def check_tokenizer_name(name: str) -> None:
    parts = name.split("/")
    if not name or len(parts) > 2 or not all(SAFE_PART.match(part) for part in parts):
        raise InvalidInputError(f"not a tokenizer name the models folder can hold: {name!r}")


@contextmanager
def staging_folder(models_folder: Path) -> Iterator[Path]:
    """A fresh folder inside ``models_folder``, removed afterwards unless moved away."""
    models_folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=models_folder))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def move_into_place(source: Path, target: Path) -> None:
    """Rename folder ``source`` to ``target``, replacing what was there."""
    target.parent.mkdir(parents=True, exist_ok=True)
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
    os.replace(source, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def install_model_folder(
    staged: Path,
    model: str,
    pretrained: str,
    tokenizer_name: str,
    tokenizer_files: list[str],
    data_dir: Path | None,
) -> Path:
    """Move a complete model folder ``staged`` into the models folder; returns where."""
    check_model_name(model, pretrained)
    folder = models_dir(data_dir)
    if tokenizer_name:
        check_tokenizer_name(tokenizer_name)
        with staging_folder(folder) as tokenizer_staging:
            for name in tokenizer_files:
                shutil.copyfile(staged / name, tokenizer_staging / name)
            move_into_place(tokenizer_staging, tokenizer_folder(folder, tokenizer_name))
    target = local_model_folder(folder, model, pretrained)
    move_into_place(staged, target)
    return target


def install_onnx_files(
    files: dict[str, Path], model: str, pretrained: str, data_dir: Path | None
) -> list[Path]:
    """Copy exported ONNX towers (``"fp32-image"``: path) to where the installed model's
    ONNX backends look for them; returns the paths written."""
    from ..embedders.clip.onnx_backend import PRECISIONS, TOWERS, onnx_file

    choice = resolve_model_choice(model, pretrained or None, data_dir=data_dir)
    onnx_dir = BackendSettings(data_dir=data_dir).onnx_dir
    written = []
    for key, source in sorted(files.items()):
        precision, _, tower = key.partition("-")
        if precision not in PRECISIONS or tower not in TOWERS:
            continue
        target = onnx_file(choice, onnx_dir, precision, tower)
        copy_atomically(source, target)
        written.append(target)
    return written


def copy_atomically(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` through a temporary file: readers never see half."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    try:
        shutil.copyfile(source, name)
        os.replace(name, target)
    finally:
        Path(name).unlink(missing_ok=True)
