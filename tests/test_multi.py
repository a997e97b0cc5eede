"""Many heads at once: a vmapped stack of seeds trains exactly as the sequential fits would."""

import numpy as np
import pytest
import torch

from visent.config import RunConfig
from visent.training.multi import HeadStack, MultiTrainError, init_model, train_many
from visent.training.train import TrainData, TrainingDiverged, fit

CPU = torch.device("cpu")


class ArrayCache:
    """The read side of a FeatureCache over an in-memory array."""

    def __init__(self, feats: np.ndarray) -> None:
        self.feats = feats

    @property
    def shape(self):
        return self.feats.shape[1:]

    def regions(self, rows):
        return torch.from_numpy(self.feats[np.asarray(rows)])


def toy_data(n=160, dim=16, word_dim=4, seed=0, noisy_val=False):
    """Positive images light up channel 0 in one region, negative ones channel 1; each row has a
    random query vector. With ``noisy_val`` the val labels are coin flips (nothing to learn)."""
    rng = np.random.default_rng(seed)
    feats = rng.random((n, 196, dim), dtype=np.float32) * 0.5
    labels = (np.arange(n) % 2).astype(np.int64)
    feats[np.arange(n), rng.integers(0, 196, n), labels] += 6.0
    split = np.array(["train"] * (n * 8 // 10) + ["val"] * (n // 10) + ["test"] * (n // 10))
    rows = {s: np.nonzero(split == s)[0] for s in ("train", "val", "test")}
    if noisy_val:
        labels[rows["val"]] = rng.integers(0, 2, len(rows["val"]))
    queries = rng.standard_normal((n, word_dim)).astype(np.float32)
    return TrainData(ArrayCache(feats.astype(np.float16)), labels, rows, queries)


def config(**kw):
    base = dict(
        preset="cpu",
        iterations_per_epoch=8,
        max_epochs=2,
        patience=10,
        batch_size=8,
        lr=0.05,
        momentum=0.9,
        hidden_dim=16,
        device="cpu",
        amp="off",  # fp32 on every CPU: the two paths agree to 1e-4 before any bf16 rounding
    )
    return RunConfig.from_dict(base | kw)


def sequential(variant, seed, data, cfg):
    return fit(
        init_model(variant, seed, data, cfg.hidden_dim), data, cfg.replace(seed=seed).training, CPU, progress=False
    )


def assert_same_run(stacked, alone):
    assert (stacked.epochs, stacked.best_epoch, stacked.stopped) == (alone.epochs, alone.best_epoch, alone.stopped)
    for mine, theirs in zip(stacked.history, alone.history, strict=True):
        assert mine["epoch"] == theirs["epoch"]
        for key in ("train_loss", "val_loss", "val_accuracy"):
            assert mine[key] == pytest.approx(theirs[key], abs=1e-4), key
    assert stacked.best_state.keys() == alone.best_state.keys()
    for key, tensor in alone.best_state.items():
        torch.testing.assert_close(stacked.best_state[key], tensor, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(
    "variant, momentum", [("attention-truth", 0.9), ("gap", 0.0), ("attention-learned", 0.9), ("adjective-only", 0.0)]
)
def test_two_stacked_seeds_match_two_sequential_fits(variant, momentum):
    data, cfg = toy_data(), config(momentum=momentum)
    stacked = train_many([(variant, 0), (variant, 1)], data, cfg, CPU)
    assert list(stacked) == [(variant, 0), (variant, 1)]
    for seed in (0, 1):
        assert_same_run(stacked[(variant, seed)], sequential(variant, seed, data, cfg))
    assert stacked[(variant, 0)].history != stacked[(variant, 1)].history  # the seeds really differ


def test_each_model_leaves_the_stack_when_its_own_patience_runs_out():
    data, cfg = toy_data(noisy_val=True), config(iterations_per_epoch=5, max_epochs=8, patience=1)
    seeds = [0, 1, 2]
    stacked = train_many([("attention-truth", s) for s in seeds], data, cfg, CPU)
    alone = {s: sequential("attention-truth", s, data, cfg) for s in seeds}
    assert len({alone[s].epochs for s in seeds}) > 1  # the models stop at different epochs
    for s in seeds:
        assert stacked[("attention-truth", s)].stopped == "early-stopping"
        assert_same_run(stacked[("attention-truth", s)], alone[s])


def test_variants_train_as_separate_stacks_with_their_own_data():
    truth, shuffled = toy_data(seed=0), toy_data(seed=0)
    shuffled.queries = np.random.default_rng(5).permutation(truth.queries)
    cfg = config(max_epochs=1)
    out = train_many(
        [("attention-truth", 0), ("attention-shuffled", 0)],
        {"attention-truth": truth, "attention-shuffled": shuffled},
        cfg,
        CPU,
    )
    assert_same_run(out[("attention-shuffled", 0)], sequential("attention-shuffled", 0, shuffled, cfg))
    assert out[("attention-truth", 0)].history != out[("attention-shuffled", 0)].history


def test_best_state_loads_into_the_variants_module():
    data, cfg = toy_data(), config(max_epochs=2)
    outcome = train_many([("attention-truth", 3)], data, cfg, CPU)[("attention-truth", 3)]
    model = init_model("attention-truth", 3, data, cfg.hidden_dim)
    model.load_state_dict(outcome.best_state)  # strict: same keys and shapes
    assert outcome.images_per_s > 0 and outcome.seconds > 0


def test_nan_loss_names_the_seed_epoch_and_iteration():
    data = toy_data()
    data.cache.feats[:] = np.float16("nan")
    with pytest.raises(TrainingDiverged, match=r"gap seed 4: loss is nan at epoch 1, iteration 1 \(lr=0.05\)"):
        train_many([("gap", 4)], data, config(), CPU)


@pytest.mark.parametrize(
    "pairs, message",
    [
        ([], "variants_and_seeds is empty"),
        ([("attention-truth", 0), ("attention-truth", 0)], r"\('attention-truth', 0\) is listed twice"),
        ([("attention", 0)], "unknown variant 'attention'"),
        ([("gap", -1)], "seed of 'gap' must be an integer >= 0"),
        (["gap"], r"\(variant, seed\) pairs; got 'gap'"),
    ],
)
def test_bad_requests_are_refused_with_the_entry_named(pairs, message):
    with pytest.raises(MultiTrainError, match=message):
        train_many(pairs, toy_data(), config(), CPU)


def test_a_query_variant_without_queries_is_refused():
    data = toy_data()
    data.queries = None
    with pytest.raises(MultiTrainError, match="'attention-truth' attends with an adjective's word vector"):
        train_many([("attention-truth", 0)], data, config(), CPU)


def test_a_mapping_without_the_variant_is_refused():
    with pytest.raises(MultiTrainError, match=r"no TrainData for variant 'gap'; the mapping has \['attention-truth'\]"):
        train_many([("gap", 0)], {"attention-truth": toy_data()}, config(), CPU)


def test_empty_validation_split_is_refused():
    data = toy_data()
    data.rows["val"] = np.array([], dtype=np.int64)
    with pytest.raises(MultiTrainError, match=r"data.rows\['val'\] is empty"):
        train_many([("gap", 0)], data, config(), CPU)


@pytest.mark.parametrize("other", ["adjective-only", "attention-truth"])  # the latter: same shapes, other query
def test_stack_refuses_models_of_different_architectures(other):
    data, cfg = toy_data(), config()
    models = [init_model("gap", 0, data, cfg.hidden_dim), init_model(other, 0, data, cfg.hidden_dim)]
    with pytest.raises(MultiTrainError, match="one architecture"):
        HeadStack(models, lr=0.1, momentum=0.0, amp="off", device=CPU)


def test_stack_probabilities_are_each_models_own_softmax():
    data, cfg = toy_data(), config()
    models = [init_model("attention-truth", s, data, cfg.hidden_dim) for s in (0, 1)]
    stack = HeadStack([init_model("attention-truth", s, data, cfg.hidden_dim) for s in (0, 1)], 0.1, 0.0, "off", CPU)
    V, a, _ = data.batch(np.arange(5), CPU)
    probs = stack.probabilities(V, a)  # (2, 5, 2)
    for k, model in enumerate(models):
        torch.testing.assert_close(probs[k], model(V, a).float().softmax(-1))
