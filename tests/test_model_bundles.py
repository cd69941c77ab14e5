"""``same-same models``: bundles made on one machine and imported on another without network.

Two data directories stand for the two machines; each has its own models folder. The
bundled tiny model and a generated hub-style model (``model_bundle_fixtures``) go
through the real CLI, the real OpenCLIP code path and a real store.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from clip_fixtures import torch  # noqa: F401 - skips without the [clip] extra
from conftest import run_cli, run_process
from model_bundle_fixtures import closed_local_url, write_hub_repo, write_tokenizer_files
from same_same.embedders.clip import CLIPEmbedder, resolve_model_choice
from same_same.embedders.clip.names import LOCAL_DIR_PREFIX
from same_same.synthetic import write_image_folder

TINY = "same-same-tiny-clip"
HUB_REPO = "same-same-tests/tiny-hub-clip"


@pytest.fixture
def tiny_bundle(tmp_path: Path) -> Path:
    bundle = tmp_path / "tiny.tar"
    done = run_cli("models", "export", TINY, "-o", str(bundle), data_dir=tmp_path / "online")
    assert done.returncode == 0, done.stderr
    return bundle


@pytest.fixture
def empty_hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face cache: this process's hub lookups find nothing in it."""
    import huggingface_hub.constants

    cache = tmp_path / "empty-hub-cache"
    cache.mkdir()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    return cache


def test_tiny_model_round_trip(tmp_path: Path, tiny_bundle: Path) -> None:
    offline = tmp_path / "offline"
    done = run_cli("models", "import", str(tiny_bundle), "--json", data_dir=offline)
    assert done.returncode == 0, done.stderr
    installed = Path(json.loads(done.stdout)["path"])
    assert installed == offline / "models" / TINY / "bundled"
    choice = resolve_model_choice(TINY, None, data_dir=offline)
    assert choice.open_clip_name == LOCAL_DIR_PREFIX + str(installed.resolve())
    assert (choice.model, choice.pretrained) == (TINY, "bundled")  # the same space

    pictures = write_image_folder(tmp_path / "pics", 4, seed=21)
    paths = [str(path) for path, _, _ in pictures]
    original = CLIPEmbedder(TINY, device="cpu", backend="torch", data_dir=tmp_path / "online")
    imported = CLIPEmbedder(TINY, device="cpu", backend="torch", data_dir=offline)
    np.testing.assert_allclose(
        imported.embed_images(paths), original.embed_images(paths), rtol=0, atol=1e-6
    )
    np.testing.assert_allclose(
        imported.embed("a red circle"), original.embed("a red circle"), rtol=0, atol=1e-6
    )

    model = ["--clip-model", TINY, "--backend", "torch", "--device", "cpu"]
    done = run_cli("ingest", "-e", "clip", *model, "-q", f"images:{tmp_path / 'pics'}",
                   data_dir=offline)  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = run_cli("search", pictures[0][1], "--json", data_dir=offline)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["results"]) == 4


def test_list_shows_dims_sizes_and_what_is_present(tmp_path: Path, tiny_bundle: Path) -> None:
    offline = tmp_path / "offline"
    assert run_cli("models", "import", str(tiny_bundle), data_dir=offline).returncode == 0
    done = run_cli("models", "list", "--json", data_dir=offline)
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    assert listing["models_dir"] == str(offline / "models")
    entries = {(e["model"], e["pretrained"]): e for e in listing["models"]}
    tiny = entries[(TINY, "bundled")]
    assert tiny["present"] and tiny["location"] == "models folder" and tiny["dim"] == 64
    assert tiny["size_bytes"] == sum(p.stat().st_size for p in Path(tiny["path"]).iterdir())
    vit = entries[("ViT-B-32", "openai")]
    assert vit["dim"] == 512 and vit["size_bytes"] is None
    assert ("ViT-B-16-SigLIP", "webli") in entries

    done = run_cli("models", "list", "--present", data_dir=offline)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["MODEL", "PRETRAINED", "DIM", "SIZE", "WHERE"]
    assert any(line.split()[:3] == [TINY, "bundled", "64"] for line in lines[1:])
    assert "models folder:" in done.stderr


def _rewrite(bundle: Path, target: Path, change: dict[str, bytes | None]) -> None:
    """Copy ``bundle`` to ``target`` with members replaced (bytes) or dropped (None)."""
    with tarfile.open(bundle) as source, tarfile.open(target, "w") as out:
        for member in source.getmembers():
            data = source.extractfile(member).read()  # type: ignore[union-attr]
            if member.name in change:
                if change[member.name] is None:
                    continue
                data = change[member.name]  # type: ignore[assignment]
                member.size = len(data)
            out.addfile(member, io.BytesIO(data))


def _assert_refused(done: object, offline: Path, *words: str) -> None:
    assert done.returncode == 1  # type: ignore[attr-defined]
    stderr = done.stderr  # type: ignore[attr-defined]
    errors = [line for line in stderr.splitlines() if not line.startswith("same-same: ")]
    assert len(errors) == 1, stderr  # the rest are progress lines
    assert errors[0].startswith("error: refusing model bundle"), stderr
    for word in words:
        assert word in errors[0]
    assert not (offline / "models" / TINY).exists()
    assert [p.name for p in (offline / "models").glob(".*")] == []  # no staging left


def test_a_tampered_bundle_is_refused(tmp_path: Path, tiny_bundle: Path) -> None:
    offline = tmp_path / "offline"
    with tarfile.open(tiny_bundle) as tar:
        weights = tar.extractfile("model/open_clip_model.safetensors").read()  # type: ignore[union-attr]
    flipped = bytearray(weights)
    flipped[len(flipped) // 2] ^= 0xFF
    tampered = tmp_path / "tampered.tar"
    _rewrite(tiny_bundle, tampered, {"model/open_clip_model.safetensors": bytes(flipped)})
    done = run_cli("models", "import", str(tampered), "-q", data_dir=offline)
    _assert_refused(done, offline, "checksum of model/open_clip_model.safetensors")

    shorter = tmp_path / "shorter.tar"
    _rewrite(tiny_bundle, shorter, {"model/open_clip_model.safetensors": weights[:-10]})
    _assert_refused(run_cli("models", "import", str(shorter), data_dir=offline), offline, "bytes")

    missing = tmp_path / "missing.tar"
    _rewrite(tiny_bundle, missing, {"model/open_clip_model.safetensors": None})
    _assert_refused(run_cli("models", "import", str(missing), data_dir=offline), offline, "missing")


def test_a_truncated_bundle_is_refused(tmp_path: Path, tiny_bundle: Path) -> None:
    offline = tmp_path / "offline"
    truncated = tmp_path / "truncated.tar"
    truncated.write_bytes(tiny_bundle.read_bytes()[: tiny_bundle.stat().st_size // 2])
    _assert_refused(run_cli("models", "import", str(truncated), data_dir=offline), offline)
    garbage = tmp_path / "garbage.tar"
    garbage.write_bytes(b"not a tar file at all" * 100)
    _assert_refused(run_cli("models", "import", str(garbage), data_dir=offline), offline)


def _bundle_with(path: Path, members: list[tarfile.TarInfo], manifest: dict[str, object]) -> None:
    with tarfile.open(path, "w") as tar:
        data = json.dumps(manifest).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        for member in members:
            tar.addfile(member, io.BytesIO(b"x" * member.size) if member.isfile() else None)


def _manifest(model: str, paths: list[str]) -> dict[str, object]:
    import hashlib

    digest = hashlib.sha256(b"x").hexdigest()
    files = [{"path": p, "size": 1, "sha256": digest} for p in paths]
    return {"format": "same-same-model-bundle", "version": 1, "model": model,
            "pretrained": "v1", "tokenizer": "", "files": files}  # fmt: skip


@pytest.mark.parametrize("name", ["../evil", "model/../../evil", "/tmp/evil", "model/sub/evil"])
def test_members_outside_the_models_folder_are_refused(tmp_path: Path, name: str) -> None:
    offline = tmp_path / "offline"
    member = tarfile.TarInfo(name)
    member.size = 1
    bundle = tmp_path / "evil.tar"
    _bundle_with(bundle, [member], _manifest("Evil", ["model/open_clip_config.json", name]))
    done = run_cli("models", "import", str(bundle), data_dir=offline)
    _assert_refused(done, offline, "outside the models folder")
    assert not (tmp_path / "evil").exists() and not Path("/tmp/evil").exists()


def test_links_and_hostile_model_names_are_refused(tmp_path: Path) -> None:
    offline = tmp_path / "offline"
    link = tarfile.TarInfo("model/open_clip_config.json")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"
    bundle = tmp_path / "link.tar"
    _bundle_with(bundle, [link], _manifest("Evil", ["model/open_clip_config.json"]))
    _assert_refused(run_cli("models", "import", str(bundle), data_dir=offline), offline, "plain")

    config = tarfile.TarInfo("model/open_clip_config.json")
    config.size = 1
    bundle = tmp_path / "name.tar"
    _bundle_with(bundle, [config], _manifest("../../escape", ["model/open_clip_config.json"]))
    _assert_refused(run_cli("models", "import", str(bundle), data_dir=offline), offline, "name")
    assert not (tmp_path / "escape").exists()

    bundle = tmp_path / "weightless.tar"
    _bundle_with(bundle, [config], _manifest("Weightless", ["model/open_clip_config.json"]))
    done = run_cli("models", "import", str(bundle), data_dir=offline)
    _assert_refused(done, offline, "no weights")
    assert not (offline / "models" / "Weightless").exists()


def test_hub_style_model_round_trip_with_its_tokenizer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``hf-hub:`` model with an HF tokenizer, from a machine whose Hugging Face cache has it
    to one whose cache is empty; the offline side runs in a fresh process with
    HF_HUB_OFFLINE unset (the hub library reads it once, at import)."""
    import huggingface_hub.constants

    online_cache = tmp_path / "online-hub-cache"
    write_hub_repo(online_cache, HUB_REPO)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(online_cache))
    pictures = write_image_folder(tmp_path / "pics", 3, seed=5)
    paths = [str(path) for path, _, _ in pictures]
    model = f"hf-hub:{HUB_REPO}"
    original = CLIPEmbedder(model, device="cpu", backend="torch", data_dir=tmp_path / "online")
    expected_images = original.embed_images(paths)
    expected_text = original.embed("a red circle")

    bundle = tmp_path / "hub.tar"
    done = run_cli("models", "export", model, "-o", str(bundle), data_dir=tmp_path / "online")
    assert done.returncode == 0, done.stderr
    with tarfile.open(bundle) as tar:
        names = set(tar.getnames())
    assert {"manifest.json", "model/open_clip_config.json", "model/open_clip_model.safetensors",
            "model/tokenizer.json", "model/tokenizer_config.json"} <= names  # fmt: skip

    offline = tmp_path / "offline"
    empty = tmp_path / "empty-hub-cache"
    empty.mkdir()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(empty))
    assert run_cli("models", "import", str(bundle), data_dir=offline).returncode == 0
    assert (offline / "models" / "hf-hub" / HUB_REPO / "tokenizer.json").is_file()
    assert (offline / "models" / "tokenizers" / HUB_REPO / "tokenizer.json").is_file()
    imported = CLIPEmbedder(model, device="cpu", backend="torch", data_dir=offline)
    assert imported.space == original.space
    np.testing.assert_allclose(imported.embed_images(paths), expected_images, rtol=0, atol=1e-6)
    np.testing.assert_allclose(imported.embed("a red circle"), expected_text, rtol=0, atol=1e-6)

    unset = {"HF_HUB_OFFLINE": "", "TRANSFORMERS_OFFLINE": "", "HF_HUB_CACHE": str(empty),
             "HF_ENDPOINT": closed_local_url()}  # fmt: skip
    args = ["--clip-model", model, "--backend", "torch", "--device", "cpu", "-q"]
    done = run_process("ingest", "-e", "clip", *args, f"images:{tmp_path / 'pics'}",
                       data_dir=offline, env=unset)  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = run_process("search", "a red circle", "--json", data_dir=offline, env=unset)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["results"]) == 3


@pytest.mark.parametrize("offline_env", ["1", ""])
def test_a_hub_tokenizer_that_is_nowhere_fails_in_one_line(
    tmp_path: Path, empty_hub_cache: Path, offline_env: str
) -> None:
    """SigLIP's tokenizer is fetched from the hub: without it, one line that names the import.
    ``""``: HF_HUB_OFFLINE unset; the hub (HF_ENDPOINT) refuses connections at once."""
    env = {"HF_HUB_OFFLINE": offline_env, "TRANSFORMERS_OFFLINE": offline_env,
           "HF_ENDPOINT": closed_local_url()}  # fmt: skip
    args = ["--clip-model", "ViT-B-16-SigLIP", "--clip-pretrain", "none", "--backend", "torch"]
    done = run_cli("ingest", "-e", "clip", *args, "--device", "cpu", "demo",
                   data_dir=tmp_path / "offline", env=env)  # fmt: skip
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "tokenizer timm/ViT-B-16-SigLIP" in done.stderr
    assert "same-same models import" in done.stderr


def test_an_imported_tokenizer_serves_a_builtin_architecture(
    tmp_path: Path, empty_hub_cache: Path
) -> None:
    """``--clip-pretrain none`` for SigLIP finds the tokenizer a bundle installed (a generated
    word-level stand-in: only where it is looked for is tested)."""
    from same_same.embedders.clip.model_folders import models_dir
    from same_same.embedders.clip.tokenizers import load_clip_tokenizer, tokenizer_folder

    offline = tmp_path / "offline"
    write_tokenizer_files(tokenizer_folder(models_dir(offline), "timm/ViT-B-16-SigLIP"))
    choice = resolve_model_choice("ViT-B-16-SigLIP", "none", data_dir=offline)
    tokenizer = load_clip_tokenizer(choice, models_dir(offline))
    tokens = tokenizer(["a red circle"])
    assert tokens.shape == (1, 64)  # SigLIP's context length, from its config
    assert tokens[0, :5].tolist() == [2, 4, 5, 8, 3]


def test_pull_without_network_fails_in_one_line(tmp_path: Path, empty_hub_cache: Path) -> None:
    for offline_env in ("1", ""):
        env = {"HF_HUB_OFFLINE": offline_env, "HF_ENDPOINT": closed_local_url()}
        done = run_cli("models", "pull", "ViT-B-32", "openai", data_dir=tmp_path, env=env)
        assert done.returncode == 1
        lines = [line for line in done.stderr.splitlines() if not line.startswith("same-same:")]
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith("error: cannot pull ViT-B-32"), done.stderr
        assert "same-same models import" in lines[0]
        assert not (tmp_path / "models" / "ViT-B-32").exists()


def test_export_refuses_what_has_no_name_or_no_weights(tmp_path: Path) -> None:
    done = run_cli("models", "export", "ViT-B-32", "none", "-o", str(tmp_path / "b.tar"),
                   data_dir=tmp_path)  # fmt: skip
    assert done.returncode == 1 and "random weights" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "b.tar").exists()
    done = run_cli("models", "import", str(tmp_path / "nothing.tar"), data_dir=tmp_path)
    assert done.returncode == 1 and "no such bundle" in done.stderr


def test_exported_onnx_files_travel_with_the_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """Each machine keeps its own DATA_DIR/onnx here (the session's shared folder is unset)."""
    pytest.importorskip("onnxruntime", reason="needs the [onnx] extra")
    from same_same.embedders.clip.onnx_backend import ensure_exported, onnx_file
    from same_same.embedders.clip.runner import BackendSettings

    monkeypatch.delenv("SAME_SAME_ONNX_DIR", raising=False)
    online, offline = tmp_path / "online", tmp_path / "offline"
    ensure_exported(resolve_model_choice(TINY, None, data_dir=online), online / "onnx", "fp32")
    bundle = tmp_path / "tiny.tar"
    assert run_cli("models", "export", TINY, "-o", str(bundle), data_dir=online).returncode == 0
    with tarfile.open(bundle) as tar:
        assert {"onnx/fp32-image.onnx", "onnx/fp32-text.onnx"} <= set(tar.getnames())

    assert run_cli("models", "import", str(bundle), data_dir=offline).returncode == 0
    choice = resolve_model_choice(TINY, None, data_dir=offline)
    onnx_dir = BackendSettings(data_dir=offline).onnx_dir
    assert onnx_dir == offline / "onnx"
    for tower in ("image", "text"):
        assert onnx_file(choice, onnx_dir, "fp32", tower).is_file()
    capfd.readouterr()
    paths = [str(p) for p, _, _ in write_image_folder(tmp_path / "pics", 2, seed=3)]
    onnx = CLIPEmbedder(TINY, device="cpu", backend="onnx", data_dir=offline)
    reference = CLIPEmbedder(TINY, device="cpu", backend="torch", data_dir=online)
    np.testing.assert_allclose(
        onnx.embed_images(paths), reference.embed_images(paths), rtol=0, atol=1e-4
    )
    assert "exporting" not in capfd.readouterr().err  # the bundle's files were used


def test_a_pretrained_tag_is_bundled_with_what_its_weights_need(
    tmp_path: Path, empty_hub_cache: Path
) -> None:
    """ViT-B-32/openai from the Hugging Face cache (stand-in bytes: only the bundle's
    layout is tested): its config says QuickGELU and OpenAI's normalisation, which the
    tag implies but the architecture's config does not."""
    snapshot = empty_hub_cache / "models--timm--vit_base_patch32_clip_224.openai"
    (snapshot / "snapshots" / "c0ffee").mkdir(parents=True)
    (snapshot / "snapshots" / "c0ffee" / "open_clip_pytorch_model.bin").write_bytes(b"stand-in")
    (snapshot / "refs").mkdir()
    (snapshot / "refs" / "main").write_text("c0ffee")
    bundle = tmp_path / "vit.tar"
    done = run_cli("models", "export", "ViT-B-32", "openai", "-o", str(bundle), data_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    with tarfile.open(bundle) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        config = json.loads(tar.extractfile("model/open_clip_config.json").read())  # type: ignore[union-attr]
    assert (manifest["model"], manifest["pretrained"], manifest["embed_dim"]) == (
        "ViT-B-32", "openai", 512)  # fmt: skip
    paths = {entry["path"]: entry for entry in manifest["files"]}
    assert paths["model/open_clip_pytorch_model.bin"]["size"] == len(b"stand-in")
    assert config["model_cfg"]["quick_gelu"] is True
    assert config["preprocess_cfg"]["mean"] == [0.48145466, 0.4578275, 0.40821073]

    offline = tmp_path / "offline"
    assert run_cli("models", "import", str(bundle), data_dir=offline).returncode == 0
    choice = resolve_model_choice("ViT-B-32", "openai", data_dir=offline)
    assert choice.open_clip_name.startswith(LOCAL_DIR_PREFIX + str(offline.resolve()))
    assert (choice.model, choice.pretrained, choice.embed_dim) == ("ViT-B-32", "openai", 512)
