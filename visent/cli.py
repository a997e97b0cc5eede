"""The ``visent`` command line: ``synth | extract | train | run | cv | evaluate | predict | reproduce | ...``.

Run flags are generated from the sections of ``visent.config.RunConfig`` (and ``visent synth``'s
from ``SynthConfig``), so the CLI, papermill parameters and the library accept exactly the same
keys and values.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from dataclasses import fields
from pathlib import Path

from visent.config import (
    ConfigError,
    RunConfig,
    add_config_arguments,
    add_dataclass_arguments,
    config_fields,
    config_from_args,
    config_keys,
    default_of,
)
from visent.data.layouts import TWITTER_SUBSETS
from visent.data.splits import SCHEMES
from visent.data.table import SPLIT_NAMES
from visent.model import VARIANTS, default_variants


def _config(args: argparse.Namespace) -> RunConfig:
    """The command line's config (the settings its command reads), its paths checked before any work
    starts; the precision it computes in is said once, on stderr beside the progress bars."""
    from visent import distributed, precision

    config = config_from_args(args, args.command)
    config.check_paths()
    if distributed.current().is_main:
        device = distributed.resolve_device(config.device)
        print(f"visent {args.command}: {precision.describe(config.amp, device)}", file=sys.stderr)
    return config


def _cmd_synth(args: argparse.Namespace) -> int:
    from visent.data.synth import SynthConfig, generate

    known = {f.name for f in fields(SynthConfig)}
    values = {k: v for k, v in vars(args).items() if k in known}
    summary = generate(Path(args.root), SynthConfig(**values), progress=not args.quiet)
    print(json.dumps(summary, indent=1, default=str))
    return 0


def _cmd_extract(args: argparse.Namespace) -> int:
    from visent import distributed
    from visent.pipeline import features_for, usable_dataset, weights_for

    config = _config(args)
    device = distributed.resolve_device(config.device)
    dataset = usable_dataset(config)
    cache = features_for(config, dataset, weights_for(config), device, progress=not args.quiet)

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
    report = result["dataset"].get("report", {})
    if report.get("n_problems"):
        counts = ", ".join(f"{n} {reason}" for reason, n in report["by_reason"].items())
        print(
            f"  data report: {report['n_problems']} inputs skipped or noted ({counts});"
            " each is listed in the result file"
        )


def _cmd_train(args: argparse.Namespace) -> int:
    from visent.pipeline import run

    result = run(_config(args), progress=not args.quiet)
    _print_result(result)
    return 0


def _log(text: str) -> None:
    from visent import distributed

    if distributed.current().is_main:
        print(text, flush=True)


def _cmd_run(args: argparse.Namespace) -> int:
    from visent.pipeline import run_many
    from visent.reporting.results import markdown_table, results_frame

    base = _first_variant(args)
    grid = [
        base.replace(variant=variant, seed=seed, split=split, run_id=None)
        for split in (args.splits or [base.split])
        for seed in (args.seeds or [base.seed])
        for variant in (args.variants or _default_variants(base))
    ]  # every config validated before the first run starts
    results = run_many(grid, args.force, progress=not args.quiet, log=_log, sequential=_sequential(args))
    for result in results:
        _print_result(result)
    frame = results_frame(results)
    cols = [
        "variant",
        "split",
        "seed",
        "test_accuracy",
        "test_balanced_accuracy",
        "attention_in_region",
        "pointing_game",
        "epochs",
        "weights",
        "random_weights",
    ]
    print(markdown_table(frame[cols]))
    return 0


def _default_variants(config: RunConfig) -> list[str]:
    """``visent run``'s variants without ``--variants``: every default variant the dataset has the inputs for."""
    from visent.data.layouts import LAYOUTS

    given = [key for key, value in config.to_dict().items() if value is not None]
    return default_variants(LAYOUTS[config.dataset].provides, given)


def _sequential(args: argparse.Namespace) -> bool | None:
    """``--sequential``: every run alone; else ``plan_stacks`` decides where a stack pays."""
    return True if args.sequential else None


def _cmd_table1(args: argparse.Namespace) -> int:
    from visent.reporting.report import extended_snippet, replication_runs, table1_snippet
    from visent.reporting.results import load_results

    results = replication_runs(load_results(args.results_dir))
    print("## Table 1: the paper beside this replication\n")
    print(table1_snippet(results, args.results_dir))
    print("\n## Every variant, both splits (mean ± sd over seeds)\n")
    print(extended_snippet(results, args.results_dir))
    return 0


def _first_variant(args: argparse.Namespace) -> RunConfig:
    """The command's config; with ``--variants`` the first one stands for ``--variant``, so a base
    config is valid for the data whatever the default variant (Twitter has no true adjective)."""
    if "variant" not in vars(args):
        if args.variants:
            args.variant = args.variants[0]
        elif args.command == "run":
            from visent.data.layouts import LAYOUTS

            layout = LAYOUTS[vars(args).get("dataset", default_of("dataset"))]
            defaults = default_variants(layout.provides, [key for key in vars(args) if key in config_keys()])
            args.variant = defaults[0]
    return _config(args)


def _cmd_cv(args: argparse.Namespace) -> int:
    from visent.cv import fold_count, run_cv

    base = _first_variant(args)
    if not (base.folds or base.cv_folds):
        base = base.replace(cv_folds=fold_count(base), run_id=None)
    plans = [  # one cross-validation per subset and variant, its seeds pooled; all validated first
        base.replace(variant=variant, twitter_subset=subset, run_id=None)
        for subset in (args.subsets or [base.twitter_subset])
        for variant in (args.variants or [base.variant])
    ]
    lines = []
    for config in plans:
        _, summary = run_cv(
            config, args.seeds, progress=not args.quiet, force=args.force, log=_log, sequential=_sequential(args)
        )
        m = summary["metrics"]
        sd = "" if m["test_accuracy_std"] is None else f" +- {m['test_accuracy_std']:.3f}"
        lines.append(
            f"{summary['run_id']}: {len(m['folds'])}-fold mean test accuracy {m['test_accuracy']:.3f}{sd}"
            f" (seeds {summary['seeds']})  -> {summary.get('path')}"
        )
    for line in lines:
        _log(line)
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from visent.pipeline import evaluate_checkpoint

    metrics = evaluate_checkpoint(args.checkpoint, split=args.split, progress=not args.quiet)
    print(json.dumps(metrics, indent=1))
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from visent.predict import OVERRIDES, load

    outputs = _prediction_outputs(args)
    predictor = load(args.checkpoint, **{k: v for k, v in vars(args).items() if k in OVERRIDES})
    predictions = predictor.predict(args.paths, attribute=args.attribute, progress=not args.quiet)
    for problem in predictions.report.problems:
        detail = f" ({problem.detail})" if problem.detail else ""
        print(f"visent predict: skipped {problem.path}: {problem.reason}{detail}", file=sys.stderr)
    maps = predictions.write_maps(args.maps, progress=not args.quiet) if args.maps else None
    if args.html:
        predictions.write_gallery(args.html, progress=not args.quiet)
    for path in outputs.get(".json", []):
        predictions.write_json(path, maps)
    for path in outputs.get(".csv", []):
        predictions.write_csv(path, maps)
    if not outputs:
        print(predictions.write_csv(None, maps), end="")
    written = ", ".join(str(p) for p in [*(p for paths in outputs.values() for p in paths), args.maps, args.html] if p)
    print(
        f"visent predict: {len(predictions)} images predicted by {predictor.config.run_id},"
        f" {len(predictions.report)} skipped" + (f" -> {written}" if written else ""),
        file=sys.stderr,
    )
    return 0 if len(predictions) else 1


def _prediction_outputs(args: argparse.Namespace) -> dict[str, list[Path]]:
    """``--out`` files by format, each checked writable before any work, and so are ``--maps`` and ``--html``."""
    from visent.config import unwritable

    outputs: dict[str, list[Path]] = {}
    if args.maps:
        folder = Path(args.maps)
        why = "a file, not a folder" if folder.is_file() else unwritable(folder)
        if why:
            raise ConfigError(f"--maps {folder}: {why}; give another --maps")
    files = [("--out", given) for given in args.out or []] + ([("--html", args.html)] if args.html else [])
    for flag, given in files:
        path = Path(given)
        if flag == "--out" and path.suffix.lower() not in (".csv", ".json"):
            raise ConfigError(f"--out {path}: name a .csv or a .json file (both may be given)")
        why = "a folder, not a file" if path.is_dir() else unwritable(path.parent)
        if why:
            raise ConfigError(f"{flag} {path}: {why}; give another {flag}")
        if flag == "--out":
            outputs.setdefault(path.suffix.lower(), []).append(path)
    return outputs


def _cmd_table(args: argparse.Namespace) -> int:
    from visent.reporting.results import load_results, markdown_table, results_frame

    results = load_results(args.results_dir)
    if not results:
        print(f"no result files in {args.results_dir}", file=sys.stderr)
        return 1
    print(markdown_table(results_frame(results).drop(columns=["run_id"])))
    return 0


def _cmd_weights(args: argparse.Namespace) -> int:
    from visent.backbone import BACKBONES, WEIGHTS, output_shape

    print("backbones (--backbone), regions x channels at their weights' input size:")
    for name, backbone in BACKBONES.items():
        regions, channels, _ = output_shape(backbone.native_size, backbone=name)
        tuned = [b for b in backbone.finetune if b != "none"]
        print(
            f"  {name:20s} {backbone.description}: {regions} x {channels}, {backbone.stride}x downsampling;"
            f" default weights {backbone.default_weights}" + (f"; --finetune {', '.join(tuned)}" if tuned else "")
        )
    print("weights (--weights):")
    for _, entry in WEIGHTS.items():
        only = f" [{', '.join(entry.backbones)} only]" if entry.backbones else ""
        print(f"  {entry.usage:20s} {entry.description}{only}")
    return 0


def _cmd_layouts(args: argparse.Namespace) -> int:
    from visent.data.layouts import LAYOUTS

    for name, layout in LAYOUTS.items():
        options = ", ".join(f"--{key.replace('_', '-')}" for key in layout.config_options.values())
        print(f"{name:10s} {layout.structure}" + (f" [{options}]" if options else ""))
    return 0


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from visent.atomic import atomic_write
    from visent.reproduce import reproduce, summary_table

    done = reproduce(args.results_dir, args.scratch, args.match, args.fresh_cache, progress=not args.quiet)
    table = summary_table(done)
    print(table)
    report = Path(args.scratch) / "reproduce.md"
    atomic_write(
        report, lambda fh: fh.write(f"# visent reproduce {args.results_dir} ({args.match})\n\n{table}\n".encode())
    )
    print(f"-> {report}")
    return 1 if any(r.status == "differing" for r in done) else 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from visent.sweep import load_sweep, run_sweep, summary_table

    sweep = load_sweep(args.grid, results_dir=args.results_dir, runs_dir=args.runs_dir, notebook=args.notebook)
    print(
        f"{sweep.source}: {len(sweep.points)} runs of {sweep.notebook} -> {sweep.runs_dir}/,"
        f" results in {sweep.results_dir}/"
    )
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

    from visent.data.synth import SynthConfig

    p = sub.add_parser("synth", help="generate the synthetic VSO-style dataset")
    p.add_argument("root", help="output folder")
    add_dataclass_arguments(p, list(fields(SynthConfig)))
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_synth)

    for name, func, help in (
        ("extract", _cmd_extract, "run the backbone once into the feature cache"),
        ("train", _cmd_train, "train and evaluate one variant, write its result file"),
        ("run", _cmd_run, "train and evaluate several variants (default: all available)"),
        ("cv", _cmd_cv, "k-fold cross-validation (default 5 folds), a result per fold and a summary"),
    ):
        p = sub.add_parser(name, help=help)
        add_config_arguments(p, name)
        p.add_argument("--quiet", action="store_true", help="no progress bars")
        if name in ("run", "cv"):
            default = "every variant the dataset has the inputs for" if name == "run" else "--variant"
            p.add_argument(
                "--variants", nargs="+", choices=tuple(VARIANTS), help=f"several variants (default: {default})"
            )
            p.add_argument("--seeds", nargs="+", type=int, help="several seeds (default: --seed)")
            p.add_argument(
                "--force", action="store_true", help="rerun even where a result file of the same configuration exists"
            )
            p.add_argument(
                "--sequential",
                action="store_true",
                help="train the runs one after another, also where one stack of heads would be faster (CUDA)",
            )
        if name == "run":
            p.add_argument("--splits", nargs="+", choices=SCHEMES, help="several splits")
        if name == "cv":
            p.add_argument(
                "--subsets",
                nargs="+",
                choices=TWITTER_SUBSETS,
                help="several Twitter agreement subsets (default: --twitter-subset)",
            )
        p.set_defaults(func=func)

    p = sub.add_parser("evaluate", help="metrics of a checkpoint on a split")
    p.add_argument("checkpoint")
    p.add_argument("--split", default="test", choices=SPLIT_NAMES)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_evaluate)

    from visent.predict import OVERRIDES

    p = sub.add_parser("predict", help="apply a checkpoint to photographs: label, p(positive) and attention")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders (searched) or manifest CSVs")
    p.add_argument("--checkpoint", required=True, help="a .pt file written by visent train, run or cv")
    p.add_argument("--attribute", metavar="WORD", help="the adjective of every photograph (variants attending to it)")
    p.add_argument(
        "--out",
        action="append",
        metavar="FILE",
        help="write FILE.csv or FILE.json; give it twice for both (default: CSV on stdout)",
    )
    p.add_argument("--maps", metavar="DIR", help="write one PNG per photograph: its attention map and the prediction")
    p.add_argument("--html", metavar="FILE", help="write one self-contained page: photographs, maps, predictions")
    add_dataclass_arguments(p, [f for f in config_fields() if f.name in OVERRIDES])
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("table", help="print the result files as a table")
    p.add_argument("--results-dir", default="results")
    p.set_defaults(func=_cmd_table)

    p = sub.add_parser("table1", help="the paper's Table 1 beside ours, and every variant x split (markdown)")
    p.add_argument("--results-dir", default="results")
    p.set_defaults(func=_cmd_table1)

    p = sub.add_parser(
        "reproduce", help="rerun every committed result into a scratch folder, compare metric for metric"
    )
    p.add_argument("--results-dir", default="results", help="the committed result files (subfolders included)")
    p.add_argument("--scratch", default="runs/reproduce", help="where the reruns write results and checkpoints")
    p.add_argument("--match", default="*", help="only run ids matching this glob, e.g. 'synthetic-random-*'")
    p.add_argument("--fresh-cache", action="store_true", help="extract the features again, into the scratch folder")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_reproduce)

    p = sub.add_parser("weights", help="list the backbones and their weights")
    p.set_defaults(func=_cmd_weights)

    p = sub.add_parser("layouts", help="list the dataset layouts and the flags they read")
    p.set_defaults(func=_cmd_layouts)

    p = sub.add_parser("sweep", help="run a notebook over a parameter grid with papermill (see visent.sweep)")
    p.add_argument("grid", help="sweep file (YAML), e.g. sweeps/example.yaml")
    p.add_argument("--results-dir", help="where result files go (default: the file's results_dir, else results)")
    p.add_argument("--runs-dir", help="where executed notebooks go (default: the file's runs_dir, else runs)")
    p.add_argument(
        "--notebook", help="the notebook to run (default: the file's notebook, else notebooks/04_training.ipynb)"
    )
    p.add_argument("--dry-run", action="store_true", help="validate and list the runs without running them")
    p.set_defaults(func=_cmd_sweep)
    return parser


def _one_line_warnings(command: str) -> None:
    """Warnings as one line each, like the errors: ``visent <command>: warning: <message>``."""

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        print(f"visent {command}: warning: {message}", file=sys.stderr if file is None else file)

    warnings.showwarning = show


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings():  # restores the warning display for a caller of main()
        _one_line_warnings(args.command)
        return _dispatch(args)


def _dispatch(args: argparse.Namespace) -> int:
    try:
        if args.command in ("extract", "train", "run", "cv"):
            from visent import distributed

            distributed.init_from_env(getattr(args, "device", "auto"))
        return args.func(args)
    except (ConfigError, OSError, ValueError, RuntimeError, KeyError) as err:
        # A one-line message that names the input and the fix, instead of a bare traceback (OSError: a
        # disk that fills up or turns read-only mid-run, named by its path).
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
