"""``make run`` from a fresh clone (``make bench-make-run``): wall time against the 20-minute budget
of a 2-core CPU, and whether the clone's result files match the committed ones metric for metric.

    python -m benchmarks.make_run [--venv .venv] [--out-dir results/bench]

The clone is of HEAD, so the tree must be clean: uncommitted changes would not be measured. It
reuses an existing virtualenv, because installs depend on the network, not on visent, and it runs
the clone's own code: PYTHONPATH points at the clone, so an editable install of this checkout
cannot stand in for it. The committed result files of the synthetic set are moved out of the clone
first, so that ``make run`` trains and evaluates every variant instead of skipping them; they are
the reference of the comparison. The one-time conversion of the Oxford weights into the user cache
is timed on its own, in a fresh process with an empty cache.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, BenchmarkError, machine_load, provenance, target, write_json
from benchmarks.report import markdown_report
from visent.reproduce import differing_metrics

BUDGET_S = 20 * 60
RESULTS = "results"
PATTERN = "synthetic-*.json"
#: The committed synthetic results are fp32, and on a CPU with native bf16 `make run`'s default is bf16.
AMP = "off"
CONVERSION = (
    "import time; from visent.backbone import Trunk, get_weights; start = time.perf_counter();"
    " Trunk(get_weights('oxford-imagenet')); print(time.perf_counter() - start)"
)
NOTES = [
    "wall time of `make -o .venv/.installed run AMP=off` in a fresh clone of HEAD: generating the synthetic"
    " set, extracting conv5_3, training and evaluating every variant at seed 0, in fp32, the precision of the"
    " committed results (the default on CPUs without native bf16). Installs are excluded (the virtualenv is"
    " reused) and so is the one-time conversion of the Oxford weights, timed on its own.",
    "user and system time are the CPU seconds of every process `make run` started; above the wall time"
    " when the cores run in parallel.",
    "identical: every entry of `metrics` in the clone's result file equals the committed file's, compared"
    " as parsed JSON (exact floats).",
]


def clean_head(repo: Path) -> str:
    """HEAD's commit; refuses a tree with uncommitted changes to tracked files, which a clone would not carry."""
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    if dirty:
        raise BenchmarkError(
            f"{repo} has uncommitted changes, which a clone of HEAD would not measure."
            f" Commit or stash them first:\n{dirty}"
        )
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()


def compare_results(produced: Path, committed: Path) -> dict[str, dict[str, Any]]:
    """For each result file in ``produced``: is a committed twin there, and which metrics differ from it."""
    files = sorted(produced.glob(PATTERN))
    if not files:
        raise BenchmarkError(f"`make run` wrote no {PATTERN} into {produced}")
    comparison = {}
    for path in files:
        twin = committed / path.name
        if not twin.exists():
            comparison[path.stem] = {"committed": False, "identical": False, "differing_metrics": []}
            continue
        differing = differing_metrics(*(json.loads(p.read_text())["metrics"] for p in (path, twin)))
        comparison[path.stem] = {"committed": True, "identical": not differing, "differing_metrics": differing}
    return comparison


def _clone_env(clone: Path, **extra: str) -> dict[str, str]:
    return os.environ | {"PYTHONPATH": str(clone)} | extra


def time_conversion(python: Path, clone: Path) -> float:
    """Seconds to convert the Oxford ONNX weights, measured in a fresh process with an empty user cache."""
    with tempfile.TemporaryDirectory(prefix="visent-cache-") as cache:
        done = subprocess.run(
            [str(python), "-c", CONVERSION],
            cwd=clone,
            capture_output=True,
            text=True,
            env=_clone_env(clone, VISENT_CACHE=cache),
        )
    if done.returncode != 0:
        raise BenchmarkError(f"converting the Oxford weights failed:\n{done.stderr[-4000:]}")
    return float(done.stdout.split()[-1])


def time_make_run(clone: Path) -> dict[str, float]:
    """Wall and CPU seconds of ``make run`` in ``clone``; its output goes to ``clone/make-run.log``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with (clone / "make-run.log").open("w") as log:
        done = subprocess.run(
            ["make", "-o", ".venv/.installed", "run", f"AMP={AMP}"],
            cwd=clone,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_clone_env(clone),
        )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        tail = (clone / "make-run.log").read_text()[-4000:]
        raise BenchmarkError(f"`make run` failed in {clone} (exit {done.returncode}):\n{tail}")
    return {
        "wall_seconds": wall,
        "user_seconds": after.ru_utime - before.ru_utime,
        "sys_seconds": after.ru_stime - before.ru_stime,
    }


def run(venv: Path, tmp: Path) -> dict[str, Any]:
    """Clone HEAD into ``tmp``, time ``make run`` there, compare its results; the document's body."""
    commit = clean_head(REPO)
    venv = venv.resolve()
    python = venv / "bin" / "python"
    if not python.exists():
        raise BenchmarkError(f"{python} is missing: create the virtualenv first (`make install`) or pass --venv")
    clone, committed = tmp / "clone", tmp / "committed"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    (clone / ".venv").symlink_to(venv)
    committed.mkdir()
    for path in (clone / RESULTS).glob(PATTERN):
        shutil.move(path, committed / path.name)
    load_before = machine_load()
    timing = time_make_run(clone)
    load_after = machine_load()
    conversion = time_conversion(python, clone)
    comparison = compare_results(clone / RESULTS, committed)
    identical = sum(entry["identical"] for entry in comparison.values())
    result = {
        "benchmark": "make-run",
        "clone_commit": commit,
        **timing,
        "weights_conversion_seconds": conversion,
        "results": comparison,
        "targets": {
            "budget": target(
                f"`make run` from a fresh clone within {BUDGET_S // 60} minutes on a 2-core CPU",
                timing["wall_seconds"],
                timing["wall_seconds"] <= BUDGET_S,
            ),
            "reproduced": target(
                "every result file identical to the committed one, metric for metric",
                identical,
                identical == len(comparison),
            ),
        },
        "load": {"before": load_before, "after": load_after},
    }
    result["rows"] = [
        {
            "measurement": "`make run` wall time, s",
            "ours": timing["wall_seconds"],
            "target": result["targets"]["budget"],
        },
        {"measurement": "CPU time (user + system), s", "ours": timing["user_seconds"] + timing["sys_seconds"]},
        {"measurement": "one-time conversion of the Oxford weights, s (not in the wall time)", "ours": conversion},
        {
            "measurement": f"result files identical to the committed ones (of {len(comparison)})",
            "ours": identical,
            "target": result["targets"]["reproduced"],
        },
    ]
    result["notes"] = NOTES
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", type=Path, default=REPO / ".venv", help="the virtualenv the clone reuses")
    parser.add_argument(
        "--out-dir", type=Path, default=REPO / "results" / "bench", help="where make-run.json and make-run.md go"
    )
    args = parser.parse_args(argv)
    started = provenance("cpu")  # the code and time at the start: the tree may change while it runs
    with tempfile.TemporaryDirectory(prefix="visent-bench-make-run-") as tmp:
        result = run(args.venv, Path(tmp))
    document = {"profile": "full", "smoke": False, **started, **result}
    write_json(args.out_dir / "make-run.json", document)
    (args.out_dir / "make-run.md").write_text(markdown_report(document))
    print(markdown_report(document))
    return 0


if __name__ == "__main__":
    sys.exit(main())
