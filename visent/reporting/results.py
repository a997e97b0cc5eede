"""Result files: one JSON per run, the only source of the numbers in the notebooks and the book."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from visent.atomic import atomic_write
from visent.version import __version__

if TYPE_CHECKING:
    import pandas as pd

REQUIRED_KEYS = ("run_id", "variant", "config", "dataset", "backbone", "metrics", "timing", "env")


#: The subfolder of a results folder that holds benchmark files, not run results.
BENCH_FOLDER = "bench"
#: Folders that runs and book builds write into; changes there are outputs, not changes to the code.
OUTPUT_DIRS = ("results", "book/_generated")


def git_commit(repo: str | Path | None = None) -> dict[str, Any]:
    """The commit of the code that ran, and whether the tree had uncommitted changes outside
    ``OUTPUT_DIRS`` (otherwise a run would call its own code dirty as soon as a result was written)."""
    cwd = Path(repo) if repo else Path(__file__).resolve().parents[1]
    pathspec = [":(top)", *(f":(top,exclude){folder}" for folder in OUTPUT_DIRS)]
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", *pathspec],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return {"commit": sha, "dirty": bool(dirty)}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}


def env_info(device: str | None = None) -> dict[str, Any]:
    """Versions and hardware that a reader needs to judge and repeat a number."""
    import torch
    import torchvision

    cuda = torch.cuda.is_available()
    return {
        "visent": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "device": device,
        "gpu": torch.cuda.get_device_name(0) if cuda else None,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **git_commit(),
    }


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float) and np.isnan(obj):
        return None
    return obj


def write_result(result: dict[str, Any], results_dir: str | Path) -> Path:
    """Write ``<results_dir>/<run_id>.json`` atomically; refuse a result missing a required key."""
    missing = [k for k in REQUIRED_KEYS if k not in result]
    if missing:
        raise ValueError(f"result is missing required keys {missing}")
    text = json.dumps(_jsonable(result), indent=1, sort_keys=False) + "\n"
    return atomic_write(Path(results_dir) / f"{result['run_id']}.json", lambda fh: fh.write(text.encode()))


class ResultsError(ValueError):
    """A results folder the tables cannot be built from; the message names the file and the fix."""


def json_object(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ResultsError(
            f"{path}: not readable as JSON ({err}); rewrite it or move it out of the results folder"
        ) from err
    if not isinstance(data, dict):
        raise ResultsError(
            f"{path}: holds a JSON {type(data).__name__}, not an object; move it out of the results folder"
        )
    return data


def load_results(results_dir: str | Path) -> list[dict[str, Any]]:
    """Every run result in ``results_dir`` and its subfolders but ``bench/``, each with its ``_path``,
    sorted by file within each folder.

    Raises:
        ResultsError: a JSON file there is not a run result (unreadable, or missing a required key),
            or two files hold the same ``run_id`` (the run would be counted twice).
    """
    root = Path(results_dir)
    if not root.is_dir():
        return []
    folders = [root] + sorted(p for p in root.iterdir() if p.is_dir() and p.name != BENCH_FOLDER)
    results: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    for folder in folders:
        for path in sorted(folder.glob("*.json")):
            data = json_object(path)
            missing = [key for key in REQUIRED_KEYS if key not in data]
            if missing:
                raise ResultsError(
                    f"{path}: not a run result, it lacks the keys {missing}; write it with "
                    f"visent.reporting.results.write_result, or move it out of {root}"
                    f" (benchmarks go in {root / BENCH_FOLDER})"
                )
            first = seen.setdefault(data["run_id"], str(path))
            if first != str(path):
                raise ResultsError(f"run_id {data['run_id']!r} is in both {first} and {path}; delete the stale copy")
            data["_path"] = str(path)
            results.append(data)
    return results


def results_frame(results: list[dict[str, Any]]) -> "pd.DataFrame":
    """One row per run with the headline metrics, flagged where random backbone weights were used."""
    import pandas as pd  # imported here so the GPU benchmark needs only torch and numpy

    rows = []
    for r in results:
        m = r["metrics"]
        rows.append(
            {
                "run_id": r["run_id"],
                "variant": r["variant"],
                "dataset": r["dataset"]["name"],
                "split": r["config"]["split"],
                "seed": r["config"]["seed"],
                "preset": r["config"]["preset"],
                "test_accuracy": m["test_accuracy"],
                "test_balanced_accuracy": m["test_balanced_accuracy"],
                "val_accuracy": m["val_accuracy"],
                "attention_in_region": m.get("attention_in_region"),
                "pointing_game": m.get("pointing_game"),
                "epochs": r.get("training", {}).get("epochs"),
                "weights": r["backbone"]["weights"]["id"],
                "random_weights": bool(r["backbone"]["weights"].get("is_random")),
                "device": r["env"].get("device"),
            }
        )
    return pd.DataFrame(rows)


def markdown_table(frame: "pd.DataFrame", floatfmt: str = ".3f") -> str:
    """A markdown table; runs on random backbone weights are marked so no reader mistakes them."""
    frame = frame.copy()
    if "random_weights" in frame:
        frame["weights"] = [
            f"{w} (RANDOM: not a result)" if rnd else w for w, rnd in zip(frame["weights"], frame.pop("random_weights"))
        ]
    return frame.to_markdown(index=False, floatfmt=floatfmt)
