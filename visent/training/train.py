"""Training with the paper's schedule: SGD, fixed iterations per epoch, early stopping on val loss.

``fit`` is deterministic for a seed on a given machine: the batches of epoch ``e`` come from a
generator seeded with ``(seed, e)``, so a run resumed from its checkpoint after epoch ``e`` draws
exactly the batches it would have drawn without the interruption.

The schedule is written once, :func:`train_epochs`, over a :class:`Learner`: ``fit``'s is one model
(resume, checkpoints, DistributedDataParallel), ``visent.training.multi``'s a stack of heads.
"""

from __future__ import annotations

import math
import os
import time
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from visent import distributed, precision
from visent.atomic import atomic_write
from visent.config import ConfigError, RunConfig, TrainingConfig, absolute_paths
from visent.data.table import CLASS_NAMES
from visent.model import build_model

if TYPE_CHECKING:
    from visent.backbone import Weights
    from visent.data.table import Dataset
    from visent.features import RegionCache
    from visent.model.embeddings import WordVectors


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the message says where and what to change."""


@dataclass
class TrainData:
    """What the head trains on: cached regions, labels and the per-row attention query vectors."""

    cache: RegionCache
    labels: np.ndarray  # (N,) int64, indexed by dataset row
    rows: dict[str, np.ndarray]  # "train" / "val" / "test" -> dataset rows
    queries: np.ndarray | None = None  # (N, word_dim) float32: the `a` of eq. (2) for each row

    def identity(self) -> str:
        """A digest of what the model trains on: features, labels, rows and queries. A checkpoint
        written for other data is not resumed, even under the same config."""
        import hashlib

        digest = hashlib.sha256()
        parts = getattr(self.cache, "parts", [self.cache])
        for part in parts:
            digest.update(str(getattr(part, "manifest", {}).get("dataset_fingerprint")).encode())
        for array in (self.labels, *(self.rows[k] for k in sorted(self.rows)), self.queries):
            if array is not None:
                digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()

    def batch(self, rows: np.ndarray, device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        V = self.cache.regions(rows).to(device, non_blocking=True)  # (B, N, C) fp16, N x C = 196 x 512 at 224 px
        a = None if self.queries is None else torch.from_numpy(self.queries[rows]).to(device)
        y = torch.from_numpy(self.labels[rows]).to(device)
        return V, a, y


def build_head(variant: str, region_dim: int, word_dim: int | None, hidden_dim: int) -> nn.Module:
    """The variant's head for ``region_dim`` channels per region and queries of ``word_dim`` (None:
    no queries), one output per class: the recipe of training, stacking and prediction alike."""
    return build_model(
        variant, region_dim=region_dim, hidden_dim=hidden_dim, word_dim=word_dim, num_classes=len(CLASS_NAMES)
    )


def head_for(variant: str, data: TrainData, hidden_dim: int, region_dim: int | None = None) -> nn.Module:
    """The variant's head sized by the data it trains on: the cache's channels (or ``region_dim``,
    the output of a fine-tuned block) and the query vectors' size."""
    word_dim = None if data.queries is None else int(data.queries.shape[1])
    return build_head(variant, data.cache.shape[1] if region_dim is None else region_dim, word_dim, hidden_dim)


@dataclass
class Prepared:
    """A run's data, ready to train on and to report: the dataset, the weights and feature cache of
    its regions, what the head trains on and the word vectors of its queries."""

    dataset: Dataset
    weights: Weights
    cache: RegionCache
    data: TrainData
    vectors: WordVectors | None


@dataclass
class TrainOutcome:
    best_state: dict
    best_epoch: int
    epochs: int
    stopped: str  # "early-stopping" or "max-epochs"
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0  # training time of every epoch, those before a resume included
    images_per_s: float = 0.0
    resumed_seconds: float = 0.0  # of ``seconds``, the part spent before this process resumed


def epoch_batches(train_rows: np.ndarray, seed: int, epoch: int, iterations: int, batch_size: int) -> np.ndarray:
    """``(iterations, batch_size)`` dataset rows for one epoch: shuffled passes, drawn without
    replacement within a pass, as many passes as the fixed number of iterations needs."""
    rng = np.random.default_rng([seed, epoch])
    need = iterations * batch_size
    passes = [rng.permutation(train_rows) for _ in range(math.ceil(need / len(train_rows)))]
    return np.concatenate(passes)[:need].reshape(iterations, batch_size)


@torch.no_grad()
def predict(
    model: nn.Module, data: TrainData, rows: np.ndarray, device: torch.device, amp: str = "off", batch_size: int = 256
) -> tuple[np.ndarray, np.ndarray | None]:
    """Class probabilities ``(n, classes)`` and attention ``(n, N)`` (None without attention)."""
    model.eval()
    probs, attn = [], []
    for start in range(0, len(rows), batch_size):
        V, a, _ = data.batch(rows[start : start + batch_size], device)
        with precision.autocast(amp, device):
            logits, o = model(V, a, return_attention=True)
        probs.append(logits.float().softmax(-1).cpu().numpy())
        if o is not None:
            attn.append(o.float().cpu().numpy())
    return (
        np.concatenate(probs) if probs else np.zeros((0, int(getattr(model, "classifier").out_features))),
        np.concatenate(attn) if attn else None,
    )


def _val_loss(model: nn.Module, data: TrainData, device: torch.device, amp: str) -> tuple[float, float]:
    rows = data.rows["val"]
    probs, _ = predict(model, data, rows, device, amp)
    y = data.labels[rows]
    p_true = np.clip(probs[np.arange(len(y)), y], 1e-12, 1.0)
    return float(-np.log(p_true).mean()), float((probs.argmax(1) == y).mean())


def _state_crc32(value: Any, crc: int = 0) -> int:
    """crc32 over a nested state (tensor bytes and scalars, in order): ``torch.load`` checks no
    checksum, so a checkpoint whose bytes were overwritten would otherwise load wrong weights."""
    if isinstance(value, torch.Tensor):
        return zlib.crc32(value.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().data, crc)
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    if isinstance(value, (list, tuple)):
        for item in value:
            crc = _state_crc32(item, crc)
        return crc
    return zlib.crc32(repr(value).encode(), crc)


def _save_checkpoint(path: Path, state: dict) -> None:
    """``state`` with its config's paths made absolute (``locate_paths`` reads them back from any
    folder) and the crc32 of both, atomically."""
    state = state | {"paths": absolute_paths(RunConfig.from_dict(state["config"]))}
    atomic_write(path, lambda fh: torch.save(state | {"crc32": _state_crc32(state)}, fh))


@dataclass(frozen=True)
class Checkpoint:
    """Where ``fit`` saves every epoch, for which run: the run's whole config is saved with the state
    (evaluation rebuilds the run from it), and a checkpoint is resumed only by a run with the same
    outcome sections (data, model, training), so moving output folders keeps it."""

    path: Path
    run: RunConfig

    def resumes(self, saved: dict) -> bool:
        """Whether a checkpoint saved under config ``saved`` continues this run (keys added since it
        was saved read as their defaults)."""
        try:
            return RunConfig.from_dict(saved).fingerprint() == self.run.fingerprint()
        except (ConfigError, TypeError, ValueError):  # a key this version does not know: another program's checkpoint
            return False


class CheckpointError(ValueError):
    """A file that is not a checkpoint written by ``fit``; the message names it."""


#: What a checkpoint must hold, and of which type, to be read at all.
_CHECKPOINT_KEYS = {"config": dict, "best_state": dict, "best_epoch": int}


def load_checkpoint(path: str | Path) -> dict:
    """A checkpoint written by ``fit``; loads with ``weights_only=True`` (no code is unpickled) and
    checks the crc32 recorded when it was written (checkpoints written before it was recorded load
    without). Anything else raises ``CheckpointError`` naming the file."""
    path = Path(path)
    if path.is_dir():
        example = next(iter(sorted(path.glob("*.pt"))), path / "<run id>.pt")
        raise CheckpointError(f"checkpoint {path} is a folder; give one of its .pt files, e.g. {example}")
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist; `visent train` writes them into --checkpoint-dir")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle, zip and EOF errors all mean the same here
        raise CheckpointError(
            f"{path} is not a checkpoint written by visent ({type(err).__name__}); "
            "pass a .pt file from --checkpoint-dir"
        ) from None
    missing = [k for k in _CHECKPOINT_KEYS if not isinstance(state, dict) or k not in state]
    if missing:
        raise CheckpointError(f"{path} lacks {missing}: not a checkpoint written by visent's training")
    wrong = [
        f"{k} is a {type(state[k]).__name__}, not a {t.__name__}"
        for k, t in _CHECKPOINT_KEYS.items()
        if not isinstance(state[k], t)
    ]
    if wrong:
        raise CheckpointError(f"{path}: {'; '.join(wrong)}: not a checkpoint written by visent's training")
    recorded = state.pop("crc32", None)
    if recorded is not None and _state_crc32(state) != recorded:
        raise CheckpointError(f"{path} is damaged: its contents do not match the crc32 recorded when it was written")
    return state


class CheckpointWarning(UserWarning):
    """A checkpoint could not be resumed and was moved aside; the message names it and says why."""


def resume_state(checkpoint: Checkpoint) -> dict | None:
    """The saved state of ``checkpoint``, or None when there is none; a damaged one is moved aside
    to ``<name>.damaged`` (by the main process) with a warning, and the run starts afresh."""
    if not checkpoint.path.exists():
        return None
    try:
        return load_checkpoint(checkpoint.path)
    except CheckpointError as err:
        aside = checkpoint.path.with_name(checkpoint.path.name + ".damaged")
        if distributed.current().is_main:
            os.replace(checkpoint.path, aside)
        warnings.warn(f"{err}; moved it to {aside}, training {checkpoint.run.run_id} afresh", CheckpointWarning)
        return None


def param_groups(model: nn.Module, config: TrainingConfig) -> list[dict[str, Any]]:
    """The head's trainable parameters at ``lr``; a fine-tuned backbone block's (``model.block``)
    at ``lr * backbone_lr_scale``, as its own group."""
    block = getattr(model, "block", None)
    in_block = {id(p) for p in block.parameters()} if isinstance(block, nn.Module) else set()
    head = [p for p in model.parameters() if p.requires_grad and id(p) not in in_block]
    groups: list[dict[str, Any]] = [{"params": head, "lr": config.lr}]
    if in_block:
        backbone = [p for p in model.parameters() if p.requires_grad and id(p) in in_block]
        groups.append({"params": backbone, "lr": config.lr * config.backbone_lr_scale})
    return groups


def save_best(checkpoint: Checkpoint, outcome: TrainOutcome) -> None:
    """The best state of a run trained outside ``fit`` (in a stack of heads), for ``visent evaluate``.
    It records no data identity, so ``fit`` never resumes from it and trains such a run afresh."""
    state = {"config": checkpoint.run.to_dict(), "best_state": outcome.best_state, "best_epoch": outcome.best_epoch}
    _save_checkpoint(checkpoint.path, state | {"history": outcome.history})


@dataclass
class Record:
    """What training tracks for one model: its epochs, its best state and why it stopped."""

    history: list[dict] = field(default_factory=list)
    best_loss: float = math.inf
    best_epoch: int = -1
    best_state: dict | None = None
    bad_epochs: int = 0
    stopped: str = "max-epochs"
    seconds: float = 0.0
    resumed_seconds: float = 0.0  # of ``seconds``, the part spent before this process resumed

    def outcome(self, config: TrainingConfig) -> TrainOutcome:
        iterations, _, _ = config.schedule()
        seen = len(self.history) * iterations * config.batch_size
        return TrainOutcome(
            best_state=self.best_state or {},
            best_epoch=self.best_epoch,
            epochs=len(self.history),
            stopped=self.stopped,
            history=self.history,
            seconds=self.seconds,
            images_per_s=seen / self.seconds if self.seconds else 0.0,
            resumed_seconds=self.resumed_seconds,
        )


class Learner(Protocol):
    """The models that :func:`train_epochs` trains together: one (``fit``) or a stack of heads
    (``visent.training.multi``). Positions ``j`` count the models still training."""

    def train_epoch(self, epoch: int, models: list[int]) -> tuple[np.ndarray, float]:
        """One epoch of SGD of ``models`` (indices into the records): the ``(S,)`` mean training
        losses and the seconds it took. A loss that is not finite raises ``TrainingDiverged``."""
        ...

    def validate(self) -> tuple[np.ndarray, np.ndarray]:
        """``(S,)`` val loss (mean negative log-likelihood) and accuracy of each model."""
        ...

    def state(self, j: int) -> dict:
        """Model ``j``'s ``state_dict``, copied to the CPU."""
        ...

    def keep(self, positions: list[int]) -> None:
        """Train only the models at ``positions`` from now on."""
        ...

    def after_epoch(self, epoch: int, models: list[int], records: list[Record], val: tuple[np.ndarray, ...]) -> None:
        """Report (and checkpoint) epoch ``epoch`` of ``models``; ``val`` is :meth:`validate`'s."""
        ...


def train_epochs(learner: Learner, records: list[Record], config: TrainingConfig, start_epoch: int = 0) -> None:
    """The paper's schedule for every model of ``learner``, from ``start_epoch``: fixed iterations
    per epoch, validation after each, the best state kept, a model stopped after ``patience``
    epochs without a lower val loss. Updates ``records`` in place."""
    _, max_epochs, patience = config.schedule()
    active = []
    for k, record in enumerate(records):
        if record.bad_epochs >= patience:  # a resumed run that had stopped
            record.stopped = "early-stopping"
        else:
            active.append(k)
    for epoch in range(start_epoch, max_epochs):
        if not active:
            break
        train_loss, seconds = learner.train_epoch(epoch, active)
        val_loss, val_acc = learner.validate()
        keep = []
        for j, k in enumerate(active):
            record = records[k]
            record.seconds += seconds
            record.history.append(
                {
                    "epoch": epoch + 1,
                    "train_loss": float(train_loss[j]),
                    "val_loss": float(val_loss[j]),
                    "val_accuracy": float(val_acc[j]),
                }
            )
            if val_loss[j] < record.best_loss:
                record.best_loss, record.best_epoch, record.best_state = float(val_loss[j]), epoch + 1, learner.state(j)
                record.bad_epochs = 0
            else:
                record.bad_epochs += 1
            if record.bad_epochs >= patience:
                record.stopped = "early-stopping"
            else:
                keep.append(j)
        learner.after_epoch(epoch, active, records, (val_loss, val_acc))
        if len(keep) < len(active):
            active = [active[j] for j in keep]
            if active:
                learner.keep(keep)


class _OneModel:
    """``fit``'s learner: one model, under DistributedDataParallel with torchrun, checkpointed
    after every epoch."""

    def __init__(
        self,
        model: nn.Module,
        data: TrainData,
        config: TrainingConfig,
        device: torch.device,
        checkpoint: Checkpoint | None,
        progress: bool,
    ) -> None:
        self.ctx = distributed.current()
        if self.ctx.enabled and config.batch_size % self.ctx.world_size:
            raise ValueError(
                f"batch_size={config.batch_size} must be divisible by the {self.ctx.world_size} torchrun processes"
            )
        self.model, self.data, self.config, self.device = model, data, config, device
        self.checkpoint, self.progress = checkpoint, progress
        # Each rank takes an equal slice of the global batch; DDP averages the gradients, which equals
        # the gradient of the whole batch, so N processes follow the single-process run.
        self.net = (
            DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
            if self.ctx.enabled
            else model
        )
        self.optimizer = torch.optim.SGD(param_groups(model, config), lr=config.lr, momentum=config.momentum)
        self.identity = data.identity()

    def resume(self, record: Record) -> int:
        """Load the checkpoint of this run and data, if any, into the model, the optimiser and
        ``record``; the first epoch to train."""
        state = resume_state(self.checkpoint) if self.checkpoint else None
        if self.checkpoint is None or state is None:
            return 0
        if not (self.checkpoint.resumes(state["config"]) and state.get("data") == self.identity):
            return 0
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        record.history, record.bad_epochs, record.seconds = state["history"], state["bad_epochs"], state["seconds"]
        record.best_loss, record.best_epoch, record.best_state = (
            state["best_loss"],
            state["best_epoch"],
            state["best_state"],
        )
        record.resumed_seconds = record.seconds
        return state["epoch"] + 1

    def train_epoch(self, epoch: int, models: list[int]) -> tuple[np.ndarray, float]:
        config, ctx = self.config, self.ctx
        iterations, max_epochs, _ = config.schedule()
        self.model.train()
        t0 = time.perf_counter()
        batches = epoch_batches(self.data.rows["train"], config.seed, epoch, iterations, config.batch_size)
        running = 0.0
        bar = tqdm(
            batches,
            desc=f"epoch {epoch + 1}/{max_epochs}",
            unit="it",
            disable=not self.progress or not ctx.is_main,
            leave=False,
        )
        for it, rows in enumerate(bar):
            V, a, y = self.data.batch(np.sort(rows)[ctx.rank :: ctx.world_size], self.device)
            with precision.autocast(config.amp, self.device):
                logits = self.net(V, a)
            loss = F.cross_entropy(logits.float(), y)
            if not torch.isfinite(loss):
                raise TrainingDiverged(
                    f"loss is {loss.item()} at epoch {epoch + 1}, iteration {it + 1} (lr={config.lr}); "
                    "lower --lr or check the features for NaN values"
                )
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            running += loss.item()
        seconds = time.perf_counter() - t0
        if ctx.enabled:
            total = torch.tensor([running], dtype=torch.float64)
            torch.distributed.all_reduce(total)
            running = total.item() / ctx.world_size
        return np.array([running / len(batches)]), seconds

    def validate(self) -> tuple[np.ndarray, np.ndarray]:
        val_loss, val_acc = _val_loss(self.model, self.data, self.device, self.config.amp)
        return np.array([val_loss]), np.array([val_acc])

    def state(self, j: int) -> dict:
        return {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}

    def keep(self, positions: list[int]) -> None:  # one model: train_epochs stops once it leaves
        pass

    def after_epoch(self, epoch: int, models: list[int], records: list[Record], val: tuple[np.ndarray, ...]) -> None:
        record = records[0]
        if self.progress and self.ctx.is_main:
            tqdm.write(
                f"epoch {epoch + 1}: train loss {record.history[-1]['train_loss']:.4f}"
                f"  val loss {val[0][0]:.4f}  val acc {val[1][0]:.3f}"
            )
        if self.checkpoint and self.ctx.is_main:
            _save_checkpoint(
                self.checkpoint.path,
                {
                    "config": self.checkpoint.run.to_dict(),
                    "data": self.identity,
                    "epoch": epoch,
                    "model": self.model.state_dict(),
                    "optimizer": self.optimizer.state_dict(),
                    "best_state": record.best_state,
                    "best_loss": record.best_loss,
                    "best_epoch": record.best_epoch,
                    "bad_epochs": record.bad_epochs,
                    "history": record.history,
                    "seconds": record.seconds,
                },
            )


def fit(
    model: nn.Module,
    data: TrainData,
    config: TrainingConfig,
    device: torch.device,
    checkpoint: Checkpoint | None = None,
    progress: bool = True,
) -> TrainOutcome:
    """Train ``model`` with SGD on ``data.rows['train']``; keep the state of the best val loss.

    When ``checkpoint`` exists for the same run and data, training resumes after its last finished
    epoch. A NaN or infinite loss raises ``TrainingDiverged``.
    """
    precision.check(config.amp, device)
    model.to(device)
    learner = _OneModel(model, data, config, device, checkpoint, progress)
    record = Record()
    start_epoch = learner.resume(record)
    train_epochs(learner, [record], config, start_epoch)
    return record.outcome(config)
