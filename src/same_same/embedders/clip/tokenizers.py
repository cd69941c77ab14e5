"""CLIP tokenizers from local files first, so a model whose tokenizer lives on the hub
(SigLIP's ``timm/...``, other ``hf-hub:`` models) loads on a machine without network.

open_clip hands ``text_cfg.hf_tokenizer_name`` to ``transformers.AutoTokenizer``, which
on a machine without network retries for ~20 s and then fails with huggingface's own
"We couldn't connect to 'https://huggingface.co'". Here the tokenizer files are looked
for, in order, in the model's folder (a ``local-dir:`` model or an imported bundle),
in ``MODELS_DIR/tokenizers/<org>/<repo>/`` (what ``same-same models import`` and
``models pull`` install), and in the Hugging Face cache; only when none has them is the
network probed once, and an unreachable hub fails at once, in one line that names
``same-same models import``.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from ...errors import MissingDependencyError, ModelUnavailableError
from .names import LOCAL_DIR_PREFIX, ModelChoice
from .weights import can_reach, find_cached_hub_file, hub_endpoint, is_offline_mode

TOKENIZERS_FOLDER = "tokenizers"
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "vocab.txt",
    "merges.txt",
    "spiece.model",
    "sentencepiece.bpe.model",
    "tokenizer.model",
)
"""What ``AutoTokenizer.from_pretrained`` may read from a Hugging Face tokenizer repo."""
MARKER_FILES = ("tokenizer_config.json", "tokenizer.json")
"""A folder with one of these holds a Hugging Face tokenizer."""
OFFLINE_HINT = (
    "on a connected machine run `same-same models export MODEL TAG -o bundle.tar`, then "
    "`same-same models import bundle.tar` here"
)


def hub_tokenizer_name(model_cfg: dict[str, Any]) -> str:
    """The Hugging Face tokenizer a model config asks for ("" for open_clip's own BPE)."""
    text_cfg = model_cfg.get("text_cfg") or {}
    return str(text_cfg.get("hf_tokenizer_name") or "")


def has_tokenizer_files(folder: Path) -> bool:
    return any((folder / name).is_file() for name in MARKER_FILES)


def tokenizer_folder(models_folder: Path, name: str) -> Path:
    """Where ``models import`` keeps the tokenizer ``name`` (``org/repo``)."""
    return models_folder / TOKENIZERS_FOLDER / Path(*name.strip("/").split("/"))


def find_local_tokenizer(name: str, models_folder: Path | None) -> Path | None:
    """A folder holding tokenizer ``name``'s files: the models folder's copy, else the
    Hugging Face cache's snapshot; None when neither has it. Makes no request."""
    if models_folder is not None:
        folder = tokenizer_folder(models_folder, name)
        if has_tokenizer_files(folder):
            return folder
    cached = find_cached_hub_file(name, list(MARKER_FILES))
    return Path(cached).parent if cached else None


def require_tokenizer_source(name: str, model: str) -> None:
    """ModelUnavailableError, at once, unless the hub can be asked for tokenizer ``name``."""
    if is_offline_mode():
        reason = "HF_HUB_OFFLINE is set"
    elif not can_reach(hub_endpoint()):
        reason = "huggingface.co cannot be reached"
    else:
        return
    raise ModelUnavailableError(
        f"cannot load the tokenizer {name} of CLIP model {model}: not in the models folder "
        f"or the Hugging Face cache, and {reason}",
        hint=OFFLINE_HINT,
    )


def load_clip_tokenizer(choice: ModelChoice, models_folder: Path | None = None) -> Any:
    """open_clip's tokenizer for ``choice``, from local files whenever they exist."""
    import open_clip

    name = choice.open_clip_name
    folder = Path(name[len(LOCAL_DIR_PREFIX) :]) if name.startswith(LOCAL_DIR_PREFIX) else None
    model_cfg = _read_model_cfg(folder) if folder else (open_clip.get_model_config(name) or {})
    tokenizer_name = hub_tokenizer_name(model_cfg)
    if not tokenizer_name:
        return open_clip.get_tokenizer(name)
    if importlib.util.find_spec("transformers") is None:
        raise MissingDependencyError(f"the tokenizer {tokenizer_name}", "hf-tokenizers")
    if folder is not None and has_tokenizer_files(folder):
        return open_clip.get_tokenizer(name)  # open_clip reads a local-dir's own files
    local = find_local_tokenizer(tokenizer_name, models_folder)
    if local is None and choice.hub_repo:
        local = find_local_tokenizer(choice.hub_repo, None)
    if local is None:
        require_tokenizer_source(tokenizer_name, choice.describe())
        if folder is None:
            return open_clip.get_tokenizer(name)
        local = download_tokenizer(tokenizer_name)
    return _hf_tokenizer(local, model_cfg)


def download_tokenizer(name: str) -> Path:
    """The snapshot folder of tokenizer ``name`` in the Hugging Face cache, downloaded."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    from .weights import first_line

    folder: Path | None = None
    for filename in TOKENIZER_FILES:
        try:
            folder = Path(hf_hub_download(repo_id=name, filename=filename)).parent
        except EntryNotFoundError:
            continue
        except Exception as exc:  # noqa: BLE001 - translated into one line for the user
            raise ModelUnavailableError(
                f"cannot download the tokenizer {name}: {first_line(exc)}", hint=OFFLINE_HINT
            ) from exc
    if folder is None or not has_tokenizer_files(folder):
        raise ModelUnavailableError(f"the hub repo {name} has no tokenizer files")
    return folder


def _hf_tokenizer(folder: Path, model_cfg: dict[str, Any]) -> Any:
    """What ``open_clip.get_tokenizer`` builds for an HF tokenizer, from ``folder``."""
    from open_clip.tokenizer import DEFAULT_CONTEXT_LENGTH, HFTokenizer

    text_cfg = model_cfg.get("text_cfg") or {}
    return HFTokenizer(
        str(folder),
        context_length=text_cfg.get("context_length", DEFAULT_CONTEXT_LENGTH),
        tokenizer_mode=text_cfg.get("tokenizer_mode"),
        **dict(text_cfg.get("tokenizer_kwargs") or {}),
    )


def _read_model_cfg(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / "open_clip_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    model_cfg = data.get("model_cfg") if isinstance(data, dict) else None
    return model_cfg if isinstance(model_cfg, dict) else {}
