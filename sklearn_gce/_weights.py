"""Sample weights for GCEClassifier: checking them, class weights, carrying them
through batches, and weighting a criterion's loss.

A weighted training set is a :class:`WeightedDataset`; its batches carry the
targets as a :class:`WeightedTarget` ``(target, sample_weight)``, which
``GCEClassifier.get_loss`` unpacks.
"""

import contextlib
import functools
import inspect
from typing import Any, NamedTuple

import numpy as np
import torch
from sklearn.utils.class_weight import compute_sample_weight
from skorch.utils import data_from_dataset, is_dataset, to_numpy

from ._compat import _check_sample_weight, _num_samples, uncompiled
from ._validation import first_array

__all__ = [
    "WeightedDataset",
    "WeightedTarget",
    "accepts_sample_weight",
    "check_weightable",
    "sample_weights",
    "weighted_loss",
]


class WeightedTarget(NamedTuple):
    """The targets of a batch with their sample weights."""

    target: Any
    sample_weight: Any


class WeightedDataset(torch.utils.data.Dataset):
    """A dataset whose targets come with sample weights.

    Item ``i`` is ``(X_i, WeightedTarget(y_i, sample_weight[i]))``. The
    ``X`` and ``y`` attributes of the wrapped dataset, when it has them, are
    those of this one, so that skorch's scoring callbacks still find the
    labels.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
        Yields ``(X_i, y_i)``.
    sample_weight : ndarray of shape (len(dataset),)
    """

    def __init__(self, dataset, sample_weight):
        self.dataset = dataset
        self.sample_weight = np.asarray(sample_weight)

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, i):
        Xi, yi = self.dataset[i]
        return Xi, WeightedTarget(yi, self.sample_weight[i])

    @property
    def X(self):
        return self.dataset.X

    @property
    def y(self):
        return self.dataset.y


def sample_weights(X, y, sample_weight=None, class_weight=None, *, incremental=False):
    """The weight of each sample: ``sample_weight`` times its class's weight.

    Parameters
    ----------
    X : the training input (its number of samples is checked), or a Dataset
    y : ndarray of shape (n_samples,) or None
        Class labels (for ``class_weight``; a Dataset's ``y`` if None).
    sample_weight : array-like of shape (n_samples,) or None
        Non-negative weights, not all zero.
    class_weight : dict, "balanced" or None
        As in scikit-learn's classifiers.
    incremental : bool, default=False
        For ``partial_fit``, which cannot balance classes it sees in parts.

    Returns
    -------
    weights : ndarray of shape (n_samples,) or None
        None when no sample is weighted.
    """
    if incremental and class_weight == "balanced":
        raise ValueError(
            "class_weight='balanced' is not supported by partial_fit, which sees "
            "one part of the data at a time: compute the weights on all the data "
            "(sklearn.utils.class_weight.compute_class_weight) and pass them as "
            "a dict."
        )
    if sample_weight is None and class_weight is None:
        return None
    if is_dataset(X):
        n_samples = len(X)
        if y is None:
            with contextlib.suppress(AttributeError):
                y = to_numpy(data_from_dataset(X)[1])
    else:
        n_samples = _num_samples(first_array(X))
    weights = _check_sample_weight(
        sample_weight,
        np.empty((n_samples, 0)),
        dtype=np.float64,
        ensure_non_negative=True,
    )
    if class_weight is not None:
        if y is None:
            raise ValueError(
                "class_weight needs the labels: pass y with X, or use a dataset "
                "whose labels are accessible as dataset.y."
            )
        weights = weights * compute_sample_weight(class_weight, y)
    if not np.any(weights > 0):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return weights


@functools.lru_cache
def _forward_takes_sample_weight(forward):
    return "sample_weight" in inspect.signature(forward).parameters


def accepts_sample_weight(criterion):
    """Whether ``criterion(y_pred, y_true, sample_weight=...)`` weights samples."""
    criterion = uncompiled(criterion)
    return _forward_takes_sample_weight(type(criterion).forward)


def check_weightable(criterion):
    """TypeError, before training, if ``criterion`` cannot weight samples."""
    if accepts_sample_weight(criterion):
        return
    if getattr(criterion, "reduction", None) not in ("mean", "sum"):
        raise TypeError(
            f"The criterion {type(criterion).__name__} cannot weight samples: "
            "its forward takes no sample_weight argument and it has no "
            "reduction attribute ('mean' or 'sum') to compute per-sample losses "
            "with. Fit without sample_weight and class_weight, or use such a "
            "criterion."
        )


def weighted_loss(criterion, per_sample_loss, weight):
    """The weighted loss of a criterion without a ``sample_weight`` argument.

    ``per_sample_loss()`` computes the criterion's loss while its
    ``reduction`` is set to ``"none"``; the losses l_i are then reduced as
    the criterion would, with weights: ``sum_i w_i l_i / sum_i w_i`` for
    "mean", ``sum_i w_i l_i`` for "sum".

    Parameters
    ----------
    criterion : torch.nn.Module
        With a ``reduction`` attribute, "mean" or "sum".
    per_sample_loss : callable
    weight : torch.Tensor of shape (batch_size,)

    Returns
    -------
    loss : torch.Tensor (scalar)
    """
    with _reduction(criterion, "none") as reduction:
        losses = per_sample_loss()
    if losses.shape != weight.shape:
        raise TypeError(
            f"The criterion {type(criterion).__name__} returned losses of shape "
            f"{tuple(losses.shape)} with reduction='none', not one per sample "
            f"{tuple(weight.shape)}: it cannot weight samples."
        )
    total = (losses * weight).sum()
    if reduction == "sum":
        return total
    return total / weight.sum().clamp_min(torch.finfo(weight.dtype).tiny)


@contextlib.contextmanager
def _reduction(criterion, reduction):
    previous = criterion.reduction
    criterion.reduction = reduction
    try:
        yield previous
    finally:
        criterion.reduction = previous
