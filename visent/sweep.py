"""Batch reruns of a parametrised notebook over a grid: ``visent sweep GRID.yaml``.

A sweep file::

    notebook: notebooks/04_training.ipynb   # optional; this is the default
    runs_dir: runs                          # executed copies: <runs_dir>/<run_id>.ipynb
    results_dir: results                    # result files:    <results_dir>/<run_id>.json
    grid:                                   # every combination is one run
      seed: [0, 1]
      variant: [gap, attention-learned, attention-truth]
    params:                                 # the same for every run
      preset: cpu
      run_id: "{variant}-lr{lr}-s{seed}"    # optional template over the run's config

Keys of ``grid`` and ``params`` are the notebook's parameters (its cell tagged ``parameters``); a
notebook parameter named like a ``RunConfig`` field *is* that field. Other ``RunConfig`` fields go
into the notebook's ``config_overrides`` dict when it has one. Every run's config is built and
validated by ``RunConfig`` before the first run starts, so a typo fails the sweep at once, naming
the run. Each run gets its ``run_id`` and ``results_dir`` from the sweep, so the sweep knows where
its result lands: a run whose result file exists is skipped, which makes a sweep resumable. A run
that fails is reported (run id, failing cell, error) and the sweep goes on. Relative paths are
relative to the folder the sweep is started from, for the sweep and for the notebooks alike.
"""

from __future__ import annotations

import ast
import difflib
import itertools
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from visent.config import ConfigError, RunConfig, config_keys

__all__ = [
    "DEFAULT_NOTEBOOK",
    "RunOutcome",
    "Sweep",
    "SweepError",
    "SweepPoint",
    "expand_grid",
    "load_sweep",
    "notebook_parameters",
    "run_sweep",
    "summary_table",
]

DEFAULT_NOTEBOOK = "notebooks/04_training.ipynb"
DEFAULT_RUNS_DIR = "runs"
DEFAULT_RESULTS_DIR = "results"
TOP_LEVEL_KEYS = ("description", "notebook", "runs_dir", "results_dir", "grid", "params")
OVERRIDES_PARAMETER = "config_overrides"
# Set by the sweep for every run; the sweep file sets results_dir at its top level.
SWEEP_SET = ("run_id", "results_dir")
RUN_FIELDS = frozenset(config_keys())
_PAPERMILL_HINT = "visent sweep runs notebooks with papermill: pip install -e '.[book]'"


class SweepError(ValueError):
    """A sweep file, grid entry or notebook that cannot be run; the message names it and the fix."""


@dataclass(frozen=True)
class SweepPoint:
    """One run of a sweep: the notebook parameters it is executed with and its validated config."""

    run_id: str
    parameters: dict[str, Any]
    config: RunConfig


@dataclass(frozen=True)
class Sweep:
    """A validated sweep: where the notebook, the executed copies and the results are."""

    source: str
    notebook: Path
    runs_dir: Path
    results_dir: Path
    points: list[SweepPoint]

    def result_path(self, point: SweepPoint) -> Path:
        return self.results_dir / f"{point.run_id}.json"

    def output_path(self, point: SweepPoint) -> Path:
        return self.runs_dir / f"{point.run_id}.ipynb"


@dataclass
class RunOutcome:
    """What happened to one run: ``status`` is ``"ok"``, ``"skipped"`` (result existed) or ``"failed"``."""

    run_id: str
    status: str
    seconds: float = 0.0
    notebook: str | None = None
    result: str | None = None
    error: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)


def _papermill():
    try:
        import papermill
    except ImportError as err:
        raise SweepError(f"{_PAPERMILL_HINT} ({err})") from None
    return papermill


def notebook_parameters(notebook: str | Path) -> dict[str, Any]:
    """The parameters of ``notebook`` (its cell tagged ``parameters``) with their default values.

    Raises:
        SweepError: the notebook is missing, has no parameters cell, or a default that is not a
            Python literal (the sweep could not know the config the notebook would build).
    """
    path = Path(notebook)
    if not path.is_file():
        raise SweepError(f"notebook {path} does not exist; set `notebook:` in the sweep file")
    found = _papermill().inspect_notebook(str(path))
    if not found:
        raise SweepError(
            f"{path} has no cell tagged 'parameters'; tag the cell holding the defaults so papermill can set them"
        )
    defaults = {}
    for name, info in found.items():
        try:
            defaults[name] = ast.literal_eval(info["default"])
        except (ValueError, SyntaxError):
            raise SweepError(
                f"{path}: parameter {name} = {info['default']} is not a literal; write its default as a plain value"
            ) from None
    return defaults


def expand_grid(grid: Mapping[str, Any], source: str = "sweep") -> list[dict[str, Any]]:
    """Every combination of the grid's lists, the last key varying fastest."""
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise SweepError(
                f"{source}: grid entry {key!r} must be a non-empty list, got {values!r}; "
                "put a single value under `params:` instead"
            )
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]


def _unknown_key(key: str, defaults: dict[str, Any], where: str, notebook: Path) -> SweepError:
    if key in RUN_FIELDS:
        return SweepError(
            f"{where}: {key!r} is a RunConfig field, but {notebook} takes it neither as a parameter nor "
            f"through a {OVERRIDES_PARAMETER!r} dict; add it to the notebook's parameters cell"
        )
    close = difflib.get_close_matches(key, sorted(set(defaults) | RUN_FIELDS), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return SweepError(
        f"{where}: {key!r} is neither a parameter of {notebook} nor a RunConfig field{hint} "
        f"Notebook parameters: {sorted(defaults)}"
    )


def _check_type(name: str, value: Any, default: Any, where: str) -> None:
    """A grid value must have the type of the notebook's default (ints count as floats)."""
    if default is None or value is None:
        return
    same = isinstance(value, type(default)) or (
        isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool)
    )
    if not same:
        raise SweepError(
            f"{where}: {name} = {value!r} has type {type(value).__name__}, but the notebook's default "
            f"{default!r} has type {type(default).__name__}"
        )


def _point(
    values: dict[str, Any], defaults: dict[str, Any], results_dir: Path, run_id: str | None, where: str, notebook: Path
) -> SweepPoint:
    known = set(defaults) | (RUN_FIELDS if OVERRIDES_PARAMETER in defaults else set())
    parameters: dict[str, Any] = {}
    overrides: dict[str, Any] = dict(defaults.get(OVERRIDES_PARAMETER) or {})
    for key, value in values.items():
        if not isinstance(key, str):
            raise SweepError(f"{where}: parameter names are strings, got {key!r}")
        if key in SWEEP_SET or key == OVERRIDES_PARAMETER:
            raise SweepError(
                f"{where}: {key!r} is set by the sweep itself; remove it (results_dir goes at the top level)"
            )
        if key not in known:
            raise _unknown_key(key, defaults, where, notebook)
        if key in defaults:
            _check_type(key, value, defaults[key], where)
            parameters[key] = value
        else:
            overrides[key] = value
    for name in SWEEP_SET:
        if name not in defaults:
            raise SweepError(
                f"{notebook} has no parameter {name!r}; a sweep passes every run its run_id and results_dir, "
                "so add both to the notebook's parameters cell"
            )
    settings = {**defaults, **parameters}
    config_values = {k: v for k, v in settings.items() if k in RUN_FIELDS} | overrides
    config_values |= {"results_dir": str(results_dir), "run_id": None}
    try:
        config = RunConfig.from_dict(config_values)
    except ConfigError as err:
        raise SweepError(f"{where}: {err}") from None
    if run_id is not None:
        try:
            formatted = run_id.format(**{**settings, **config.to_dict()})
        except (KeyError, IndexError, ValueError) as err:
            raise SweepError(
                f"{where}: run_id template {run_id!r} cannot be filled ({err!r});"
                " use {field} names of the run's config"
            ) from None
        try:  # RunConfig checks that the run id is a plain file name
            config = RunConfig.from_dict({**config.to_dict(), "run_id": formatted})
        except ConfigError as err:
            raise SweepError(f"{where}: {err}") from None
    parameters |= {"run_id": config.run_id, "results_dir": str(results_dir)}
    if overrides:
        parameters[OVERRIDES_PARAMETER] = overrides
    return SweepPoint(config.run_id, parameters, config)


def load_sweep(
    path: str | Path,
    *,
    results_dir: str | Path | None = None,
    runs_dir: str | Path | None = None,
    notebook: str | Path | None = None,
) -> Sweep:
    """Read, expand and validate a sweep file; arguments given here override its top-level keys.

    Raises:
        SweepError: unreadable file, unknown key, a grid point that ``RunConfig`` rejects, or two
            points with the same run id; the message names the file and the grid entry.
    """
    path = Path(path)
    if not path.is_file():
        raise SweepError(f"sweep file {path} does not exist")
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise SweepError(f"{path} is not valid YAML: {err}") from None
    if not isinstance(spec, dict):
        raise SweepError(f"{path} must hold a mapping with keys {list(TOP_LEVEL_KEYS)}, got a {type(spec).__name__}")
    for key in spec:
        if key not in TOP_LEVEL_KEYS:
            close = difflib.get_close_matches(str(key), TOP_LEVEL_KEYS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise SweepError(f"{path}: unknown top-level key {key!r}{hint} Allowed: {list(TOP_LEVEL_KEYS)}")
    for key in ("grid", "params"):
        if not isinstance(spec.get(key) or {}, dict):
            raise SweepError(f"{path}: `{key}:` must be a mapping of parameter names, got {spec[key]!r}")
    nb = Path(notebook or spec.get("notebook") or DEFAULT_NOTEBOOK)
    results = Path(results_dir or spec.get("results_dir") or DEFAULT_RESULTS_DIR)
    runs = Path(runs_dir or spec.get("runs_dir") or DEFAULT_RUNS_DIR)
    params = dict(spec.get("params") or {})
    run_id = params.pop("run_id", None)
    grid = dict(spec.get("grid") or {})
    if "run_id" in grid:
        raise SweepError(
            f'{path}: run_id cannot vary in the grid; give a template under `params:`, e.g. "{{variant}}-s{{seed}}"'
        )
    overlap = sorted(set(grid) & set(params))
    if overlap:
        raise SweepError(f"{path}: {overlap} are both in `grid:` and `params:`; keep each key in one place")
    defaults = notebook_parameters(nb)
    points: list[SweepPoint] = []
    seen: dict[str, str] = {}
    for i, combo in enumerate(expand_grid(grid, str(path)), start=1):
        where = f"{path}: grid point {i} {combo}"
        point = _point({**params, **combo}, defaults, results, run_id, where, nb)
        if point.run_id in seen:
            raise SweepError(
                f"{path}: grid points {seen[point.run_id]} and {combo} share the run id {point.run_id!r}; "
                "add a run_id template under `params:` that names the varying keys"
            )
        seen[point.run_id] = str(combo)
        points.append(point)
    return Sweep(str(path), nb, runs, results, points)


def _read_metrics(path: Path) -> dict[str, Any]:
    try:
        metrics = json.loads(path.read_text()).get("metrics", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return {k: metrics.get(k) for k in ("test_accuracy", "test_balanced_accuracy")}


def _failure(err: Exception, output: Path) -> str:
    """One line: which cell of the executed copy failed and with what error."""
    cell_index = getattr(err, "cell_index", None)
    if cell_index is None:
        return f"{type(err).__name__}: {err}".splitlines()[0]
    source, ename, evalue = (getattr(err, key, "") for key in ("source", "ename", "evalue"))  # papermill's
    first_line = next((line for line in str(source).splitlines() if line.strip()), "")
    return f"cell {cell_index} of {output} (`{first_line.strip()[:60]}`): {ename}: {evalue}"


def run_sweep(sweep: Sweep, *, kernel_name: str | None = None, log: Callable[[str], None] = print) -> list[RunOutcome]:
    """Execute every run whose result file does not exist yet; never stops at a failed run.

    Each run executes ``sweep.notebook`` into ``<runs_dir>/<run_id>.ipynb`` with papermill, in the
    current folder; a run counts as ``ok`` only when it wrote ``<results_dir>/<run_id>.json``.
    """
    papermill = _papermill()
    sweep.runs_dir.mkdir(parents=True, exist_ok=True)
    outcomes = []
    total = len(sweep.points)
    for k, point in enumerate(sweep.points, start=1):
        result, output = sweep.result_path(point), sweep.output_path(point)
        if result.exists():
            outcome = RunOutcome(point.run_id, "skipped", result=str(result), metrics=_read_metrics(result))
        else:
            log(f"[{k}/{total}] {point.run_id}: running {sweep.notebook} -> {output}")
            started = time.perf_counter()
            try:
                papermill.execute_notebook(
                    str(sweep.notebook),
                    str(output),
                    parameters=point.parameters,
                    kernel_name=kernel_name,
                    progress_bar=False,
                    cwd=str(Path.cwd()),
                )
                error = None if result.exists() else f"the notebook finished without writing {result}"
            except Exception as err:  # noqa: BLE001 - any failure of one run is reported, the sweep goes on
                error = _failure(err, output)
            seconds = time.perf_counter() - started
            outcome = RunOutcome(
                point.run_id,
                "failed" if error else "ok",
                seconds,
                str(output),
                None if error else str(result),
                error,
                {} if error else _read_metrics(result),
            )
        outcomes.append(outcome)
        detail = outcome.error or outcome.result
        log(
            f"[{k}/{total}] {point.run_id}: {outcome.status}"
            + (f" ({outcome.seconds:.0f} s)" if outcome.seconds else "")
            + f": {detail}"
        )
    return outcomes


def summary_table(outcomes: list[RunOutcome]) -> str:
    """A markdown table: one row per run with its status, headline metrics, time and error."""
    rows = [
        {
            "run_id": o.run_id,
            "status": o.status,
            "test_accuracy": o.metrics.get("test_accuracy"),
            "balanced": o.metrics.get("test_balanced_accuracy"),
            "seconds": round(o.seconds) if o.seconds else None,
            "error": o.error or "",
        }
        for o in outcomes
    ]
    failed = sum(o.status == "failed" for o in outcomes)
    table = pd.DataFrame(rows).to_markdown(index=False, floatfmt=".3f", missingval="–")
    counts = ", ".join(f"{sum(o.status == s for o in outcomes)} {s}" for s in ("ok", "skipped", "failed"))
    return f"{table}\n\n{len(outcomes)} runs: {counts}" + (" (see the errors above)" if failed else "")
