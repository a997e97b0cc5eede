"""``visent reproduce``: rerun every committed result file's configuration into a scratch folder
and compare the new metrics with the committed ones, metric for metric.

A run's configuration is the one saved in its file; only the output folders move to the scratch
folder (and the feature cache, with ``fresh_cache``), and ``--amp`` becomes the mode of the
precision the file records, so the rerun is the committed run: an fp32 result stays fp32 on a CPU
where ``--amp auto`` would now choose bf16. Runs whose data folder is absent are listed as skipped,
with the path.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from visent import precision
from visent.config import RunConfig

#: How a rerun compares with its committed file.
STATUSES = ("identical", "differing", "skipped")


@dataclass
class Reproduction:
    run_id: str
    status: str
    differing: list[str] = field(default_factory=list)
    note: str = ""


def differing_metrics(ours: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    """Keys of ``metrics`` whose values differ (compared as parsed JSON, so floats exactly)."""
    ours, theirs = json.loads(json.dumps(ours)), json.loads(json.dumps(theirs))
    return sorted(k for k in ours.keys() | theirs.keys() if ours.get(k) != theirs.get(k))


def committed_runs(results_dir: str | Path, match: str = "*") -> list[dict[str, Any]]:
    """The run results under ``results_dir`` (summaries and benchmarks left out) whose run id matches."""
    from visent.reporting.results import load_results

    return [
        r for r in load_results(results_dir) if r.get("kind") != "cv-summary" and fnmatch.fnmatch(r["run_id"], match)
    ]


def recorded_precision(committed: dict[str, Any]) -> str:
    """``"fp32"`` or ``"bf16"``: what the run computed in. Files written before ``training.precision``
    was recorded ran when ``--amp auto`` was bf16 on CUDA only, i.e. as on a CPU without native bf16."""
    if "precision" in committed.get("training", {}):
        return committed["training"]["precision"]
    ran_on = "cuda" if str(committed.get("env", {}).get("device", "cpu")).startswith("cuda") else "cpu"
    return precision.DECISIONS[committed["config"].get("amp", "auto")][ran_on]


def rerun_config(committed: dict[str, Any], scratch: Path, fresh_cache: bool) -> RunConfig:
    """The committed run's config at its recorded precision, with its outputs (and, with
    ``fresh_cache``, its feature cache) in ``scratch``."""
    moved = {"results_dir": str(scratch / "results"), "checkpoint_dir": str(scratch / "checkpoints")}
    if fresh_cache:
        moved["cache_dir"] = str(scratch / "cache")
    moved["amp"] = precision.mode_for(recorded_precision(committed))
    return RunConfig.from_dict(committed["config"] | moved)


def reproduce(
    results_dir: str | Path,
    scratch: str | Path,
    match: str = "*",
    fresh_cache: bool = False,
    progress: bool = True,
    log=print,
) -> list[Reproduction]:
    """Rerun each committed run matching ``match`` from scratch; compare its metrics."""
    from visent.pipeline import run

    scratch = Path(scratch)
    runs = committed_runs(results_dir, match)
    if not runs:
        raise ValueError(f"no result files matching {match!r} under {results_dir}")
    out = []
    for k, committed in enumerate(runs, start=1):
        config = rerun_config(committed, scratch, fresh_cache)
        if not Path(config.data_root).exists():
            out.append(Reproduction(config.run_id, "skipped", note=f"data not found at {config.data_root}"))
            log(f"[{k}/{len(runs)}] {config.run_id}: skipped, {out[-1].note}")
            continue
        log(f"[{k}/{len(runs)}] {config.run_id} ({recorded_precision(committed)}, as its file records)")
        fresh = run(config, progress)
        differing = differing_metrics(fresh["metrics"], committed["metrics"])
        out.append(Reproduction(config.run_id, "differing" if differing else "identical", differing))
        log(
            f"[{k}/{len(runs)}] {config.run_id}: {out[-1].status}" + (f" ({', '.join(differing)})" if differing else "")
        )
    return out


def summary_table(reproductions: list[Reproduction]) -> str:
    """A markdown table of every run and its status, then the count per status."""
    import pandas as pd

    frame = pd.DataFrame(
        [
            {
                "run": r.run_id,
                "status": r.status,
                "differing metrics": ", ".join(r.differing) or "–",
                "note": r.note or "–",
            }
            for r in reproductions
        ]
    )
    counts = ", ".join(f"{sum(r.status == s for r in reproductions)} {s}" for s in STATUSES)
    return f"{frame.to_markdown(index=False)}\n\n{len(reproductions)} runs: {counts}"
