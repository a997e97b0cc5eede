"""Shared fixtures: the read-only research data in ``../shared/data`` and small real photos.

The photos are scikit-image's bundled public-domain / CC0 images, so tests need no network
and commit no image files.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

#: scikit-image's CC0 photographs used as fixtures ("camera" is grayscale).
PHOTO_NAMES: tuple[str, ...] = ("chelsea", "coffee", "astronaut", "rocket", "camera")


@pytest.fixture(scope="session", autouse=True)
def private_user_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``$VISENT_CACHE`` for the whole session (subprocesses included): tests never write dataset
    indexes into the user's cache, while the converted weights are still shared through a link."""
    from visent.usercache import user_cache_dir

    weights = user_cache_dir("weights")
    weights.mkdir(parents=True, exist_ok=True)
    root = tmp_path_factory.mktemp("user-cache")
    (root / "weights").symlink_to(weights, target_is_directory=True)
    patch = pytest.MonkeyPatch()
    patch.setenv("VISENT_CACHE", str(root))
    yield root
    patch.undo()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``: the VSO and MVSO ontologies (read-only, never copied)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"research data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def vso_ontology(shared_data: Path) -> Path:
    """The VSO ontology file ``3244ANPs.txt``."""
    return shared_data / "vso" / "3244ANPs.txt"


@pytest.fixture(scope="session")
def mvso_ontology(shared_data: Path) -> Path:
    """The MVSO English ``anp,score`` CSV."""
    return shared_data / "mvso" / "mvso_sentiment_english.csv"


@pytest.fixture(scope="session")
def photos() -> dict[str, np.ndarray]:
    """name -> uint8 pixel array of the CC0 photos (RGB, or 2-D for grayscale ``camera``)."""
    from skimage import data

    return {name: getattr(data, name)() for name in PHOTO_NAMES}


PhotoWriter = Callable[..., Path]


@pytest.fixture
def write_photo(photos: dict[str, np.ndarray]) -> PhotoWriter:
    """``write_photo(path, name="chelsea", size=None)``: save a photo (format from the suffix).

    ``size`` (width, height) shrinks it first, which keeps trees of many files fast.
    """

    def write(path: Path, name: str = "chelsea", size: tuple[int, int] | None = None) -> Path:
        img = Image.fromarray(photos[name])
        if size is not None:
            img = img.resize(size)
        path.parent.mkdir(parents=True, exist_ok=True)
        img.save(path)
        return path

    return write


TreeMaker = Callable[[Path, Mapping[str, Sequence[str]]], Path]


@pytest.fixture
def make_tree(write_photo: PhotoWriter) -> TreeMaker:
    """``make_tree(root, {"folder": ["a.jpg", "b.png"], ...})``: folders of small photos.

    Image files cycle through the CC0 photos (so different names hold different content);
    names with other extensions are written as short text files.
    """

    def make(root: Path, folders: Mapping[str, Sequence[str]]) -> Path:
        counter = 0
        for folder, names in folders.items():
            (root / folder).mkdir(parents=True, exist_ok=True)
            for file_name in names:
                path = root / folder / file_name
                if path.suffix.lower() in {".jpg", ".jpeg", ".png"}:
                    write_photo(path, PHOTO_NAMES[counter % len(PHOTO_NAMES)], size=(48 + counter, 32))
                    counter += 1
                else:
                    path.write_text("not an image\n")
        return root

    return make


@pytest.fixture
def git_repo(tmp_path: Path) -> Callable[[Mapping[str, str]], Path]:
    """``git_repo({"path/in/repo": "text", ...})``: a git repository in ``tmp_path`` with those files
    committed; returns its root."""

    def make(files: Mapping[str, str]) -> Path:
        for name, text in files.items():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text(text)
        git = ["git", "-c", "user.name=visent", "-c", "user.email=visent@example.invalid", "-C", str(tmp_path)]
        for command in (["init", "-q"], ["add", "."], ["commit", "-qm", "fixture"]):
            subprocess.run([*git, *command], check=True)
        return tmp_path

    return make


def fast_run_flags(tmp: Path, max_epochs: int = 1) -> list[str]:
    """Flags of a seconds-long run on random weights, writing cache, results and checkpoints under
    ``tmp`` (``c``, ``r``, ``k``)."""
    return [
        *("--weights", "random", "--preset", "cpu", "--iterations-per-epoch", "2"),
        *("--max-epochs", str(max_epochs), "--batch-size", "4", "--quiet"),
        *("--cache-dir", str(tmp / "c"), "--results-dir", str(tmp / "r"), "--checkpoint-dir", str(tmp / "k")),
    ]
