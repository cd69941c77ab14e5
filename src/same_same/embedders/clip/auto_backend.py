"""``--backend auto`` (the default): the fastest installed backend whose vectors agree with torch.

Once per model and machine, the probe set of ``agreement.py`` is embedded with torch
and with each ONNX backend; the measurements go to a JSON file beside the exported
models, so later processes only read it::

    ONNX_DIR/<model>-<weights fingerprint>-auto-<cpu|cuda>.json

A backend passes when its vectors agree with torch's (``Thresholds``): ``onnx`` at a
cosine of at least 0.9999 on every probe image and text, ``onnx-int8`` at 0.99 with
the same top-5 pictures for every probe text. Torch is the reference and always
passes. Each failure is told once on stderr, and auto falls back (onnx-int8, then
onnx, then torch).

Which passing backend is fastest follows a rule backed by bench/ingest.py's figures
for ViT-B-32 on CPU (10.6-12.3 images/s torch, 16.8 onnx, 33.1 onnx-int8): on a CPU,
``onnx-int8``, then ``onnx``, then torch. The rule keeps the choice the same from run
to run; the probe's timings are recorded and shown beside it. On CUDA torch runs in
fp16 and stays the choice unless onnxruntime has a CUDA provider and the probe
measured it faster; on MPS only torch runs.

A namespace's vectors keep one precision (``storage.writers``): for a namespace
written by fp32 backends auto picks the fastest passing fp32 one; for an int8 one,
``onnx-int8``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ...storage.writers import vector_precision
from .agreement import PROBE_SEED, BackendCheck, Thresholds, measure_agreement
from .names import ModelChoice
from .runner import BackendSettings

AUTO = "auto"
RECORD_FORMAT = 1
CPU_PREFERENCE = ("onnx-int8", "onnx", "torch")
"""Fastest first on a CPU (docs/performance-notes.md and bench/ingest.py have the figures)."""
_ONNX_BACKENDS = ("onnx", "onnx-int8")


@dataclass(frozen=True)
class AutoChoice:
    """What ``auto`` resolved to, and why, in words for stderr."""

    backend: str
    reason: str

    def describe(self) -> str:
        return f"clip: backend {self.backend} ({self.reason})"


@dataclass(frozen=True)
class AutoRecord:
    """The checks of one model on one kind of device, as kept in the JSON file."""

    device: str
    checks: dict[str, BackendCheck]
    versions: dict[str, str]
    seconds: float = 0.0
    created: str = ""
    thresholds: dict[str, Any] = field(default_factory=dict)


_said: set[tuple[str, ...]] = set()
_records: dict[Path, AutoRecord] = {}
_lock = threading.Lock()


def auto_device(requested: str) -> str:
    """The device ``auto`` runs on for ``--device requested``, importing torch only when a
    GPU may be there (no NVIDIA or ROCm device node and not macOS: a CPU)."""
    if requested == "cpu":
        return "cpu"
    if requested == AUTO and not _may_have_accelerator():
        return "cpu"
    from .device import resolve_device

    return resolve_device(requested)


def resolve_auto_backend(
    choice: ModelChoice,
    settings: BackendSettings,
    precision: str | None = None,
    thresholds: Thresholds | None = None,
) -> AutoChoice:
    """The backend ``auto`` runs ``choice`` with here; checks (and exports) once per model.

    ``precision``: ``fp32`` or ``int8`` to stay within a namespace's precision class.
    """
    thresholds = thresholds or Thresholds()
    device = auto_device(settings.device)
    if device.startswith("mps"):
        return _tell(AutoChoice("torch", "auto: only torch runs on mps"), choice, precision)
    onnx_installed = importlib.util.find_spec("onnxruntime") is not None
    if device.startswith("cuda") and not _onnx_has_cuda():
        reason = "auto: torch fp16 on cuda; onnxruntime has no CUDA provider"
        return _tell(AutoChoice("torch", reason), choice, precision)
    if precision == "int8":
        reason = "auto: the namespace holds int8 vectors"
        return _tell(AutoChoice("onnx-int8", reason), choice, precision)
    if not onnx_installed:
        reason = "auto: onnxruntime is not installed (pip install 'same-same[onnx]')"
        return _tell(AutoChoice("torch", reason), choice, precision)
    record = load_or_measure(choice, settings, device)
    return _tell(choose_backend(record, precision, thresholds), choice, precision)


def choose_backend(record: AutoRecord, precision: str | None, thresholds: Thresholds) -> AutoChoice:
    """The fastest passing backend of ``record`` within ``precision`` (None: any)."""
    torch_check = record.checks.get("torch")
    candidates = [name for name in _order(record) if name in record.checks or name == "torch"]
    if precision is not None:
        candidates = [name for name in candidates if vector_precision(name) == precision]
    failures: list[str] = []
    for name in candidates:
        if name == "torch":
            why = "; ".join(failures) if failures else "the fastest that passed"
            return AutoChoice("torch", f"auto: {why}")
        failure = record.checks[name].failure(thresholds)
        if failure is not None:
            failures.append(f"{name} failed its check: {failure}")
            _say_once(("failed", record.device, name, failure), f"not using {name}: {failure}")
            continue
        speed = _speedup(record.checks[name], torch_check)
        kind = "int8" if name == "onnx-int8" else "fp32"
        return AutoChoice(name, f"auto: passed the {kind} check{speed}")
    return AutoChoice("torch", "auto: " + ("; ".join(failures) or "torch is the reference"))


def load_or_measure(choice: ModelChoice, settings: BackendSettings, device: str) -> AutoRecord:
    """The recorded checks of ``choice`` on ``device``, measured (and written) when missing
    or made by other library versions."""
    path = record_file(choice, settings.onnx_dir, device)
    with _lock:
        record = _records.get(path) or read_record(path)
        if record is None or record.versions != library_versions():
            record = _measure(choice, settings, device, path)
        _records[path] = record
        return record


def record_file(choice: ModelChoice, onnx_dir: Path, device: str) -> Path:
    from .onnx_backend import weights_fingerprint

    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(choice.model.rstrip("/")).name or "model")[:60]
    kind = "cuda" if device.startswith("cuda") else "cpu"
    return onnx_dir / f"{slug}-{weights_fingerprint(choice)}-auto-{kind}.json"


def read_record(path: Path) -> AutoRecord | None:
    """The record in ``path``; None when it is missing, damaged or of another format."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != RECORD_FORMAT:
            return None
        checks = {name: BackendCheck(**check) for name, check in data["checks"].items()}
        return AutoRecord(
            device=str(data["device"]),
            checks=checks,
            versions={str(k): str(v) for k, v in data["versions"].items()},
            seconds=float(data.get("seconds", 0.0)),
            created=str(data.get("created", "")),
            thresholds=dict(data.get("thresholds", {})),
        )
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def write_record(path: Path, record: AutoRecord) -> None:
    """Write ``record`` atomically (several processes may measure at once; the last wins)."""
    data = {"format": RECORD_FORMAT, "probe_seed": PROBE_SEED, **asdict(record)}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
        ) as file:
            temporary = Path(file.name)
            json.dump(data, file, indent=1, sort_keys=True)
        os.replace(temporary, path)
    except OSError:  # a read-only data directory: measured again by the next process
        if "temporary" in locals():
            temporary.unlink(missing_ok=True)


def library_versions() -> dict[str, str]:
    """What the measurements depend on besides the weights (the fingerprint has those)."""
    versions = {}
    for name in ("same-same", "torch", "open_clip_torch", "onnxruntime", "onnx"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def forget_auto_records() -> None:
    """Drop the records read in this process and the messages said (tests)."""
    with _lock:
        _records.clear()
        _said.clear()


def _measure(choice: ModelChoice, settings: BackendSettings, device: str, path: Path) -> AutoRecord:
    started = time.monotonic()
    backends = list(_ONNX_BACKENDS) if device == "cpu" else ["onnx"]
    checks = measure_agreement(choice, settings, device, backends, progress=_say)
    record = AutoRecord(
        device=device,
        checks=checks,
        versions=library_versions(),
        seconds=round(time.monotonic() - started, 2),
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        thresholds=asdict(Thresholds()),
    )
    write_record(path, record)
    _say(f"clip: backend check done in {record.seconds:.0f} s, kept in {path}")
    return record


def _order(record: AutoRecord) -> list[str]:
    if record.device == "cpu":
        return list(CPU_PREFERENCE)
    measured = [name for name, check in record.checks.items() if check.seconds_per_image > 0]
    return sorted(set(measured) | {"torch"}, key=lambda name: _seconds(record, name))


def _seconds(record: AutoRecord, name: str) -> float:
    check = record.checks.get(name)
    return check.seconds_per_image if check is not None and check.seconds_per_image > 0 else 1e9


def _speedup(check: BackendCheck, torch_check: BackendCheck | None) -> str:
    if torch_check is None or check.seconds_per_image <= 0 or torch_check.seconds_per_image <= 0:
        return ""
    return f", {torch_check.seconds_per_image / check.seconds_per_image:.1f}x torch"


def _tell(chosen: AutoChoice, choice: ModelChoice, precision: str | None) -> AutoChoice:
    _say_once(("chosen", choice.describe(), str(precision), chosen.backend), chosen.describe())
    return chosen


def _onnx_has_cuda() -> bool:
    if importlib.util.find_spec("onnxruntime") is None:
        return False
    import onnxruntime as ort

    return "CUDAExecutionProvider" in ort.get_available_providers()


def _may_have_accelerator() -> bool:
    if sys.platform == "darwin":
        return True
    return any(Path(node).exists() for node in ("/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd"))


def _say_once(key: tuple[str, ...], text: str) -> None:
    if key not in _said:
        _said.add(key)
        _say(text)


def _say(text: str) -> None:
    # stderr is for people: which backend runs and why is worth one line per process
    print(f"same-same: {text}", file=sys.stderr, flush=True)
