"""Sweeps: grid expansion, validation before anything runs, skip-existing, failure reporting, a real run."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from visent.cli import main
from visent.sweep import SweepError, expand_grid, load_sweep, notebook_parameters, run_sweep, summary_table

TRAINING_NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "04_training.ipynb"

# A notebook that needs no library: it writes a result, fails on purpose, or writes nothing.
TINY_PARAMETERS = 'seed = 0\nvariant = "gap"\nrun_id = None\nresults_dir = "results"'
TINY_BODY = """
import json
from pathlib import Path

if seed == 1:
    raise RuntimeError("seed 1 fails on purpose")
if seed == 0:
    Path(results_dir).mkdir(parents=True, exist_ok=True)
    Path(results_dir, f"{run_id}.json").write_text(json.dumps({"metrics": {"test_accuracy": 0.75}}))
"""


def write_notebook(path: Path, parameters: str | None, body: str = "x = 1") -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cells = []
    if parameters is not None:
        cells.append(nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}))
    cells.append(nbformat.v4.new_code_cell(body))
    nb.cells = cells
    nbformat.write(nb, path)
    return path


def write_sweep(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return write_notebook(tmp_path / "tiny.ipynb", TINY_PARAMETERS, TINY_BODY)


# --------------------------------------------------------------------------- grid and validation


def test_expand_grid_gives_every_combination_with_the_last_key_varying_fastest():
    points = expand_grid({"seed": [0, 1], "variant": ["gap", "attention-truth"]})
    assert points == [
        {"seed": 0, "variant": "gap"},
        {"seed": 0, "variant": "attention-truth"},
        {"seed": 1, "variant": "gap"},
        {"seed": 1, "variant": "attention-truth"},
    ]


def test_expand_grid_rejects_a_single_value_and_says_where_it_belongs():
    with pytest.raises(
        SweepError, match=r"grid entry 'seed' must be a non-empty list, got 3; put a single value under `params:`"
    ):
        expand_grid({"seed": 3})


def test_the_training_notebook_declares_every_parameter_a_sweep_needs():
    defaults = notebook_parameters(TRAINING_NOTEBOOK)
    assert {"run_id", "results_dir", "config_overrides", "variant", "seed", "split", "dataset"} <= set(defaults)
    assert defaults["run_id"] is None and defaults["config_overrides"] == {}


def test_load_sweep_builds_one_validated_config_per_grid_point(tmp_path):
    path = write_sweep(
        tmp_path / "s.yaml",
        f"""
notebook: {TRAINING_NOTEBOOK}
results_dir: {tmp_path / "results"}
grid:
  seed: [0, 1]
  variant: [gap, attention-learned, attention-truth]
params:
  max_epochs: 3
""",
    )
    sweep = load_sweep(path)
    assert [p.run_id for p in sweep.points] == [
        f"notebook-random-{v}-s{s}" for s in (0, 1) for v in ("gap", "attention-learned", "attention-truth")
    ]
    first = sweep.points[0]
    assert first.parameters == {
        "max_epochs": 3,
        "seed": 0,
        "variant": "gap",
        "run_id": "notebook-random-gap-s0",
        "results_dir": str(tmp_path / "results"),
    }
    # The config is the notebook's defaults with the point applied, as the notebook will build it.
    assert (first.config.max_epochs, first.config.iterations_per_epoch, first.config.data_root) == (
        3,
        20,
        "data/notebook",
    )
    assert sweep.result_path(first) == tmp_path / "results" / "notebook-random-gap-s0.json"


def test_arguments_override_the_folders_of_the_sweep_file(tmp_path):
    path = write_sweep(tmp_path / "s.yaml", f"notebook: {TRAINING_NOTEBOOK}\nresults_dir: a\nruns_dir: b\n")
    sweep = load_sweep(path, results_dir=tmp_path / "r", runs_dir=tmp_path / "n")
    assert (sweep.results_dir, sweep.runs_dir) == (tmp_path / "r", tmp_path / "n")
    assert len(sweep.points) == 1  # no grid: one run with the notebook's defaults


def test_a_bad_value_fails_the_sweep_before_any_run_naming_the_grid_point(tmp_path):
    path = write_sweep(
        tmp_path / "s.yaml",
        f"""
notebook: {TRAINING_NOTEBOOK}
grid:
  variant: [gap, attention-truht]
""",
    )
    with pytest.raises(SweepError) as err:
        load_sweep(path)
    assert "grid point 2 {'variant': 'attention-truht'}" in str(err.value)
    assert "variant='attention-truht' is not allowed" in str(err.value)


def test_an_unknown_key_is_named_with_the_closest_parameter(tmp_path):
    path = write_sweep(tmp_path / "s.yaml", f"notebook: {TRAINING_NOTEBOOK}\ngrid:\n  sed: [0, 1]\n")
    with pytest.raises(
        SweepError,
        match=r"'sed' is neither a parameter of .*04_training.ipynb nor a RunConfig field; did you mean 'seed'\?",
    ):
        load_sweep(path)


def test_a_runconfig_field_without_its_own_parameter_goes_through_config_overrides(tmp_path):
    path = write_sweep(
        tmp_path / "s.yaml",
        f"""
notebook: {TRAINING_NOTEBOOK}
grid:
  momentum: [0.0, 0.9]
params:
  run_id: "{{variant}}-m{{momentum}}"
""",
    )
    points = load_sweep(path).points
    assert [p.run_id for p in points] == ["attention-truth-m0.0", "attention-truth-m0.9"]
    assert points[1].parameters["config_overrides"] == {"momentum": 0.9}
    assert points[1].config.momentum == 0.9


def test_a_runconfig_field_is_refused_when_the_notebook_cannot_take_it(tmp_path, tiny):
    path = write_sweep(tmp_path / "s.yaml", f"notebook: {tiny}\ngrid:\n  momentum: [0.0, 0.9]\n")
    with pytest.raises(SweepError, match=r"'momentum' is a RunConfig field, but .*tiny.ipynb takes it neither"):
        load_sweep(path)


def test_runs_that_would_share_a_result_file_are_refused(tmp_path):
    path = write_sweep(tmp_path / "s.yaml", f"notebook: {TRAINING_NOTEBOOK}\ngrid:\n  lr: [0.001, 0.01]\n")
    with pytest.raises(
        SweepError, match="share the run id 'notebook-random-attention-truth-s0'; add a run_id template"
    ):
        load_sweep(path)


def test_a_value_of_another_type_than_the_notebook_default_is_refused(tmp_path):
    path = write_sweep(tmp_path / "s.yaml", f"notebook: {TRAINING_NOTEBOOK}\nparams:\n  n_images: many\n")
    with pytest.raises(
        SweepError, match=r"n_images = 'many' has type str, but the notebook's default 160 has type int"
    ):
        load_sweep(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("gird:\n  seed: [0]\n", r"unknown top-level key 'gird'; did you mean 'grid'\?"),
        ("params:\n  results_dir: elsewhere\n", "'results_dir' is set by the sweep itself"),
        ("grid:\n  run_id: [a, b]\n", "run_id cannot vary in the grid"),
        ("grid:\n  seed: [0]\nparams:\n  seed: 1\n", r"\['seed'\] are both in `grid:` and `params:`"),
        ("grid: [seed]\n", "`grid:` must be a mapping"),
        ("params:\n  run_id: 'run {variant}'\n", "run_id='run attention-truth' is not a plain file name"),
        ("params:\n  run_id: '{colour}'\n", "run_id template '{colour}' cannot be filled"),
        ("grid: {seed: [0, 1]\n", "is not valid YAML"),
        ("grid:\n  1: [0, 1]\n", "parameter names are strings, got 1"),
    ],
)
def test_sweep_file_mistakes_are_named(tmp_path, text, message):
    path = write_sweep(tmp_path / "s.yaml", f"notebook: {TRAINING_NOTEBOOK}\n{text}")
    with pytest.raises(SweepError, match=message):
        load_sweep(path)


def test_a_notebook_without_a_parameters_cell_is_refused(tmp_path):
    notebook = write_notebook(tmp_path / "plain.ipynb", None)
    path = write_sweep(tmp_path / "s.yaml", f"notebook: {notebook}\n")
    with pytest.raises(SweepError, match="has no cell tagged 'parameters'"):
        load_sweep(path)


def test_a_notebook_that_cannot_receive_the_run_id_is_refused(tmp_path):
    notebook = write_notebook(tmp_path / "nb.ipynb", "seed = 0\nresults_dir = 'r'")
    path = write_sweep(tmp_path / "s.yaml", f"notebook: {notebook}\n")
    with pytest.raises(SweepError, match="has no parameter 'run_id'"):
        load_sweep(path)


def test_a_missing_sweep_file_is_named(tmp_path):
    with pytest.raises(SweepError, match=r"sweep file .*nope.yaml does not exist"):
        load_sweep(tmp_path / "nope.yaml")


# --------------------------------------------------------------------------- running


def test_runs_whose_result_exists_are_skipped_without_starting_a_kernel(tmp_path, tiny):
    results = tmp_path / "results"
    results.mkdir()
    sweep = load_sweep(
        write_sweep(
            tmp_path / "s.yaml",
            f"notebook: {tiny}\nresults_dir: {results}\nruns_dir: {tmp_path / 'runs'}\ngrid:\n  seed: [0, 1]\n",
        )
    )
    for point in sweep.points:
        sweep.result_path(point).write_text(json.dumps({"metrics": {"test_accuracy": 0.5}}))
    outcomes = run_sweep(sweep, log=lambda line: None)
    assert [o.status for o in outcomes] == ["skipped", "skipped"]
    assert list((tmp_path / "runs").iterdir()) == []  # nothing was executed


def test_a_failed_run_is_reported_and_the_sweep_goes_on(tmp_path, tiny, capsys):
    results, runs = tmp_path / "results", tmp_path / "runs"
    path = write_sweep(
        tmp_path / "s.yaml", f"notebook: {tiny}\nresults_dir: {results}\nruns_dir: {runs}\ngrid:\n  seed: [1, 2, 0]\n"
    )
    assert main(["sweep", str(path)]) == 1  # non-zero: a run failed
    out = capsys.readouterr().out
    # seed 1 raises, seed 2 finishes without a result file, seed 0 (after both) succeeds.
    assert sorted(p.name for p in results.iterdir()) == ["synthetic-random-gap-s0.json"]
    lines = {line.split("|")[1].strip(): line for line in out.splitlines() if line.startswith("| synthetic")}
    assert "failed" in lines["synthetic-random-gap-s1"]
    assert (
        "cell 2 of" in lines["synthetic-random-gap-s1"]
        and "RuntimeError: seed 1 fails on purpose" in lines["synthetic-random-gap-s1"]
    )
    assert (
        "failed" in lines["synthetic-random-gap-s2"] and "finished without writing" in lines["synthetic-random-gap-s2"]
    )
    assert "ok" in lines["synthetic-random-gap-s0"] and "0.750" in lines["synthetic-random-gap-s0"]
    assert "3 runs: 1 ok, 0 skipped, 2 failed" in out
    # The failed run's executed copy keeps the traceback for the reader.
    failed = nbformat.read(runs / "synthetic-random-gap-s1.ipynb", as_version=4)
    assert any(o.get("ename") == "RuntimeError" for cell in failed.cells for o in cell.get("outputs", []))


def test_summary_table_counts_each_status():
    from visent.sweep import RunOutcome

    table = summary_table([RunOutcome("a", "ok", 12.3, metrics={"test_accuracy": 0.9}), RunOutcome("b", "skipped")])
    assert "| a        | ok       |" in table and "0.900" in table
    assert table.endswith("2 runs: 1 ok, 1 skipped, 0 failed")


def test_a_real_training_run_of_the_notebook_writes_its_result(tmp_path):
    path = write_sweep(
        tmp_path / "s.yaml",
        f"""
notebook: {TRAINING_NOTEBOOK}
results_dir: {tmp_path / "results"}
runs_dir: {tmp_path / "runs"}
grid:
  variant: [gap]
params:
  data_root: {tmp_path / "data"}
  n_images: 24
  weights: random
  iterations_per_epoch: 2
  max_epochs: 2
  batch_size: 8
  device: cpu
  cache_dir: {tmp_path / "cache"}
  checkpoint_dir: {tmp_path / "checkpoints"}
""",
    )
    (outcome,) = run_sweep(load_sweep(path), log=lambda line: None)
    assert outcome.status == "ok", outcome.error
    result = json.loads((tmp_path / "results" / "data-random-gap-s0.json").read_text())
    assert result["variant"] == "gap" and result["config"]["max_epochs"] == 2
    assert result["backbone"]["weights"]["is_random"] is True
    assert result["dataset"]["n_train"] + result["dataset"]["n_val"] + result["dataset"]["n_test"] == 24
    executed = nbformat.read(tmp_path / "runs" / "data-random-gap-s0.ipynb", as_version=4)
    injected = next(c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert 'weights = "random"' in injected.source
