"""(a) and (e) at both precisions: ``--amp off`` (fp32) beside ``--amp auto``, which is bf16 on a
CPU with native bf16 (AVX-512 BF16 or AMX) and fp32 on any other.

Extraction is the product's own ``extract_features`` (what ``visent extract`` runs) on the same JPEG
files as a ``folders`` dataset, into a fresh cache each time; its rate is the extraction's own
timing (decoding, the backbone and the shard files, the weights' loading excluded). The runs
alternate, fp32 then auto, ``rounds`` times, so that a change of the machine's load hits both,
and the fastest of each is kept. On a CPU without native bf16 there is nothing to compare: auto
is fp32 there, and the rows say so instead of a number.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from benchmarks.common import rate, ratio
from visent import precision
from visent.backbone import Weights
from visent.data.layouts import load_dataset
from visent.data.table import Dataset
from visent.features import extract_features

AMPS = ("off", "auto")
CPU = torch.device("cpu")
#: ``--amp auto`` extraction against ``--amp off`` where the CPU has native bf16.
BF16_SPEEDUP = 1.6


def cpu_description() -> dict[str, Any]:
    """The CPU's model, torch's kernel capability and its native bf16 instruction sets."""
    model = next(
        (line.partition(":")[2].strip() for line in _cpuinfo().splitlines() if line.startswith("model name")), None
    )
    return {
        "model": model,
        "capability": torch.backends.cpu.get_cpu_capability(),
        "native_bf16": list(precision.native_bf16()),
        "auto": precision.name("auto", CPU),
    }


def _cpuinfo() -> str:
    try:
        return precision.CPUINFO.read_text()
    except OSError:
        return ""


def folders_dataset(photos: Sequence[Path], root: Path) -> Dataset:
    """The photos as a ``folders`` dataset at ``root`` (hard links into ``positive/`` and ``negative/``)."""
    for k, path in enumerate(photos):
        link = root / ("positive" if k % 2 else "negative") / path.name
        link.parent.mkdir(parents=True, exist_ok=True)
        os.link(path, link)
    return load_dataset("folders", root, cache=False)


def extraction(dataset: Dataset, weights: Weights, amp: str, batch_size: int, num_workers: int) -> dict[str, Any]:
    """Images/s of ``extract_features`` over ``dataset`` at ``amp``, into a fresh cache."""
    with tempfile.TemporaryDirectory(prefix="visent-bench-cache-") as cache:
        extract_features(
            dataset, weights, cache, batch_size=batch_size, num_workers=num_workers, amp=amp, progress=False
        )
    timing = dataset.meta["timing"]
    return {
        "amp": amp,
        "precision": precision.name(amp, CPU),
        "images": timing["extract_images"],
        "batch_size": batch_size,
        "num_workers": num_workers,
        "seconds": timing["extract_s"],
        "images_per_s": rate(timing["extract_images"], timing["extract_s"]),
    }


def extraction_benchmark(
    dataset: Dataset, weights: Weights, batch_size: int, num_workers: int, rounds: int
) -> dict[str, Any]:
    """(a) at fp32 and at auto, alternating ``rounds`` times; auto only where it is bf16."""
    amps = AMPS if precision.uses_bf16("auto", CPU) else AMPS[:1]
    runs: dict[str, list[dict[str, Any]]] = {amp: [] for amp in amps}
    for _ in range(rounds):
        for amp in amps:
            runs[amp].append(extraction(dataset, weights, amp, batch_size, num_workers))
    out: dict[str, Any] = {
        amp: max(measured, key=lambda m: m["images_per_s"])
        | {"all_images_per_s": [m["images_per_s"] for m in measured]}
        for amp, measured in runs.items()
    }
    out["rounds"] = rounds
    out["speedup"] = ratio(out["auto"]["images_per_s"], out["off"]["images_per_s"]) if "auto" in out else None
    return out


def auto_row(
    what: str, cpu: dict[str, Any], measured: dict[str, Any] | None, speedup: float | None, goal: Any = None
) -> dict[str, Any]:
    """The table row of ``--amp auto`` under its fp32 row; on a CPU without native bf16 it says so
    instead of a number."""
    if measured is None:
        return {
            "measurement": f"{what}, --amp auto",
            "ours": f"not measured: no AVX-512 BF16 or AMX (torch {cpu['capability']}), so fp32",
        }
    native = f"{', '.join(cpu['native_bf16'])}; torch {cpu['capability']}"
    return {
        "measurement": f"{what}, --amp auto = bf16 ({native}), images/s",
        "ours": measured["images_per_s"],
        "ratio": speedup,
        "target": goal,
    }
