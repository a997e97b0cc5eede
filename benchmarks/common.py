"""What every benchmark shares: timing, targets, machine state and writing the result file.

Imports only the standard library, torch and visent's core, so ``benchmarks/gpu.py`` runs on a
bare CUDA PyTorch install.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from visent.atomic import atomic_write
from visent.backbone import Weights
from visent.reporting.results import env_info

REPO = Path(__file__).resolve().parents[1]


class BenchmarkError(RuntimeError):
    """A benchmark that cannot run as asked; the message says what to change."""


def synchronize(device: torch.device) -> None:
    """Wait for queued device work, so a timer stops when the work is done, not when it was queued."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(
    step: Callable[[], Any],
    *,
    warmup: int,
    iterations: int,
    device: torch.device = torch.device("cpu"),
    min_seconds: float = 0.0,
) -> dict[str, float]:
    """Time ``step`` after ``warmup`` untimed calls: at least ``iterations`` calls and ``min_seconds``.

    Returns the number of timed calls, their total seconds and the seconds per call.
    """
    if iterations < 1:
        raise BenchmarkError(f"measure needs iterations >= 1, got {iterations}")
    for _ in range(warmup):
        step()
    synchronize(device)
    done, start = 0, time.perf_counter()
    while done < iterations or time.perf_counter() - start < min_seconds:
        step()
        done += 1
    # The loop's clock may run ahead of queued device work; the final wait makes `seconds` honest.
    synchronize(device)
    seconds = time.perf_counter() - start
    return {"iterations": done, "seconds": seconds, "seconds_per_iteration": seconds / done}


def rate(items: float, seconds: float) -> float:
    """Items per second; refuses a zero or negative duration instead of dividing by it."""
    if seconds <= 0:
        raise BenchmarkError(f"a measured duration must be positive, got {seconds} s")
    return items / seconds


def ratio(ours: float, naive: float) -> float:
    """``ours / naive`` of two measured numbers (both must be positive)."""
    if ours <= 0 or naive <= 0:
        raise BenchmarkError(f"a ratio needs two positive measurements, got {ours} and {naive}")
    return ours / naive


def target(text: str, measured: float, met: bool) -> dict[str, Any]:
    """One goal as recorded in the JSON: what was asked, what was measured, met or not."""
    return {"target": text, "measured": measured, "met": bool(met)}


def memoized(weights: Weights) -> Weights:
    """``weights`` whose state dict is loaded (or, for random weights, generated) once per process."""
    return replace(weights, loader=functools.cache(weights.loader))


def machine_load() -> dict[str, Any]:
    """The 1/5/15-minute load averages and the CPUs: other jobs sharing the machine slow every number."""
    one, five, fifteen = os.getloadavg()
    return {
        "loadavg_1m": one,
        "loadavg_5m": five,
        "loadavg_15m": fifteen,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }


def provenance(device: str) -> dict[str, Any]:
    """Command, date, code version and environment of a benchmark run."""
    return {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "env": env_info(device),
    }


def write_json(path: Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` atomically (a reader never sees half a file), creating the folder."""
    text = json.dumps(payload, indent=1) + "\n"
    return atomic_write(path, lambda fh: fh.write(text.encode()))
