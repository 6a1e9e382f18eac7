import pytest
import torch

from explorer.device import DEVICE_ENV, describe, pick_device, serving_layout
from explorer.models.classifier import Classifier, ClassifierConfig
from explorer.models import cnf as cnf_module
from explorer.models.cnf import CNF, CNFConfig


def test_auto_picks_the_best_present():
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert pick_device().type == expected


def test_environment_overrides(monkeypatch):
    monkeypatch.setenv(DEVICE_ENV, "cpu")
    assert pick_device() == torch.device("cpu")
    assert describe(pick_device()).startswith("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present here")
def test_unavailable_cuda_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(DEVICE_ENV, "cuda")
    with pytest.raises(ValueError, match="CUDA is not available"):
        pick_device()


def test_served_on_the_cpu_the_weights_are_channels_last_and_the_outputs_the_same():
    torch.manual_seed(0)
    model = Classifier(ClassifierConfig(channels=(4, 8), hidden=16)).eval()
    x = torch.rand(8, 1, 28, 28)
    with torch.no_grad():
        before = model(x)
        serving_layout(model, torch.device("cuda"))  # unchanged where not measured
        assert model.body[0][0].weight.is_contiguous()
        serving_layout(model, torch.device("cpu"))
        assert model.body[0][0].weight.is_contiguous(memory_format=torch.channels_last)
        assert torch.allclose(model(x), before, atol=1e-5)


@pytest.mark.parametrize("native_bf16", [True, False])
def test_the_continuous_flow_is_channels_last_only_where_it_solves_in_float32(native_bf16, monkeypatch):
    monkeypatch.setattr(cnf_module, "fast_bf16", lambda device: native_bf16)
    model = CNF(CNFConfig(channels=8, blocks=1)).eval()
    serving_layout(model, torch.device("cpu"))
    weight = model.velocity.inp.weight
    assert weight.is_contiguous() is native_bf16  # its bf16 group norms run at half the speed channels-last
    assert weight.is_contiguous(memory_format=torch.channels_last) is not native_bf16
