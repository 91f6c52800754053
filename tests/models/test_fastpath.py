"""Fast paths are checked where they run: the first candidate within tolerance is used,
verdicts are cached per machine and model, and a machine without an int8 dot product is
recognised (also when an environment switch caps the kernels)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from models import fastpath
from models.fastpath import EXACT, Candidate, Check, FastPathUnavailableError, choose


def _check(path: str, passed: bool, calls: list[str]) -> Check:
    calls.append(path)
    return Check(path, passed, 8, 1.0 if passed else 0.25, 0.001 if passed else 0.4, "test bar")


def test_first_passing_candidate_is_used_and_verdicts_are_cached(_isolated: Path) -> None:
    calls: list[str] = []
    candidates = [Candidate("fast-a", lambda: _check("fast-a", False, calls)),
                  Candidate("fast-b", lambda: _check("fast-b", True, calls)),
                  Candidate("fast-c", lambda: _check("fast-c", True, calls))]
    first = choose("model-1", candidates)
    assert first.used == "fast-b" and first.fast and calls == ["fast-a", "fast-b"]  # fast-c never needed
    assert [c.passed for c in first.checks] == [False, True] and not any(c.cached for c in first.checks)
    again = choose("model-1", candidates)
    assert again.used == "fast-b" and calls == ["fast-a", "fast-b"]  # read from the cache, not re-run
    assert all(c.cached for c in again.checks)
    files = list((_isolated / "fastpath" / fastpath.machine_id()).glob("*.json"))
    assert len(files) == 2 and json.loads(files[0].read_text())["machine"] == fastpath.machine_profile()
    choose("model-2", candidates)  # another model is checked for itself
    assert calls[2:] == ["fast-a", "fast-b"]
    choose(None, candidates)  # an in-memory model is never cached
    choose(None, candidates)
    assert len(calls) == 8


def test_no_candidate_within_tolerance_means_exact_and_says_why(_isolated: Path) -> None:
    def unavailable() -> Check:
        raise FastPathUnavailableError("library missing")

    calls: list[str] = []
    scoring = choose("model", [Candidate("gone", unavailable), Candidate("int8", lambda: _check("int8", False, calls))])
    assert scoring.used == EXACT and not scoring.fast
    assert [c.path for c in scoring.checks] == ["int8"]  # the unbuildable one is skipped, not failed
    assert "disagreed" in scoring.short() and "int8: deviation 0.4" in scoring.summary()
    payload = scoring.as_dict()
    assert payload["fast"] is False and payload["used"] == EXACT and payload["checks"][0]["passed"] is False
    json.dumps(payload)  # the CLI prints it as JSON


def test_machine_id_follows_backend_switches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CT2_USE_MKL", raising=False)
    default = fastpath.machine_id()
    monkeypatch.setenv("CT2_USE_MKL", "0")
    assert fastpath.machine_id() != default and fastpath.ct2_int8_backend() == "oneDNN"
    assert "CT2_USE_MKL=0" in fastpath.describe_machine()
    monkeypatch.setenv("CT2_USE_MKL", "1")
    assert fastpath.ct2_int8_backend() == "MKL"


@pytest.mark.parametrize(("flags", "switches", "expected"), [
    ({"avx2", "avx512f", "avx512_vnni"}, {}, True),
    ({"avx2", "avx_vnni"}, {}, True),
    ({"avx2"}, {}, False),  # e.g. AMD EPYC Zen 2/3: pairs of products are summed in saturating 16 bits
    ({"avx2", "avx512f"}, {}, False),
    ({"avx2", "avx512_vnni"}, {"ONEDNN_MAX_CPU_ISA": "AVX2"}, False),
    ({"avx2", "avx512_vnni"}, {"MKL_ENABLE_INSTRUCTIONS": "AVX512"}, False),
    ({"avx2", "avx512_vnni"}, {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_VNNI"}, True),
    ({"avx2", "avx512_vnni"}, {"MKL_ENABLE_INSTRUCTIONS": "AVX512_E1"}, True),
])
def test_int8_dot_product_detection(monkeypatch: pytest.MonkeyPatch, flags: set[str], switches: dict[str, str],
                                    expected: bool) -> None:
    monkeypatch.setattr(fastpath.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(fastpath, "_cpuinfo", lambda: ("GenuineIntel", "test CPU", frozenset(flags)))
    for name in ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in switches.items():
        monkeypatch.setenv(name, value)
    assert fastpath.int8_dot_product() is expected


def test_probability_tolerance_allows_noise_not_a_broken_kernel() -> None:
    rng = np.random.default_rng(0)
    p1 = rng.uniform(0.02, 0.98, size=40)
    exact = np.stack([1 - p1, p1], axis=1)
    p1[np.argmin(np.abs(p1 - 0.5))] = 1 - p1[np.argmin(np.abs(p1 - 0.5))]  # the nearest tie flips
    noisy = np.clip(np.stack([1 - p1, p1], axis=1) + rng.normal(0, 0.01, size=(40, 1)) * [1, -1], 0, 1)
    check = fastpath.compare_probabilities("int8", exact, noisy)
    assert check.passed and check.agreement == pytest.approx(39 / 40) and check.deviation < 0.05
    flips = exact.copy()
    flips[:3] = flips[:3, ::-1]  # three of 40 predictions change: more than 5% (2)
    assert not fastpath.compare_probabilities("int8", exact, flips).passed
    drift = np.clip(exact + np.array([0.08, -0.08]), 0, 1)  # no flips, but every probability moved 0.08
    assert not fastpath.compare_probabilities("int8", exact, drift).passed
    with pytest.raises(ValueError, match="do not match"):
        fastpath.compare_probabilities("int8", exact, exact[:2])


def test_probe_subset_spreads_over_lengths() -> None:
    texts = [("word " * n).strip() for n in range(1, 201)] + ["", "  "]
    probe = fastpath.probe_subset(texts, 10)
    assert len(probe) == 10 and probe[0] == "word" and probe[-1] == ("word " * 200).strip()
    assert probe == fastpath.probe_subset(list(reversed(texts)), 10)  # the order of the input does not matter
    assert fastpath.probe_subset(["b", "a", "a"], 10) == ["a", "b"]
