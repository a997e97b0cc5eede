"""`visent run` and `visent cv` train the runs of one dataset and schedule as one stack of heads
where that pays (CUDA) and one after another elsewhere; both ways write the same result files."""

import json
from pathlib import Path

import pytest
import torch

from visent import cli, distributed, pipeline
from visent.config import RunConfig
from visent.data.synth import SynthConfig, generate
from visent.training.multi import stacking_pays


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """32 synthetic images of 64 px, with one feature cache shared by the module's runs."""
    root = tmp_path_factory.mktemp("stacked")
    generate(root / "synthetic", SynthConfig(n_images=32, image_size=64), progress=False)
    return root


def grid(tiny: Path, out: Path, variants=("gap", "adjective-only"), seeds=(0, 1), **changes) -> list[RunConfig]:
    base = {
        **{"data_root": str(tiny / "synthetic"), "weights": "random", "image_size": 64, "device": "cpu", "amp": "off"},
        **{"preset": "cpu", "iterations_per_epoch": 3, "max_epochs": 2, "batch_size": 8},
        **{"cache_dir": str(tiny / "cache"), "results_dir": str(out / "r"), "checkpoint_dir": str(out / "k")},
    }
    return [RunConfig(**base, variant=v, seed=s, **changes) for v in variants for s in seeds]


def numbers(tree, path=""):
    """Every number of a nested result dict, by its path (lists by position)."""
    if isinstance(tree, dict):
        return {k: v for key, value in tree.items() for k, v in numbers(value, f"{path}/{key}").items()}
    if isinstance(tree, list):
        return {k: v for i, value in enumerate(tree) for k, v in numbers(value, f"{path}/{i}").items()}
    return {path: tree} if isinstance(tree, (int, float)) and not isinstance(tree, bool) else {}


def test_stacked_and_sequential_runs_write_the_same_result_files(tiny, tmp_path):
    log: list[str] = []
    configs = grid(tiny, tmp_path)
    stacked = pipeline.run_many(configs, progress=False, log=log.append, sequential=False)
    assert "== [1-4/4, one stack] synthetic-random-gap-s0, synthetic-random-gap-s1, " in "\n".join(log)
    stacked_files = [json.loads(Path(r["path"]).read_text()) for r in stacked]
    # Into the same folders: fit finds the stack's best-state checkpoints and does not resume them.
    alone = pipeline.run_many(configs, force=True, progress=False, log=log.append, sequential=True)
    alone_files = [json.loads(Path(r["path"]).read_text()) for r in alone]
    for s, a, config in zip(stacked_files, alone_files, configs, strict=True):
        assert s["run_id"] == a["run_id"] == config.run_id
        assert s.keys() == a.keys() and s["training"].keys() == a["training"].keys()
        assert (s["training"]["stacked"], a["training"]["stacked"]) == (True, False)
        assert s["config"] == a["config"] and s["config_fingerprint"] == a["config_fingerprint"]
        assert s["training"]["history"][-1]["val_loss"] == pytest.approx(a["training"]["history"][-1]["val_loss"])
        assert numbers(s["metrics"]) == pytest.approx(numbers(a["metrics"]), abs=1e-6)
        assert numbers(s.get("examples")) == pytest.approx(numbers(a.get("examples")), abs=1e-3)
    assert stacked_files[0]["metrics"] != stacked_files[1]["metrics"]  # the seeds really differ


def test_a_stacked_run_leaves_a_checkpoint_that_visent_evaluate_reads(tiny, tmp_path):
    configs = grid(tiny, tmp_path, variants=("gap",))
    results = pipeline.run_many(configs, progress=False, log=lambda _: None, sequential=False)
    for config, result in zip(configs, results, strict=True):
        metrics = pipeline.evaluate_checkpoint(pipeline.checkpoint_for(config).path, progress=False)
        assert metrics["best_epoch"] == result["training"]["best_epoch"]
        assert metrics["accuracy"] == result["metrics"]["test_accuracy"]


def test_an_interrupted_stack_writes_nothing_and_the_rerun_trains_only_the_unfinished_runs(tiny, tmp_path, monkeypatch):
    log: list[str] = []
    first = grid(tiny, tmp_path, variants=("gap",), seeds=(0, 1))
    pipeline.run_many(first, progress=False, log=log.append, sequential=False)
    finished = {c.run_id: (Path(c.results_dir) / f"{c.run_id}.json").stat().st_mtime_ns for c in first}
    configs = grid(tiny, tmp_path, variants=("gap",), seeds=(0, 1, 2, 3))

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(pipeline, "train_many", interrupted)
        with pytest.raises(KeyboardInterrupt):
            pipeline.run_many(configs, progress=False, log=log.append, sequential=False)
    assert sorted(p.name for p in (tmp_path / "r").glob("*.json")) == [f"{c}.json" for c in finished]
    log.clear()
    results = pipeline.run_many(configs, progress=False, log=log.append, sequential=False)
    assert [r["run_id"] for r in results] == [c.run_id for c in configs]
    assert log == [
        "synthetic-random-gap-s0: result exists for this configuration, reused (--force reruns)",
        "synthetic-random-gap-s1: result exists for this configuration, reused (--force reruns)",
        "== [3-4/4, one stack] synthetic-random-gap-s2, synthetic-random-gap-s3",
    ]
    assert {run_id: (tmp_path / "r" / f"{run_id}.json").stat().st_mtime_ns for run_id in finished} == finished


def test_the_cpu_trains_one_run_after_another_and_cuda_stacks():
    assert not stacking_pays(torch.device("cpu"))
    assert stacking_pays(torch.device("cuda"))


def test_the_automatic_rule_trains_alone_on_the_cpu_and_says_so(tiny, tmp_path):
    log: list[str] = []
    assert pipeline.plan_stacks(grid(tiny, tmp_path), None, log.append) == [[0], [1], [2], [3]]
    assert log == ["on cpu the runs train one after another: a stack of heads does not pay there"]


def test_runs_of_one_dataset_and_schedule_share_a_stack_where_it_pays(tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "stacking_pays", lambda device: True)
    configs = grid(tiny, tmp_path) + grid(tiny, tmp_path, lr=0.01)  # another schedule: another stack
    assert pipeline.plan_stacks(configs, None, print) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert pipeline.plan_stacks(configs, True, print) == [[i] for i in range(8)]


@pytest.mark.parametrize(
    "variant, reason",
    [
        ("linear-probe", "linear-probe is not trained by SGD (its trainer: probe)"),
        ("attention-shuffled", "attention-shuffled draws its queries with the seed, so every seed has data of its own"),
        ("attention-predicted", "attention-predicted draws its queries with the seed"),
    ],
)
def test_a_variant_the_stack_cannot_train_trains_alone_with_the_reason_logged(tiny, tmp_path, variant, reason):
    log: list[str] = []
    plan = pipeline.plan_stacks(grid(tiny, tmp_path, variants=("gap", variant)), False, log.append)
    assert plan == [[0, 1], [2], [3]]
    assert log[0].startswith(f"synthetic-random-{variant}-s0: trains alone: {reason}")


def test_an_outcome_key_the_stack_does_not_handle_trains_alone(tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "STACKED_KEYS", pipeline.STACKED_KEYS - {"momentum"})
    log: list[str] = []
    assert pipeline.plan_stacks(grid(tiny, tmp_path, momentum=0.5), False, log.append) == [[0], [1], [2], [3]]
    assert log[0] == "synthetic-random-gap-s0: trains alone: a stack of heads does not handle momentum=0.5"
    assert pipeline.plan_stacks(grid(tiny, tmp_path), False, print) == [[0, 1, 2, 3]]  # at its default it stacks


def test_under_torchrun_every_run_trains_alone(tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(distributed, "current", lambda: distributed.Context(rank=0, world_size=2))
    log: list[str] = []
    assert pipeline.plan_stacks(grid(tiny, tmp_path), False, log.append) == [[0], [1], [2], [3]]
    assert log == ["torchrun: every run trains alone, with DistributedDataParallel (a stack of heads is one process's)"]


@pytest.mark.parametrize("command, extra", [("run", ["--variants", "gap"]), ("cv", ["--cv-folds", "2"])])
@pytest.mark.parametrize("flag, sequential", [(["--sequential"], True), ([], None)])
def test_the_sequential_flag_reaches_run_many(tiny, tmp_path, monkeypatch, command, extra, flag, sequential):
    seen = []

    def run_many(configs, force, progress, log, sequential):
        seen.append(sequential)
        raise ValueError("stop here")

    monkeypatch.setattr(pipeline, "run_many", run_many)
    argv = [command, "--data-root", str(tiny / "synthetic"), "--variant", "gap", "--results-dir", str(tmp_path), *extra]
    assert cli.main([*argv, *flag]) == 2  # the fake's error, reported as a user error
    assert seen == [sequential]
