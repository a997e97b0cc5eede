"""Mixed precision is decided in one place: extraction, training and the result file agree."""

import warnings

import pytest
import torch

from visent import precision

CPU, CUDA = torch.device("cpu"), torch.device("cuda", 0)


@pytest.mark.parametrize(
    "amp, device, expected",
    [("auto", CPU, "fp32"), ("auto", CUDA, "bf16"), ("bf16", CPU, "bf16"), ("off", CUDA, "fp32"), ("off", CPU, "fp32")],
)
def test_auto_is_bf16_on_cuda_only_and_bf16_or_off_mean_it_everywhere(amp, device, expected):
    assert precision.name(amp, device) == expected


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="amp='fp16' is not one of"):
        precision.uses_bf16("fp16", CPU)


def test_bf16_on_a_cpu_that_emulates_it_warns_and_fp32_never_does(monkeypatch):
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    with pytest.warns(precision.PrecisionWarning, match="without bf16 instructions"):
        precision.check("bf16", CPU)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        precision.check("auto", CPU)


def test_the_autocast_context_follows_the_decision():
    with precision.autocast("bf16", CPU):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
    with precision.autocast("auto", CPU):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32
