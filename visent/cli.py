"""The ``visent`` command line: ``synth | extract | train | run | cv | evaluate | table | table1 | weights``.

Run flags are generated from ``visent.config.RunConfig``, so the CLI, papermill parameters and the
library accept exactly the same keys and values.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import fields
from pathlib import Path

from visent.config import ConfigError, RunConfig, add_config_arguments, config_from_args

DEFAULT_RUN_VARIANTS = (
    "gap", "attention-learned", "attention-truth", "attention-shuffled", "attention-predicted", "adjective-only",
)


def _cmd_synth(args: argparse.Namespace) -> int:
    from visent.data.synth import SynthConfig, generate

    known = {f.name for f in fields(SynthConfig)}
    values = {k: v for k, v in vars(args).items() if k in known and v is not None}
    summary = generate(Path(args.root), SynthConfig(**values), progress=not args.quiet)
    print(json.dumps(summary, indent=1, default=str))
    return 0


def _cmd_extract(args: argparse.Namespace) -> int:
    from visent.features import extract_features
    from visent.pipeline import load_data, resolve_device

    config = config_from_args(args)
    device = resolve_device(config.device)
    dataset = load_data(config)
    cache = extract_features(
        dataset, config.weights, config.cache_dir, batch_size=config.extract_batch_size,
        num_workers=config.num_workers, device=device, amp=device.type == "cuda" and config.amp != "off",
        shard_size=config.shard_size, progress=not args.quiet,
    )
    from visent import distributed

    if not distributed.current().is_main:
        return 0
    print(f"feature cache: {cache.root} ({len(cache)} rows, {len(cache.failed)} unreadable images)")
    for row, reason in sorted(cache.failed.items()):
        print(f"  skipped {dataset.samples['path'].iat[row]}: {reason}")
    print(dataset.report.summary())
    return 0


def _print_result(result: dict) -> None:
    from visent import distributed

    if not distributed.current().is_main:
        return
    m = result["metrics"]
    line = f"{result['run_id']}: test accuracy {m['test_accuracy']:.3f}, balanced {m['test_balanced_accuracy']:.3f}"
    if m.get("attention_in_region") is not None:
        line += f", attention in region {m['attention_in_region']:.3f}"
    print(line + (f"  -> {result['path']}" if "path" in result else ""))


def _cmd_train(args: argparse.Namespace) -> int:
    from visent.pipeline import run

    result = run(config_from_args(args), progress=not args.quiet)
    _print_result(result)
    report = result["dataset"]["report"]
    if report.get("n_problems"):
        print(f"data report: {report['n_problems']} inputs skipped, see the result file")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from visent.pipeline import run
    from visent.results import markdown_table, results_frame

    base = config_from_args(args)
    grid = [
        RunConfig.from_dict(base.to_dict() | {"variant": variant, "seed": seed, "split": split, "run_id": None})
        for split in (args.splits or [base.split])
        for seed in (args.seeds or [base.seed])
        for variant in (args.variants or DEFAULT_RUN_VARIANTS)
    ]  # every config validated before the first run starts
    results = []
    for k, config in enumerate(grid, 1):
        existing = Path(config.results_dir) / f"{config.run_id}.json"
        if existing.exists() and not args.force:
            print(f"== [{k}/{len(grid)}] {config.run_id}: result exists, skipped (--force reruns)", flush=True)
            results.append(json.loads(existing.read_text()))
            continue
        print(f"== [{k}/{len(grid)}] {config.run_id}", flush=True)
        results.append(run(config, progress=not args.quiet))
        _print_result(results[-1])
    frame = results_frame(results)
    cols = ["variant", "split", "seed", "test_accuracy", "test_balanced_accuracy", "attention_in_region",
            "pointing_game", "epochs", "weights", "random_weights"]
    print(markdown_table(frame[cols]))
    return 0


def _cmd_table1(args: argparse.Namespace) -> int:
    from visent.report import extended_snippet, load_run_results, table1_snippet

    results = load_run_results(args.results_dir)
    print("## Table 1: the paper beside this replication\n")
    print(table1_snippet(results, args.results_dir))
    print("\n## Every variant, both splits (mean ± sd over seeds)\n")
    print(extended_snippet(results, args.results_dir))
    return 0


def _cmd_cv(args: argparse.Namespace) -> int:
    from visent.pipeline import run_cv

    config = config_from_args(args)
    if not config.cv_folds:
        config = RunConfig.from_dict(config.to_dict() | {"cv_folds": 5, "run_id": None})
    summary = run_cv(config, progress=not args.quiet)
    m = summary["metrics"]
    for fold in m["folds"]:
        print(f"{fold['run_id']}: test accuracy {fold['test_accuracy']:.3f}")
    print(f"{config.cv_folds}-fold mean test accuracy {m['test_accuracy']:.3f} +- {m['test_accuracy_std']:.3f}"
          f" (balanced {m['test_balanced_accuracy']:.3f} +- {m['test_balanced_accuracy_std']:.3f})  -> {summary.get('path')}")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from visent.pipeline import evaluate_checkpoint

    metrics = evaluate_checkpoint(args.checkpoint, split=args.split, progress=not args.quiet)
    print(json.dumps(metrics, indent=1))
    return 0


def _cmd_table(args: argparse.Namespace) -> int:
    from visent.results import load_results, markdown_table, results_frame

    results = load_results(args.results_dir)
    if not results:
        print(f"no result files in {args.results_dir}", file=sys.stderr)
        return 1
    print(markdown_table(results_frame(results).drop(columns=["run_id"])))
    return 0


def _cmd_weights(args: argparse.Namespace) -> int:
    from visent.backbone import WEIGHTS_SPECS

    for name, text in WEIGHTS_SPECS.items():
        print(f"{name:22s} {text}")
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from visent.sweep import load_sweep, run_sweep, summary_table

    sweep = load_sweep(args.grid, results_dir=args.results_dir, runs_dir=args.runs_dir, notebook=args.notebook)
    print(f"{sweep.source}: {len(sweep.points)} runs of {sweep.notebook} -> {sweep.runs_dir}/, results in {sweep.results_dir}/")
    if args.dry_run:
        for point in sweep.points:
            state = "done" if sweep.result_path(point).exists() else "to run"
            print(f"  {point.run_id} ({state}): {json.dumps(point.parameters, sort_keys=True)}")
        return 0
    outcomes = run_sweep(sweep)
    print(summary_table(outcomes))
    return 1 if any(o.status == "failed" for o in outcomes) else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="visent", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("synth", help="generate the synthetic VSO-style dataset")
    p.add_argument("root", help="output folder")
    p.add_argument("--n-images", dest="n_images", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_synth)

    for name, func, help in (
        ("extract", _cmd_extract, "run the backbone once into the feature cache"),
        ("train", _cmd_train, "train and evaluate one variant, write its result file"),
        ("run", _cmd_run, "train and evaluate several variants (default: all available)"),
        ("cv", _cmd_cv, "k-fold cross-validation (default 5 folds), a result per fold and a summary"),
    ):
        p = sub.add_parser(name, help=help)
        add_config_arguments(p)
        p.add_argument("--quiet", action="store_true", help="no progress bars")
        if name == "run":
            p.add_argument("--variants", nargs="+", help=f"default: {' '.join(DEFAULT_RUN_VARIANTS)}")
            p.add_argument("--seeds", nargs="+", type=int, help="several seeds (default: --seed)")
            p.add_argument("--splits", nargs="+", choices=("random", "heldout-adjectives"), help="several splits")
            p.add_argument("--force", action="store_true", help="rerun configs whose result file exists")
        p.set_defaults(func=func)

    p = sub.add_parser("evaluate", help="metrics of a checkpoint on a split")
    p.add_argument("checkpoint")
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("table", help="print the result files as a table")
    p.add_argument("--results-dir", default="results")
    p.set_defaults(func=_cmd_table)

    p = sub.add_parser("table1", help="the paper's Table 1 beside ours, and every variant x split (markdown)")
    p.add_argument("--results-dir", default="results")
    p.set_defaults(func=_cmd_table1)

    p = sub.add_parser("weights", help="list the backbone weights")
    p.set_defaults(func=_cmd_weights)

    p = sub.add_parser("sweep", help="run a notebook over a parameter grid with papermill (see visent.sweep)")
    p.add_argument("grid", help="sweep file (YAML), e.g. sweeps/example.yaml")
    p.add_argument("--results-dir", help="where result files go (default: the file's results_dir, else results)")
    p.add_argument("--runs-dir", help="where executed notebooks go (default: the file's runs_dir, else runs)")
    p.add_argument("--notebook", help="the notebook to run (default: the file's notebook, else notebooks/04_training.ipynb)")
    p.add_argument("--dry-run", action="store_true", help="validate and list the runs without running them")
    p.set_defaults(func=_cmd_sweep)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command in ("extract", "train", "run", "cv"):
            from visent import distributed

            distributed.init_from_env(getattr(args, "device", "auto"))
        return args.func(args)
    except (ConfigError, FileNotFoundError, ValueError, RuntimeError, KeyError) as err:
        # A one-line message that names the input and the fix, instead of a bare traceback.
        if os.environ.get("VISENT_DEBUG"):
            raise
        print(f"visent {args.command}: error: {err}", file=sys.stderr)
        return 2
    finally:
        if args.command in ("extract", "train", "run", "cv"):
            from visent import distributed

            distributed.shutdown()


if __name__ == "__main__":
    sys.exit(main())
