"""The CUDA code paths, run on this machine's CPU: there is no GPU here (nor in CI).

Each path the ingest takes on a GPU is a function that also runs on a CPU: halving a
batch that ran out of memory (with a stand-in model that raises torch's real
``OutOfMemoryError``, because no device here runs out), the batch size chosen from
free memory (a pure function, given numbers), the staging of a batch through a
reused host buffer (pinned only on CUDA), and JPEG decoding with torchvision plus
CLIP preprocessing in torch ops (``device="cpu"`` here, ``"cuda"`` on a GPU),
compared with the PIL path on real photos.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import numpy as np
import pytest

from clip_fixtures import tiny_model_paths, torch
from same_same.embedders.clip import CLIPEmbedder, DeviceOutOfMemoryError
from same_same.embedders.clip.batch_fitting import (
    MEMORY_BATCH_CAP,
    FittingBatches,
    VisionShape,
    batch_size_for_memory,
    image_activation_bytes,
    vision_shape_of,
)
from same_same.embedders.clip.staging import HostStaging
from same_same.embedders.clip.torch_backend import TorchCLIP

GIB = 2**30


@functools.lru_cache(maxsize=1)
def torch_tiny() -> CLIPEmbedder:
    """The bundled tiny model on the torch backend, the one whose CUDA paths are tested."""
    config, weights = tiny_model_paths()
    embedder = CLIPEmbedder(str(config), str(weights), device="cpu", backend="torch")
    embedder.load()
    return embedder


class OutOfMemoryAbove:
    """A stand-in for a GPU model (there is no GPU here): the real tiny CLIP model, which
    raises torch's real ``OutOfMemoryError`` for image batches larger than ``limit``."""

    def __init__(self, model: Any, limit: int) -> None:
        self.model = model
        self.limit = limit
        self.batch_sizes: list[int] = []

    def encode_image(self, batch: Any) -> Any:
        self.batch_sizes.append(len(batch))
        if len(batch) > self.limit:
            raise torch.OutOfMemoryError(
                f"CUDA out of memory. Tried to allocate {len(batch)} images (stand-in)"
            )
        return self.model.encode_image(batch)


def stand_in_backend(limit: int, lines: list[str]) -> tuple[TorchCLIP, OutOfMemoryAbove]:
    real = torch_tiny().backend
    assert isinstance(real, TorchCLIP)
    model = OutOfMemoryAbove(real.model, limit)
    backend = TorchCLIP(model, real.tokenizer, "cpu", real.preprocess, real.label)
    backend.image_batches.tell = lines.append
    return backend, model


def random_pixels(count: int, seed: int = 0) -> np.ndarray:
    shape = torch_tiny().preprocess_config.shape
    return np.random.default_rng(seed).normal(size=(count, *shape)).astype(np.float32)


def test_out_of_memory_halves_the_batch_keeps_order_and_remembers_the_size() -> None:
    lines: list[str] = []
    backend, model = stand_in_backend(limit=3, lines=lines)
    reference = torch_tiny().backend
    pixels = random_pixels(11)

    features = backend.encode_pixels(pixels)

    expected = reference.encode_pixels(pixels)
    assert features.shape == expected.shape
    np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-5)
    # 11 failed, then 6 (halves of 11: 6 + 5), then 3 fits
    assert lines == [
        "cpu: out of memory at batch 11, continuing with 6",
        "cpu: out of memory at batch 6, continuing with 3",
    ]
    assert backend.image_batches.fitting == 3
    assert max(size for size in model.batch_sizes if size <= 3) == 3

    model.batch_sizes.clear()
    again = backend.encode_pixels(pixels[:8])
    # the next batch goes straight to pieces of the remembered size: no failure, no line
    assert model.batch_sizes == [3, 3, 2]
    assert len(lines) == 2
    np.testing.assert_allclose(again, expected[:8], rtol=1e-4, atol=1e-5)


def test_out_of_memory_at_a_single_image_is_the_usual_error_with_its_hint() -> None:
    lines: list[str] = []
    backend, _model = stand_in_backend(limit=0, lines=lines)
    with pytest.raises(DeviceOutOfMemoryError) as raised:
        backend.encode_pixels(random_pixels(4))
    assert "out of memory on cpu" in str(raised.value) and "batches of 1" in str(raised.value)
    assert "--batch-size" in (raised.value.hint or "")
    assert lines[-1] == "cpu: out of memory at batch 2, continuing with 1"


def test_other_errors_are_not_taken_for_out_of_memory() -> None:
    def broken(start: int, stop: int) -> np.ndarray:
        raise ValueError("a shape mismatch")

    fitting = FittingBatches("cpu", "tiny", tell=lambda line: None)
    with pytest.raises(ValueError, match="shape mismatch"):
        fitting.encode(broken, 4)
    assert fitting.fitting is None


def test_halved_features_normalise_to_the_embedders_vectors() -> None:
    """The embedder chunks at its batch size (32), the halving backend below it (5)."""
    lines: list[str] = []
    backend, _model = stand_in_backend(limit=5, lines=lines)
    embedder = torch_tiny()
    pixels = random_pixels(20, seed=3)
    expected = embedder.embed_preprocessed(pixels)
    features = backend.encode_pixels(pixels)
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    np.testing.assert_allclose(features / norms, expected, rtol=1e-4, atol=1e-5)
    assert backend.image_batches.fitting == 5


@pytest.mark.parametrize(
    ("free", "image_size", "width", "patch", "expected"),
    [
        (130 * GIB, 224, 768, 32, MEMORY_BATCH_CAP),  # ViT-B-32 on an H200: capped
        (7 * GIB, 224, 1024, 14, 128),  # ViT-L-14 on an 8 GB card
        (1 * GIB, 224, 1024, 14, 16),
        (3 * GIB, 336, 1024, 14, 16),  # ViT-L-14-336: four times the tokens
        (10 * 2**20, 224, 1024, 14, 1),  # nearly nothing free: one at a time
        (0, 224, 768, 32, 1),
    ],
)
def test_batch_size_from_free_memory(
    free: int, image_size: int, width: int, patch: int, expected: int
) -> None:
    assert batch_size_for_memory(free, image_size, width, patch) == expected


def test_batch_size_from_free_memory_is_a_power_of_two_that_fits() -> None:
    for free in (2**k for k in range(20, 38)):
        size = batch_size_for_memory(free, 224, 768, 16)
        assert size & (size - 1) == 0 and 1 <= size <= MEMORY_BATCH_CAP
        per_image = image_activation_bytes(VisionShape(224, 768, 16))
        assert size == 1 or size * per_image <= free // 2
        assert batch_size_for_memory(free * 2, 224, 768, 16) >= size


def test_vision_shape_comes_from_the_open_clip_config() -> None:
    assert vision_shape_of("ViT-B-32", 224) == VisionShape(224, 768, 32)
    assert vision_shape_of("ViT-L-14", 224) == VisionShape(224, 1024, 14)
    assert vision_shape_of("RN50", 224) is None  # a ResNet: the fallback size is used


def test_staging_on_cpu_wraps_the_array_without_a_buffer() -> None:
    staging = HostStaging("cpu", torch.float32)
    pixels = random_pixels(3)
    on_device = staging.to_device(pixels)
    assert not staging.buffered and staging.buffer_rows == 0
    assert on_device.dtype == torch.float32 and on_device.device.type == "cpu"
    np.testing.assert_array_equal(on_device.numpy(), pixels)


def test_staging_through_a_reused_buffer_the_path_cuda_takes() -> None:
    """The buffered path as on CUDA, on a CPU: the buffer is not pinned here."""
    staging = HostStaging("cpu", torch.float16, buffered=True)
    first = random_pixels(4, seed=1)
    out = staging.to_device(first)
    assert staging.buffer_rows == 4 and not staging.pinned
    assert out.dtype == torch.float16
    np.testing.assert_allclose(out.float().numpy(), first, rtol=1e-3, atol=1e-3)
    kept = staging._buffer
    second = random_pixels(2, seed=2)
    out = staging.to_device(second)  # a smaller batch reuses the same buffer
    assert staging._buffer is kept and staging.buffer_rows == 4
    np.testing.assert_allclose(out.float().numpy(), second, rtol=1e-3, atol=1e-3)
    staging.to_device(random_pixels(6, seed=3))  # a larger one gets a larger buffer
    assert staging.buffer_rows == 6


def test_only_cuda_stages_through_a_buffer_by_default() -> None:
    assert HostStaging("cuda", torch.float16).buffered
    assert HostStaging("cuda:1", torch.float16).buffered
    assert not HostStaging("cpu", torch.float32).buffered
    assert not HostStaging("mps", torch.float32).buffered


# -- JPEG decoding on the device (torchvision), here with device="cpu" --------------------

from pathlib import Path  # noqa: E402

from PIL import Image  # noqa: E402

from image_fixtures import (  # noqa: E402
    encode_image,
    make_truncated_jpeg,
    sample_photo_paths,
    write_collection,
)
from same_same.embedders.clip.preprocess import PreprocessConfig, preprocess_image  # noqa: E402
from same_same.embedders.clip.tensor_preprocess import preprocess_tensor  # noqa: E402
from same_same.errors import InvalidInputError  # noqa: E402
from same_same.imaging.gpu_decode import (  # noqa: E402
    DeferredJpeg,
    DeviceJpegDecoder,
    device_decodable_size,
)
from same_same.imaging.prepare import prepare_image_file  # noqa: E402
from same_same.ingest import IngestOptions, run_ingest  # noqa: E402
from same_same.ingest.model_input import ModelInput, choose_decode_device  # noqa: E402
from same_same.sources import open_source  # noqa: E402
from same_same.storage import open_store  # noqa: E402

CONFIGS = {
    "square shortest bicubic": PreprocessConfig(64, 64),
    "square shortest bilinear": PreprocessConfig(48, 48, interpolation="bilinear"),
    "non-square shortest": PreprocessConfig(48, 64),
    "longest with fill": PreprocessConfig(64, 64, resize_mode="longest", fill_color=128),
    "squash": PreprocessConfig(40, 56, resize_mode="squash"),
    "upscale": PreprocessConfig(600, 600),
}


def photo(name: str) -> Image.Image:
    return Image.open(sample_photo_paths()[name]).convert("RGB")


def as_tensor(image: Image.Image) -> Any:
    return torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1)


@pytest.mark.parametrize("config_name", sorted(CONFIGS))
@pytest.mark.parametrize("name", ["rocket.jpg", "grace_hopper.jpg"])
def test_torch_preprocessing_matches_the_pil_path(config_name: str, name: str) -> None:
    config = CONFIGS[config_name]
    image = photo(name)
    expected = preprocess_image(image, config)
    got = preprocess_tensor(as_tensor(image), config).numpy()
    assert got.shape == expected.shape == config.shape
    difference = np.abs(got - expected)
    # one 8-bit level is 1/255/std ~ 0.015 here; Pillow rounds between its two passes
    assert float(difference.mean()) < 0.01, config_name
    assert float(np.quantile(difference, 0.999)) < 0.1, config_name


def test_an_image_of_the_target_size_is_only_normalised() -> None:
    config = PreprocessConfig(64, 64)
    image = photo("rocket.jpg").resize((64, 64))
    np.testing.assert_allclose(
        preprocess_tensor(as_tensor(image), config).numpy(),
        preprocess_image(image, config),
        atol=1e-5,
    )


def jpeg(image: Image.Image, **params: Any) -> bytes:
    return encode_image(image, "JPEG", quality=90, **params)


def test_which_files_the_device_decodes() -> None:
    rgb = photo("rocket.jpg")
    assert device_decodable_size(jpeg(rgb)) == rgb.size
    rotated = Image.Exif()
    rotated[0x0112] = 6
    upright = Image.Exif()
    upright[0x0112] = 1
    assert device_decodable_size(jpeg(rgb, exif=upright.tobytes())) == rgb.size
    refused = {
        "exif orientation": jpeg(rgb, exif=rotated.tobytes()),
        "progressive": jpeg(rgb, progressive=True),
        "greyscale": jpeg(rgb.convert("L")),
        "cmyk": jpeg(rgb.convert("CMYK")),
        "truncated": make_truncated_jpeg(),
        "png": encode_image(rgb, "PNG"),
        "long strip": jpeg(rgb.resize((40 * 17, 40))),
        "empty": b"",
        "garbage after a jpeg start": b"\xff\xd8" + b"\x00" * 64 + b"\xff\xd9",
    }
    for what, data in refused.items():
        assert device_decodable_size(data) is None, what


def jpeg_with_a_bogus_huffman_table() -> bytes:
    data = bytearray(jpeg(photo("rocket.jpg")))
    table = data.index(b"\xff\xc4")  # DHT: marker, length (2), class/id (1), 16 counts
    data[table + 5 : table + 21] = b"\xff" * 16  # far more codes than a table may hold
    return bytes(data)


def tiny_decoder(device: str = "cpu") -> DeviceJpegDecoder:
    from same_same.embedders.clip.tensor_preprocess import preprocess_tensors

    config = torch_tiny().preprocess_config
    return DeviceJpegDecoder(
        device,
        functools.partial(preprocess_image, config=config),
        functools.partial(preprocess_tensors, config=config),
        min_side=max(config.height, config.width),
    )


def test_device_decoding_matches_pil_and_falls_back_per_file(tmp_path: Path) -> None:
    decoder = tiny_decoder()
    files = {
        "rocket.jpg": jpeg(photo("rocket.jpg")),
        "hopper.jpg": jpeg(photo("grace_hopper.jpg")),
        "progressive.jpg": jpeg(photo("rocket.jpg"), progressive=True),  # PIL in the worker
        "small.jpg": jpeg(photo("rocket.jpg").resize((80, 60))),
        # a JPEG whose header reads well but whose Huffman table is bogus: the batch
        # call fails, the file fails on its own too, and PIL's reason is reported
        "bogus_table.jpg": jpeg_with_a_bogus_huffman_table(),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    prepared = [decoder.prepare(tmp_path / name) for name in files]
    deferred = [isinstance(item, DeferredJpeg) for item in prepared]
    assert deferred == [True, True, False, True, True]
    assert prepared[2].pixels is not None  # decoded with PIL by the worker already

    failed = decoder.finish(prepared)

    assert failed == {4: "corrupt image data (broken data stream when reading image file)"}
    config = torch_tiny().preprocess_config
    for index, name in enumerate(files):
        if index == 4:
            continue
        item = prepared[index]
        assert item.pixels is not None and item.pixels.shape == config.shape
        assert not isinstance(item, DeferredJpeg) or item.data == b""
        # the PIL path at full scale gives the same pixels, within rounding
        full = prepare_image_file(
            tmp_path / name,
            preprocess=lambda image: preprocess_image(image, config),
            min_side=None,
        )
        assert full.pixels is not None
        assert float(np.abs(item.pixels - full.pixels).mean()) < 0.02, name
        assert (item.width, item.height) == (full.width, full.height)


def test_decoding_in_chunks_keeps_every_file_in_its_place(tmp_path: Path) -> None:
    import same_same.imaging.gpu_decode as gpu_decode

    decoder = tiny_decoder()
    base = photo("rocket.jpg")
    paths = []
    for index in range(7):
        path = tmp_path / f"{index}.jpg"
        path.write_bytes(jpeg(base.rotate(index * 40).resize((96, 72))))
        paths.append(path)
    prepared = [decoder.prepare(path) for path in paths]
    chunk = gpu_decode.DEVICE_DECODE_CHUNK
    gpu_decode.DEVICE_DECODE_CHUNK = 3  # three calls: 3 + 3 + 1 files
    try:
        assert decoder.finish(prepared) == {}
    finally:
        gpu_decode.DEVICE_DECODE_CHUNK = chunk
    for path, item in zip(paths, prepared, strict=True):
        alone = tiny_decoder().prepare(path)
        tiny_decoder().finish([alone])
        assert item.pixels is not None and alone.pixels is not None
        np.testing.assert_allclose(item.pixels, alone.pixels, atol=1e-5)


@pytest.mark.parametrize(
    ("option", "model_device", "torchvision", "expected"),
    [
        ("auto", "cuda", True, "cuda"),
        ("auto", "cuda:1", True, "cuda:1"),
        ("auto", "cpu", True, None),  # never on a CPU by default
        ("auto", "mps", True, None),
        ("auto", "cuda", False, None),
        ("on", "cuda:0", True, "cuda:0"),
        ("on", "cpu", True, "cpu"),  # the same code path, with torchvision on the CPU
        ("off", "cuda", True, None),
    ],
)
def test_where_jpegs_are_decoded(
    option: str, model_device: str, torchvision: bool, expected: str | None
) -> None:
    assert choose_decode_device(option, model_device, torchvision) == expected


def test_gpu_decode_option_is_checked() -> None:
    assert IngestOptions().gpu_decode == "auto"
    with pytest.raises(InvalidInputError, match="known: auto, on, off"):
        IngestOptions(gpu_decode="yes")
    assert ModelInput.for_embedder(torch_tiny(), "auto").device_decoder is None
    decoder = ModelInput.for_embedder(torch_tiny(), "on").device_decoder
    assert decoder is not None and decoder.device == "cpu"


def ingest_folder(folder: Path, data_dir: Path, gpu_decode: str) -> tuple[Any, dict[str, Any]]:
    embedder = torch_tiny()
    with open_store(data_dir, None) as store:
        report = run_ingest(
            store,
            embedder,
            open_source(f"images:{folder}"),
            IngestOptions(namespace="photos", gpu_decode=gpu_decode, workers=2),
        )
        listed = store.list_records("photos", limit=10_000, with_vectors=True)
        records = {record.metadata["path"]: record for record in listed}
    return report, records


def test_an_ingest_with_device_decoding_stores_what_the_pil_path_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole pipeline with ``--gpu-decode on`` on a CPU: the same files stored and
    skipped with the same reasons, vectors of the same pictures."""
    collection = write_collection(tmp_path / "photos", links=False, non_utf8=False)
    for name, path in sample_photo_paths().items():
        if name.endswith(".jpg"):
            (collection.root / name).write_bytes(path.read_bytes())
    on_device: list[int] = []
    finish = DeviceJpegDecoder.finish

    def counting_finish(self: DeviceJpegDecoder, prepared: Any) -> dict[int, str]:
        on_device.append(sum(isinstance(item, DeferredJpeg) for item in prepared))
        return finish(self, prepared)

    monkeypatch.setattr(DeviceJpegDecoder, "finish", counting_finish)  # a spy, nothing faked
    pil_report, pil_records = ingest_folder(collection.root, tmp_path / "pil", "off")
    assert on_device == []
    device_report, device_records = ingest_folder(collection.root, tmp_path / "device", "on")
    # rgb.jpg, UPPER.JPEG and the three real photos (not the CMYK, EXIF-rotated or
    # truncated JPEGs, nor the PNG named .jpg)
    assert sum(on_device) == 5

    assert sorted(device_report.problems) == sorted(pil_report.problems)
    assert len(device_report.problems) == len(collection.bad)
    assert device_report.stored == pil_report.stored == len(pil_records) == len(device_records)
    for path, record in pil_records.items():
        other = device_records[path]
        assert other.content_hash == record.content_hash
        assert (other.metadata["width"], other.metadata["height"]) == (
            record.metadata["width"],
            record.metadata["height"],
        )
        # drafted (PIL) against full-size (device) decoding of the same JPEG
        assert float(other.vector @ record.vector) > 0.99, path


def test_the_cli_flag_reaches_the_ingest(tmp_path: Path, cli: Any) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "rocket.jpg").write_bytes(jpeg(photo("rocket.jpg")))
    (folder / "truncated.jpg").write_bytes(make_truncated_jpeg())
    config, weights = tiny_model_paths()
    flags = ["-e", "clip", "--clip-model", str(config), "--clip-pretrain", str(weights)]
    flags += ["--backend", "torch", "--device", "cpu", "-q", "--json"]
    done = cli("ingest", f"images:{folder}", *flags, "--gpu-decode", "on")
    assert done.returncode == 3, done.stderr  # one file skipped
    report = json.loads(done.stdout)
    assert report["stored"] == 1 and report["skipped"] == 1
    assert "truncated (the file ends before the image does)" in done.stderr

    refused = cli("ingest", f"images:{folder}", *flags, "--gpu-decode", "yes")
    assert refused.returncode == 2
    assert "'auto', 'on', 'off'" in refused.stderr


def test_auto_on_a_machine_with_a_gpu_wires_the_gpu_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--device auto`` resolving to CUDA reaches every choice made from the device.
    The machine is described as having one GPU (there is none here); nothing runs on it."""
    import same_same.embedders.clip.device as device_module
    from same_same.embedders.clip.device import Accelerators
    from same_same.ingest import scheduling
    from same_same.ingest.scheduling import takes_turns_with_decoding, workers_for

    monkeypatch.setattr(device_module, "detect_accelerators", lambda: Accelerators(1))
    config, weights = tiny_model_paths()
    embedder = CLIPEmbedder(str(config), str(weights), device="auto", backend="torch")
    assert embedder.device == "cuda"
    monkeypatch.setattr(scheduling.os, "cpu_count", lambda: 16)  # a GPU machine's cores
    assert workers_for(embedder, None) == 16  # a CPU model would get 8
    assert not takes_turns_with_decoding(embedder)
    decoder = ModelInput.for_embedder(embedder, "auto").device_decoder
    assert decoder is not None and decoder.device == "cuda"
    assert ModelInput.for_embedder(embedder, "off").device_decoder is None
