import pytest
import torch

from models.device import DeviceUnavailableError, describe_device, pick_device
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
    (attr,) = integrated_gradients(lambda v: net(v).squeeze(1), [x], [base], steps=128)
    gap = (net(x) - net(base)).squeeze(1).detach()
    assert torch.allclose(attr.sum(dim=1), gap, atol=1e-3)


def test_hub_resolution(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve(tmp_path).local
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelSourceError, match="HF_HUB_OFFLINE"):
        resolve("distilbert-base-uncased")
    with pytest.raises(ModelSourceError, match="not found"):
        resolve("./missing/folder")
