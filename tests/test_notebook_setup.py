"""The notebooks' shared setup: ``setup()`` runs them from the repository root and
``run_config(globals(), ...)`` turns their papermill parameters into a ``RunConfig``."""

from __future__ import annotations

import math
from pathlib import Path

import nbformat
import pytest

from visent.config import ConfigError, RunConfig
from visent.notebook import run_config, setup

TRAINING_NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "04_training.ipynb"


def test_setup_moves_a_kernel_started_in_notebooks_to_the_folder_above(tmp_path, monkeypatch):
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")

    root = setup()

    assert root == Path.cwd() == tmp_path.resolve()


def test_setup_leaves_any_other_working_folder_as_it_is(tmp_path, monkeypatch):
    (tmp_path / "runs").mkdir()
    monkeypatch.chdir(tmp_path / "runs")

    assert setup() == Path.cwd() == (tmp_path / "runs").resolve()


def test_run_config_takes_exactly_the_config_keys_of_the_namespace():
    keys = {"seed": 3, "lr": 0.01, "data_root": "data/notebook"}
    others = {"n_images": 160, "synth_seed": 7, "config_overrides": {}, "math": math}
    namespace = {**keys, **others}

    config = run_config(namespace)

    assert config == RunConfig.from_dict(keys)
    assert (config.seed, config.lr, config.run_id) == (3, 0.01, "notebook-random-attention-truth-s3")


def test_run_config_overrides_win_over_the_namespace():
    config = run_config({"seed": 3, "variant": "gap"}, seed=5, split="heldout-adjectives")

    assert (config.seed, config.variant, config.split) == (5, "gap", "heldout-adjectives")


def test_run_config_of_an_empty_namespace_is_the_default_config():
    assert run_config({}) == RunConfig()


def test_an_unknown_override_key_is_rejected_naming_it():
    with pytest.raises(ConfigError, match=r"unknown config key 'sed'; did you mean 'seed'\?"):
        run_config({"seed": 0}, sed=1)


def test_a_bad_parameter_value_is_rejected_naming_the_key():
    with pytest.raises(ConfigError, match=r"device='gpu' is not allowed; choose one of \['auto', 'cpu', 'cuda'\]"):
        run_config({"device": "gpu"})


def test_the_training_notebook_defaults_name_the_run_its_stored_output_shows():
    notebook = nbformat.read(TRAINING_NOTEBOOK, as_version=4)
    (cell,) = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    parameters: dict = {}
    exec(cell.source, {}, parameters)  # what the kernel runs

    config = run_config(parameters, **parameters["config_overrides"])

    assert config.run_id == "notebook-random-attention-truth-s0"
    assert (config.preset, config.iterations_per_epoch, config.max_epochs, config.lr) == ("cpu", 20, 12, 0.005)
    assert (config.results_dir, config.checkpoint_dir) == ("runs/results", "checkpoints")
