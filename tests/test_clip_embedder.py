"""CLIPEmbedder through the real OpenCLIP code path: names, weights, spaces, vectors, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clip_fixtures import (
    real_photo_paths,
    shared_tiny_embedder,
    tiny_embedder,
    torch,
    write_hub_style_folder,
)
from same_same.embedders import EmbedderOptions, create_embedder, create_embedder_for_space
from same_same.embedders.clip import (
    CLIPEmbedder,
    DeviceOutOfMemoryError,
    preprocess_images,
    tiny_model_paths,
)
from same_same.errors import (
    InvalidInputError,
    MissingDependencyError,
    ModelUnavailableError,
    UnknownNameError,
)
from same_same.synthetic import COLORS, draw_scene

open_clip = pytest.importorskip("open_clip")


def scene(color: str, shape: str, seed: int = 0) -> Image.Image:
    attributes = {
        "color": color,
        "shape": shape,
        "count": 1,
        "position": "center",
        "background": "white",
    }
    return draw_scene(attributes, np.random.default_rng(seed))


# -- names, defaults, spaces (no weights loaded) ---------------------------------------


def test_guide_example_is_constructible_without_weights() -> None:
    embedder = CLIPEmbedder("ViT-B-32", "openai")
    assert embedder.name == "clip" and embedder.supports_images
    assert embedder.space.to_dict() == {
        "embedder": "clip",
        "model": "ViT-B-32",
        "pretrained": "openai",
        "dim": 512,
    }
    assert not embedder.is_loaded


def test_options_fall_back_to_environment_then_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SAME_SAME_CLIP_MODEL", raising=False)
    monkeypatch.delenv("SAME_SAME_CLIP_PRETRAIN", raising=False)
    space = create_embedder("clip").space
    assert (space.model, space.pretrained, space.dim) == ("ViT-B-32", "openai", 512)

    monkeypatch.setenv("SAME_SAME_CLIP_MODEL", "ViT-L-14")
    monkeypatch.setenv("SAME_SAME_CLIP_PRETRAIN", "laion2b_s32b_b82k")
    space = create_embedder("clip").space
    assert (space.model, space.pretrained, space.dim) == ("ViT-L-14", "laion2b_s32b_b82k", 768)

    # explicit options beat the environment
    space = create_embedder("clip", EmbedderOptions(model="RN50", pretrained="openai")).space
    assert (space.model, space.pretrained, space.dim) == ("RN50", "openai", 1024)


def test_tags_are_normalised_like_open_clip_does() -> None:
    assert CLIPEmbedder("ViT-B/32", "LAION2B-S34B-B79K").space.pretrained == "laion2b_s34b_b79k"
    assert CLIPEmbedder("ViT-B/32", "openai").space.model == "ViT-B-32"


def test_unknown_model_lists_close_architectures() -> None:
    with pytest.raises(UnknownNameError) as caught:
        CLIPEmbedder("ViT-B-33", "openai")
    message = str(caught.value)
    assert "unknown CLIP model 'ViT-B-33'" in message
    assert "ViT-B-32" in message and "\n" not in message
    assert "config .json" in message  # says a custom architecture file is accepted too


def test_unknown_tag_lists_that_models_tags() -> None:
    with pytest.raises(UnknownNameError) as caught:
        CLIPEmbedder("ViT-B-32", "laion5b")
    message = str(caught.value)
    assert "pretrained tag for ViT-B-32 'laion5b'" in message
    assert "openai" in message and "laion2b_s34b_b79k" in message
    assert "local checkpoint file" in message and "'none'" in message


def test_missing_weights_file_is_named() -> None:
    with pytest.raises(ModelUnavailableError, match="weights file not found: ./nowhere.pt"):
        CLIPEmbedder("ViT-B-32", "./nowhere.pt")


def test_config_file_needs_weights_or_none(tmp_path: Path) -> None:
    config, _ = tiny_model_paths()
    with pytest.raises(ModelUnavailableError, match="needs --clip-pretrain"):
        CLIPEmbedder(str(config), "openai")
    assert CLIPEmbedder(str(config), "none").space.pretrained == "none"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"hello": 1}))
    with pytest.raises(ModelUnavailableError, match="not an open_clip model config"):
        CLIPEmbedder(str(bad), "none")
    with pytest.raises(ModelUnavailableError, match="config file not found"):
        CLIPEmbedder(str(tmp_path / "absent.json"), "none")


def test_unknown_backend_and_device_fail_with_choices() -> None:
    with pytest.raises(UnknownNameError, match="known: auto, onnx, onnx-int8, torch"):
        CLIPEmbedder("ViT-B-32", "openai", backend="tensorrt")
    with pytest.raises(InvalidInputError, match="cuda:N"):
        CLIPEmbedder("ViT-B-32", "openai", device="gpu")
    with pytest.raises(InvalidInputError, match="batch size"):
        CLIPEmbedder("ViT-B-32", "openai", batch_size=0)


# -- weights that cannot be had -----------------------------------------------------------


def test_offline_failure_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    embedder = CLIPEmbedder("ViT-B-32", "openai")  # constructing needs no weights
    with pytest.raises(ModelUnavailableError) as caught:
        embedder.embed("a photo of a cat")
    message = str(caught.value)
    assert "\n" not in message
    assert "ViT-B-32/openai" in message and "HF_HUB_OFFLINE" in message
    assert "--clip-pretrain" in message and "SAME_SAME_CLIP_PRETRAIN" in message
    assert caught.value.code == "model_unavailable" and caught.value.status == 503


def test_unreachable_hub_fails_without_retrying(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not offline by configuration, but the hub cannot be reached: one probe, then the
    same one-line error (huggingface_hub alone would retry for most of a minute)."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    # port 9 on loopback: nothing listens, the connection is refused at once
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ModelUnavailableError, match="127.0.0.1 cannot be reached"):
        CLIPEmbedder("ViT-B-32", "openai").load()


def test_missing_extra_names_the_install_command() -> None:
    """Without open_clip installed (simulated in a child: a None entry in sys.modules
    is how Python spells "this module cannot be imported")."""
    code = (
        "import sys\n"
        "sys.modules['open_clip'] = None\n"
        "from same_same.embedders import create_embedder\n"
        "from same_same.errors import MissingDependencyError\n"
        "try:\n"
        "    create_embedder('clip')\n"
        "except MissingDependencyError as e:\n"
        "    print(e)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "-e clip needs the [clip] extra (pip install 'same-same[clip]')"
    assert issubclass(MissingDependencyError, Exception)


def test_importing_the_package_imports_no_torch() -> None:
    code = (
        "import sys\n"
        "import same_same.embedders.clip\n"
        "print([m for m in ('torch', 'open_clip') if m in sys.modules])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_out_of_memory_suggests_smaller_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """No GPU here, so the CUDA allocator's error is raised by hand inside the real
    backend's forward pass; what is tested is its translation for the user."""
    embedder = tiny_embedder()
    backend = embedder.backend

    def exhausted(*args: object, **kwargs: object) -> None:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(backend.model, "encode_image", exhausted)  # type: ignore[attr-defined]
    with pytest.raises(DeviceOutOfMemoryError) as caught:
        embedder.embed_images([scene("red", "circle")])
    message = str(caught.value)
    assert "out of memory on cpu" in message
    assert "--batch-size 8" in message and "ViT-B-32" in message and "--device cpu" in message
    assert caught.value.code == "out_of_memory"


# -- the tiny model through the user's local-checkpoint path --------------------------------


def test_local_files_are_recorded_absolute(monkeypatch: pytest.MonkeyPatch) -> None:
    config, weights = tiny_model_paths()
    monkeypatch.chdir(config.parent.parent)
    embedder = CLIPEmbedder(f"tiny-clip/{config.name}", f"tiny-clip/{weights.name}")
    assert embedder.space.model == str(config)
    assert embedder.space.pretrained == str(weights)
    assert embedder.space.dim == 64


def test_vectors_are_unit_float32_and_share_one_space(tmp_path: Path) -> None:
    embedder = shared_tiny_embedder()
    text = embedder.embed("a red circle")
    path = tmp_path / "red.png"
    scene("red", "circle").save(path)
    image = embedder.embed_image(path)
    for vector in (text, image):
        assert vector.dtype == np.float32 and vector.shape == (embedder.dim,)
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    # same space: the caption of the picture is closer to it than other captions are
    others = embedder.embed_texts([f"a {c} circle" for c in COLORS if c != "red"])
    assert float(image @ text) > float(np.max(others @ image))


def test_image_entry_points_agree(tmp_path: Path) -> None:
    embedder = shared_tiny_embedder()
    images = [
        scene(c, s, i)
        for i, (c, s) in enumerate([("red", "star"), ("blue", "square"), ("green", "triangle")])
    ]
    paths = []
    for i, image in enumerate(images):
        paths.append(tmp_path / f"{i}.png")
        image.save(paths[-1])
    direct = embedder.embed_images(images)
    via_arrays = embedder.embed_preprocessed(preprocess_images(images, embedder.preprocess_config))
    via_files = embedder.embed_images(paths)  # paths
    via_names = embedder.embed_images([str(p) for p in paths])
    via_bytes = embedder.embed_images([p.read_bytes() for p in paths])
    np.testing.assert_allclose(via_arrays, direct, atol=1e-6)
    for other in (via_files, via_names, via_bytes):
        np.testing.assert_allclose(other, direct, atol=1e-6)
    np.testing.assert_allclose(embedder.embed_image(paths[1]), direct[1], atol=1e-6)
    np.testing.assert_allclose(embedder.embed_image(images[1]), direct[1], atol=1e-6)  # PIL
    np.testing.assert_allclose(embedder.embed_image(paths[1].read_bytes()), direct[1], atol=1e-6)
    np.testing.assert_allclose(
        embedder.embed_image(images[2].convert("RGBA")), direct[2], atol=1e-6
    )


@pytest.mark.parametrize("wrong", [42, None, np.zeros((8, 8, 3)), {"path": "a.jpg"}])
def test_image_methods_refuse_other_types_with_a_clear_type_error(wrong: object) -> None:
    embedder = shared_tiny_embedder()
    with pytest.raises(TypeError, match="file path, the bytes of an image file or a PIL image"):
        embedder.embed_image(wrong)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="file path, the bytes of an image file or a PIL image"):
        embedder.embed_images([wrong])  # type: ignore[list-item]


def test_embed_images_wants_a_list_not_one_image(tmp_path: Path) -> None:
    embedder = shared_tiny_embedder()
    path = tmp_path / "one.png"
    scene("red", "star", 0).save(path)
    with pytest.raises(TypeError, match="a list of images"):
        embedder.embed_images(str(path))
    with pytest.raises(TypeError, match="a list of images"):
        embedder.embed_images(scene("red", "star", 0))  # type: ignore[arg-type]


def test_batch_size_does_not_change_vectors() -> None:
    texts = [f"a {c} {s}" for c in COLORS for s in ("circle", "star")]
    images = [scene(c, "square", i) for i, c in enumerate(COLORS)]
    small, large = tiny_embedder(batch_size=2), shared_tiny_embedder()
    np.testing.assert_allclose(small.embed_texts(texts), large.embed_texts(texts), atol=1e-5)
    np.testing.assert_allclose(small.embed_images(images), large.embed_images(images), atol=1e-5)
    assert small.backend is large.backend  # one model per process, however many embedders


def test_empty_batches_and_bad_shapes() -> None:
    embedder = shared_tiny_embedder()
    assert embedder.embed_texts([]).shape == (0, 64)
    assert embedder.embed_images([]).shape == (0, 64)
    with pytest.raises(InvalidInputError, match=r"needs \(N, 3, 64, 64\)"):
        embedder.embed_preprocessed(np.zeros((2, 3, 224, 224), dtype=np.float32))
    with pytest.raises(InvalidInputError, match="embed\\(\\)"):
        embedder.embed_texts("a red circle")  # type: ignore[arg-type]


def test_recorded_space_reloads_the_same_model() -> None:
    """What the server does on a namespace's first query."""
    embedder = shared_tiny_embedder()
    again = create_embedder_for_space(embedder.space)
    assert again.space == embedder.space
    np.testing.assert_allclose(
        again.embed("two green stars"), embedder.embed("two green stars"), atol=1e-6
    )


def test_bundled_name_is_the_same_model() -> None:
    bundled = CLIPEmbedder("same-same-tiny-clip", device="cpu")
    assert (bundled.space.model, bundled.space.pretrained) == ("same-same-tiny-clip", "bundled")
    by_options = create_embedder("clip", EmbedderOptions(model="same-same-tiny-clip"))
    assert by_options.space == bundled.space
    np.testing.assert_allclose(
        bundled.embed("a blue star"), shared_tiny_embedder().embed("a blue star"), atol=1e-6
    )
    with pytest.raises(InvalidInputError, match="comes with its own weights"):
        CLIPEmbedder("same-same-tiny-clip", "openai")


def test_open_clip_itself_loads_the_checkpoint_the_same_way() -> None:
    """The committed files work with plain open_clip, exactly as a user's would."""
    config, weights = tiny_model_paths()
    open_clip.add_model_config(config)
    model, _, preprocess = open_clip.create_model_and_transforms(
        config.stem, pretrained=str(weights)
    )
    model.eval()
    tokenizer = open_clip.get_tokenizer(config.stem)
    image = Image.open(real_photo_paths()[0])
    with torch.inference_mode():
        text = model.encode_text(tokenizer(["a yellow triangle"]), normalize=True).numpy()[0]
        pixels = model.encode_image(preprocess(image).unsqueeze(0), normalize=True).numpy()[0]
    embedder = shared_tiny_embedder()
    np.testing.assert_allclose(embedder.embed("a yellow triangle"), text, atol=1e-5)
    np.testing.assert_allclose(embedder.embed_images([image])[0], pixels, atol=1e-5)


def test_random_weights_are_the_same_in_every_process() -> None:
    """``--clip-pretrain none`` (benchmarks) must still give a queryable namespace."""
    config, _ = tiny_model_paths()
    here = CLIPEmbedder(str(config), "none", device="cpu").embed("a red circle")
    code = (
        "import torch; torch.set_num_threads(1)\n"
        "from same_same.embedders.clip import CLIPEmbedder\n"
        f"v = CLIPEmbedder({str(config)!r}, 'none', device='cpu').embed('a red circle')\n"
        "print(' '.join(repr(float(x)) for x in v))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    there = np.array([float(x) for x in result.stdout.split()], dtype=np.float32)
    np.testing.assert_allclose(there, here, atol=1e-5)
    assert not np.allclose(here, shared_tiny_embedder().embed("a red circle"), atol=1e-2)


# -- model folders and the Hugging Face cache (air-gapped machines) -----------------------


def test_model_folder_brings_its_own_weights(tmp_path: Path) -> None:
    folder = write_hub_style_folder(tmp_path / "my-clip")
    embedder = CLIPEmbedder(str(folder), device="cpu")
    assert (embedder.space.model, embedder.space.pretrained) == (str(folder), "")
    prefixed = CLIPEmbedder(f"local-dir:{folder}", device="cpu")
    assert prefixed.space.model == f"local-dir:{folder}"
    expected = shared_tiny_embedder().embed("a red star")
    np.testing.assert_allclose(embedder.embed("a red star"), expected, atol=1e-5)
    (folder / "open_clip_model.safetensors").unlink()
    with pytest.raises(ModelUnavailableError, match="has no weights"):
        CLIPEmbedder(str(folder))


def test_hub_model_from_a_prefilled_cache_works_offline(tmp_path: Path) -> None:
    """hf-hub:org/repo with the files already in the Hugging Face cache (copied from a
    connected machine): no request is made, HF_HUB_OFFLINE or not."""
    cache = tmp_path / "hub"
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo_dir = cache / "models--same-same--tiny-clip"
    write_hub_style_folder(repo_dir / "snapshots" / commit)
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(commit)
    code = (
        "import torch; torch.set_num_threads(1)\n"
        "from same_same.embedders.clip import CLIPEmbedder\n"
        "e = CLIPEmbedder('hf-hub:same-same/tiny-clip', device='cpu')\n"
        "print(e.space.describe())\n"
        "print(' '.join(repr(float(x)) for x in e.embed('a red star')))\n"
        "try:\n"
        "    CLIPEmbedder('hf-hub:same-same/absent', device='cpu')\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    described, vector, error = result.stdout.strip().splitlines()
    assert described == "clip:hf-hub:same-same/tiny-clip (dim 64)"
    there = np.array([float(x) for x in vector.split()], dtype=np.float32)
    np.testing.assert_allclose(there, shared_tiny_embedder().embed("a red star"), atol=1e-5)
    assert error.startswith(
        "ModelUnavailableError cannot load CLIP model config hf-hub:same-same/absent"
    )
    assert "HF_HUB_OFFLINE is set" in error


def test_same_named_model_copies_in_two_data_dirs_are_two_models(tmp_path: Path) -> None:
    """A process serving two data directories must not answer one with the other's model."""
    for name in ("a", "b"):
        write_hub_style_folder(tmp_path / name / "models" / "MyTiny" / "v1")
    first = CLIPEmbedder("MyTiny", "v1", device="cpu", data_dir=tmp_path / "a")
    second = CLIPEmbedder("MyTiny", "v1", device="cpu", data_dir=tmp_path / "b")
    assert first.space == second.space  # the same recorded identity...
    assert first.backend is not second.backend  # ...but each folder's own weights
    assert (
        first.backend is CLIPEmbedder("MyTiny", "v1", device="cpu", data_dir=tmp_path / "a").backend
    )
