"""Model bundles: one tar file that carries a CLIP model onto a machine without network.

A bundle holds ``manifest.json`` (what model, and every other member's size and
sha256), ``model/`` (``open_clip_config.json``, the weights, the tokenizer files) and,
when the model was exported to ONNX on the machine that made the bundle, ``onnx/``.
Importing checks everything before anything is installed: a member that is not a
plain file, a name that would land outside the models folder, a member missing from
or absent in the manifest, a size or checksum that differs, a truncated file: each
refuses the whole bundle in one line.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from .. import __version__
from ..embedders.clip.weights import first_line
from ..errors import InvalidInputError
from ..transfers import NO_PROGRESS, ByteProgress, CountingReader, phase
from .contents import ModelContents, gather_model
from .install import (
    check_model_name,
    check_tokenizer_name,
    install_model_folder,
    install_onnx_files,
    staging_folder,
)

BUNDLE_FORMAT = "same-same-model-bundle"
BUNDLE_VERSION = 1
MANIFEST_NAME = "manifest.json"
MODEL_PREFIX = "model/"
ONNX_PREFIX = "onnx/"
CHUNK = 1 << 20
MAX_MANIFEST_BYTES = 1 << 20
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pth")

Say = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class BundleOptions:
    """Where the models folder is (``data_dir``: its ``models``, or ``$SAME_SAME_MODELS_DIR``)
    and who hears about progress: ``say``, one plain line per step; ``progress``, the bytes
    each long step (download, checksums, writing, checking, copying) has moved."""

    data_dir: Path | None = None
    say: Say = _quiet
    progress: ByteProgress = NO_PROGRESS


@dataclass(frozen=True)
class ImportedModel:
    model: str
    pretrained: str
    folder: Path
    onnx_files: tuple[Path, ...]
    size_bytes: int

    def describe(self) -> str:
        return f"{self.model}/{self.pretrained}" if self.pretrained else self.model


def export_bundle(
    model: str, pretrained: str | None, output: Path, options: BundleOptions = BundleOptions()
) -> ModelContents:
    """Write the bundle of ``model``/``pretrained`` to ``output`` (atomically)."""
    contents = gather_model(model, pretrained, options.data_dir)
    members: list[tuple[str, Path | bytes]] = [
        (MODEL_PREFIX + "open_clip_config.json", contents.config_bytes()),
        (MODEL_PREFIX + contents.weights_name, contents.weights),
    ]
    members += [(MODEL_PREFIX + path.name, path) for path in contents.tokenizer_files]
    members += [(f"{ONNX_PREFIX}{key}.onnx", path) for key, path in contents.onnx_files.items()]
    total = sum(_size(source) for _, source in members)
    files = []
    with phase(options.progress, "checksumming", total) as progress:
        for name, source in members:
            options.say(f"checksumming {name} ({format_size(_size(source))})")
            digest = _sha256(source, progress, name)
            files.append({"path": name, "size": _size(source), "sha256": digest})
    manifest = {
        "format": BUNDLE_FORMAT,
        "version": BUNDLE_VERSION,
        "made_by": f"same-same {__version__}",
        "model": contents.model,
        "pretrained": contents.pretrained,
        "embed_dim": contents.embed_dim,
        "tokenizer": contents.tokenizer_name,
        "onnx_format": _onnx_format(),
        "files": files,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent)
    os.close(handle)
    try:
        with (
            tarfile.open(temporary, "w", format=tarfile.PAX_FORMAT) as tar,
            phase(options.progress, f"writing {output.name}", total) as progress,
        ):
            _add(tar, MANIFEST_NAME, json.dumps(manifest, indent=2).encode("utf-8"))
            for name, source in members:
                options.say(f"writing {name}")
                _add(tar, name, source, progress)
        os.replace(temporary, output)
    finally:
        Path(temporary).unlink(missing_ok=True)
    options.say(f"wrote {output} ({format_size(output.stat().st_size)})")
    return contents


def import_bundle(path: Path, options: BundleOptions = BundleOptions()) -> ImportedModel:
    """Check bundle ``path`` completely, then install its model into the models folder."""
    from ..embedders.clip.model_folders import models_dir

    try:
        tar = tarfile.open(path, "r:*")
    except FileNotFoundError:
        raise InvalidInputError(f"no such bundle: {path}") from None
    except (OSError, tarfile.TarError) as exc:
        raise _refused(path, "not a tar file") from exc
    with tar, staging_folder(models_dir(options.data_dir)) as staging:
        try:
            manifest, members = _read_members(tar, path)
            expected = {entry["path"]: entry for entry in manifest["files"]}
            total = sum(member.size for member in members)
            with phase(options.progress, f"checking {path.name}", total) as progress:
                for member in members:
                    options.say(f"checking {member.name} ({format_size(member.size)})")
                    target = staging / member.name
                    _extract_checked(tar, member, expected[member.name], target, path, progress)
        except (OSError, tarfile.TarError, EOFError) as exc:
            raise _refused(path, f"truncated or unreadable ({first_line(exc)})") from exc
        model, pretrained = manifest["model"], manifest["pretrained"]
        model_files = [
            entry[len(MODEL_PREFIX) :] for entry in expected if entry.startswith(MODEL_PREFIX)
        ]
        tokenizer_files = [name for name in model_files if not name.startswith(("open_clip_",))]
        folder = install_model_folder(
            staging / "model",
            model,
            pretrained,
            manifest["tokenizer"],
            tokenizer_files,
            options.data_dir,
        )
        onnx_files: list[Path] = []
        onnx = {
            name[len(ONNX_PREFIX) : -len(".onnx")]: staging / name
            for name in expected
            if name.startswith(ONNX_PREFIX)
        }
        if onnx and manifest.get("onnx_format") == _onnx_format():
            onnx_files = install_onnx_files(onnx, model, pretrained, options.data_dir)
        elif onnx:
            options.say("skipping the bundle's ONNX files: made by another export format")
    size = sum(int(entry["size"]) for entry in expected.values())
    imported = ImportedModel(model, pretrained, folder, tuple(onnx_files), size)
    options.say(f"installed {imported.describe()} in {folder}")
    return imported


def format_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


def _read_members(tar: tarfile.TarFile, path: Path) -> tuple[dict[str, Any], list[tarfile.TarInfo]]:
    """(manifest, the other members), after checking every member's name and kind."""
    members = tar.getmembers()
    for member in members:
        _check_member_name(member.name, path)
        if not member.isfile():
            raise _refused(path, f"member {member.name!r} is not a plain file")
    manifests = [member for member in members if member.name == MANIFEST_NAME]
    if len(manifests) != 1 or manifests[0].size > MAX_MANIFEST_BYTES:
        raise _refused(path, f"it has no {MANIFEST_NAME}; not a same-same model bundle")
    manifest = _parse_manifest(tar, manifests[0], path)
    listed = [entry["path"] for entry in manifest["files"]]
    others = [member for member in members if member.name != MANIFEST_NAME]
    names = [member.name for member in others]
    if len(set(names)) != len(names):
        raise _refused(path, "a member appears twice")
    for name in names:
        if name not in listed:
            raise _refused(path, f"member {name!r} is not in its manifest")
    for name in listed:
        _check_member_name(name, path)
        if name not in names:
            raise _refused(path, f"{name} is missing: the bundle is truncated or incomplete")
    return manifest, others


def _parse_manifest(tar: tarfile.TarFile, member: tarfile.TarInfo, path: Path) -> dict[str, Any]:
    handle = tar.extractfile(member)
    try:
        data = json.loads(handle.read() if handle else b"")
    except ValueError as exc:
        raise _refused(path, f"its manifest is not JSON ({first_line(exc)})") from exc
    if not isinstance(data, dict) or data.get("format") != BUNDLE_FORMAT:
        raise _refused(path, "its manifest is not a same-same model bundle's")
    if data.get("version") != BUNDLE_VERSION:
        raise _refused(
            path, f"bundle version {data.get('version')!r}; this same-same reads {BUNDLE_VERSION}"
        )
    files = data.get("files")
    valid = isinstance(files, list) and all(
        isinstance(entry, dict)
        and isinstance(entry.get("path"), str)
        and isinstance(entry.get("size"), int)
        and isinstance(entry.get("sha256"), str)
        for entry in files
    )
    if (
        not valid
        or not isinstance(data.get("model"), str)
        or not isinstance(data.get("pretrained"), str)
    ):
        raise _refused(path, "its manifest lacks model, pretrained or files")
    tokenizer = data.get("tokenizer") or ""
    if not isinstance(tokenizer, str):
        raise _refused(path, "its manifest's tokenizer is not a name")
    try:
        check_model_name(data["model"], data["pretrained"])
        if tokenizer:
            check_tokenizer_name(tokenizer)
    except InvalidInputError as exc:
        raise _refused(path, exc.message) from None
    data["tokenizer"] = tokenizer
    listed = [str(entry["path"]) for entry in files or []]
    if MODEL_PREFIX + "open_clip_config.json" not in listed:
        raise _refused(path, "it has no model/open_clip_config.json")
    if not any(name.startswith(MODEL_PREFIX) and name.endswith(WEIGHT_SUFFIXES) for name in listed):
        raise _refused(path, "it has no weights (model/*.safetensors, .bin or .pth)")
    return data


def _check_member_name(name: str, path: Path) -> None:
    """Refuse absolute names, ``..``, backslashes and anything outside model/ and onnx/."""
    pure = PurePosixPath(name)
    inside = name == MANIFEST_NAME or (
        name.startswith((MODEL_PREFIX, ONNX_PREFIX)) and len(pure.parts) == 2
    )
    if pure.is_absolute() or ".." in pure.parts or "\\" in name or not inside:
        raise _refused(path, f"member {name!r} would be written outside the models folder")


def _extract_checked(
    tar: tarfile.TarFile,
    member: tarfile.TarInfo,
    entry: dict[str, Any],
    target: Path,
    path: Path,
    progress: ByteProgress,
) -> None:
    if member.size != entry["size"]:
        raise _refused(
            path, f"{member.name} has {member.size} bytes, its manifest says {entry['size']}"
        )
    handle = tar.extractfile(member)
    if handle is None:
        raise _refused(path, f"member {member.name!r} is not a plain file")
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    written = 0
    with handle, target.open("wb") as out:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            out.write(chunk)
            written += len(chunk)
            progress.advance(len(chunk), member.name)
    if written != entry["size"]:
        raise _refused(path, f"{member.name} is truncated")
    if digest.hexdigest() != entry["sha256"].lower():
        raise _refused(path, f"the checksum of {member.name} does not match: damaged or altered")


def _refused(path: Path, reason: str) -> InvalidInputError:
    return InvalidInputError(
        f"refusing model bundle {path}: {reason}",
        hint="make it again with same-same models export",
    )


def _add(
    tar: tarfile.TarFile, name: str, source: Path | bytes, progress: ByteProgress = NO_PROGRESS
) -> None:
    info = tarfile.TarInfo(name)
    info.size = _size(source)
    info.mode = 0o644
    info.mtime = int(time.time())
    if isinstance(source, bytes):
        tar.addfile(info, CountingReader(io.BytesIO(source), progress, name))
        return
    info.mtime = int(source.stat().st_mtime)
    with source.open("rb") as handle:
        tar.addfile(info, CountingReader(handle, progress, name))


def _size(source: Path | bytes) -> int:
    return len(source) if isinstance(source, bytes) else source.stat().st_size


def _sha256(source: Path | bytes, progress: ByteProgress, name: str) -> str:
    if isinstance(source, bytes):
        progress.advance(len(source), name)
        return hashlib.sha256(source).hexdigest()
    digest = hashlib.sha256()
    with source.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            progress.advance(len(chunk), name)
    return digest.hexdigest()


def _onnx_format() -> int:
    from ..embedders.clip.onnx_backend import EXPORT_FORMAT

    return EXPORT_FORMAT
