"""Data-parallel GCE on 2 CPU processes (gloo) against 1 process on the whole batch.

The processes are spawned once per group of checks (a module-scoped fixture),
save what they computed, and the assertions run here, in the test process.
"""

import itertools

import numpy as np
import pytest
import torch
import torch.distributed as dist
from _spawn import run_processes
from torch.nn.parallel import DistributedDataParallel

from sklearn_gce import GCELoss, generative_cross_entropy

N_CLASSES = 5
# (shard sizes, labels of the concatenated batch): uneven shards; classes 0
# and 1 only on rank 0, class 3 only on rank 1, class 4 nowhere
SHARDINGS = {
    "even": ((6, 6), None),
    "uneven": ((7, 3), [0, 0, 1, 1, 2, 0, 1, 3, 3, 2]),
}
LOSS_CASES = list(
    itertools.product(SHARDINGS, ["mean", "sum"], [0.5, 1.0]),
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


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, N_CLASSES)
    ).double()


def _ddp_gradients(sharding, reduction, reg_weight, rank, distributed):
    X, y, _, offsets = _problem(sharding)
    model = DistributedDataParallel(_model())
    rows = slice(offsets[rank], offsets[rank + 1])
    criterion = GCELoss(reg_weight, reduction, distributed=distributed)
    loss = criterion(model(X[rows]), y[rows])
    loss.backward()
    return loss.item(), [p.grad for p in model.module.parameters()]


def _logit_gradients(sharding, reduction, rank, world_size, scale):
    """Gradients with respect to this rank's logits, without DDP."""
    _, y, logits, offsets = _problem(sharding, scale)
    rows = slice(offsets[rank], offsets[rank + 1])
    z = logits[rows].clone().requires_grad_()
    loss = generative_cross_entropy(z, y[rows], reduction=reduction, distributed=True)
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
    for case in LOSS_CASES:
        results[("ddp", *case)] = {
            distributed: _ddp_gradients(*case, rank, distributed)
            for distributed in ("auto", False)
        }
    for sharding, reduction, scale in itertools.product(
        SHARDINGS, ["mean", "sum", "none"], [1.0, 1e4]
    ):
        results["logits", sharding, reduction, scale] = _logit_gradients(
            sharding, reduction, rank, world_size, scale
        )
    return results


@pytest.fixture(scope="module")
def loss_results(tmp_path_factory):
    return run_processes(_loss_worker, tmp_path_factory.mktemp("loss"))


def _reference(sharding, reduction, reg_weight):
    X, y, _, _ = _problem(sharding)
    model = _model()
    loss = GCELoss(reg_weight, reduction)(model(X), y)
    loss.backward()
    return loss.item(), [p.grad for p in model.parameters()]


def _max_difference(grads, other):
    return max((a - b).abs().max().item() for a, b in zip(grads, other))


@pytest.mark.parametrize("sharding, reduction, reg_weight", LOSS_CASES)
def test_ddp_gradients_equal_one_process_on_the_whole_batch(
    loss_results, sharding, reduction, reg_weight
):
    value, grads = _reference(sharding, reduction, reg_weight)
    for rank_results in loss_results:
        key = ("ddp", sharding, reduction, reg_weight)
        rank_value, rank_grads = rank_results[key]["auto"]
        assert rank_value == pytest.approx(value, rel=1e-12)
        for actual, expected in zip(rank_grads, grads):
            torch.testing.assert_close(actual, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("sharding, reduction, reg_weight", LOSS_CASES)
def test_without_combining_the_shards_gradients_differ(
    loss_results, sharding, reduction, reg_weight
):
    _, grads = _reference(sharding, reduction, reg_weight)
    _, local_grads = loss_results[0]["ddp", sharding, reduction, reg_weight][False]
    assert _max_difference(local_grads, grads) > 1e-3


@pytest.mark.parametrize("scale", [1.0, 1e4])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("sharding", SHARDINGS)
def test_logit_gradients_equal_one_process(loss_results, sharding, reduction, scale):
    """Without DDP: each rank's logit gradient is W times its slice of the
    whole batch's; for "none", the per-sample terms are the whole batch's."""
    _, y, logits, offsets = _problem(sharding, scale)
    z = logits.clone().requires_grad_()
    loss = generative_cross_entropy(z, y, reduction=reduction)
    (loss.mean() if reduction == "none" else loss).backward()
    world_size = len(loss_results)
    for rank, rank_results in enumerate(loss_results):
        values, grad = rank_results["logits", sharding, reduction, scale]
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
