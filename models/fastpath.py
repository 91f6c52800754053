"""Approximate fast paths (int8 engines) are checked on the machine that runs them.

Why: an int8 engine's answers depend on the CPU and the libraries, not only on the model.
On x86, CTranslate2 shifts activations to unsigned 8 bits and multiplies them with signed
8-bit weights (MKL's and oneDNN's u8s8 GEMM). CPUs with VNNI (or AMX) accumulate those
products straight into 32 bits; CPUs without it (an AMD EPYC with AVX2, say) use
``vpmaddubsw``, which adds each pair of products into a *saturating* 16-bit integer, so
a pair above 32,767 is clipped. ``models.ct2`` removes that cause (7-bit weights); this
module makes sure no cause goes unnoticed: before a fast path serves predictions on a
machine, a small probe set (saved with the checkpoint) is scored both ways there, the
first candidate within tolerance is kept, otherwise the exact path serves. The verdict is
cached per machine (CPU, instruction sets, library versions, backend switches) and model.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np

from models.checkpoints import artifacts_root, write_json_atomic

EXACT = "float32 (exact)"
PROBE_SIZE = 64
# The probe check's bar for classifiers: at most this share of probes (at least one) may
# change predicted class, and class probabilities may move this much on average (the mean
# over probes of the largest change). Measured on a fine-tuned MiniLM's 64 validation probes:
# CTranslate2 int8 changed 1 class, 0.012 on average; PyTorch int8 2 classes, 0.028.
MAX_CHANGED_SHARE = 0.05
MEAN_PROBABILITY_TOLERANCE = 0.05
# Environment switches that change which CPU kernels run, and so the numbers.
BACKEND_SWITCHES = ("CT2_USE_MKL", "CT2_FORCE_CPU_ISA", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA",
                    "MKL_ENABLE_INSTRUCTIONS", "MKL_CBWR", "ATEN_CPU_CAPABILITY")
_LIBRARIES = ("torch", "ctranslate2", "numpy", "transformers")
_ISA_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "asimddp", "i8mm")


class FastPathUnavailableError(RuntimeError):
    """A candidate cannot be built here (library missing, conversion refused): skip it."""


@dataclass(frozen=True)
class Check:
    """One fast path scored against the exact path on this machine's probe set."""

    path: str
    passed: bool
    probes: int
    agreement: float  # share of probes with the same answer (top class, or the same text)
    deviation: float  # how far the fast outputs are from the exact ones, in the unit of ``tolerance``
    tolerance: str  # the bar, in words
    seconds: float = 0.0
    cached: bool = False


@dataclass(frozen=True)
class Scoring:
    """Which path serves predictions on this machine, and the checks that chose it."""

    used: str
    checks: tuple[Check, ...]
    machine: str
    machine_id: str

    @property
    def fast(self) -> bool:
        return self.used != EXACT

    def summary(self) -> str:
        """One line for a page caption or a log."""
        if not self.checks:
            return f"Scoring: {self.used}."
        last = self.checks[-1]
        if self.fast:
            return (f"Scoring: {self.used}, checked on this machine against {EXACT} ({last.probes} probes, "
                    f"{last.agreement:.0%} same answer, deviation {last.deviation:.3g}; {last.tolerance}).")
        failed = "; ".join(f"{c.path}: deviation {c.deviation:.3g}, {c.agreement:.0%} same answer" for c in self.checks)
        return (f"Scoring: {EXACT}. The fast path disagreed with it on this machine ({failed}; "
                f"{last.tolerance}), so exact scoring is used.")

    def short(self) -> str:
        """A few words for a sidebar caption (``summary`` has the numbers)."""
        if self.fast:
            return f"Scoring: {self.used}, checked on this machine."
        return f"Scoring: {EXACT}: the int8 fast path disagreed with it on this machine."

    def as_dict(self) -> dict[str, Any]:
        return {"used": self.used, "fast": self.fast, "machine": self.machine, "machine_id": self.machine_id,
                "checks": [asdict(c) for c in self.checks]}


@dataclass(frozen=True)
class Candidate:
    """A fast path to try: its name and how to score the probe set both ways."""

    path: str
    check: Callable[[], Check]


def choose(model_id: str | None, candidates: Sequence[Candidate]) -> Scoring:
    """The first candidate whose check passes on this machine, else the exact path.
    Verdicts are read from and written to the per-machine cache when ``model_id`` names
    the model (a checkpoint folder, a bundled package); an in-memory model is checked
    every time it is asked."""
    checks: list[Check] = []
    used = EXACT
    for candidate in candidates:
        check = _cached(model_id, candidate.path)
        if check is None:
            try:
                check = timed(candidate.check)
            except FastPathUnavailableError:
                continue
            if model_id is not None:
                _store(model_id, check)
        checks.append(check)
        if check.passed:
            used = candidate.path
            break
    return Scoring(used, tuple(checks), describe_machine(), machine_id())


def compare_probabilities(path: str, exact: np.ndarray, fast: np.ndarray) -> Check:
    """Class probabilities (probes x classes) of a fast path against the exact ones."""
    if exact.shape != fast.shape or exact.size == 0:
        raise ValueError(f"probe outputs do not match: {exact.shape} vs {fast.shape}")
    changed = int(np.sum(exact.argmax(1) != fast.argmax(1)))
    deviation = float(np.abs(exact - fast).max(axis=1).mean())
    allowed = max(1, int(MAX_CHANGED_SHARE * len(exact)))
    passed = changed <= allowed and deviation <= MEAN_PROBABILITY_TOLERANCE
    return Check(path, passed, len(exact), 1.0 - changed / len(exact), deviation,
                 f"at most {MAX_CHANGED_SHARE:.0%} of probes (at least 1) may change class and class probabilities "
                 f"move {MEAN_PROBABILITY_TOLERANCE} or less on average")


def timed(fn: Callable[[], Check]) -> Check:
    started = time.perf_counter()
    check = fn()
    return Check(**{**asdict(check), "seconds": round(time.perf_counter() - started, 3)})


def probe_subset(texts: Sequence[str], size: int = PROBE_SIZE) -> list[str]:
    """``size`` texts spread evenly over the length range (short and long inputs exercise
    different kernels and padding), deterministic for the same input."""
    unique = sorted(set(t for t in texts if t.strip()), key=lambda t: (len(t), t))
    if len(unique) <= size:
        return unique
    picks = np.linspace(0, len(unique) - 1, size).round().astype(int)
    return [unique[i] for i in picks]


PROBE_FILE = "probe.json"


def write_probe(texts: Sequence[str], folder: Path) -> None:
    """Save a checkpoint's probe inputs beside its weights (a ``BundleWriter`` extra)."""
    (folder / PROBE_FILE).write_text(json.dumps({"texts": list(texts)}, ensure_ascii=False), encoding="utf-8")


def read_probe(folder: Path) -> list[str]:
    """A checkpoint's probe inputs; empty for one saved before probe sets existed."""
    path = folder / PROBE_FILE
    if not path.is_file():
        return []
    return [str(t) for t in json.loads(path.read_text(encoding="utf-8")).get("texts", [])]


# ---- the machine -------------------------------------------------------------------------------


@cache
def _cpuinfo() -> tuple[str, str, frozenset[str]]:
    """(vendor, model name, flags) from /proc/cpuinfo; generic values elsewhere."""
    vendor, model, flags = platform.processor() or "unknown", platform.machine(), frozenset[str]()
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return vendor, model, flags
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            break  # the first processor is enough
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    flags = frozenset((fields.get("flags") or fields.get("Features") or "").split())
    return fields.get("vendor_id", vendor), fields.get("model name", model), flags


def int8_dot_product() -> bool:
    """Whether this CPU multiplies unsigned by signed 8-bit values into 32-bit sums without
    16-bit saturation (x86: VNNI or AMX; Arm's int8 kernels never saturate). An environment
    switch that caps MKL or oneDNN below VNNI counts as not having it."""
    if platform.machine().lower() in ("arm64", "aarch64"):
        return True
    _, _, flags = _cpuinfo()
    if not flags & {"avx512_vnni", "avx_vnni", "amx_int8"}:
        return False
    for switch in ("MKL_ENABLE_INSTRUCTIONS", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"):
        cap = os.environ.get(switch, "").upper()
        if cap and cap != "ALL" and not any(tag in cap for tag in ("VNNI", "AMX", "_E1", "_E2", "_E3", "_E4", "_E5")):
            return False
    return True


def ct2_int8_backend() -> str:
    """The GEMM library CTranslate2 uses for int8 on this CPU, by its own rule: MKL on
    Intel CPUs unless ``CT2_USE_MKL`` says otherwise, else oneDNN (Ruy on Arm)."""
    if platform.machine().lower() in ("arm64", "aarch64"):
        return "Ruy"
    switch = os.environ.get("CT2_USE_MKL", "").strip().lower()
    if switch:
        return "MKL" if switch in ("1", "true", "yes", "on") else "oneDNN"
    return "MKL" if _cpuinfo()[0] == "GenuineIntel" else "oneDNN"


def machine_profile() -> dict[str, Any]:
    """What decides an int8 engine's numbers here."""
    vendor, model, flags = _cpuinfo()
    libraries = {}
    for name in _LIBRARIES:
        try:
            libraries[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return {"arch": platform.machine(), "cpu_vendor": vendor, "cpu_model": model,
            "isa": sorted(flags & set(_ISA_FLAGS)), "int8_dot_product": int8_dot_product(),
            "ct2_int8_backend": ct2_int8_backend(), "libraries": libraries,
            "switches": {k: os.environ[k] for k in BACKEND_SWITCHES if k in os.environ}}


def machine_id() -> str:
    return hashlib.sha256(json.dumps(machine_profile(), sort_keys=True).encode()).hexdigest()[:12]


def describe_machine() -> str:
    profile = machine_profile()
    dot = "int8 dot product" if profile["int8_dot_product"] else "no int8 dot product (16-bit pair sums)"
    switches = ", ".join(f"{k}={v}" for k, v in profile["switches"].items())
    return (f"{profile['cpu_vendor']} {profile['cpu_model']}; {dot}; CTranslate2 int8 on "
            f"{profile['ct2_int8_backend']}" + (f"; {switches}" if switches else ""))


# ---- the verdict cache -------------------------------------------------------------------------


def _cache_file(model_id: str, path: str) -> Path:
    digest = hashlib.sha256(f"{model_id}|{path}".encode()).hexdigest()[:20]
    return artifacts_root() / "fastpath" / machine_id() / f"{digest}.json"


def _cached(model_id: str | None, path: str) -> Check | None:
    if model_id is None:
        return None
    try:
        record = json.loads(_cache_file(model_id, path).read_text(encoding="utf-8"))
        return Check(**{**record["check"], "cached": True})
    except (OSError, ValueError, KeyError, TypeError):
        return None  # absent or unreadable: check again


def _store(model_id: str, check: Check) -> None:
    record = {"model": model_id, "machine": machine_profile(), "checked": datetime.now(UTC).isoformat(),
              "check": asdict(check)}
    with contextlib.suppress(OSError):  # a read-only artifacts folder only costs a re-check next time
        write_json_atomic(_cache_file(model_id, check.path), record)
