"""A generated hub-style CLIP model with a Hugging Face tokenizer, for the bundle tests.

``write_hub_repo(cache, "org/name")`` writes what ``huggingface_hub`` keeps for an
``hf-hub:org/name`` open_clip repo that was downloaded once: ``open_clip_config.json``
(a small architecture whose ``text_cfg.hf_tokenizer_name`` names the repo, as the
SigLIP repos do), randomly initialised ``open_clip_model.safetensors`` and the
tokenizer files (a word-level ``PreTrainedTokenizerFast``). Nothing is downloaded.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

COMMIT = "0123456789abcdef0123456789abcdef01234567"
WORDS = ["a", "red", "green", "blue", "circle", "square", "triangle", "photo", "of", "the"]


def hub_model_cfg(repo_id: str) -> dict[str, Any]:
    return {
        "embed_dim": 32,
        "vision_cfg": {
            "image_size": 32,
            "layers": 2,
            "width": 64,
            "head_width": 32,
            "patch_size": 8,
        },
        "text_cfg": {
            "context_length": 16,
            "vocab_size": 64,
            "width": 32,
            "heads": 2,
            "layers": 2,
            "hf_tokenizer_name": repo_id,
        },
    }


def write_tokenizer_files(folder: Path) -> list[str]:
    """A small word-level Hugging Face tokenizer in ``folder``; returns the file names."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    vocab = {"[PAD]": 0, "[UNK]": 1, "[BOS]": 2, "[EOS]": 3}
    vocab.update({word: index + 4 for index, word in enumerate(WORDS)})
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[BOS] $A [EOS]", special_tokens=[("[BOS]", 2), ("[EOS]", 3)]
    )
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    special = {
        "pad_token": "[PAD]",
        "unk_token": "[UNK]",
        "bos_token": "[BOS]",
        "eos_token": "[EOS]",
    }
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 16, **special}
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    (folder / "special_tokens_map.json").write_text(json.dumps(special))
    return ["special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"]


def write_hub_repo(cache: Path, repo_id: str) -> Path:
    """The snapshot folder of ``repo_id`` in the Hugging Face cache ``cache``."""
    import torch
    from open_clip.model import CLIP
    from safetensors.torch import save_file

    repo_dir = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo_dir / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(COMMIT)
    model_cfg = hub_model_cfg(repo_id)
    (snapshot / "open_clip_config.json").write_text(
        json.dumps({"model_cfg": model_cfg, "preprocess_cfg": {}})
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1234)
        model = CLIP(**model_cfg)
    state = {name: tensor.contiguous() for name, tensor in model.state_dict().items()}
    save_file(state, str(snapshot / "open_clip_model.safetensors"))
    write_tokenizer_files(snapshot)
    return snapshot


def closed_local_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens: a hub that refuses at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
