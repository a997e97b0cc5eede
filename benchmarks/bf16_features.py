"""How far a bf16 feature cache is from the fp32 one (``make bench-bf16``): the first ``--n`` photos
of a folder of JPEGs, extracted twice by ``extract_features`` with the same weights, ``--amp off``
and ``--amp bf16``, compared region by region as the caches store them (fp16).

    python -m benchmarks.bf16_features --images ../shared/data/twitter_I/images --n 16
        -> results/bench/bf16-features.json

The photos are copied into a temporary ``folders`` dataset; nothing of them is written out but
the statistics. bf16 is computed for real on any CPU (emulated, slowly, without AVX-512 BF16 or AMX).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.bf16 import cpu_description
from benchmarks.common import REPO, BenchmarkError, provenance, write_json
from visent.backbone import get_weights
from visent.data.layouts import load_dataset
from visent.features import extract_features
from visent.precision import PrecisionWarning


def _relative(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``|a - b| / |a|`` per row of the last axis flattened: (N, ...) -> (N,)."""
    a, b = a.reshape(len(a), -1), b.reshape(len(b), -1)
    return np.linalg.norm(a - b, axis=1) / np.linalg.norm(a, axis=1)


def compare(fp32: np.ndarray, bf16: np.ndarray) -> dict[str, Any]:
    """Differences of two region arrays ``(N, regions, channels)``: the largest, per image, and of
    what the heads read (the mean region of ``gap``; the region each image's largest feature is in)."""
    diff = np.abs(fp32 - bf16)
    per_image = _relative(fp32, bf16)
    gap = _relative(fp32.mean(1), bf16.mean(1))
    strongest = [np.unravel_index(np.abs(x).argmax(), x.shape)[0] for x in (fp32, bf16)]
    return {
        "max_abs_difference": float(diff.max()),
        "max_abs_fp32": float(np.abs(fp32).max()),
        "max_abs_difference_relative_to_max": float(diff.max() / np.abs(fp32).max()),
        "mean_abs_difference": float(diff.mean()),
        "mean_abs_fp32": float(np.abs(fp32).mean()),
        "relative_l2_per_image_median": float(np.median(per_image)),
        "relative_l2_per_image_max": float(per_image.max()),
        "mean_region_relative_l2_max": float(gap.max()),
        "strongest_region_same_fraction": float(np.mean(strongest[0] == strongest[1])),
    }


def measure(images: Path, n: int, weights_spec: str, tmp: Path) -> dict[str, Any]:
    photos = sorted(p for p in images.iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))[:n]
    if len(photos) < n:
        raise BenchmarkError(f"{images} holds {len(photos)} JPEG files, fewer than --n {n}; give a smaller --n")
    for k, path in enumerate(photos):
        folder = tmp / "photos" / ("positive" if k % 2 else "negative")
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, folder / path.name)
    dataset = load_dataset("folders", tmp / "photos", cache=False)
    weights = get_weights(weights_spec)
    caches = {}
    for amp in ("off", "bf16"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PrecisionWarning)  # measured for its numbers, not its speed
            caches[amp] = extract_features(dataset, weights, tmp / "cache", amp=amp, progress=False)
    rows = np.setdiff1d(np.arange(n), sorted(caches["off"].failed))
    fp32, bf16 = (caches[amp].regions(rows).numpy().astype(np.float32) for amp in ("off", "bf16"))
    return {
        "name": "bf16-features",
        "images": str(images),
        "n_images": int(len(rows)),
        "weights": weights.id,
        "precisions": [caches[amp].manifest["precision"] for amp in ("off", "bf16")],
        "cpu_native_bf16": ", ".join(cpu_description()["native_bf16"]) or "none",
        **compare(fp32, bf16),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=Path, required=True, help="a folder of JPEG photos, e.g. twitter_I/images")
    parser.add_argument("--n", type=int, default=16, help="how many of its photos (the first, by name)")
    parser.add_argument("--weights", default="oxford-imagenet", help="backbone weights spec")
    parser.add_argument("--out", type=Path, default=REPO / "results" / "bench" / "bf16-features.json")
    args = parser.parse_args(argv)
    if not args.images.is_dir():
        parser.error(f"--images {args.images}: no such folder; give the images/ folder of Twitter I")
    started = provenance("cpu")
    with tempfile.TemporaryDirectory(prefix="visent-bf16-") as tmp:
        result = measure(args.images, args.n, args.weights, Path(tmp))
    document = {**result, **started}
    write_json(args.out, document)
    print("\n".join(f"{key}: {value}" for key, value in result.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
