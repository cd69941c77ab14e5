"""Finding CLIP weights on disk, downloading them only when the network is really there.

open_clip downloads weights through huggingface_hub, which retries a failed
connection five times with backoff: on a machine without network a plain
``create_model("ViT-B-32", "openai")`` takes most of a minute to fail. Here the local
caches are looked at first, then ``HF_HUB_OFFLINE`` is honoured, then one short TCP
probe decides; only a reachable host gets the real download. An unavailable model
fails in seconds, in one line that says how to point at local files instead.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ...errors import ModelUnavailableError
from ...transfers import ByteProgress, hub_tqdm_class

OFFLINE_ENV_VARS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
PROXY_ENV_VARS = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")
PROBE_TIMEOUT_S = 3.0
# open_clip's defaults for hub repos without an explicit file name
HUB_WEIGHTS_NAME = "open_clip_pytorch_model.bin"
HUB_SAFE_WEIGHTS_NAME = "open_clip_model.safetensors"
HUB_CONFIG_NAME = "open_clip_config.json"

LOCAL_FILES_HINT = (
    "download the weights on a connected machine and pass --clip-pretrain /path/to/weights "
    "(.pt, .bin or .safetensors; or set SAME_SAME_CLIP_PRETRAIN), with --clip-model naming "
    "the architecture or an open_clip config .json (SAME_SAME_CLIP_MODEL)"
)


def is_offline_mode() -> bool:
    """True when the user asked huggingface_hub to stay offline."""
    return any(
        os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on")
        for var in OFFLINE_ENV_VARS
    )


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co")


def can_reach(url: str, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to ``url``'s host (or the configured proxy) opens in time.

    Runs in a daemon thread because name resolution has no timeout of its own.
    """
    host, port = _probe_address(url)
    outcome: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                outcome.append(True)
        except OSError:
            outcome.append(False)

    thread = threading.Thread(target=probe, daemon=True, name="same-same-network-probe")
    thread.start()
    thread.join(timeout + 1.0)
    return bool(outcome and outcome[0])


def require_network(url: str, what: str) -> None:
    """Raise ModelUnavailableError unless ``url`` can be downloaded from right now."""
    if is_offline_mode():
        reason = "HF_HUB_OFFLINE is set"
    elif not can_reach(url):
        reason = f"{_host_of(url)} cannot be reached"
    else:
        return
    raise ModelUnavailableError(
        f"cannot load CLIP {what}: not in the local cache and {reason}", hint=LOCAL_FILES_HINT
    )


def find_cached_hub_file(repo_id: str, filenames: Sequence[str]) -> str | None:
    """The first of ``filenames`` already in the Hugging Face cache, without any request."""
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        return None
    for filename in filenames:
        try:
            return str(hf_hub_download(repo_id=repo_id, filename=filename, local_files_only=True))
        except Exception:  # noqa: BLE001 - any failure here only means "not cached"
            continue
    return None


def fetch_hub_file(
    repo_id: str, filenames: Sequence[str], what: str, progress: ByteProgress | None = None
) -> str:
    """The first of ``filenames`` that the repo has: from the cache, else downloaded
    (its bytes reported to ``progress`` when given; else huggingface_hub draws its bar)."""
    cached = find_cached_hub_file(repo_id, filenames)
    if cached:
        return cached
    require_network(hub_endpoint(), what)
    try:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import EntryNotFoundError
    except ImportError as exc:
        raise ModelUnavailableError(
            f"cannot load CLIP {what}: huggingface_hub is not installed", hint=LOCAL_FILES_HINT
        ) from exc
    for filename in filenames:
        try:
            bar = hub_tqdm_class(progress, f"downloading {filename}") if progress else None
            return str(hf_hub_download(repo_id=repo_id, filename=filename, tqdm_class=bar))
        except EntryNotFoundError:
            continue
        except Exception as exc:  # noqa: BLE001 - translated into one line for the user
            raise ModelUnavailableError(
                f"cannot download CLIP {what} from {repo_id}: {first_line(exc)}",
                hint=LOCAL_FILES_HINT,
            ) from exc
    raise ModelUnavailableError(
        f"cannot load CLIP {what}: {repo_id} has none of {', '.join(filenames)}",
        hint=LOCAL_FILES_HINT,
    )


def locate_tag_weights(
    model_name: str, tag: str, tag_cfg: dict[str, Any], progress: ByteProgress | None = None
) -> str:
    """A local file with the weights of ``model_name``/``tag``, downloading if need be
    (a hub download's bytes reported to ``progress`` when given)."""
    what = f"weights {model_name}/{tag}"
    if tag_cfg.get("file"):
        return str(tag_cfg["file"])
    hub = str(tag_cfg.get("hf_hub") or "")
    url = str(tag_cfg.get("url") or "")
    candidates: list[str] = []
    if hub:
        # open_clip's convention: "org/repo/file.bin", or "org/repo/" for its default file
        repo_id, filename = os.path.split(hub)
        candidates = hub_weight_candidates(filename or HUB_WEIGHTS_NAME)
        cached = find_cached_hub_file(repo_id, candidates)
        if cached:
            return cached
    if url and (Path("~/.cache/clip").expanduser() / os.path.basename(url)).is_file():
        # open_clip's URL cache (older downloads): checked against its checksum, no request
        return _download_with_open_clip({"url": url}, what)
    if hub:
        # the files open_clip would fetch (safetensors first), through a download we report
        return fetch_hub_file(repo_id, candidates, what, progress)
    require_network(url, what)
    return _download_with_open_clip(tag_cfg, what)


def hub_weight_candidates(filename: str) -> list[str]:
    """open_clip prefers a safetensors twin of a pickled checkpoint; so do we."""
    candidates = []
    if filename == HUB_WEIGHTS_NAME:
        candidates.append(HUB_SAFE_WEIGHTS_NAME)
    elif filename.endswith((".bin", ".pth")):
        candidates.append(filename[:-4] + ".safetensors")
    candidates.append(filename)
    return candidates


def first_line(error: BaseException, limit: int = 300) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _download_with_open_clip(tag_cfg: dict[str, Any], what: str) -> str:
    from open_clip.pretrained import download_pretrained

    try:
        path = download_pretrained(tag_cfg)
    except Exception as exc:  # noqa: BLE001 - translated into one line for the user
        raise ModelUnavailableError(
            f"cannot download CLIP {what}: {first_line(exc)}", hint=LOCAL_FILES_HINT
        ) from exc
    if not path:
        raise ModelUnavailableError(f"open_clip has no download for CLIP {what}")
    return str(path)


def _probe_address(url: str) -> tuple[str, int]:
    for var in PROXY_ENV_VARS:
        proxy = os.environ.get(var)
        if proxy:
            url = proxy if "://" in proxy else f"http://{proxy}"
            break
    parsed = urlparse(url)
    default_port = 443 if parsed.scheme == "https" else 80
    return parsed.hostname or url, parsed.port or default_port


def _host_of(url: str) -> str:
    return urlparse(url).hostname or url
