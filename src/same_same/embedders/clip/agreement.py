"""How closely an ONNX backend's vectors agree with torch's, on a fixed probe set.

The probe set is generated, not downloaded: ``PROBE_IMAGES`` scenes of
``same_same.synthetic`` (seed ``PROBE_SEED``) and their captions, plus a few fixed
texts (an empty one, one longer than the 77-token context). The same seed gives the
same pixels and texts on every machine, so a check measured once stays valid for the
weights and library versions it was measured with.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ...normalization import normalized_rows
from .names import ModelChoice
from .runner import BackendSettings, CLIPBackend

PROBE_SEED = 13_2026
PROBE_IMAGES = 32
PROBE_TEXTS_EXTRA = (
    "a photo",
    "",
    "a red circle",
    "two blue squares on the left",
    " ".join(["a green triangle in the center"] * 30),
)
TIMED_BATCH = 8
"""Images per timed forward pass: enough to be a batch, few enough for seconds on a CPU."""
TOP_K = 5


@dataclass(frozen=True)
class Thresholds:
    """What a backend must reach against torch to be chosen by ``auto``."""

    fp32_min_cosine: float = 0.9999
    int8_min_cosine: float = 0.99
    int8_top5_agreement: float = 1.0
    """Share of probe texts whose top-5 probe images must be the same set as torch's."""


@dataclass(frozen=True)
class BackendCheck:
    """One backend measured against torch on the probe set (torch's own: all 1.0).

    ``error``: why it could not run at all (export or load failed), else empty.
    """

    backend: str
    min_image_cosine: float = 0.0
    min_text_cosine: float = 0.0
    top5_agreement: float = 0.0
    seconds_per_image: float = 0.0
    error: str = ""

    def failure(self, thresholds: Thresholds) -> str | None:
        """Why this backend may not be chosen, or None when it passes."""
        if self.error:
            return self.error
        int8 = self.backend.endswith("-int8")
        wanted = thresholds.int8_min_cosine if int8 else thresholds.fp32_min_cosine
        worst = min(self.min_image_cosine, self.min_text_cosine)
        if worst < wanted:
            return f"cosine to torch {worst:.5f} on the probe set, below {wanted}"
        if int8 and self.top5_agreement < thresholds.int8_top5_agreement:
            return (
                f"the same top-{TOP_K} as torch for {self.top5_agreement:.0%} of the probe "
                f"texts, not {thresholds.int8_top5_agreement:.0%}"
            )
        return None


@dataclass(frozen=True)
class ProbeSet:
    pixels: np.ndarray
    texts: list[str]


def make_probe_set(choice: ModelChoice) -> ProbeSet:
    """The probe images (preprocessed for ``choice``) and texts."""
    from ...synthetic import generate_scenes
    from .preprocess import preprocess_images

    scenes = generate_scenes(PROBE_IMAGES, PROBE_SEED)
    pixels = preprocess_images([scene.image for scene in scenes], choice.preprocess)
    texts = sorted({scene.caption for scene in scenes}) + list(PROBE_TEXTS_EXTRA)
    return ProbeSet(pixels=pixels, texts=texts)


def measure_agreement(
    choice: ModelChoice,
    settings: BackendSettings,
    device: str,
    backends: Sequence[str],
    progress: Callable[[str], None] = lambda text: None,
) -> dict[str, BackendCheck]:
    """Torch and each of ``backends`` on the probe set; exports what is missing."""
    from ...errors import SameSameError
    from .backends import load_clip_backend

    probe = make_probe_set(choice)
    reference = load_clip_backend("torch", choice, _settings_on(settings, device))
    # said once the weights loaded: weights that cannot load fail in one line, alone
    progress(f"clip: checking which backend to run {choice.describe()} with (once, on {device})")
    torch_images, torch_texts, torch_seconds = _embed(reference, probe)
    checks = {"torch": BackendCheck("torch", 1.0, 1.0, 1.0, torch_seconds)}
    for name in backends:
        try:
            loaded = load_clip_backend(name, choice, _settings_on(settings, device))
            images, texts, seconds = _embed(loaded, probe)
        except SameSameError as exc:
            checks[name] = BackendCheck(name, error=f"cannot run it: {exc.message}")
            continue
        checks[name] = BackendCheck(
            name,
            min_image_cosine=_min_cosine(images, torch_images),
            min_text_cosine=_min_cosine(texts, torch_texts),
            top5_agreement=_top_k_agreement(torch_texts @ torch_images.T, texts @ images.T),
            seconds_per_image=seconds,
        )
        progress(f"clip: {name}: {_summary(checks[name], torch_seconds)}")
    return checks


def _settings_on(settings: BackendSettings, device: str) -> BackendSettings:
    return BackendSettings(device, TIMED_BATCH, settings.data_dir)


def _embed(backend: CLIPBackend, probe: ProbeSet) -> tuple[np.ndarray, np.ndarray, float]:
    """Unit vectors of the probe images and texts, and seconds per image of a timed batch."""
    images = normalized_rows(np.concatenate([
        backend.encode_pixels(probe.pixels[start : start + TIMED_BATCH])
        for start in range(0, len(probe.pixels), TIMED_BATCH)
    ]))  # fmt: skip
    texts = normalized_rows(backend.encode_texts(probe.texts))
    batch = probe.pixels[:TIMED_BATCH]
    best = float("inf")
    for _ in range(2):  # the first pass above warmed it up; the best of two is the figure
        started = time.perf_counter()
        backend.encode_pixels(batch)
        best = min(best, time.perf_counter() - started)
    return images, texts, round(best / len(batch), 6)


def _min_cosine(vectors: np.ndarray, reference: np.ndarray) -> float:
    # both sides are unit rows: the row-wise dot product is the cosine
    return round(float(np.min(np.sum(vectors * reference, axis=1))), 6)


def _top_k_agreement(reference_scores: np.ndarray, scores: np.ndarray) -> float:
    same = 0
    for wanted, found in zip(reference_scores, scores, strict=True):
        same += set(np.argsort(-wanted)[:TOP_K]) == set(np.argsort(-found)[:TOP_K])
    return round(same / len(reference_scores), 6)


def _summary(check: BackendCheck, torch_seconds: float) -> str:
    speed = torch_seconds / check.seconds_per_image if check.seconds_per_image else 0.0
    return (
        f"min cosine {min(check.min_image_cosine, check.min_text_cosine):.5f}, "
        f"same top-{TOP_K} {check.top5_agreement:.0%}, {speed:.1f}x torch"
    )
