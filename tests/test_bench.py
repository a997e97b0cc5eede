"""The benchmarks: both scripts run end to end at smoke sizes, and every number they report is
consistent with the measurements it was computed from."""

import json
import mmap
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from visent import precision
from visent.backbone import get_weights

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # `benchmarks` is a folder of scripts at the repository root, not installed

from benchmarks.bf16 import auto_row, extraction_benchmark, folders_dataset  # noqa: E402
from benchmarks.bf16_features import compare  # noqa: E402
from benchmarks.bf16_features import main as bf16_features_main  # noqa: E402
from benchmarks.common import BenchmarkError, measure, ratio, target  # noqa: E402
from benchmarks.fixtures import random_cache, random_train_data, write_array_cache, write_photos  # noqa: E402
from benchmarks.make_run import clean_head, compare_results  # noqa: E402
from benchmarks.memory import InMemoryFeatures, PeakSampler  # noqa: E402
from benchmarks.procmem import rss_anon_bytes  # noqa: E402
from benchmarks.report import markdown_report  # noqa: E402

# What a bare CUDA PyTorch install lacks: gpu.py must run without any of it. (It measures the product's
# extract_features, which needs the product's core packages: pandas for the dataset table, and tqdm.)
NOT_ON_THE_GPU_MACHINE = ("seaborn", "matplotlib", "papermill", "jupyter_book", "pyarrow", "skimage", "yaml")
BLOCKED_RUN = (
    "import runpy, sys\n"
    "for name in {blocked!r}: sys.modules[name] = None  # `import name` now raises ImportError\n"
    "sys.argv = {argv!r}\n"
    "runpy.run_module('benchmarks.gpu', run_name='__main__', alter_sys=True)\n"
)


@pytest.fixture(scope="module")
def launched(tmp_path_factory):
    """Both scripts at smoke sizes, started side by side: gpu.py on the CPU with the packages of
    the book and the notebooks made unimportable. Yields (name -> process, output folder)."""
    out = tmp_path_factory.mktemp("bench")
    gpu_argv = ["benchmarks.gpu", "--smoke", "--device", "cpu", "--out", str(out / "gpu.json")]
    commands = {
        "run.py": [sys.executable, "-m", "benchmarks.run", "--smoke", "--out-dir", str(out)],
        "gpu.py": [sys.executable, "-c", BLOCKED_RUN.format(blocked=NOT_ON_THE_GPU_MACHINE, argv=gpu_argv)],
    }
    env = os.environ | {"OMP_NUM_THREADS": "1"}  # two processes share the cores
    processes = {
        name: subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name, cmd in commands.items()
    }
    yield processes, out
    for process in processes.values():
        process.kill()
        process.communicate()


def finished(launched, name: str, result: str) -> tuple[dict, Path]:
    processes, out = launched
    _, stderr = processes[name].communicate(timeout=300)
    assert processes[name].returncode == 0, f"{name} failed:\n{stderr[-4000:]}"
    return json.loads((out / result).read_text()), out


@pytest.fixture(scope="module")
def cpu_smoke(launched):
    """``benchmarks/run.py --smoke``: (its JSON document, the output folder)."""
    return finished(launched, "run.py", "cpu-smoke.json")


@pytest.fixture(scope="module")
def gpu_smoke(launched):
    """``benchmarks/gpu.py --smoke --device cpu``: (its JSON document, the output folder)."""
    return finished(launched, "gpu.py", "gpu.json")


def test_cpu_smoke_reports_positive_rates_and_ratios_of_its_own_measurements(cpu_smoke):
    cpu, _ = cpu_smoke
    a, b = cpu["backbone"], cpu["training"]
    for measured in (a["ours"], a["naive"], b["ours"], b["ours_bf16"], b["ours_large"], b["naive"]):
        assert measured["images_per_s"] > 0 and measured["seconds"] > 0
    assert a["speedup"] == pytest.approx(a["ours"]["images_per_s"] / a["naive"]["images_per_s"])
    assert b["speedup"] == pytest.approx(b["ours"]["images_per_s"] / b["naive"]["images_per_s"])
    assert b["ours"]["batch_size"] == 32 and b["ours_large"]["batch_size"] > 32


def test_cpu_smoke_times_the_finetuning_step_beside_the_naive_step_from_pixels(cpu_smoke):
    cpu, _ = cpu_smoke
    e = cpu["finetune"]
    for side in ("ours", "naive"):
        assert e[side]["images_per_s"] > 0 and e[side]["seconds"] > 0 and e[side]["batch_size"] == 32
    assert e["speedup"] == pytest.approx(e["ours"]["images_per_s"] / e["naive"]["images_per_s"])
    goal = cpu["targets"]["finetune_memory_growth"]
    assert goal["measured"] == cpu["memory"]["growth"]["finetune"]["peak_rss_bytes"]


def test_cpu_smoke_compares_extraction_and_finetuning_at_both_precisions_where_auto_is_bf16(cpu_smoke):
    cpu, _ = cpu_smoke
    x, e, machine = cpu["extraction"], cpu["finetune"], cpu["cpu"]
    assert machine["capability"] and machine["auto"] == ("bf16" if machine["native_bf16"] else "fp32")
    assert x["off"]["precision"] == e["ours"]["precision"] == "fp32" and x["off"]["images_per_s"] > 0
    auto_rows = [row for row in cpu["rows"] if "--amp auto" in row["measurement"]]
    assert [row["measurement"][:3] for row in auto_rows] == ["(a)", "(e)"]
    assert [isinstance(row["ours"], float) for row in auto_rows] == [bool(machine["native_bf16"])] * 2
    if machine["native_bf16"]:
        assert x["auto"]["precision"] == e["auto"]["precision"] == "bf16"
        assert x["speedup"] == pytest.approx(x["auto"]["images_per_s"] / x["off"]["images_per_s"])
        assert e["speedup_auto"] == pytest.approx(e["auto"]["images_per_s"] / e["ours"]["images_per_s"])
        goal = cpu["targets"]["extraction_bf16_speedup"]
        assert goal["measured"] == x["speedup"] and goal["met"] == (x["speedup"] >= 1.6)
        assert auto_rows[0]["ratio"] == x["speedup"] and auto_rows[1]["ratio"] == e["speedup_auto"]
    else:
        assert "auto" not in x and x["speedup"] is e["auto"] is None
        assert "extraction_bf16_speedup" not in cpu["targets"]


def _no_native_bf16(monkeypatch):
    monkeypatch.setattr(precision, "native_bf16", lambda: ())


def _native_bf16(monkeypatch):
    monkeypatch.setattr(precision, "native_bf16", lambda: ("AMX",))  # computed for real: emulated on AVX2 CPUs


@pytest.mark.parametrize("cpu_kind", [_no_native_bf16, _native_bf16])
def test_extraction_runs_auto_beside_fp32_only_where_auto_is_bf16(tmp_path, monkeypatch, cpu_kind):
    cpu_kind(monkeypatch)
    dataset = folders_dataset(write_photos(tmp_path / "photos", 4), tmp_path / "folders")
    x = extraction_benchmark(dataset, get_weights("random").resized(32), batch_size=2, num_workers=0, rounds=2)
    assert x["off"]["precision"] == "fp32" and len(x["off"]["all_images_per_s"]) == 2
    assert x["off"]["images_per_s"] == max(x["off"]["all_images_per_s"]) and x["off"]["images"] == 4
    if cpu_kind is _native_bf16:
        assert x["auto"]["precision"] == "bf16"
        assert x["speedup"] == pytest.approx(x["auto"]["images_per_s"] / x["off"]["images_per_s"])
    else:
        assert "auto" not in x and x["speedup"] is None


def test_the_auto_row_says_why_it_has_no_number_on_a_cpu_without_native_bf16():
    avx2 = {"capability": "AVX2", "native_bf16": [], "model": "x", "auto": "fp32"}
    row = auto_row("(a) extraction", avx2, None, None)
    assert row == {
        "measurement": "(a) extraction, --amp auto",
        "ours": "not measured: no AVX-512 BF16 or AMX (torch AVX2), so fp32",
    }
    amx = {"capability": "AVX512", "native_bf16": ["AMX"], "model": "x", "auto": "bf16"}
    row = auto_row("(a) extraction", amx, {"images_per_s": 8.0}, 2.0)
    assert row["measurement"] == "(a) extraction, --amp auto = bf16 (AMX; torch AVX512), images/s"
    assert (row["ours"], row["ratio"]) == (8.0, 2.0)


def test_bf16_features_compares_the_two_caches_region_by_region():
    fp32 = np.ones((2, 4, 3))
    fp32[1, 2, 0] = 10.0  # image 1's strongest feature, in region 2
    bf16 = fp32 * 1.01
    stats = compare(fp32, bf16)
    assert stats["max_abs_difference"] == pytest.approx(0.1) and stats["max_abs_fp32"] == 10.0
    assert stats["max_abs_difference_relative_to_max"] == pytest.approx(0.01)
    assert stats["relative_l2_per_image_max"] == pytest.approx(0.01) and stats[
        "mean_region_relative_l2_max"
    ] == pytest.approx(0.01)
    assert stats["strongest_region_same_fraction"] == 1.0


def test_bf16_features_runs_on_a_folder_of_photos_and_writes_its_json(tmp_path):
    write_photos(tmp_path / "photos", 2)
    out = tmp_path / "bf16-features.json"
    argv = ["--images", str(tmp_path / "photos"), "--n", "2", "--weights", "random", "--out", str(out)]
    assert bf16_features_main(argv) == 0
    result = json.loads(out.read_text())
    assert result["precisions"] == ["fp32", "bf16"] and result["n_images"] == 2 and "env" in result
    assert 0 < result["max_abs_difference_relative_to_max"] < 0.05


def test_cpu_smoke_extrapolates_the_paper_epoch_from_measured_iterations(cpu_smoke):
    cpu, _ = cpu_smoke
    epoch, training = cpu["paper_epoch"], cpu["training"]
    for side in ("ours", "ours_bf16", "naive"):
        assert epoch[side]["extrapolated"] is True
        assert epoch[side]["measured_iterations"] == training[side]["iterations"]
        assert epoch[side]["seconds"] == pytest.approx(1000 * training[side]["seconds_per_iteration"])
    assert epoch["speedup"] == pytest.approx(epoch["naive"]["seconds"] / epoch["ours"]["seconds"])
    assert epoch["speedup_bf16"] == pytest.approx(epoch["naive"]["seconds"] / epoch["ours_bf16"]["seconds"])
    assert training["ours"]["amp"] == "off" and training["ours_bf16"]["amp"] == "bf16"
    for name, key in (("paper_epoch_speedup", "speedup"), ("paper_epoch_speedup_bf16", "speedup_bf16")):
        goal = cpu["targets"][name]
        assert goal["measured"] == epoch[key] and goal["met"] == (goal["measured"] >= 100)


def test_cpu_smoke_measures_memory_per_process_and_judges_growth_on_its_metric(cpu_smoke):
    cpu, _ = cpu_smoke
    memory = cpu["memory"]
    small, large = (str(n) for n in memory["sizes"])
    for mode in ("cache", "ram", "finetune"):
        for n in (small, large):
            run = memory["runs"][mode][n]
            assert run["samples"] == int(n) and run["peak_rss_bytes"] > 0
        metric = memory["target_metric"]
        assert memory["growth"][mode][metric] == pytest.approx(
            memory["runs"][mode][large][metric] / memory["runs"][mode][small][metric]
        )
    # The naive reference holds every feature as fp32: 196 * 512 * 4 bytes more per extra sample.
    extra = (int(large) - int(small)) * 196 * 512 * 4
    ram = memory["runs"]["ram"]
    assert ram[large]["peak_anon_bytes"] - ram[small]["peak_anon_bytes"] > 0.5 * extra
    goal = cpu["targets"]["memory_growth"]
    assert memory["target_metric"] == "peak_rss_bytes"
    assert goal["measured"] == memory["growth"]["cache"]["peak_rss_bytes"] and goal["met"] == (goal["measured"] <= 1.2)


def test_cpu_smoke_naive_reference_computes_the_same_features_as_ours(cpu_smoke):
    cpu, _ = cpu_smoke
    assert cpu["backbone"]["features_max_abs_diff"] < 1e-4 * cpu["backbone"]["features_max_abs"]


def test_cpu_smoke_records_provenance_and_load_and_writes_the_table(cpu_smoke):
    cpu, out = cpu_smoke
    assert cpu["smoke"] is True and "commit" in cpu["env"] and cpu["env"]["device"] == "cpu"
    assert set(cpu["load"]) == {"before", "after"} and cpu["load"]["before"]["loadavg_1m"] >= 0
    table = (out / "cpu-smoke.md").read_text()
    assert "These are not measurements" in table
    assert table.count("\n| (") == len(cpu["rows"])


def test_gpu_script_runs_on_cpu_without_the_book_packages(gpu_smoke):
    gpu, out = gpu_smoke
    sections = ("backbone", "end_to_end", "training", "many_heads", "paper_scale")
    assert {name: gpu[name].get("error") for name in sections} == dict.fromkeys(sections)
    assert gpu["env"]["device"] == "cpu" and gpu["smoke"] is True
    assert (out / "gpu.md").exists()


def test_gpu_smoke_rates_are_positive_and_ratios_come_from_them(gpu_smoke):
    gpu, _ = gpu_smoke
    b, e, t = gpu["backbone"], gpu["end_to_end"], gpu["training"]
    assert "compiled" not in b and "cuda_graph" not in t  # CUDA-only paths are not faked on a CPU
    assert b["best"] == b["eager"]["images_per_s"] > 0
    assert b["speedup"] == pytest.approx(b["best"] / b["naive"]["images_per_s"])
    assert e["best"] == max(e["tensor_decode"]["images_per_s"], e["pil_workers"]["images_per_s"])
    assert (e["tensor_decode"]["decoder"], e["pil_workers"]["decoder"]) == ("tensor", "pil")
    assert (
        e["tensor_decode"]["pil_fallbacks"] == 0 and "tensor_decode_compiled" not in e
    )  # all JPEG; no compile on a CPU
    assert t["speedup"] == pytest.approx(t["best"] / t["fit_host"]["images_per_s"])
    for S, stack in gpu["many_heads"]["stacks"].items():
        eager = stack["eager"]
        assert stack["best"] == pytest.approx(int(S) * 32 * eager["iterations"] / eager["seconds"])


def test_gpu_smoke_paper_scale_is_the_sum_of_its_extrapolated_parts(gpu_smoke):
    gpu, _ = gpu_smoke
    scale = gpu["paper_scale"]
    assert scale["extrapolated"] is True and scale["epochs"] == 100
    assert scale["extraction_seconds"] == pytest.approx(scale["paper_images"] / gpu["end_to_end"]["best"])
    assert scale["total_seconds"] == pytest.approx(
        scale["extraction_seconds"] + 100 * (scale["train_seconds_per_epoch"] + scale["validation_seconds_per_epoch"])
    )
    goal = gpu["targets"]["paper_scale"]
    assert goal["measured"] == scale["total_seconds"] and goal["met"] == (scale["total_seconds"] < 300)


def test_gpu_smoke_times_visent_runs_stacked_path_and_extrapolates_from_it(gpu_smoke):
    gpu, _ = gpu_smoke
    run, scale = gpu["stacked_run"], gpu["paper_scale"]
    images = run["seeds"] * run["iterations"] * 32
    assert run["stacked"]["images_per_s"] == pytest.approx(images / run["stacked"]["seconds"])
    assert run["speedup"] == pytest.approx(run["sequential"]["seconds"] / run["stacked"]["seconds"])
    per_epoch = len(scale["variants"]) * scale["seeds"] * 1000 * 32 / run["stacked"]["images_per_s"]
    assert scale["train_seconds_per_epoch"] == pytest.approx(per_epoch)


def test_measure_runs_at_least_the_iterations_and_the_minimum_time():
    calls = []
    timing = measure(lambda: calls.append(1), warmup=2, iterations=3)
    assert len(calls) == 5 and timing["iterations"] == 3
    timing = measure(lambda: calls.append(1), warmup=0, iterations=1, min_seconds=0.05)
    assert timing["seconds"] >= 0.05 and timing["iterations"] > 1
    assert timing["seconds_per_iteration"] == pytest.approx(timing["seconds"] / timing["iterations"])


def test_ratio_refuses_a_measurement_that_is_not_positive():
    assert ratio(6.0, 2.0) == 3.0
    with pytest.raises(BenchmarkError, match="two positive measurements, got 1.0 and 0.0"):
        ratio(1.0, 0.0)


def test_markdown_tables_show_measurements_and_state_each_goal_once_below_them():
    document = {
        "benchmark": "cpu",
        "profile": "full",
        "command": "python -m benchmarks.run",
        "date": "2026-01-01",
        "env": {
            "commit": "abcdef1234567890",
            "dirty": False,
            "torch": "2",
            "torchvision": "0",
            "python": "3.11",
            "device": "cpu",
            "gpu": None,
        },
        "load": {"before": {"loadavg_1m": 1.0, "cpu_count": 2, "torch_threads": 2}, "after": {"loadavg_1m": 2.0}},
        "rows": [
            {
                "measurement": "(c) epoch, s",
                "ours": 12.5,
                "naive": 2500.0,
                "ratio": 200.0,
                "target": target(">= 100x", 200.0, True),
            },
            {"measurement": "(d) growth", "ours": 1.5, "naive": 9.0, "target": target("<= 1.2x", 1.5, False)},
            {"measurement": "(e) bf16", "ours": "not measured: no bf16"},
        ],
        "notes": ["(d) with --amp bf16 and `--finetune conv5`"],
    }
    table = markdown_report(document)
    assert "| measurement | ours | naive | speedup |\n" in table
    assert "| (c) epoch, s | 12.50 | 2,500 | 200.0x |\n" in table
    assert "| (d) growth | 1.50 | 9.00 |  |\n" in table
    assert "| (e) bf16 | not measured: no bf16 |  |  |\n" in table
    assert table.endswith("Goals set before measuring:\n\n- >= 100x: reached.\n- <= 1.2x: **not reached**.\n")
    # A bare flag would be rendered with an en dash; one already in a code span stays as it is.
    assert "- (d) with `--amp` bf16 and `--finetune conv5`\n" in table
    assert "commit `abcdef123456`" in table and "Smoke" not in table


@pytest.mark.skipif(rss_anon_bytes() is None, reason="RssAnon is reported on Linux only")
def test_peak_sampler_counts_memory_still_held_when_it_stops():
    sampler = PeakSampler()
    sampler.start()
    baseline = rss_anon_bytes()
    # A fresh private anonymous mapping: malloc may reuse heap pages this long-lived process already
    # holds (RssAnon would not move), and a shared mapping is counted as RssShmem instead.
    held = mmap.mmap(-1, 64 * 2**20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    np.frombuffer(held, dtype=np.uint8)[:] = 1  # written, so resident
    peak = sampler.stop()
    assert peak - baseline >= 0.9 * len(held)


def test_random_cache_and_its_fp32_copy_hold_the_same_rows(tmp_path):
    cache = random_cache(tmp_path / "cache", 40)
    assert len(cache) == 40
    rows = np.array([3, 39, 0])
    regions = cache.regions(rows)
    assert regions.shape == (3, 196, 512) and regions.dtype == torch.float16
    in_ram = InMemoryFeatures(cache).regions(rows)
    assert in_ram.dtype == torch.float32 and torch.equal(in_ram, regions.float())


def test_random_train_data_validates_on_the_last_rows(tmp_path):
    cache = random_cache(tmp_path / "cache", 20)
    data = random_train_data(cache, n_val=4)
    assert data.rows["val"].tolist() == [16, 17, 18, 19] and len(data.rows["train"]) == 16
    assert data.queries.shape == (20, 50) and set(np.unique(data.labels)) <= {0, 1}
    with pytest.raises(ValueError, match="n_val must be between 1 and 19 for a cache of 20 rows, got 20"):
        random_train_data(cache, n_val=20)


def test_indexing_smoke_serves_the_second_index_from_the_cache_and_opens_no_placeholder(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.indexing", "--smoke", "--out-dir", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads((tmp_path / "indexing-smoke.json").read_text())
    assert result["checks"] == {"cold_wrote_the_cache": True, "cached_was_served": True, "cached_equals_cold": True}
    for n in result["sizes"]:
        for run in (*result["runs"][str(n)]["cold"], *result["runs"][str(n)]["cached"]):
            # Zero-byte placeholders are no images, yet nothing is reported: no file was opened.
            assert run["samples"] == n and run["problems"] == {}
    small, large = result["sizes"]
    cold = [result["runs"][str(n)]["cold_indexing_rss_bytes"] for n in (small, large)]
    assert result["memory"]["cold"]["bytes_per_sample"] == pytest.approx((cold[1] - cold[0]) / (large - small))
    assert (tmp_path / "indexing-smoke.md").read_text().count("\n| ") == len(result["rows"]) + 1


def _result(folder: Path, name: str, **metrics: float) -> None:
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps({"run_id": name, "metrics": metrics}))


def test_make_run_comparison_names_each_differing_metric_and_each_file_never_committed(tmp_path):
    produced, committed = tmp_path / "produced", tmp_path / "committed"
    _result(produced, "synthetic-random-gap-s0", test_accuracy=0.9, val_accuracy=0.8)
    _result(committed, "synthetic-random-gap-s0", test_accuracy=0.9, val_accuracy=0.8)
    _result(produced, "synthetic-random-attention-truth-s0", test_accuracy=0.95, val_accuracy=0.9)
    _result(committed, "synthetic-random-attention-truth-s0", test_accuracy=0.95, val_accuracy=0.85)
    _result(produced, "synthetic-random-adjective-only-s0", test_accuracy=1.0)
    assert compare_results(produced, committed) == {
        "synthetic-random-adjective-only-s0": {"committed": False, "identical": False, "differing_metrics": []},
        "synthetic-random-attention-truth-s0": {
            "committed": True,
            "identical": False,
            "differing_metrics": ["val_accuracy"],
        },
        "synthetic-random-gap-s0": {"committed": True, "identical": True, "differing_metrics": []},
    }


def test_make_run_comparison_refuses_a_run_that_wrote_no_result(tmp_path):
    with pytest.raises(BenchmarkError, match="wrote no synthetic"):
        compare_results(tmp_path, tmp_path)


def test_make_run_refuses_a_tree_whose_changes_a_clone_would_not_carry(git_repo):
    repo = git_repo({"a.txt": "one"})
    assert len(clean_head(repo)) == 40
    (repo / "a.txt").write_text("two")
    with pytest.raises(BenchmarkError, match="uncommitted changes"):
        clean_head(repo)


def test_cpu_smoke_times_predict_beside_extraction_on_the_same_photos(cpu_smoke):
    cpu, out = cpu_smoke
    f, extraction = cpu["predict"], cpu["extraction"]["off"]
    assert f["images"] == extraction["images"] == cpu["config"]["photos"]
    assert (f["batch_size"], f["num_workers"]) == (extraction["batch_size"], extraction["num_workers"])
    assert f["images_per_s"] == max(f["all_images_per_s"]) > 0
    assert f["ratio"] == pytest.approx(f["images_per_s"] / extraction["images_per_s"])
    assert "(f) visent predict" in (out / "cpu-smoke.md").read_text()


def test_array_cache_round_trips_rows_across_shards(tmp_path):
    rng = np.random.default_rng(0)
    feats = rng.random((7, 196, 512)).astype(np.float16)
    cache = write_array_cache(
        tmp_path / "c",
        (feats[i : i + 2] for i in range(0, 7, 2)),
        7,
        {"dataset_fingerprint": "x", "weights": "w"},
        shard_size=3,
    )
    assert len(cache.manifest["shards"]) == 3
    rows = np.array([6, 0, 3, 3])
    assert np.array_equal(cache.regions(rows).numpy(), feats[rows])
