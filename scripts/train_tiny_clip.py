"""Train the tiny CLIP model that same-same's tests, demo and benchmarks trust.

Pretrained CLIP weights cannot be downloaded everywhere, and a randomly initialised
CLIP proves nothing about retrieval. This script trains a very small open_clip
architecture (``src/same_same/models/tiny-clip/same-same-tiny-clip.json``) from
scratch on procedurally generated pictures with true captions
(``same_same.synthetic``), with open_clip's own model and contrastive loss, on CPU,
from a fixed seed. It writes fp16 weights as safetensors, loadable exactly the way a
user's local checkpoint is::

    open_clip.create_model_and_transforms("same-same-tiny-clip",
                                          pretrained="same-same-tiny-clip.safetensors")
    same-same ingest -e clip --clip-model .../same-same-tiny-clip.json \\
        --clip-pretrain .../same-same-tiny-clip.safetensors images:DIR

Run: ``.venv/bin/python scripts/train_tiny_clip.py``. The defaults reproduce the
committed weights: 1500 steps of 128 pairs, roughly 0.4 s a step on two idle cores
(about ten minutes; the committed run took 84 on two cores shared with other work).
"""

from __future__ import annotations

import argparse
import io
import math
import time
from pathlib import Path

import numpy as np
import open_clip
import torch
import torch.nn.functional as F
from open_clip.loss import ClipLoss
from PIL import Image
from safetensors.torch import save_file

from same_same.embedders.clip.preprocess import PreprocessConfig, preprocess_images
from same_same.embedders.clip.text import encode_text_tokens
from same_same.synthetic import (
    COLORS,
    SHAPES,
    generate_scene,
    generate_scenes,
    matches_attributes,
)

MODEL_DIR = Path(__file__).resolve().parent.parent / "src" / "same_same" / "models" / "tiny-clip"
CONFIG_PATH = MODEL_DIR / "same-same-tiny-clip.json"
WEIGHTS_PATH = MODEL_DIR / "same-same-tiny-clip.safetensors"
MODEL_NAME = CONFIG_PATH.stem

# held-out evaluation: a seed the training stream never uses
EVAL_SEED = 20240601
EVAL_QUERIES = [f"a {c} {s}" for c in ("red", "green", "blue", "yellow") for s in SHAPES[:3]]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--jpeg-prob", type=float, default=0.3,
                        help="share of training images recompressed as JPEG")
    parser.add_argument("--out", type=Path, default=WEIGHTS_PATH)
    parser.add_argument("--eval-every", type=int, default=250)
    return parser.parse_args()


def build_model(seed: int) -> tuple[torch.nn.Module, PreprocessConfig]:
    open_clip.add_model_config(CONFIG_PATH)
    torch.manual_seed(seed)
    model = open_clip.create_model(MODEL_NAME, pretrained=None)
    preprocess = PreprocessConfig.from_open_clip(model.visual.preprocess_cfg)
    return model, preprocess


def recompress(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=int(rng.integers(40, 95)))
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def sample_batch(
    rng: np.random.Generator,
    batch_size: int,
    preprocess: PreprocessConfig,
    tokenizer: open_clip.tokenizer.SimpleTokenizer,
    jpeg_prob: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    scenes = [generate_scene(rng) for _ in range(batch_size)]
    images = [
        recompress(s.image, rng) if rng.random() < jpeg_prob else s.image for s in scenes
    ]
    pixels = torch.from_numpy(preprocess_images(images, preprocess))
    tokens = tokenizer([s.caption for s in scenes])
    return pixels, tokens


def learning_rate(step: int, total: int, peak: float) -> float:
    warmup = max(1, total // 20)
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * 0.5 * (1 + math.cos(math.pi * progress))


@torch.inference_mode()
def evaluate(
    model: torch.nn.Module,
    preprocess: PreprocessConfig,
    tokenizer: open_clip.tokenizer.SimpleTokenizer,
    n_images: int = 300,
) -> dict[str, float]:
    """Text->image precision@5 on held-out scenes, plus colour/shape-only checks."""
    model.eval()
    scenes = generate_scenes(n_images, EVAL_SEED)
    pixels = torch.from_numpy(preprocess_images([s.image for s in scenes], preprocess))
    image_vecs = F.normalize(model.encode_image(pixels), dim=-1)
    text_vecs = F.normalize(encode_text_tokens(model, tokenizer(EVAL_QUERIES)), dim=-1)
    scores = text_vecs @ image_vecs.T
    precisions = []
    for query, row in zip(EVAL_QUERIES, scores, strict=True):
        _, color, shape = query.split()
        top = row.topk(5).indices.tolist()
        wanted = {"color": color, "shape": shape}
        precisions.append(np.mean([matches_attributes(scenes[i].attributes, wanted) for i in top]))
    model.train()
    return {"p@5_mean": float(np.mean(precisions)), "p@5_min": float(np.min(precisions))}


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    model, preprocess = build_model(args.seed)
    tokenizer = open_clip.get_tokenizer(MODEL_NAME)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{MODEL_NAME}: {n_params / 1e6:.2f}M parameters, input {preprocess.shape}")
    print(f"vocabulary: {len(COLORS)} colours x {len(SHAPES)} shapes")

    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in n]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2 or "embedding" in n]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr,
        betas=(0.9, 0.98),
        eps=1e-6,
    )
    loss_fn = ClipLoss()
    rng = np.random.default_rng(args.seed)
    model.train()
    started = time.monotonic()
    for step in range(args.steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, args.steps, args.lr)
        pixels, tokens = sample_batch(rng, args.batch_size, preprocess, tokenizer, args.jpeg_prob)
        image_features = F.normalize(model.encode_image(pixels), dim=-1)
        # captions are ~15 tokens of 77: the exact padding-free text path is ~5x cheaper
        text_features = F.normalize(encode_text_tokens(model, tokens), dim=-1)
        loss = loss_fn(image_features, text_features, model.logit_scale.exp())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        if (step + 1) % 50 == 0:
            elapsed = time.monotonic() - started
            print(f"step {step + 1}/{args.steps} loss {loss.item():.3f} "
                  f"scale {model.logit_scale.exp().item():.1f} {elapsed:.0f}s", flush=True)
        if args.eval_every and (step + 1) % args.eval_every == 0:
            print(f"  eval {evaluate(model, preprocess, tokenizer)}", flush=True)

    final = evaluate(model, preprocess, tokenizer)
    print(f"final eval {final}")
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(args.out), metadata={"format": "pt", "config": MODEL_NAME})
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
