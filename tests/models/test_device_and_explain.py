import threading

import pytest
import torch

from models.device import DeviceUnavailableError, cpu_map, describe_device, pick_device
from models.explain import integrated_gradients
from models.hub import ModelSourceError, resolve


def test_device_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOMAINLENS_DEVICE", "cpu")
    assert pick_device() == torch.device("cpu")
    assert pick_device("cpu").type == "cpu"
    assert "cpu" in describe_device(torch.device("cpu"))
    if not torch.cuda.is_available():
        with pytest.raises(DeviceUnavailableError, match="--device cpu"):
            pick_device("cuda")


def test_integrated_gradients_completeness() -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    x = torch.randn(4, 5)
    base = torch.zeros_like(x)
    (attr,), reported = integrated_gradients(lambda v: net(v).squeeze(1), [x], [base], steps=128)
    gap = (net(x) - net(base)).squeeze(1).detach()
    assert torch.allclose(attr.sum(dim=1), gap, atol=1e-3)
    assert torch.allclose(reported, attr.sum(dim=1) - gap, atol=1e-4)  # the gap it reports is the real one


def test_hub_resolution(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve(tmp_path).local
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelSourceError, match="HF_HUB_OFFLINE"):
        resolve("distilbert-base-uncased")
    with pytest.raises(ModelSourceError, match="not found"):
        resolve("./missing/folder")


def test_cpu_map_keeps_order_and_leaves_the_callers_threads_alone() -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        seen: list[tuple[str, int]] = []

        def work(x: int) -> int:
            seen.append((threading.current_thread().name, torch.get_num_threads()))
            return x * x

        assert cpu_map(work, list(range(20))) == [x * x for x in range(20)]
        assert torch.get_num_threads() == 2  # the workers' single-thread setting stays in the workers
        assert all(name.startswith("domainlens-cpu") and threads == 1 for name, threads in seen)
        seen.clear()
        assert cpu_map(work, [3]) == [9]  # one item runs inline, with the caller's threads
        assert seen == [(threading.current_thread().name, 2)]
    finally:
        torch.set_num_threads(before)


def test_cpu_map_raises_the_workers_error() -> None:
    def fail(x: int) -> int:
        raise ValueError(f"bad item {x}")

    with pytest.raises(ValueError, match="bad item"):
        cpu_map(fail, [1, 2, 3])
