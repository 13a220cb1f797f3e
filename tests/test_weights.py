import numpy as np
import pytest
import torch
from skorch.dataset import Dataset
from torch.utils.data import DataLoader

from sklearn_gce import GCELoss
from sklearn_gce._weights import (
    WeightedDataset,
    WeightedTarget,
    accepts_sample_weight,
    check_weightable,
    sample_weights,
    weighted_loss,
)
from sklearn_gce.batching import BatchIterator

X4 = np.zeros((4, 2))


def test_sample_weights_combine_sample_and_class_weights():
    y = np.array([0, 0, 0, 1])
    assert sample_weights(X4, y) is None
    np.testing.assert_allclose(
        sample_weights(X4, y, class_weight="balanced"), [2 / 3, 2 / 3, 2 / 3, 2]
    )
    np.testing.assert_allclose(
        sample_weights(X4, y, [1, 2, 3, 4], {0: 1.0, 1: 0.5}), [1, 2, 3, 2]
    )
    # the labels of a dataset
    weights = sample_weights(Dataset(X4, y), None, class_weight={0: 1.0, 1: 3.0})
    np.testing.assert_allclose(weights, [1, 1, 1, 3])


@pytest.mark.parametrize(
    "sample_weight, match",
    [
        ([1, 2, 3], r"sample_weight.shape == \(3,\), expected \(4,\)"),
        ([1, -1, 1, 1], "Negative values"),
        ([0, 0, 0, 0], "at least one non-zero"),
        ([1, np.nan, 1, 1], "NaN"),
    ],
)
def test_bad_sample_weights(sample_weight, match):
    with pytest.raises(ValueError, match=match):
        sample_weights(X4, np.zeros(4), sample_weight)


def test_class_weight_needs_labels():
    with pytest.raises(ValueError, match="class_weight needs the labels"):
        sample_weights(X4, None, class_weight="balanced")
    with pytest.raises(ValueError, match="not supported by partial_fit"):
        sample_weights(X4, np.zeros(4), class_weight="balanced", incremental=True)


def _dataset():
    X = np.arange(12, dtype=np.float32).reshape(6, 2)
    return Dataset(X, np.array(list("aabbcc")))


@pytest.mark.parametrize(
    "loader", [lambda ds: BatchIterator(ds, batch_size=4), lambda ds: DataLoader(ds, 4)]
)
def test_weighted_batches_carry_targets_and_weights(loader):
    dataset = WeightedDataset(_dataset(), np.arange(6.0))
    batches = list(loader(dataset))
    assert [len(Xb) for Xb, _ in batches] == [4, 2]
    _, target = batches[1]
    assert isinstance(target, WeightedTarget)
    assert list(target.target) == ["c", "c"]
    np.testing.assert_array_equal(np.asarray(target.sample_weight), [4.0, 5.0])
    # skorch's scoring callbacks find the labels
    np.testing.assert_array_equal(dataset.y, _dataset().y)


def test_weighted_loss_of_a_per_sample_criterion_is_a_weighted_mean():
    criterion = torch.nn.CrossEntropyLoss()
    logits = torch.randn(5, 3, dtype=torch.float64)
    target = torch.tensor([0, 1, 2, 1, 0])
    weight = torch.tensor([1.0, 0.0, 2.0, 3.0, 1.0], dtype=torch.float64)

    loss = weighted_loss(criterion, lambda: criterion(logits, target), weight)
    losses = torch.nn.functional.cross_entropy(logits, target, reduction="none")
    torch.testing.assert_close(loss, (weight * losses).sum() / weight.sum())
    assert criterion.reduction == "mean"  # restored

    criterion.reduction = "sum"
    loss = weighted_loss(criterion, lambda: criterion(logits, target), weight)
    torch.testing.assert_close(loss, (weight * losses).sum())


def test_criteria_that_cannot_weight_samples_are_refused():
    class Scalar(torch.nn.Module):
        def forward(self, y_pred, y_true):
            return y_pred.mean()

    assert accepts_sample_weight(GCELoss())
    assert not accepts_sample_weight(torch.nn.CrossEntropyLoss())
    check_weightable(GCELoss())
    check_weightable(torch.nn.NLLLoss())
    with pytest.raises(TypeError, match="cannot weight samples"):
        check_weightable(Scalar())

    criterion = torch.nn.MSELoss()  # one loss per element, not per sample
    with pytest.raises(TypeError, match="not one per sample"):
        weighted_loss(
            criterion,
            lambda: criterion(torch.zeros(4, 3), torch.ones(4, 3)),
            torch.ones(4),
        )
