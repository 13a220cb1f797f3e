"""Data-parallel GCE on 2 CPU processes (gloo) against 1 process on the whole batch.

The processes are spawned once for every check (a module-scoped fixture),
save what they computed, and the assertions run here, in the test process.
Those checks are marked slow (``python -m pytest -m slow``, run by CI).
"""

import importlib.util
import itertools

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.distributed as dist
from _spawn import run_processes
from sklearn.datasets import make_classification
from skorch.dataset import Dataset, ValidSplit
from torch.nn.parallel import DistributedDataParallel

from sklearn_gce import GCEClassifier, GCELoss, MLPModule, generative_cross_entropy
from sklearn_gce.batching import BatchIterator, batch_bounds

N_CLASSES = 5
# (shard sizes, labels of the concatenated batch): uneven shards; classes 0
# and 1 only on rank 0, class 3 only on rank 1, class 4 nowhere
SHARDINGS = {
    "even": ((6, 6), None),
    "uneven": ((7, 3), [0, 0, 1, 1, 2, 0, 1, 3, 3, 2]),
}
# sample weights: none, random with zeros, or all zero on rank 1's shard
WEIGHTINGS = [None, "random", "zero_on_rank_1"]
LOSS_CASES = list(
    itertools.product(SHARDINGS, ["mean", "sum"], [0.5, 1.0], [None, "random"]),
)


def _problem(sharding, scale=1.0):
    sizes, labels = SHARDINGS[sharding]
    gen = torch.Generator().manual_seed(sum(sizes))
    X = torch.randn(sum(sizes), 6, generator=gen, dtype=torch.float64)
    if labels is None:
        y = torch.randint(0, N_CLASSES, (sum(sizes),), generator=gen)
    else:
        y = torch.tensor(labels)
    logits = torch.randn(sum(sizes), N_CLASSES, generator=gen, dtype=torch.float64)
    return X, y, logits * scale, np.cumsum((0,) + sizes)


def _weights(sharding, weighting):
    if weighting is None:
        return None
    sizes, _ = SHARDINGS[sharding]
    gen = torch.Generator().manual_seed(1)
    weight = torch.rand(sum(sizes), generator=gen, dtype=torch.float64) * 3
    weight[:: 4 if weighting == "random" else 1000] = 0.0
    if weighting == "zero_on_rank_1":
        weight[sizes[0] :] = 0.0
    return weight


def _rows(weight, rows):
    return None if weight is None else weight[rows]


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, N_CLASSES)
    ).double()


def _ddp_gradients(model, case, rank, distributed):
    """One DDP step's loss and gradients (the model is shared: constructing
    DistributedDataParallel is the slow part of these checks)."""
    sharding, reduction, reg_weight, weighting = case
    X, y, _, offsets = _problem(sharding)
    weight = _weights(sharding, weighting)
    rows = slice(offsets[rank], offsets[rank + 1])
    criterion = GCELoss(reg_weight, reduction, distributed=distributed)
    model.zero_grad(set_to_none=True)
    loss = criterion(model(X[rows]), y[rows], _rows(weight, rows))
    loss.backward()
    return loss.item(), [p.grad.clone() for p in model.module.parameters()]


def _logit_gradients(sharding, reduction, weighting, rank, world_size, scale):
    """Gradients with respect to this rank's logits, without DDP."""
    _, y, logits, offsets = _problem(sharding, scale)
    weight = _weights(sharding, weighting)
    rows = slice(offsets[rank], offsets[rank + 1])
    z = logits[rows].clone().requires_grad_()
    loss = generative_cross_entropy(
        z,
        y[rows],
        sample_weight=_rows(weight, rows),
        reduction=reduction,
        distributed=True,
    )
    if reduction == "none":
        values = loss.detach()
        (loss.sum() * world_size / len(y)).backward()
    else:
        values = loss.item()
        loss.backward()
    return values, z.grad


def _loss_worker(rank, world_size):
    assert dist.get_world_size() == world_size
    results = {}
    model = DistributedDataParallel(_model())
    for case in LOSS_CASES:
        results[("ddp", *case)] = {
            distributed: _ddp_gradients(model, case, rank, distributed)
            for distributed in ("auto", False)
        }
    for case in itertools.product(
        SHARDINGS, ["mean", "sum", "none"], WEIGHTINGS, [1.0, 1e4]
    ):
        results[("logits", *case)] = _logit_gradients(
            *case[:3], rank, world_size, case[3]
        )
    results["groups"] = _group_values(rank, world_size)
    try:
        generative_cross_entropy(
            torch.zeros(2, 3),
            torch.tensor([0, 1]),
            sample_weight=torch.zeros(2),
            distributed=True,
        )
    except ValueError as error:
        results["all_zero"] = str(error)
    return results


def _group_values(rank, world_size):
    """The loss over a group of every process, and over this process alone."""
    everyone = dist.new_group(list(range(world_size)))
    alone = [dist.new_group([r]) for r in range(world_size)][rank]
    _, y, logits, offsets = _problem("uneven")
    rows = slice(offsets[rank], offsets[rank + 1])
    return [
        GCELoss(process_group=group)(logits[rows], y[rows]).item()
        for group in (everyone, alone)
    ]


def _worker(rank, world_size):
    """Every check's computations, in one spawn of the processes (each start
    imports torch: seconds); accelerate's checks join the same gloo group."""
    results = {"loss": _loss_worker(rank, world_size)}
    if importlib.util.find_spec("accelerate") is not None:
        results["accelerate"] = _accelerate_worker(rank, world_size)
    return results


# The checks on the spawned processes: their start (two Python processes
# importing torch and accelerate) takes seconds, so they run with the slow tests.
SPAWNED = pytest.mark.slow


@pytest.fixture(scope="module")
def spawned_results(tmp_path_factory):
    return run_processes(_worker, tmp_path_factory.mktemp("spawned"))


@pytest.fixture(scope="module")
def loss_results(spawned_results):
    return [rank_results["loss"] for rank_results in spawned_results]


def _reference(sharding, reduction, reg_weight, weighting):
    X, y, _, _ = _problem(sharding)
    model = _model()
    loss = GCELoss(reg_weight, reduction)(model(X), y, _weights(sharding, weighting))
    loss.backward()
    return loss.item(), [p.grad for p in model.parameters()]


def _max_difference(grads, other):
    return max((a - b).abs().max().item() for a, b in zip(grads, other))


@pytest.mark.parametrize("sharding, reduction, reg_weight, weighting", LOSS_CASES)
@SPAWNED
def test_ddp_gradients_equal_one_process_on_the_whole_batch(
    loss_results, sharding, reduction, reg_weight, weighting
):
    value, grads = _reference(sharding, reduction, reg_weight, weighting)
    for rank_results in loss_results:
        key = ("ddp", sharding, reduction, reg_weight, weighting)
        rank_value, rank_grads = rank_results[key]["auto"]
        assert rank_value == pytest.approx(value, rel=1e-12)
        for actual, expected in zip(rank_grads, grads):
            torch.testing.assert_close(actual, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("sharding, reduction, reg_weight, weighting", LOSS_CASES)
@SPAWNED
def test_without_combining_the_shards_gradients_differ(
    loss_results, sharding, reduction, reg_weight, weighting
):
    _, grads = _reference(sharding, reduction, reg_weight, weighting)
    key = ("ddp", sharding, reduction, reg_weight, weighting)
    _, local_grads = loss_results[0][key][False]
    assert _max_difference(local_grads, grads) > 1e-3


@pytest.mark.parametrize("scale", [1.0, 1e4])
@pytest.mark.parametrize("weighting", WEIGHTINGS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("sharding", SHARDINGS)
@SPAWNED
def test_logit_gradients_equal_one_process(
    loss_results, sharding, reduction, weighting, scale
):
    """Without DDP: each rank's logit gradient is W times its slice of the
    whole batch's; for "none", the per-sample terms are the whole batch's."""
    _, y, logits, offsets = _problem(sharding, scale)
    z = logits.clone().requires_grad_()
    weight = _weights(sharding, weighting)
    loss = generative_cross_entropy(z, y, sample_weight=weight, reduction=reduction)
    (loss.mean() if reduction == "none" else loss).backward()
    world_size = len(loss_results)
    for rank, rank_results in enumerate(loss_results):
        key = ("logits", sharding, reduction, weighting, scale)
        values, grad = rank_results[key]
        rows = slice(offsets[rank], offsets[rank + 1])
        assert torch.isfinite(grad).all()
        expected = loss.detach()[rows] if reduction == "none" else loss.item()
        torch.testing.assert_close(torch.as_tensor(values), torch.as_tensor(expected))
        torch.testing.assert_close(
            grad / world_size, z.grad[rows], rtol=1e-6, atol=1e-12
        )


def test_distributed_true_needs_a_process_group():
    assert not dist.is_initialized()
    z, y = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    with pytest.raises(RuntimeError, match="distributed=True needs"):
        generative_cross_entropy(z, y, distributed=True)
    with pytest.raises(RuntimeError, match="distributed=True needs"):
        GCELoss(distributed=True)(z, y)
    torch.testing.assert_close(GCELoss()(z, y), generative_cross_entropy(z, y))


@pytest.mark.parametrize("distributed", ["yes", None, 1])
def test_bad_distributed_option(distributed):
    with pytest.raises(ValueError, match="distributed must be one of"):
        GCELoss(distributed=distributed)
    with pytest.raises(ValueError, match="distributed must be one of"):
        generative_cross_entropy(
            torch.zeros(2, 2), torch.tensor([0, 1]), distributed=distributed
        )


def test_repr_shows_a_non_default_distributed_option():
    assert repr(GCELoss()) == "GCELoss(reg_weight=1.0, reduction='mean')"
    assert repr(GCELoss(distributed=False)) == (
        "GCELoss(reg_weight=1.0, reduction='mean', distributed=False)"
    )


# --- GCEClassifier with skorch's AccelerateMixin, 2 processes ---

N_SAMPLES, BATCH_SIZE = 101, 16  # shards of 8 and 8, and a last batch of 2 + 3


def _classification_data():
    X, y = make_classification(
        N_SAMPLES,
        n_features=4,
        n_informative=3,
        n_redundant=0,
        n_classes=3,
        random_state=0,
    )
    return X, np.array(["a", "b", "c"])[y]


def _network():
    torch.manual_seed(0)
    return MLPModule(4, 3, hidden_sizes=(8,)).double()


def _classifier(cls, **params):
    return cls(
        _network(),
        lr=0.02,
        max_epochs=3,
        batch_size=BATCH_SIZE,
        random_state=0,
        **params,
    )


def _sharded_batches(rank, **loader_kwargs):
    """Sample indices of each batch, with a generator that differs by rank."""
    dataset = Dataset(np.arange(N_SAMPLES)[:, None], np.arange(N_SAMPLES))
    batches = BatchIterator(
        dataset,
        batch_size=BATCH_SIZE,
        shuffle=True,
        distributed=True,
        generator=torch.Generator().manual_seed(rank),
        **loader_kwargs,
    )
    return [yb.tolist() for _ in range(2) for _, yb in batches]


def _sharding_errors():
    dataset = Dataset(np.zeros((9, 1)), np.arange(9))
    sampler = torch.utils.data.SequentialSampler(range(9))
    errors = []
    for kwargs in ({"sampler": sampler}, {"batch_size": 1}):
        try:
            BatchIterator(dataset, **{"batch_size": 4, **kwargs}, distributed=True)
        except ValueError as error:
            errors.append(str(error))
    return errors


def _accelerate_worker(rank, world_size):
    from accelerate import Accelerator
    from skorch.hf import AccelerateMixin

    class AcceleratedGCEClassifier(AccelerateMixin, GCEClassifier):
        pass

    class CPUAccelerator(Accelerator):
        """On CPU, accelerate 1.x wraps even a parameter-free module (the
        criterion) in DDP, which DDP refuses; on GPUs it skips them."""

        def prepare_model(self, model, *args, **kwargs):
            if not any(p.requires_grad for p in model.parameters()):
                return model
            return super().prepare_model(model, *args, **kwargs)

    accelerator = CPUAccelerator(cpu=True)
    assert accelerator.num_processes == world_size
    X, y = _classification_data()
    results = {"batches": _sharded_batches(rank)}
    results["loader_batches"] = _sharded_batches(rank, num_workers=0)
    results["errors"] = _sharding_errors()
    for distributed in ("auto", False):
        net = _classifier(
            AcceleratedGCEClassifier,
            accelerator=accelerator,
            criterion__distributed=distributed,
        ).fit(X, y)
        results[distributed] = {
            "params": [p.detach() for p in net.module_.parameters()],
            "batch_losses": net.history[:, "batches", :, "train_loss"],
            "batch_sizes": net.history[:, "batches", :, "train_batch_size"],
            "proba": net.predict_proba(X),
            "predict": net.predict(X),
            "param_names": sorted(net.get_params(deep=False)),
        }
    results["valid"] = _validated_fit(AcceleratedGCEClassifier, accelerator=accelerator)
    return results


def _validated_fit(cls, **params):
    """A fit with skorch's internal validation: losses and accuracy per epoch.

    skorch's cached validation predictions are this process's shard only, so
    the scoring callbacks must predict again (use_caching=False)."""
    X, y = _classification_data()
    net = _classifier(
        cls,
        train_split=ValidSplit(0.3, stratified=False, random_state=0),
        use_caching=False,
        **params,
    ).fit(X, y)
    return np.array(net.history[:, ("valid_loss", "valid_acc")])


@pytest.fixture(scope="module")
def accelerate_results(spawned_results):
    pytest.importorskip("accelerate")
    return [rank_results["accelerate"] for rank_results in spawned_results]


@SPAWNED
def test_processes_see_complementary_parts_of_the_same_batches(accelerate_results):
    dataset = Dataset(np.arange(N_SAMPLES)[:, None], np.arange(N_SAMPLES))
    batches = BatchIterator(
        dataset,
        batch_size=BATCH_SIZE,
        shuffle=True,
        generator=torch.Generator().manual_seed(0),
    )
    expected = [yb.tolist() for _ in range(2) for _, yb in batches]
    for key in ("batches", "loader_batches"):
        parts = [rank_results[key] for rank_results in accelerate_results]
        assert [a + b for a, b in zip(*parts)] == expected
        assert all(abs(len(a) - len(b)) <= 1 for a, b in zip(*parts))
    assert expected[0] != expected[len(expected) // 2]  # reshuffled each epoch


@SPAWNED
def test_accelerated_classifier_trains_as_one_process(accelerate_results):
    X, y = _classification_data()
    net = _classifier(GCEClassifier).fit(X, y)
    params = [p.detach() for p in net.module_.parameters()]
    for rank_results in accelerate_results:
        result = rank_results["auto"]
        for actual, expected in zip(result["params"], params):
            torch.testing.assert_close(actual, expected, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(
            result["batch_losses"],
            net.history[:, "batches", :, "train_loss"],
            rtol=1e-9,
        )
        np.testing.assert_allclose(
            result["proba"], net.predict_proba(X), rtol=1e-6, atol=1e-9
        )
        np.testing.assert_array_equal(result["predict"], net.predict(X))
        assert {"accelerator", "unwrap_after_train", "reg_weight", "module"} <= set(
            result["param_names"]
        )
    # the validation loss is not compared: accelerate's validation batches
    # have batch_size samples per process
    valid_acc = _validated_fit(GCEClassifier)[:, 1]
    for rank_results in accelerate_results:
        np.testing.assert_array_equal(rank_results["valid"][:, 1], valid_acc)
    # each process trained on its part of every batch
    sizes = [np.asarray(rank["auto"]["batch_sizes"]) for rank in accelerate_results]
    np.testing.assert_array_equal(
        sum(sizes), net.history[:, "batches", :, "train_batch_size"]
    )
    assert np.all(np.abs(sizes[0] - sizes[1]) <= 1)
    # and the shards' GCE, each on its own, would have trained another network
    local = accelerate_results[0][False]["params"]
    assert _max_difference(local, params) > 1e-4


@SPAWNED
def test_sharding_rejects_samplers_and_batches_smaller_than_the_group(
    accelerate_results,
):
    errors = accelerate_results[0]["errors"]
    assert len(errors) == 2
    assert "pass no sampler" in errors[0]
    assert "every batch needs at least 2 samples" in errors[1]


@pytest.mark.parametrize(
    "n_samples, min_size, expected",
    [
        (10, 2, [(0, 4), (4, 8), (8, 10)]),
        (10, 3, [(0, 4), (4, 10)]),  # a last batch of 2 for 3 processes
        (11, 3, [(0, 4), (4, 8), (8, 11)]),
    ],
)
def test_batch_bounds_merge_a_last_batch_below_min_size(n_samples, min_size, expected):
    assert batch_bounds(n_samples, 4, min_size=min_size) == expected


def test_sharding_needs_a_process_group():
    with pytest.raises(RuntimeError, match="distributed=True needs"):
        BatchIterator(Dataset(np.zeros((4, 1)), np.arange(4)), distributed=True)


@pytest.mark.parametrize("loader_kwargs", [{}, {"num_workers": 0}])
def test_batches_move_to_the_device(loader_kwargs):
    X = {"a": np.ones((5, 2), dtype=np.float32), "b": sp.csr_matrix(np.eye(5, 2))}
    dataset = Dataset(X, np.arange(5))
    if loader_kwargs:
        dataset = Dataset(np.ones((5, 2), dtype=np.float32), np.arange(5))
    batches = list(BatchIterator(dataset, batch_size=2, device="meta", **loader_kwargs))
    assert len(batches) == 2
    for Xb, yb in batches:
        tensors = list(Xb.values()) if isinstance(Xb, dict) else [Xb]
        assert all(t.device.type == "meta" for t in [*tensors, yb])


def test_accelerate_mixin_composition_in_one_process():
    """With one process, accelerate changes nothing: same network, same
    predictions, and scikit-learn sees the mixin's parameters."""
    accelerate = pytest.importorskip("accelerate")
    from skorch.hf import AccelerateMixin

    class AcceleratedGCEClassifier(AccelerateMixin, GCEClassifier):
        pass

    X, y = _classification_data()
    accelerator = accelerate.Accelerator(cpu=True)
    net = _classifier(AcceleratedGCEClassifier, accelerator=accelerator)
    params = net.get_params(deep=False)
    assert params["accelerator"] is accelerator
    assert params["unwrap_after_train"] is True and params["reg_weight"] == 1.0
    assert "args" not in params
    net.fit(X, y)
    reference = _classifier(GCEClassifier).fit(X, y)
    for actual, expected in zip(
        net.module_.parameters(), reference.module_.parameters()
    ):
        torch.testing.assert_close(actual, expected, rtol=0, atol=0)
    np.testing.assert_array_equal(net.predict_proba(X), reference.predict_proba(X))


@SPAWNED
def test_process_group_chooses_the_processes_that_share_a_batch(loss_results):
    _, y, logits, offsets = _problem("uneven")
    whole_batch = generative_cross_entropy(logits, y).item()
    for rank, rank_results in enumerate(loss_results):
        everyone, alone = rank_results["groups"]
        rows = slice(offsets[rank], offsets[rank + 1])
        assert everyone == pytest.approx(whole_batch, rel=1e-12)
        assert alone == pytest.approx(
            generative_cross_entropy(logits[rows], y[rows]).item(), rel=1e-12
        )


@SPAWNED
def test_sample_weights_all_zero_over_the_processes(loss_results):
    for rank_results in loss_results:
        assert "must not be all zero on every process" in rank_results["all_zero"]
