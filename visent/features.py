"""The region feature cache: the backbone runs once per dataset, training reads memory maps.

The cache holds the backbone's region layer (VGG-16: conv5_3). A fine-tuned run caches the input
of the block it trains instead (``layer``; VGG-16: pool4, the folder ends in ``-pool4``). Layout
of one cache folder (``<cache_dir>/<dataset fingerprint>-<weights id>/``)::

    manifest.json                     written last: the cache is complete when it exists
    shard-00000000-00001024.npy       (n, N, C) float16, one row per dataset row: N regions of
                                      C channels (196 x 512 at 224 px), as the manifest's shape
    shard-00000000-00001024.json      the shard's owner (fingerprint, weights, rows, size) and
                                      the images of its rows that could not be read

Shards are written to a temporary name and renamed, so a crash leaves either a whole shard or
none. Each shard's crc32 is recorded when it is written (sidecar and manifest) and checked, with its
header, shape and size, whenever a cache is opened: once per shard and process for the checksum, a
sequential read at several GB/s (caches written before checksums were recorded are checked without;
their manifest's shards say ``"crc32": null`` or nothing). A damaged shard or manifest, or a shard of
another dataset or weights, is named in the data report and only it is extracted again from the
images. Unreadable images keep their row (zeros) so that row ``i`` of the cache is always row ``i``
of the dataset; they are listed in ``failed`` and never trained on.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from tqdm import tqdm

from visent import distributed, precision
from visent.atomic import atomic_write
from visent.backbone import (
    Preprocess,
    Weights,
    device_trunk,
    get_backbone,
    get_weights,
    output_shape,
    to_regions,
    uses_compile,
)
from visent.data.decode import choose_decoder, image_batches
from visent.data.images import DEFAULT_MAX_PIXELS
from visent.data.table import Dataset

FORMAT_VERSION = 1
DEFAULT_SHARD_SIZE = 1024
#: The data report's reason for a cache file that was damaged (or another dataset's) and made again.
DAMAGED = "damaged feature cache file"


class RegionCache(Protocol):
    """What training and evaluation read: a finished cache, several as one, or a view of one."""

    @property
    def root(self) -> Path: ...

    @property
    def shape(self) -> tuple[int, int]: ...

    @property
    def failed(self) -> dict[int, str]: ...

    def __len__(self) -> int: ...

    def regions(self, rows: np.ndarray) -> torch.Tensor: ...


class CacheError(RuntimeError):
    """A cache folder that cannot be used; the message names the folder and what to do."""


class CacheDamaged(CacheError):
    """A cache file that is not what its manifest or sidecar promises: ``path`` and ``why`` say which and why."""

    def __init__(
        self, path: Path, why: str, fix: str = "run `visent extract` again: it extracts that shard again"
    ) -> None:
        self.path, self.why = path, why
        super().__init__(f"{path} is damaged ({why}); {fix}")


#: Bytes read at a time while a shard is checksummed: memory stays bounded for any shard size, and
#: one buffer that fits the CPU cache is reused (measured 15% faster than 8 MiB reads).
_CHUNK = 1 << 20
#: Shard files whose crc32 this process computed, by (path, inode, size, mtime): a shard is hashed
#: once per process however often its cache is opened, and again once it is rewritten.
_VERIFIED: set[tuple[str, int, int, int]] = set()


def file_crc32(path: Path) -> int:
    """crc32 of a file's bytes (zlib's, about 3 GB/s here: 0.13 s for a 1024-row shard read warm,
    where reading all its rows takes 0.06 s and extracting them minutes)."""
    crc, buffer = 0, bytearray(_CHUNK)
    view = memoryview(buffer)
    with path.open("rb", buffering=0) as fh:
        while n := fh.readinto(buffer):
            crc = zlib.crc32(view[:n], crc)
    return crc


def _stamp(path: Path, st: os.stat_result) -> tuple[str, int, int, int]:
    return str(path), st.st_ino, st.st_size, st.st_mtime_ns


def check_shard(npy: Path, rows: int, shape: tuple[int, ...], crc32: int | None) -> int:
    """The data offset of shard ``npy`` after checking that it holds ``(rows, *shape)`` float16 in
    exactly the bytes its header promises, with ``crc32`` when one was recorded; else ``CacheDamaged``."""
    try:
        st = npy.stat()
        with npy.open("rb") as fh:
            version = np.lib.format.read_magic(fh)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            found, fortran, dtype = read(fh)
            offset = fh.tell()
    except FileNotFoundError:
        raise CacheDamaged(npy, "missing") from None
    except (OSError, ValueError, EOFError) as err:  # cut in its header, zeroed, not a .npy file
        raise CacheDamaged(npy, f"unreadable header: {err or type(err).__name__}") from None
    expected = (rows, *shape)
    if tuple(found) != expected or dtype != np.float16 or fortran:
        raise CacheDamaged(npy, f"holds {tuple(found)} {dtype}, expected {expected} float16")
    promised = offset + math.prod(expected) * 2
    if st.st_size != promised:
        short = "truncated" if st.st_size < promised else "too long"
        raise CacheDamaged(npy, f"{short}: {st.st_size} bytes, its header promises {promised}")
    if crc32 is not None and _stamp(npy, st) not in _VERIFIED:
        actual = file_crc32(npy)
        if actual != crc32:
            raise CacheDamaged(npy, f"checksum mismatch: crc32 {actual:08x}, {crc32:08x} when it was written")
        _VERIFIED.add(_stamp(npy, st))
    return offset


@dataclass
class FeatureCache:
    """Read access to a finished cache: ``regions(rows)`` gathers ``(n, N, C)`` float16."""

    root: Path
    manifest: dict
    _files: list[Path] = field(default_factory=list, repr=False)
    _offsets: list[int] = field(default_factory=list, repr=False)  # .npy header sizes
    _starts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)

    @classmethod
    def open(cls, root: str | Path) -> FeatureCache:
        """The finished cache in ``root``, every shard checked (``check_shard``); a damaged manifest or
        shard raises ``CacheDamaged``."""
        root = Path(root)
        path = root / "manifest.json"
        if not path.exists():
            raise CacheError(f"{root} is not a finished feature cache (no manifest.json); run `visent extract`")
        try:
            manifest = json.loads(path.read_text())
            if manifest.get("format_version") != FORMAT_VERSION:
                raise CacheError(f"cache format {manifest.get('format_version')} is not {FORMAT_VERSION}")
            shape = tuple(int(v) for v in manifest["shape"])
            shards = [(root / s["file"], int(s["stop"]) - int(s["start"]), s.get("crc32")) for s in manifest["shards"]]
            starts = np.array([s["start"] for s in manifest["shards"]], dtype=np.int64)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, CacheError) as err:
            fix = "run `visent extract` again: it rebuilds the manifest from the shards"
            raise CacheDamaged(path, str(err), fix) from None
        offsets = [check_shard(npy, rows, shape, crc32) for npy, rows, crc32 in shards]
        return cls(root, manifest, [npy for npy, _, _ in shards], offsets, starts)

    def __len__(self) -> int:
        return int(self.manifest["n_samples"])

    @property
    def shape(self) -> tuple[int, int]:
        """``(N, C)``: regions per image and channels per region."""
        regions, channels = self.manifest["shape"]
        return int(regions), int(channels)

    @property
    def failed(self) -> dict[int, str]:
        """Rows whose image could not be read, with the reason."""
        return {int(f["row"]): f["reason"] for f in self.manifest["failed"]}

    @property
    def layer(self) -> str:
        """The trunk layer whose output the cache holds (caches written before pool4 existed: conv5_3)."""
        return str(self.manifest.get("layer", "conv5_3"))

    def regions(self, rows: np.ndarray) -> torch.Tensor:
        """Region features of dataset ``rows``: ``(len(rows), N, C)`` float16.

        Rows are read with positioned reads rather than through a memory map: mapped pages count
        towards the process's resident memory, which then grows with the dataset (measured: 2.9x
        from 1k to 10k samples), while reads go through the page cache and keep it flat."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), *self.shape), dtype=np.float16)
        row_bytes = out[0].nbytes if len(out) else 0
        shard_of = np.searchsorted(self._starts, rows, side="right") - 1
        for s in np.unique(shard_of):
            pick = np.nonzero(shard_of == s)[0]
            local = rows[pick] - self._starts[s]
            fd = os.open(self._files[s], os.O_RDONLY)
            try:
                for i, r in zip(pick, local):  # one read per row: no sorting or coalescing needed
                    view = memoryview(out[i]).cast("B")
                    if os.preadv(fd, [view], self._offsets[s] + int(r) * row_bytes) != row_bytes:
                        raise CacheError(f"{self._files[s]} is shorter than its manifest says; extract again")
            finally:
                os.close(fd)
        return torch.from_numpy(out)


@dataclass
class ConcatCache:
    """Several caches seen as one: rows of the second follow those of the first (the training
    set's augmented images live in their own cache, so the base cache is shared by all runs)."""

    parts: list[RegionCache]

    def __post_init__(self) -> None:
        self._starts = np.cumsum([0] + [len(p) for p in self.parts])

    @property
    def root(self) -> Path:
        return self.parts[0].root

    @property
    def shape(self) -> tuple[int, int]:
        return self.parts[0].shape

    def __len__(self) -> int:
        return int(self._starts[-1])

    @property
    def failed(self) -> dict[int, str]:
        return {
            row + int(start): why for part, start in zip(self.parts, self._starts) for row, why in part.failed.items()
        }

    def regions(self, rows: np.ndarray) -> torch.Tensor:
        rows = np.asarray(rows, dtype=np.int64)
        out = torch.empty((len(rows), *self.shape), dtype=torch.float16)
        part_of = np.searchsorted(self._starts, rows, side="right") - 1
        for k in np.unique(part_of):
            pick = np.nonzero(part_of == k)[0]
            out[pick] = self.parts[k].regions(rows[pick] - self._starts[k])
        return out


@dataclass
class RowView:
    """Another cache's rows in another order: row ``i`` here is row ``index[i]`` there. A dataset
    that is part of a larger one (a Twitter agreement subset) reads the larger one's cache."""

    base: FeatureCache
    index: np.ndarray  # (N,) int64: row of ``base`` for each row of the dataset

    @property
    def root(self) -> Path:
        return self.base.root

    @property
    def manifest(self) -> dict:
        return self.base.manifest

    @property
    def shape(self) -> tuple[int, int]:
        return self.base.shape

    def __len__(self) -> int:
        return len(self.index)

    @property
    def failed(self) -> dict[int, str]:
        failed = self.base.failed
        return {i: failed[int(j)] for i, j in enumerate(self.index) if int(j) in failed}

    def regions(self, rows: np.ndarray) -> torch.Tensor:
        return self.base.regions(self.index[np.asarray(rows, dtype=np.int64)])


def features_fingerprint(dataset: Dataset) -> str:
    """sha256 over what determines the features: each row's file (path, size, mtime) and its
    augmentation index, in row order. Labels, splits and attributes are left out, so every
    variant and split of a dataset shares one cache."""
    digest = hashlib.sha256()
    samples = dataset.samples
    augment = samples["augment"].to_numpy() if "augment" in samples else np.zeros(len(samples), int)
    stats: dict[str, str] = {}
    for rel, k in zip(samples["path"].to_numpy(), augment):
        if rel not in stats:
            st = (Path(dataset.root) / rel).stat()
            stats[rel] = f"{st.st_size}:{st.st_mtime_ns}"
        digest.update(f"{rel}\0{int(k)}\0{stats[rel]}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def cache_folder(
    cache_dir: str | Path,
    fingerprint: str,
    weights: Weights,
    dtype: str = "fp32",
    layer: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Path:
    """``<cache_dir>/<fingerprint>-<weights id>[-pool4][-bf16][-px<max_pixels>]``: features of other
    weights, layers (other than the backbone's region layer) or precision, or with other images
    refused as too large, never mix."""
    safe_weights = re.sub(r"[^A-Za-z0-9._-]+", "_", weights.id)[:60]
    region_layer = layer in (None, get_backbone(weights.backbone).region_layer)
    suffix = ("" if region_layer else f"-{layer}") + ("" if dtype == "fp32" else f"-{dtype}")
    suffix += "" if max_pixels == DEFAULT_MAX_PIXELS else f"-px{max_pixels}"
    return Path(cache_dir) / f"{fingerprint[:16]}-{safe_weights}{suffix}"


def _shard_name(start: int, stop: int) -> str:
    return f"shard-{start:08d}-{stop:08d}"


def _valid_shard(folder: Path, name: str, owner: dict, shape: tuple[int, int]) -> tuple[bool, str]:
    """Whether shard ``name`` is finished and ``owner``'s (its sidecar and ``check_shard``), and why not."""
    npy, side = folder / f"{name}.npy", folder / f"{name}.json"
    if not npy.exists() or not side.exists():
        return False, "missing"
    try:
        meta = json.loads(side.read_text())
        if not isinstance(meta, dict) or {k: meta.get(k) for k in owner} != owner:
            return False, "belongs to another dataset or weights"
        check_shard(npy, owner["stop"] - owner["start"], shape, meta.get("crc32"))
        if npy.stat().st_size != meta.get("bytes"):
            return False, f"{npy.stat().st_size} bytes, {meta.get('bytes')} when it was written"
    except CacheDamaged as err:
        return False, err.why
    except (ValueError, OSError) as err:
        return False, f"unreadable sidecar {side.name} ({err})"
    return True, ""


def backbone_regions(
    trunk: torch.nn.Module, transform: Preprocess, images: torch.Tensor, amp: str, device: torch.device
) -> torch.Tensor:
    """uint8 images ``(B, 3, H, W)`` on ``device`` -> fp16 regions ``(B, N, C)`` there, as the cache stores them."""
    x = transform.normalize(images)
    if device.type == "cuda":
        x = x.contiguous(memory_format=torch.channels_last)
    with precision.autocast(amp, device):
        fmap = trunk(x)  # (B, C, rows, columns): VGG-16 (B, 512, H/16, W/16)
    return to_regions(fmap.float()).to(torch.float16)


def extract_features(
    dataset: Dataset,
    weights: Weights | str = "oxford-imagenet",
    cache_dir: str | Path = "cache/features",
    *,
    batch_size: int = 16,
    num_workers: int = 0,
    device: str | torch.device = "cpu",
    amp: str = "off",
    shard_size: int = DEFAULT_SHARD_SIZE,
    progress: bool = True,
    augment_seed: int = 0,
    layer: str | None = None,
    decoder: str = "auto",
    compile: str = "auto",
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> FeatureCache:
    """Run the backbone up to ``layer`` (default: its region layer) over every dataset row into the
    cache; resume from finished shards.

    ``decoder`` (:func:`visent.data.decode.choose_decoder`) decodes JPEGs on the device under CUDA;
    ``compile`` (:func:`visent.backbone.uses_compile`) compiles the trunk for long CUDA extractions.
    Images of more than ``max_pixels`` pixels are refused (listed in ``failed``).

    Under torchrun each rank computes the shards ``k`` with ``k % world_size == rank``; rank 0
    writes the manifest once all ranks are done, and every rank returns the finished cache.
    """
    ctx = distributed.current()
    weights = get_weights(weights) if isinstance(weights, str) else weights
    layer = layer or get_backbone(weights.backbone).region_layer
    dev = torch.device(device)
    dtype = precision.name(amp, dev)
    decoder = choose_decoder(decoder, dev)
    fingerprint = features_fingerprint(dataset)
    ident: dict[str, str | int] = {"dataset_fingerprint": fingerprint, "weights": weights.id}
    # region-layer fp32 caches keep the identity they had before layer and precision were recorded
    if layer != get_backbone(weights.backbone).region_layer:
        ident["layer"] = layer
    if dtype != "fp32":
        ident["precision"] = dtype
    if max_pixels != DEFAULT_MAX_PIXELS:
        ident["max_pixels"] = max_pixels
    folder = cache_folder(cache_dir, fingerprint, weights, dtype, layer, max_pixels)
    shape = output_shape(weights.transform.size, layer, weights.backbone)[:2]  # (N, C)
    if (folder / "manifest.json").exists():
        try:
            cache: FeatureCache | None = FeatureCache.open(folder)
        except CacheDamaged as err:  # a shard: named and extracted again by the shard loop below
            cache = None
            if err.path.name == "manifest.json":
                dataset.report.add(err.path, DAMAGED, f"{err.why}: rebuilt from the shards")
        distributed.barrier()  # every rank has looked before any rank rewrites a shard
        if cache is not None and cache.manifest["dataset_fingerprint"] == ident["dataset_fingerprint"]:
            return cache
    folder.mkdir(parents=True, exist_ok=True)
    n = len(dataset.samples)
    bounds = [(s, min(s + shard_size, n)) for s in range(0, n, shard_size)]
    todo = []
    for k, (start, stop) in enumerate(bounds):
        if k % ctx.world_size != ctx.rank:
            continue
        ok, why = _valid_shard(folder, _shard_name(start, stop), ident | {"start": start, "stop": stop}, shape)
        if not ok:
            if why != "missing":
                dataset.report.add(
                    folder / f"{_shard_name(start, stop)}.npy", DAMAGED, f"{why}: re-extracted from the images"
                )
            todo.append((start, stop))

    if todo:
        precision.check(amp, dev)
        rows = np.concatenate([np.arange(a, b) for a, b in todo])
        compiled = uses_compile(compile, dev, len(rows))
        trunk = device_trunk(weights, dev, compiled, until=layer)
        batches = image_batches(
            dataset,
            rows,
            weights.transform,
            dev,
            decoder,
            batch_size=batch_size,
            num_workers=num_workers,
            augment_seed=augment_seed,
            max_pixels=max_pixels,
        )
        bar = tqdm(
            total=len(rows), desc=f"extract {layer} ({weights.id})", unit="img", disable=not progress or not ctx.is_main
        )
        pending: dict[tuple[int, int], dict] = {}
        for start, stop in todo:
            pending[(start, stop)] = {
                "feats": np.zeros((stop - start, *shape), dtype=np.float16),
                "failed": [],
                "left": stop - start,
            }
        t0 = time.perf_counter()
        with torch.inference_mode():
            for batch_rows, images, reasons in batches:
                feats = backbone_regions(trunk, weights.transform, images, amp, dev).cpu().numpy()  # (B, N, C)
                for row, f, reason in zip(batch_rows, feats, reasons):
                    key = next(k for k in pending if k[0] <= row < k[1])
                    entry = pending[key]
                    if reason:
                        entry["failed"].append({"row": row, "path": dataset.samples["path"].iat[row], "reason": reason})
                    else:
                        entry["feats"][row - key[0]] = f
                    entry["left"] -= 1
                    if entry["left"] == 0:
                        entry = pending.pop(key)
                        write_shard(folder, ident, key, entry["feats"], entry["failed"])
                bar.update(len(batch_rows))
        bar.close()
        dataset.meta.setdefault("timing", {})["extract_s"] = time.perf_counter() - t0
        dataset.meta["timing"]["extract_images"] = len(rows)
        dataset.meta["timing"] |= {"extract_decoder": decoder, "extract_compiled": compiled}  # how this extraction ran

    distributed.barrier()
    if ctx.is_main:
        write_manifest(
            folder,
            ident,
            bounds,
            shape,
            {
                "dataset": dataset.name,
                "weights": weights.describe(),
                "transform": weights.transform.describe(),
                "image_size": list(weights.transform.size),
                "precision": dtype,
                "layer": layer,
                "decoder": decoder,
            },
        )
    distributed.barrier()
    return FeatureCache.open(folder)


def write_shard(folder: Path, ident: dict, key: tuple[int, int], feats: np.ndarray, failed: list[dict]) -> None:
    start, stop = key
    name = _shard_name(start, stop)
    npy = atomic_write(folder / f"{name}.npy", lambda fh: np.save(fh, feats))
    crc32, st = file_crc32(npy), npy.stat()  # read back from the page cache: what the disk holds
    _VERIFIED.add(_stamp(npy, st))
    side = ident | {"start": start, "stop": stop, "bytes": st.st_size, "crc32": crc32, "failed": failed}
    atomic_write(folder / f"{name}.json", lambda fh: fh.write(json.dumps(side).encode()))


def write_manifest(
    folder: Path, ident: dict, bounds: list[tuple[int, int]], shape: tuple[int, int], about: dict
) -> FeatureCache:
    """Check every shard and write ``manifest.json``, which marks the cache finished."""
    shards, failed = [], []
    for start, stop in bounds:
        name = _shard_name(start, stop)
        ok, why = _valid_shard(folder, name, ident | {"start": start, "stop": stop}, shape)
        if not ok:
            raise CacheError(f"{folder / name}.npy is {why}; run `visent extract` again to recompute it")
        side = json.loads((folder / f"{name}.json").read_text())
        failed += side["failed"]
        # crc32 None: a shard written before checksums were recorded, checked by header and size only
        shards.append(
            {"file": f"{name}.npy", "start": start, "stop": stop, "bytes": side["bytes"], "crc32": side.get("crc32")}
        )
    manifest = {
        "format_version": FORMAT_VERSION,
        **ident,
        "n_samples": bounds[-1][1] if bounds else 0,
        **about,
        "shape": list(shape),
        "dtype": "float16",
        "shards": shards,
        "failed": failed,
    }
    atomic_write(folder / "manifest.json", lambda fh: fh.write(json.dumps(manifest, indent=1).encode()))
    return FeatureCache.open(folder)
