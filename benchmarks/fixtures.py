"""The inputs of the CPU benchmarks: real photographs as JPEG files, and random feature caches.

The photographs are scikit-image's bundled public-domain / CC0 images (as in the tests), so the
benchmark needs no network and ships no image files.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from visent.backbone import output_shape
from visent.backbone.preprocess import DEFAULT_SIZE
from visent.features import DEFAULT_SHARD_SIZE, FeatureCache, write_manifest, write_shard
from visent.training.train import TrainData

PHOTOS = ("chelsea", "coffee", "astronaut", "rocket", "camera")  # "camera" is grayscale
JPEG_QUALITY = 90
CHUNK_ROWS = 1024
#: The conv5_3 map of VGG-16 at its ImageNet size: 196 regions of 512 channels.
REGIONS, CHANNELS, _ = output_shape((DEFAULT_SIZE, DEFAULT_SIZE))


def write_array_cache(
    folder: str | Path, chunks, n_samples: int, ident: dict, shard_size: int = DEFAULT_SHARD_SIZE
) -> FeatureCache:
    """A cache from precomputed region arrays (``chunks`` yields ``(n, N, C)`` blocks in row
    order): the benchmarks' features, which must not run the backbone."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    bounds = [(s, min(s + shard_size, n_samples)) for s in range(0, n_samples, shard_size)]
    it = iter(chunks)
    buffer = np.asarray(next(it), dtype=np.float16)  # (n, N, C): the first block sets the shape
    shape = buffer.shape[1:]
    for start, stop in bounds:
        while len(buffer) < stop - start:
            buffer = np.concatenate([buffer, np.asarray(next(it), dtype=np.float16)])
        write_shard(folder, ident, (start, stop), buffer[: stop - start], [])
        buffer = buffer[stop - start :]
    return write_manifest(
        folder, ident, bounds, shape, {"dataset": ident.get("dataset_fingerprint"), "source": "arrays"}
    )


def write_photos(folder: Path, count: int) -> list[Path]:
    """``count`` JPEG files cycling through the CC0 photos, copy ``k`` cropped by ``k // 5`` pixels
    on each side so that no two files are byte-identical (as in a real collection)."""
    from skimage import data

    folder.mkdir(parents=True, exist_ok=True)
    arrays = [getattr(data, name)() for name in PHOTOS]
    paths = []
    for k in range(count):
        img = Image.fromarray(arrays[k % len(arrays)])
        margin = k // len(arrays)
        img = img.crop((margin, margin, img.width - margin, img.height - margin))
        path = folder / f"{PHOTOS[k % len(arrays)]}-{k:04d}.jpg"
        img.save(path, quality=JPEG_QUALITY)
        paths.append(path)
    return paths


def _random_blocks(n_samples: int, seed: int) -> Iterator[np.ndarray]:
    # One random block written again and again: the contents do not change a speed or a size.
    rng = np.random.default_rng(seed)
    block = rng.random((min(n_samples, CHUNK_ROWS), REGIONS, CHANNELS), dtype=np.float32).astype(np.float16)
    for start in range(0, n_samples, len(block)):
        yield block[: n_samples - start]


def random_cache(folder: Path, n_samples: int, seed: int = 0) -> FeatureCache:
    """A finished ``FeatureCache`` of ``n_samples`` rows of random fp16 regions ``(196, 512)``."""
    ident = {"dataset_fingerprint": f"benchmark-random-{n_samples}-{seed}", "weights": "none (random fp16)"}
    return write_array_cache(folder, _random_blocks(n_samples, seed), n_samples, ident)


def random_train_data(cache, n_val: int, word_dim: int = 50, seed: int = 0) -> TrainData:
    """``TrainData`` over ``cache`` with random labels and adjective vectors; the last ``n_val``
    rows validate, the rest train."""
    n = len(cache)
    if not 0 < n_val < n:
        raise ValueError(f"n_val must be between 1 and {n - 1} for a cache of {n} rows, got {n_val}")
    rng = np.random.default_rng(seed)
    rows = np.arange(n)
    return TrainData(
        cache=cache,
        labels=rng.integers(0, 2, n).astype(np.int64),
        rows={"train": rows[:-n_val], "val": rows[-n_val:], "test": rows[:0]},
        queries=rng.standard_normal((n, word_dim)).astype(np.float32),
    )
