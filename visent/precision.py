"""Mixed precision, decided in one place for extraction, training and evaluation.

``--amp auto`` (the default) computes in bf16 where the hardware does so natively: on CUDA, and on
CPUs with AVX-512 BF16 or AMX instructions, where VGG-16 runs about twice as fast in bf16 as in
fp32. Elsewhere, e.g. on AVX2 CPUs, torch emulates bf16 several times slower than fp32, so auto
stays fp32 there and :func:`check` warns when ``--amp bf16`` asks for it. ``--amp off`` is fp32
everywhere. Cache manifests and result files record what was used (``"fp32"`` or ``"bf16"``), and
``visent reproduce`` reruns a result at the precision its file records (:func:`mode_for`).
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import torch

#: ``--amp`` mode -> kind of device (:func:`device_kind`) -> the precision it computes in.
DECISIONS: dict[str, dict[str, str]] = {
    "auto": {"cuda": "bf16", "cpu-native-bf16": "bf16", "cpu": "fp32", "other": "fp32"},
    "off": {"cuda": "fp32", "cpu-native-bf16": "fp32", "cpu": "fp32", "other": "fp32"},
    "bf16": {"cuda": "bf16", "cpu-native-bf16": "bf16", "cpu": "bf16", "other": "bf16"},
}
AMP_MODES = tuple(DECISIONS)

#: The CPU instruction sets that compute bf16 natively: torch's probe of each (cpuinfo, on any OS)
#: and, for a torch without that probe, the flag Linux lists in /proc/cpuinfo.
NATIVE_BF16: dict[str, tuple[str, str]] = {
    "AMX": ("_is_amx_tile_supported", "amx_bf16"),
    "AVX-512 BF16": ("_is_avx512_bf16_supported", "avx512_bf16"),
}

CPUINFO = Path("/proc/cpuinfo")


class PrecisionWarning(UserWarning):
    """bf16 was asked for on hardware that only emulates it."""


def _cpu_flags() -> set[str]:
    """The CPU flags of /proc/cpuinfo (empty where there is none: macOS, Windows)."""
    try:
        text = CPUINFO.read_text()
    except OSError:
        return set()
    line = next((line for line in text.splitlines() if line.startswith("flags")), "")
    return set(line.partition(":")[2].split())


@functools.cache
def native_bf16() -> tuple[str, ...]:
    """The bf16 instruction sets of this CPU (``NATIVE_BF16``'s names), empty without any. Only
    where torch's kernels use AVX-512 (``get_cpu_capability()``): ``ATEN_CPU_CAPABILITY=avx2``, or
    a CPU without AVX-512, means none."""
    if not torch.backends.cpu.get_cpu_capability().startswith("AVX512"):
        return ()
    flags = _cpu_flags()
    found = []
    for name, (probe, flag) in NATIVE_BF16.items():
        asks_torch = getattr(torch.cpu, probe, None)
        if asks_torch() if callable(asks_torch) else flag in flags:
            found.append(name)
    return tuple(found)


def device_kind(device: torch.device) -> str:
    """``"cuda"``, ``"cpu-native-bf16"``, ``"cpu"`` or ``"other"``: the columns of ``DECISIONS``."""
    if device.type == "cpu":
        return "cpu-native-bf16" if native_bf16() else "cpu"
    return device.type if device.type == "cuda" else "other"


def name(amp: str, device: torch.device) -> str:
    """``"bf16"`` or ``"fp32"``: what ``amp`` computes in on ``device``, as result files and cache
    manifests record it."""
    if amp not in DECISIONS:
        raise ValueError(f"amp={amp!r} is not one of {AMP_MODES}")
    return DECISIONS[amp][device_kind(device)]


def uses_bf16(amp: str, device: torch.device) -> bool:
    """Whether ``amp`` means bf16 autocast on ``device``."""
    return name(amp, device) == "bf16"


def mode_for(recorded: str) -> str:
    """The ``--amp`` mode that computes in ``recorded`` (``"fp32"`` or ``"bf16"``) on every device."""
    modes = [amp for amp, by_kind in DECISIONS.items() if set(by_kind.values()) == {recorded}]
    if not modes:
        raise ValueError(f"precision {recorded!r} is not one of {sorted(set(DECISIONS['auto'].values()))}")
    return modes[0]


def autocast(amp: str, device: torch.device) -> torch.autocast:
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=uses_bf16(amp, device))


def describe(amp: str, device: torch.device) -> str:
    """One line saying which precision ``amp`` gives on ``device`` and why (printed once per command)."""
    chosen, kind = name(amp, device), device_kind(device)
    if amp != "auto":
        why = f"--amp {amp}"
    elif kind == "cpu-native-bf16":
        why = f"--amp auto on a CPU with native bf16 ({', '.join(native_bf16())})"
    elif kind == "cpu":
        why = (
            f"--amp auto on a CPU without native bf16 (torch: {torch.backends.cpu.get_cpu_capability()}, "
            "no AVX-512 BF16 or AMX), where bf16 would be emulated"
        )
    else:
        why = f"--amp auto on {device.type}"
    return f"precision: {chosen} ({why})"


def check(amp: str, device: torch.device) -> None:
    """Warn when bf16 runs on a CPU that has no bf16 instructions."""
    if uses_bf16(amp, device) and device_kind(device) == "cpu":
        warnings.warn(
            "--amp bf16 on a CPU without bf16 instructions (no AVX-512 BF16 or AMX): torch emulates it, "
            "several times slower than fp32; use --amp auto (fp32 on this CPU)",
            PrecisionWarning,
            stacklevel=2,
        )
