"""Mixed precision, decided in one place for extraction, training and evaluation.

``--amp auto`` (the default) is bf16 autocast on CUDA and fp32 on the CPU, so CPU results stay
fp32 and reproducible on any CPU; ``--amp bf16`` asks for bf16 everywhere, and ``--amp off`` for
fp32 everywhere. A CPU without native bf16 (no AVX-512 BF16 or AMX) emulates it at a fraction of
the fp32 speed, which :func:`check` warns about.
"""

from __future__ import annotations

import warnings

import torch

AMP_MODES = ("auto", "off", "bf16")


class PrecisionWarning(UserWarning):
    """bf16 was asked for on hardware that only emulates it."""


def uses_bf16(amp: str, device: torch.device) -> bool:
    """Whether ``amp`` means bf16 autocast on ``device``."""
    if amp not in AMP_MODES:
        raise ValueError(f"amp={amp!r} is not one of {AMP_MODES}")
    return amp == "bf16" or (amp == "auto" and device.type == "cuda")


def name(amp: str, device: torch.device) -> str:
    """``"bf16"`` or ``"fp32"``: what result files and cache manifests record."""
    return "bf16" if uses_bf16(amp, device) else "fp32"


def autocast(amp: str, device: torch.device) -> torch.autocast:
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=uses_bf16(amp, device))


def check(amp: str, device: torch.device) -> None:
    """Warn when bf16 runs on a CPU that has no bf16 instructions."""
    if uses_bf16(amp, device) and device.type == "cpu" and not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        warnings.warn(
            "--amp bf16 on a CPU without bf16 instructions (no AVX-512 BF16 or AMX): torch emulates it, "
            "several times slower than fp32; use --amp auto (fp32 on the CPU)",
            PrecisionWarning,
            stacklevel=2,
        )
