"""Mixed precision is decided in one place: extraction, training and the result file agree.

The CPU's instruction sets are mocked, so the decision table is tested on any machine."""

import warnings

import numpy as np
import pytest
import torch

from visent import precision

CPU, CUDA, MPS = torch.device("cpu"), torch.device("cuda", 0), torch.device("mps")
CPUS = {"AMX": ("AMX", "AVX-512 BF16"), "AVX-512 BF16": ("AVX-512 BF16",), "AVX2": ()}


@pytest.fixture(params=list(CPUS))
def cpu(request, monkeypatch):
    """This CPU as one with AMX, with AVX-512 BF16 only, or with AVX2 only (no native bf16)."""
    monkeypatch.setattr(precision, "native_bf16", lambda: CPUS[request.param])
    return request.param


@pytest.mark.parametrize(
    "amp, on_native_cpu, on_avx2_cpu, on_cuda, on_other",
    [
        ("auto", "bf16", "fp32", "bf16", "fp32"),
        ("off", "fp32", "fp32", "fp32", "fp32"),
        ("bf16", "bf16", "bf16", "bf16", "bf16"),
    ],
)
def test_auto_is_bf16_where_the_hardware_computes_it_natively_and_off_or_bf16_mean_it_everywhere(
    cpu, amp, on_native_cpu, on_avx2_cpu, on_cuda, on_other
):
    assert precision.name(amp, CPU) == (on_avx2_cpu if cpu == "AVX2" else on_native_cpu)
    assert precision.name(amp, CUDA) == on_cuda
    assert precision.name(amp, MPS) == on_other


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="amp='fp16' is not one of"):
        precision.uses_bf16("fp16", CPU)


def _cpu_with(monkeypatch, tmp_path, capability, probes, flags):
    """torch's capability and probes, and /proc/cpuinfo's flags, as on a given CPU."""
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: capability)
    for probe, _ in precision.NATIVE_BF16.values():
        if probe in probes:
            monkeypatch.setattr(torch.cpu, probe, lambda answer=probes[probe]: answer, raising=False)
        else:
            monkeypatch.delattr(torch.cpu, probe, raising=False)
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: fpu sse2 avx2 {' '.join(flags)}\n\nprocessor\t: 1\n")
    monkeypatch.setattr(precision, "CPUINFO", cpuinfo)
    return precision.native_bf16.__wrapped__()


def test_native_bf16_is_what_torch_probes_on_an_avx512_cpu(monkeypatch, tmp_path):
    amx = {"_is_amx_tile_supported": True, "_is_avx512_bf16_supported": True}
    assert _cpu_with(monkeypatch, tmp_path, "AVX512", amx, ["amx_bf16", "avx512_bf16"]) == ("AMX", "AVX-512 BF16")
    zen4 = {"_is_amx_tile_supported": False, "_is_avx512_bf16_supported": True}
    assert _cpu_with(monkeypatch, tmp_path, "AVX512", zen4, ["amx_bf16"]) == ("AVX-512 BF16",)  # torch wins
    skylake = {"_is_amx_tile_supported": False, "_is_avx512_bf16_supported": False}
    assert _cpu_with(monkeypatch, tmp_path, "AVX512", skylake, []) == ()


def test_a_torch_without_the_probes_reads_the_flags_of_proc_cpuinfo(monkeypatch, tmp_path):
    assert _cpu_with(monkeypatch, tmp_path, "AVX512", {}, ["avx512_bf16"]) == ("AVX-512 BF16",)
    monkeypatch.setattr(precision, "CPUINFO", tmp_path / "absent")
    assert precision.native_bf16.__wrapped__() == ()


def test_an_avx2_cpu_or_torch_capped_at_avx2_has_no_native_bf16(monkeypatch, tmp_path):
    probes = {"_is_amx_tile_supported": True, "_is_avx512_bf16_supported": True}
    assert _cpu_with(monkeypatch, tmp_path, "AVX2", probes, ["amx_bf16", "avx512_bf16"]) == ()


@pytest.mark.parametrize(
    "cpu_name, amp, line",
    [
        ("AMX", "auto", "precision: bf16 (--amp auto on a CPU with native bf16 (AMX, AVX-512 BF16))"),
        ("AVX2", "auto", "precision: fp32 (--amp auto on a CPU without native bf16 (torch: "),
        ("AMX", "off", "precision: fp32 (--amp off)"),
    ],
)
def test_the_decision_is_said_in_one_line_with_its_reason(monkeypatch, cpu_name, amp, line):
    monkeypatch.setattr(precision, "native_bf16", lambda: CPUS[cpu_name])
    assert precision.describe(amp, CPU).startswith(line)
    assert precision.describe("auto", CUDA) == "precision: bf16 (--amp auto on cuda)"


def test_bf16_on_a_cpu_that_emulates_it_warns_and_fp32_or_native_bf16_never_does(monkeypatch):
    monkeypatch.setattr(precision, "native_bf16", lambda: ())
    with pytest.warns(precision.PrecisionWarning, match="without bf16 instructions"):
        precision.check("bf16", CPU)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        precision.check("auto", CPU)
        monkeypatch.setattr(precision, "native_bf16", lambda: ("AVX-512 BF16",))
        precision.check("bf16", CPU)
        precision.check("auto", CPU)


def test_the_autocast_context_follows_the_decision(cpu):
    with precision.autocast("auto", CPU):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == (torch.float32 if cpu == "AVX2" else torch.bfloat16)
    with precision.autocast("off", CPU):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


@pytest.mark.parametrize("recorded, mode", [("fp32", "off"), ("bf16", "bf16")])
def test_a_recorded_precision_maps_to_the_mode_that_gives_it_on_every_device(cpu, recorded, mode):
    assert precision.mode_for(recorded) == mode
    assert {precision.name(mode, device) for device in (CPU, CUDA, MPS)} == {recorded}


def test_an_unknown_recorded_precision_is_refused():
    with pytest.raises(ValueError, match="precision 'fp16' is not one of"):
        precision.mode_for("fp16")


#: bf16 keeps 8 bits of mantissa: conv5_3 features of bf16 autocast stay within this fraction of the
#: largest fp32 feature (measured on these photos with random weights: 0.010; on Twitter I, book/performance.md).
BF16_TOLERANCE = 0.05


def test_visent_extract_on_a_native_bf16_cpu_caches_bf16_features_close_to_fp32_and_says_so(
    monkeypatch, tmp_path, make_tree, capsys
):
    from visent.cli import main
    from visent.features import FeatureCache

    monkeypatch.setattr(precision, "native_bf16", lambda: ("AMX",))  # computed for real: emulated on AVX2 CPUs
    root = make_tree(tmp_path / "ds", {"positive": ["a.jpg", "b.jpg"], "negative": ["c.jpg", "d.jpg"]})
    flags = ["--dataset", "folders", "--data-root", str(root), "--weights", "random", "--image-size", "64"]
    flags += ["--cache-dir", str(tmp_path / "cache"), "--quiet", "--no-index-cache"]
    caches = {}
    for amp in ("off", "auto"):
        assert main(["extract", *flags, "--amp", amp]) == 0
        err = capsys.readouterr().err
        assert err.count("visent extract: precision: ") == 1, err
        caches[amp] = FeatureCache.open(
            next(p for p in (tmp_path / "cache").iterdir() if p.name.endswith("-bf16") == (amp == "auto"))
        )
    assert "precision: bf16 (--amp auto on a CPU with native bf16 (AMX))" in err
    assert {amp: cache.manifest["precision"] for amp, cache in caches.items()} == {"off": "fp32", "auto": "bf16"}
    fp32, bf16 = (caches[amp].regions(np.arange(4)).numpy().astype(np.float32) for amp in ("off", "auto"))
    assert 0 < np.abs(bf16 - fp32).max() <= BF16_TOLERANCE * np.abs(fp32).max()
