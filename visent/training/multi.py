"""Many heads trained at once: the seeds of a variant as one stack of parameters (``torch.func``).

A replication trains every variant with several seeds on the same cached features. One head is
small (about 0.3M parameters), so trained alone it leaves a GPU waiting on kernel launches;
stacking the parameters of ``S`` models of one architecture and mapping the step over the stack
with ``vmap`` turns ``S`` small matrix products into one batched product per layer.

A stacked run is the sequential ``visent.training.train.fit`` of each model, up to float rounding (batched
products sum in another order):

- initialisation: ``init_model`` is the pipeline's recipe, ``torch.manual_seed(seed)`` then
  ``head_for``;
- batches: model ``k`` draws ``epoch_batches(train_rows, seed_k, epoch, ...)``, rows sorted within
  the batch as ``fit`` sorts them;
- update: plain SGD with optional momentum, the buffer starting at the first gradient as in
  ``torch.optim.SGD`` (no dampening, no weight decay), on the stacked tensors;
- the schedule, validation and early stopping are ``fit``'s own loop,
  ``visent.training.train.train_epochs``, with the stack as its learner: a model leaves the stack
  after ``patience`` epochs without a lower val loss.

Not covered: checkpoints and resume (a stack is cheap to rerun), DDP: ``fit``'s learner has them.
"""

from __future__ import annotations

import copy
import sys
import time
from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, grad_and_value, stack_module_state, vmap

from visent import precision
from visent.config import RunConfig
from visent.model import VARIANTS
from visent.training.train import (
    Record,
    TrainData,
    TrainingDiverged,
    TrainOutcome,
    epoch_batches,
    head_for,
    train_epochs,
)

VAL_BATCH = 256  # rows per validation forward, as in visent.training.train.predict


def stacking_pays(device: torch.device) -> bool:
    """Whether training runs of one dataset and schedule as one stack is faster on ``device`` than
    training them one after another: on CUDA yes, on the CPU no.

    Measured on this project's 2-core AMD EPYC CPU (the 1200-image synthetic cache, 3 seeds, 30
    iterations of batch 32, 3 ``fit`` calls against one stack): with ``OMP_NUM_THREADS=1`` on the
    idle machine gap took 16.4 s against 24.7 s stacked, attention-learned 21.3 s against 25.5 s;
    with 2 threads, the machine busy with other jobs, gap 29.2 s and 27.2 s against 25.7 s and
    25.3 s, attention-learned 46.1 s against 50.4 s. A stack is slower or at best 10% faster on a
    CPU that one head already keeps busy, and the sequential runs keep their per-epoch checkpoints.
    On CUDA one head leaves the GPU waiting on kernel launches, which the stack shares between its
    heads (expected, not measured here: ``benchmarks/gpu.py``'s many_heads section measures it).
    """
    return device.type == "cuda"


class MultiTrainError(ValueError):
    """A request to ``train_many`` that cannot be run; the message names the entry and the fix."""


def init_model(variant: str, seed: int, data: TrainData, hidden_dim: int) -> nn.Module:
    """A freshly initialised head of ``variant`` as the pipeline makes it for ``seed``:
    ``torch.manual_seed(seed)``, then :func:`~visent.training.train.head_for` ``data``."""
    torch.manual_seed(seed)
    return head_for(variant, data, hidden_dim)


class HeadStack:
    """Models of one architecture as stacked parameters ``(S, ...)``, stepped together.

    ``step`` trains model ``k`` on batch ``k`` (inputs ``(S, B, ...)``); ``probabilities`` runs
    every model on one shared batch. Neither synchronises with the device, so a CUDA graph can
    capture ``step`` once its momentum buffers exist (after the first step).
    """

    def __init__(self, models: Sequence[nn.Module], lr: float, momentum: float, amp: str, device: torch.device) -> None:
        if not models:
            raise MultiTrainError("HeadStack needs at least one model")
        # The stack runs models[0]'s forward: the query kind (gap and attention-truth share every
        # shape), the shapes and what trains must be the same for every model.
        kinds = {
            (
                type(m).__name__,
                getattr(m, "query", None),
                tuple((k, tuple(v.shape)) for k, v in m.state_dict().items()),
                tuple(k for k, p in m.named_parameters() if p.requires_grad),
            )
            for m in models
        }
        if len(kinds) > 1:
            raise MultiTrainError(
                f"HeadStack needs models of one architecture (same class, query, parameter shapes and trainable"
                f" parameters); got {len(kinds)} different ones: stack each variant separately"
            )
        self.device = torch.device(device)
        self.lr, self.momentum, self.amp = lr, momentum, amp
        models = [m.to(self.device) for m in models]
        self.keys = list(models[0].state_dict())
        params, buffers = stack_module_state(models)
        trainable = {name for name, p in models[0].named_parameters() if p.requires_grad}
        self.trainable = {k: v.detach() for k, v in params.items() if k in trainable}  # name -> (S, ...)
        # Frozen parameters (gap's unused eq. (2) encoder) and buffers take part in the forward only.
        self.frozen = {k: v.detach() for k, v in {**params, **buffers}.items() if k not in trainable}
        self.velocity: dict[str, Tensor] = {}
        # The module's code with its tensors on the meta device: functional_call supplies the stacks.
        self.base = copy.deepcopy(models[0]).to("meta")

    def __len__(self) -> int:
        return next(iter(self.trainable.values())).shape[0]

    def _loss(
        self, trainable: dict[str, Tensor], frozen: dict[str, Tensor], V: Tensor, a: Tensor | None, y: Tensor
    ) -> Tensor:
        with precision.autocast(self.amp, self.device):
            logits = functional_call(self.base, {**trainable, **frozen}, (V, a))  # (B, C)
        return F.cross_entropy(logits.float(), y)

    def step(self, V: Tensor, a: Tensor | None, y: Tensor) -> Tensor:
        """One SGD step of every model on its own batch: ``V`` ``(S, B, 196, D)``, ``a`` ``(S, B, word_dim)``
        or None, ``y`` ``(S, B)``. Returns the ``(S,)`` losses before the step, on the device."""
        per_model = vmap(grad_and_value(self._loss), in_dims=(0, 0, 0, None if a is None else 0, 0))
        grads, losses = per_model(self.trainable, self.frozen, V, a, y)
        with torch.no_grad():
            for name, param in self.trainable.items():
                direction = grads[name]
                if self.momentum:
                    if name in self.velocity:
                        direction = self.velocity[name].mul_(self.momentum).add_(direction)
                    else:
                        direction = self.velocity[name] = direction.clone()
                param.add_(direction, alpha=-self.lr)
        return losses.detach()

    @torch.no_grad()
    def probabilities(self, V: Tensor, a: Tensor | None) -> Tensor:
        """Class probabilities ``(S, B, C)`` of every model on one shared batch ``V`` ``(B, 196, D)``."""

        def logits(trainable: dict[str, Tensor], frozen: dict[str, Tensor]) -> Tensor:
            with precision.autocast(self.amp, self.device):
                return functional_call(self.base, {**trainable, **frozen}, (V, a))  # (B, C)

        return vmap(logits)(self.trainable, self.frozen).float().softmax(-1)

    def select(self, keep: Sequence[int]) -> None:
        """Keep only the models at positions ``keep`` (in that order), with their momentum."""
        index = torch.as_tensor(list(keep), dtype=torch.long, device=self.device)
        for stacked in (self.trainable, self.frozen, self.velocity):
            for name, tensor in stacked.items():
                stacked[name] = tensor.index_select(0, index)

    def state_dict(self, k: int) -> dict[str, Tensor]:
        """Model ``k``'s ``state_dict``, on the CPU: loads into ``init_model``'s module."""
        tensors = {**self.trainable, **self.frozen}
        return {name: tensors[name][k].detach().cpu().clone() for name in self.keys}


def _validation(stack: HeadStack, data: TrainData, device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """Per model: the val loss (mean negative log-likelihood) and accuracy, as ``fit`` computes them."""
    rows = data.rows["val"]
    probs = []
    for start in range(0, len(rows), VAL_BATCH):
        V, a, _ = data.batch(rows[start : start + VAL_BATCH], device)
        probs.append(stack.probabilities(V, a).cpu().numpy())  # (S, b, C)
    p = np.concatenate(probs, axis=1)  # (S, n_val, C)
    y = data.labels[rows]
    p_true = np.clip(p[:, np.arange(len(y)), y], 1e-12, 1.0)
    return -np.log(p_true).mean(axis=1), (p.argmax(2) == y).mean(axis=1)


def _check_finite(losses: np.ndarray, variant: str, seeds: list[int], epoch: int, lr: float) -> None:
    """Raise like ``fit`` does, naming the first model and iteration whose loss was not finite."""
    bad = ~np.isfinite(losses)  # (iterations, S)
    if bad.any():
        it, k = np.argwhere(bad)[0]
        raise TrainingDiverged(
            f"{variant} seed {seeds[k]}: loss is {losses[it, k]} at epoch {epoch + 1}, iteration {it + 1}"
            f" (lr={lr}); lower --lr or check the features for NaN values"
        )


class _Stack:
    """``train_epochs``' learner for the seeds of one variant as one :class:`HeadStack`."""

    def __init__(
        self, variant: str, seeds: list[int], data: TrainData, config: RunConfig, device: torch.device, progress: bool
    ) -> None:
        models = [init_model(variant, seed, data, config.hidden_dim) for seed in seeds]
        self.stack = HeadStack(models, config.lr, config.momentum, config.amp, device)
        self.variant, self.seeds, self.data, self.config = variant, seeds, data, config
        self.device, self.progress = device, progress

    def train_epoch(self, epoch: int, models: list[int]) -> tuple[np.ndarray, float]:
        iterations, batch_size = self.config.iterations_per_epoch, self.config.batch_size
        batches = np.stack(
            [epoch_batches(self.data.rows["train"], self.seeds[k], epoch, iterations, batch_size) for k in models],
            axis=1,
        )  # (iterations, S, B)
        batches.sort(axis=2)  # fit sorts each batch's rows
        S = len(models)
        losses = torch.empty(iterations, S, device=self.device)
        t0 = time.perf_counter()
        for it in range(iterations):
            V, a, y = self.data.batch(batches[it].ravel(), self.device)  # (S*B, 196, D), (S*B, word_dim), (S*B,)
            losses[it] = self.stack.step(
                V.view(S, batch_size, *V.shape[1:]),
                None if a is None else a.view(S, batch_size, -1),
                y.view(S, batch_size),
            )
        losses_np = losses.double().cpu().numpy()  # the epoch's only synchronisation
        elapsed = time.perf_counter() - t0
        _check_finite(losses_np, self.variant, [self.seeds[k] for k in models], epoch, self.config.lr)
        return np.array([losses_np[:, j].sum() for j in range(S)]) / iterations, elapsed

    def validate(self) -> tuple[np.ndarray, np.ndarray]:
        return _validation(self.stack, self.data, self.device)

    def state(self, j: int) -> dict:
        return self.stack.state_dict(j)

    def keep(self, positions: list[int]) -> None:
        self.stack.select(positions)

    def after_epoch(self, epoch: int, models: list[int], records: list[Record], val: tuple[np.ndarray, ...]) -> None:
        if self.progress:
            print(
                f"{self.variant} epoch {epoch + 1}: val loss "
                + " ".join(f"s{self.seeds[k]}={val[0][j]:.4f}" for j, k in enumerate(models)),
                file=sys.stderr,
            )


def _train_stack(
    variant: str, seeds: list[int], data: TrainData, config: RunConfig, device: torch.device, progress: bool
) -> dict[tuple[str, int], TrainOutcome]:
    records = [Record() for _ in seeds]
    train_epochs(_Stack(variant, seeds, data, config, device, progress), records, config.training)
    return {(variant, seed): record.outcome(config.training) for seed, record in zip(seeds, records)}


def _group(variants_and_seeds: Sequence[tuple[str, int]]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for entry in variants_and_seeds:
        if not (isinstance(entry, tuple) and len(entry) == 2):
            raise MultiTrainError(f"variants_and_seeds holds (variant, seed) pairs; got {entry!r}")
        variant, seed = entry
        if variant not in VARIANTS:
            raise MultiTrainError(f"unknown variant {variant!r} in variants_and_seeds; choose from {sorted(VARIANTS)}")
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise MultiTrainError(f"seed of {variant!r} must be an integer >= 0, got {seed!r}")
        if seed in groups.setdefault(variant, []):
            raise MultiTrainError(f"({variant!r}, {seed}) is listed twice in variants_and_seeds")
        groups[variant].append(seed)
    if not groups:
        raise MultiTrainError("variants_and_seeds is empty: give (variant, seed) pairs to train")
    return groups


def _data_for(variant: str, data: TrainData | Mapping[str, TrainData]) -> TrainData:
    if isinstance(data, Mapping):
        if variant not in data:
            raise MultiTrainError(f"no TrainData for variant {variant!r}; the mapping has {sorted(data)}")
        data = data[variant]
    if VARIANTS[variant].attribute_source is not None and data.queries is None:
        raise MultiTrainError(
            f"variant {variant!r} attends with an adjective's word vector, but its TrainData has queries=None;"
            " pass the variant's queries (visent.model.queries.attribute_queries)"
        )
    if len(data.rows.get("val", ())) == 0:
        raise MultiTrainError(f"variant {variant!r}: data.rows['val'] is empty; early stopping needs validation rows")
    return data


def train_many(
    variants_and_seeds: Sequence[tuple[str, int]],
    data: TrainData | Mapping[str, TrainData],
    config: RunConfig,
    device: torch.device | str,
    *,
    progress: bool = False,
) -> dict[tuple[str, int], TrainOutcome]:
    """Train every ``(variant, seed)`` with ``config``'s schedule; the seeds of a variant as one stack.

    ``data`` is one ``TrainData`` for all variants, or a mapping variant -> ``TrainData`` when the
    variants attend with different queries (truth, shuffled, predicted). ``config.variant`` and
    ``config.seed`` are ignored: each pair names its own. Returns ``(variant, seed)`` ->
    ``TrainOutcome`` in the order given; a stack's ``seconds`` is its shared wall time, so
    ``images_per_s`` is per model and the stack processed ``S`` times as many.
    """
    device = torch.device(device)
    outcomes: dict[tuple[str, int], TrainOutcome] = {}
    for variant, seeds in _group(variants_and_seeds).items():
        variant_data = _data_for(variant, data)
        outcomes |= _train_stack(variant, seeds, variant_data, config, device, progress)
    return {pair: outcomes[pair] for pair in variants_and_seeds}
