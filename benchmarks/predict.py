"""(f) ``visent predict`` throughput beside (a)'s ``visent extract`` on the same photos.

``visent.load(checkpoint).predict(photos)`` (decode, backbone and head, batch by batch) on the
photos that (a) extracts with ``visent.features.extract_features``, at the same batch size, workers
and precision. Predict goes through extraction's decode and trunk, so its rate should be (a)'s
extraction rate, less the head (microseconds an image) and plus no cache written.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from benchmarks.common import rate, ratio
from visent.config import RunConfig
from visent.pipeline import model_of, weights_for

#: The variant predicted with: attention over the regions and no word vectors to load.
VARIANT = "attention-learned"


def untrained_checkpoint(path: Path, weights_spec: str, image_size: int, batch_size: int, num_workers: int) -> Path:
    """A checkpoint as ``fit`` writes it, of an untrained ``VARIANT`` head: speed does not depend on its values."""
    config = RunConfig(
        variant=VARIANT,
        weights=weights_spec,
        image_size=image_size,
        device="cpu",
        amp="off",
        extract_batch_size=batch_size,
        num_workers=num_workers,
    )
    torch.manual_seed(0)
    weights = weights_for(config)
    model = model_of(config, weights, 512, None)  # conv5_3: 512 channels per region
    torch.save({"config": config.to_dict(), "best_state": model.state_dict(), "best_epoch": 0}, path)
    return path


def predict_benchmark(
    paths: Sequence[Path],
    weights_spec: str,
    image_size: int,
    batch_size: int,
    num_workers: int,
    rounds: int,
    extraction: dict[str, Any],
    tmp: Path,
) -> dict[str, Any]:
    """(f): images/s of ``predict`` over ``paths`` at ``--amp off``, the best of ``rounds`` after a
    warm-up on the first batch (the trunk built, the weights read), beside (a)'s ``extraction``
    of the same photos at the same settings."""
    import visent

    checkpoint = untrained_checkpoint(tmp / "predict.pt", weights_spec, image_size, batch_size, num_workers)
    model = visent.load(checkpoint)
    files = [str(p) for p in paths]
    model.predict(files[:batch_size])
    runs = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        n = len(model.predict(files))
        runs.append(rate(n, time.perf_counter() - t0))
    extract = extraction["off"]["images_per_s"]
    return {
        "variant": VARIANT,
        "amp": "off",
        "images": n,
        "batch_size": batch_size,
        "num_workers": num_workers,
        "images_per_s": max(runs),
        "all_images_per_s": runs,
        "extract_images_per_s": extract,
        "ratio": ratio(max(runs), extract),
    }


def predict_row(result: dict[str, Any]) -> dict[str, Any]:
    """(f)'s row of the table: predict's rate, and its ratio to (a)'s extraction at --amp off."""
    f = result["predict"]
    return {
        "measurement": f"(f) visent predict, {f['variant']} (decode, backbone, head), --amp off, images/s",
        "ours": f["images_per_s"],
        "ratio": f["ratio"],
    }
