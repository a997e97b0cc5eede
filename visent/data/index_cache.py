"""The index cache: a layout's indexed :class:`Dataset` saved once and served while nothing changed.

An entry is one Parquet file in the user cache (:func:`visent.usercache.user_cache_dir`), served
only while its key, the indexing code and the fingerprint of every folder and input file match;
the design (key, validity, racy entries) is in the book's architecture chapter.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import inspect
import json
import os
import time
import warnings
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from visent.atomic import atomic_write
from visent.data.table import DataReport, Dataset, Problem
from visent.usercache import user_cache_dir

FORMAT = 1
METADATA_KEY = b"visent.index"
#: The crc32 of the header's bytes: the footer has no checksum of its own, the pages have theirs.
CRC_KEY = b"visent.index.crc32"
RACY_WINDOW_NS = 2_000_000_000
#: The modules whose code decides what an index holds: a change to any of them retires every entry.
CODE_MODULES: tuple[str, ...] = ("visent.data.table", "visent.data.ontology", "visent.data.text", __name__)
#: Every module of this package decides it too (each layout is one).
CODE_PACKAGE = "visent.data.layouts"


class IndexCacheWarning(UserWarning):
    """An index cache file was unusable (and is rebuilt) or could not be written."""


def index_cache_dir() -> Path:
    """The folder of the index cache entries."""
    return user_cache_dir("index")


def cached_index(layout: str, root: Path, options: Mapping[str, Any], build: Callable[[], Dataset]) -> Dataset:
    """The dataset from a valid cache entry for ``(layout, root, options)``, else ``build()``'s, saved."""
    key = cache_key(layout, root, options)
    path = index_cache_dir() / f"{key[:32]}.parquet"
    if path.exists():
        try:
            served = _read(path, key)
        except Exception as exc:  # whatever is wrong with the file, rebuilding is the fix
            warnings.warn(f"rebuilding the unreadable index cache {path}: {exc!r}", IndexCacheWarning, stacklevel=3)
        else:
            if served is not None:
                return served
    started_ns = time.time_ns()
    dataset = build()
    _save(path, key, dataset, started_ns)
    return dataset


def cache_key(layout: str, root: Path, options: Mapping[str, Any]) -> str:
    """sha256 of the layout, the root and the options, each as given and as absolute paths."""

    def resolved(value: Any) -> Any:
        return os.path.abspath(value) if isinstance(value, (str, os.PathLike)) else value

    identity = {
        "layout": layout,
        "root": [os.fspath(root), os.path.abspath(root)],
        "options": {name: [value, resolved(value)] for name, value in options.items()},
    }
    text = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def fingerprint(root: Path, inputs: tuple[str, ...]) -> tuple[str, int]:
    """(sha256 of the stats of ``root``, the folders below it and ``inputs``; newest mtime_ns).

    The newest mtime, not ctime, decides raciness: a settled tree whose times were set back
    (a restored backup) has old mtimes and a fresh ctime, and is still safe to cache.

    A missing input counts as such, so its appearing changes the fingerprint too.
    """
    digest = hashlib.sha256()
    newest = 0
    for path, stat in [*_folder_stats(root), *((p, _stat_or_none(p)) for p in inputs)]:
        if stat is None:
            digest.update(f"{path}\0missing\n".encode("utf-8", "surrogateescape"))
            continue
        newest = max(newest, stat.st_mtime_ns)
        fields = (path, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_size, stat.st_ino)
        digest.update("\0".join(map(str, fields)).encode("utf-8", "surrogateescape") + b"\n")
    return digest.hexdigest(), newest


def _folder_stats(root: Path) -> list[tuple[str, os.stat_result]]:
    """``(path, stat)`` of ``root`` and every folder below it, in a stable order.

    Folder symlinks are followed, as the layouts follow them; each folder is visited once, so
    a link loop ends.
    """
    seen: set[tuple[int, int]] = set()
    stats = []
    stack = [os.path.abspath(root)]
    while stack:
        folder = stack.pop()
        stat = os.stat(folder)
        if (stat.st_dev, stat.st_ino) in seen:
            continue
        seen.add((stat.st_dev, stat.st_ino))
        stats.append((folder, stat))
        with os.scandir(folder) as entries:
            below = sorted(entry.path for entry in entries if _is_folder(entry))
        stack.extend(reversed(below))
    return stats


def _is_folder(entry: os.DirEntry) -> bool:
    """Whether ``entry`` is a folder; an entry whose type cannot be read (a link to itself) is not,
    as the layouts report it and list nothing below it."""
    try:
        return entry.is_dir()
    except OSError:
        return False


def _stat_or_none(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


@functools.cache
def code_digest() -> str:
    """sha256 of the source of :data:`CODE_MODULES` and :data:`CODE_PACKAGE`: an index built by
    other code is not served."""
    digest = hashlib.sha256()
    layouts = Path(inspect.getfile(importlib.import_module(CODE_PACKAGE))).parent
    modules = [Path(inspect.getfile(importlib.import_module(name))) for name in CODE_MODULES]
    for path in [*modules, *sorted(layouts.glob("*.py"))]:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _read(path: Path, key: str) -> Dataset | None:
    """The entry's dataset, or None when the entry is of another dataset, code or tree state.

    Raises on a file that is not a readable entry (the caller rebuilds it).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)  # the footer only: a stale entry costs no table read
    text = schema.metadata[METADATA_KEY]
    if int(schema.metadata[CRC_KEY]) != zlib.crc32(text):
        raise ValueError("its header does not match the crc32 recorded when it was written")
    header = json.loads(text)
    if header["format"] != FORMAT or header["key"] != key or header["code"] != code_digest():
        return None
    inputs = tuple(header["inputs"])
    try:
        current = fingerprint(Path(header["root"]), inputs)[0]
    except OSError:  # a folder went away while it was listed: the tree changed
        return None
    if current != header["fingerprint"]:
        return None
    # Repeated strings (adjective, noun, ANP, group) are read as the dictionaries Parquet stores them
    # in, and each value becomes one shared string object, as after a fresh index; paths are unique.
    # ParquetFile on one thread, not read_table: read_table's dataset machinery and per-thread
    # buffers cost ~40 MB more peak RSS at 100,000 rows.
    repeated = [f.name for f in schema if f.name != "path" and pa.types.is_string(f.type)]
    # Every page's crc32 is checked (written with it by _save): damaged bytes raise instead of
    # serving another table.
    table = pq.ParquetFile(path, read_dictionary=repeated, page_checksum_verification=True).read(use_threads=False)
    samples = pd.DataFrame({name: _column(table.column(name), dtype) for name, dtype in header["dtypes"].items()})
    report = DataReport([Problem(*problem) for problem in header["problems"]])
    return Dataset(header["name"], Path(header["root"]), samples, report, header["meta"], inputs)


def _column(column: Any, dtype: str) -> pd.Series:
    """One stored column as the ``dtype`` it had; strings come back as Python objects, None kept.

    The dtype is explicit: left to infer, pandas would make a str column, and None NaN.
    """
    import pyarrow as pa

    column = column.combine_chunks()
    if pa.types.is_dictionary(column.type):
        values = np.array([*column.dictionary.to_pylist(), None], dtype=object)  # index -1 (null) -> None
        return pd.Series(values[column.indices.fill_null(-1).to_numpy(zero_copy_only=False)], dtype=object)
    return pd.Series(column.to_numpy(zero_copy_only=False), dtype=dtype)


def _save(path: Path, key: str, dataset: Dataset, started_ns: int) -> None:
    """Write ``dataset``'s entry atomically, unless its tree changed too recently to trust."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        digest, newest = fingerprint(dataset.root, dataset.inputs)
    except OSError:  # a folder vanished or is unreadable: nothing stable to fingerprint
        return
    if newest >= started_ns - RACY_WINDOW_NS:
        return
    header = {
        "format": FORMAT,
        "key": key,
        "code": code_digest(),
        "fingerprint": digest,
        "name": dataset.name,
        "root": str(dataset.root),
        "inputs": list(dataset.inputs),
        "meta": dataset.meta,
        "dtypes": {name: str(dtype) for name, dtype in dataset.samples.dtypes.items()},
        "problems": [[p.path, p.reason, p.detail] for p in dataset.report.problems],
    }
    try:
        if json.loads(json.dumps(header["meta"])) != header["meta"]:
            raise ValueError("the dataset's meta does not survive JSON unchanged")
        table = pa.Table.from_pandas(dataset.samples, preserve_index=False)
        text = json.dumps(header).encode("utf-8")
        table = table.replace_schema_metadata({METADATA_KEY: text, CRC_KEY: str(zlib.crc32(text)).encode()})
        atomic_write(path, lambda fh: pq.write_table(table, fh, write_page_checksum=True))
    except (OSError, TypeError, ValueError, pa.ArrowException) as exc:
        warnings.warn(
            f"could not save the index of {dataset.root} in {path.parent} ({exc!r}); it is rebuilt next time."
            " Point $VISENT_CACHE at a writable folder, or pass --no-index-cache.",
            IndexCacheWarning,
            stacklevel=3,
        )
