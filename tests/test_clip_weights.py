"""Weights are looked up locally first; the network is only tried when it is there."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from same_same.embedders.clip.weights import can_reach, hub_weight_candidates, is_offline_mode


def test_probe_sees_a_listening_port_and_a_closed_one() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        assert can_reach(f"http://127.0.0.1:{port}")
    assert not can_reach(f"http://127.0.0.1:{port}", timeout=1.0)


def test_probe_goes_to_the_proxy_when_one_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as proxy:
        proxy.bind(("127.0.0.1", 0))
        proxy.listen(1)
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.getsockname()[1]}")
        # the hub itself is unresolvable here; through the proxy it would be reachable
        assert can_reach("https://hub.invalid")


@pytest.mark.parametrize(("value", "offline"), [("1", True), ("true", True), ("ON", True),
                                                 ("0", False), ("", False)])
def test_offline_switch(monkeypatch: pytest.MonkeyPatch, value: str, offline: bool) -> None:
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", value)
    assert is_offline_mode() is offline


def test_safetensors_twin_is_preferred() -> None:
    assert hub_weight_candidates("open_clip_pytorch_model.bin") == [
        "open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
    assert hub_weight_candidates("model.pth") == ["model.safetensors", "model.pth"]
    assert hub_weight_candidates("weights.npz") == ["weights.npz"]


def test_pretrained_tag_found_in_a_prefilled_cache(tmp_path: Path) -> None:
    """ViT-B-32/openai copied into the Hugging Face cache of an air-gapped machine is
    found without a request (the bytes are a stand-in; only the lookup is tested)."""
    cache = tmp_path / "hub"
    commit = "89abcdef0123456789abcdef0123456789abcdef"
    repo_dir = cache / "models--timm--vit_base_patch32_clip_224.openai"
    snapshot = repo_dir / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (snapshot / "open_clip_pytorch_model.bin").write_bytes(b"stand-in")
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(commit)
    code = (
        "import open_clip\n"
        "from same_same.embedders.clip.weights import locate_tag_weights\n"
        "cfg = open_clip.get_pretrained_cfg('ViT-B-32', 'openai')\n"
        "print(locate_tag_weights('ViT-B-32', 'openai', dict(cfg)))\n"
    )
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == snapshot / "open_clip_pytorch_model.bin"
