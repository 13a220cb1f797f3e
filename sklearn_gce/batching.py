"""Mini-batch iteration for the classifier: slicing in memory, never batches of one.

skorch's default, a ``DataLoader`` over a ``skorch.dataset.Dataset``, fetches
every sample on its own and collates them again, which costs more than a
training step of a small network. :class:`BatchIterator` slices the arrays of
an in-memory dataset directly and falls back to a ``DataLoader`` for
everything else (custom datasets, ``num_workers``, ``collate_fn``...).

Both paths share one batching rule: a last batch of a single sample is
merged into the one before it, because Generative Cross-Entropy with
``reg_weight=1`` gives a batch of one sample a loss of 0 and no gradient.
"""

import numpy as np
import scipy.sparse as sp
import torch
from skorch.dataset import Dataset
from torch.utils.data import DataLoader, Subset

__all__ = ["BatchIterator", "batch_bounds"]


def batch_bounds(n_samples, batch_size, drop_last=False):
    """Start and stop of each batch, merging a last batch of one sample.

    Parameters
    ----------
    n_samples : int
    batch_size : int
        A positive batch size, or -1 for a single batch of everything.
    drop_last : bool, default=False
        Drop a last batch smaller than ``batch_size`` instead.

    Returns
    -------
    bounds : list of (int, int)

    Examples
    --------
    >>> batch_bounds(7, 3)
    [(0, 3), (3, 7)]
    >>> batch_bounds(7, 3, drop_last=True)
    [(0, 3), (3, 6)]
    """
    if batch_size == -1:
        batch_size = max(n_samples, 1)
    starts = list(range(0, n_samples, batch_size))
    bounds = [(start, min(start + batch_size, n_samples)) for start in starts]
    if bounds and bounds[-1][1] - bounds[-1][0] < batch_size and drop_last:
        bounds.pop()
    elif len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds[-2] = (bounds[-2][0], n_samples)
        bounds.pop()
    return bounds


class _MergingBatchSampler(torch.utils.data.Sampler):
    """Index batches for a ``DataLoader``, with the rule of :func:`batch_bounds`."""

    def __init__(self, n_samples, batch_size, shuffle, drop_last, generator):
        self.n_samples = n_samples
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = generator

    def __iter__(self):
        order = (
            torch.randperm(self.n_samples, generator=self.generator).tolist()
            if self.shuffle
            else list(range(self.n_samples))
        )
        for start, stop in batch_bounds(
            self.n_samples, self.batch_size, self.drop_last
        ):
            yield order[start:stop]

    def __len__(self):
        return len(batch_bounds(self.n_samples, self.batch_size, self.drop_last))


class BatchIterator:
    """Iterate over a dataset in mini-batches; a drop-in for skorch's ``DataLoader``.

    Used as ``iterator_train`` and ``iterator_valid`` of
    :class:`~sklearn_gce.GCEClassifier`. Settings reach it through skorch's
    prefixes, e.g. ``iterator_train__shuffle=False``.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
        A ``skorch.dataset.Dataset`` (or a ``Subset`` of one) holding numpy
        arrays, torch tensors, scipy sparse matrices or dicts of arrays is
        sliced in memory; any other dataset goes through a ``DataLoader``.
    batch_size : int, default=128
        Samples per batch; -1 for one batch of everything.
    shuffle : bool, default=False
        Draw a new order every epoch from ``generator`` (or torch's global
        random state).
    drop_last : bool, default=False
        Drop the last incomplete batch. When False, a last batch of a single
        sample is merged into the previous one.
    generator : torch.Generator, default=None
    **loader_kwargs
        Passed to ``torch.utils.data.DataLoader``; any of them (e.g.
        ``num_workers``) selects the ``DataLoader`` path.

    Examples
    --------
    >>> import numpy as np
    >>> from skorch.dataset import Dataset
    >>> from sklearn_gce.batching import BatchIterator
    >>> batches = BatchIterator(Dataset(np.zeros((5, 2)), np.arange(5)), batch_size=2)
    >>> [len(yb) for _, yb in batches]
    [2, 3]
    """

    def __init__(
        self,
        dataset,
        batch_size=128,
        shuffle=False,
        drop_last=False,
        generator=None,
        **loader_kwargs,
    ):
        if not (batch_size == -1 or (isinstance(batch_size, int) and batch_size >= 1)):
            raise ValueError(
                f"batch_size must be a positive integer or -1, got {batch_size!r}."
            )
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = generator
        self.loader_kwargs = loader_kwargs
        self._arrays = None if loader_kwargs else _in_memory_arrays(dataset)

    def __len__(self):
        return len(batch_bounds(len(self.dataset), self.batch_size, self.drop_last))

    def __iter__(self):
        if self._arrays is None:
            return iter(self._data_loader())
        return self._slices(*self._arrays)

    def _slices(self, X, y):
        n_samples = len(self.dataset)
        bounds = batch_bounds(n_samples, self.batch_size, self.drop_last)
        if not self.shuffle:
            for start, stop in bounds:
                yield _take(X, slice(start, stop)), _take(y, slice(start, stop))
            return
        order = torch.randperm(n_samples, generator=self.generator)
        for start, stop in bounds:
            index = order[start:stop]
            yield _take(X, index), _take(y, index)

    def _data_loader(self):
        kwargs = dict(self.loader_kwargs)
        if "sampler" in kwargs or "batch_sampler" in kwargs:
            # the caller chose the batches: respect them
            return DataLoader(
                self.dataset,
                batch_size=self.batch_size,
                shuffle=self.shuffle,
                drop_last=self.drop_last,
                generator=self.generator,
                **kwargs,
            )
        sampler = _MergingBatchSampler(
            len(self.dataset),
            self.batch_size,
            self.shuffle,
            self.drop_last,
            self.generator,
        )
        return DataLoader(self.dataset, batch_sampler=sampler, **kwargs)


def _in_memory_arrays(dataset):
    """(X, y) of a plain skorch Dataset or a Subset of one, else None."""
    indices = None
    if isinstance(dataset, Subset):
        indices = np.asarray(dataset.indices)
        dataset = dataset.dataset
    plain = (
        isinstance(dataset, Dataset)
        and type(dataset).__getitem__ is Dataset.__getitem__
        and type(dataset).transform is Dataset.transform
    )
    if not plain or not _sliceable(dataset.X) or not _sliceable(dataset.y, True):
        return None
    X, y = _as_batchable(dataset.X), _as_batchable(dataset.y)
    if indices is not None:
        X, y = _subset(X, indices), _subset(y, indices)
    return X, y


def _sliceable(data, allow_none=False):
    if data is None:
        return allow_none
    if isinstance(data, dict):
        return bool(data) and all(_sliceable(value) for value in data.values())
    if isinstance(data, np.ndarray):
        return data.ndim >= 1
    return isinstance(data, torch.Tensor) or sp.issparse(data)


def _as_batchable(data):
    """Numeric numpy arrays become tensors (zero-copy where possible)."""
    if isinstance(data, dict):
        return {key: _as_batchable(value) for key, value in data.items()}
    if isinstance(data, np.ndarray) and data.dtype.kind in "biuf":
        if not data.flags.writeable:
            data = data.copy()
        return torch.from_numpy(np.ascontiguousarray(data))
    if sp.issparse(data):
        return sp.csr_matrix(data)
    return data


def _subset(data, indices):
    """Rows ``indices`` (a numpy array) of one batchable object, same type."""
    if data is None:
        return None
    if isinstance(data, dict):
        return {key: _subset(value, indices) for key, value in data.items()}
    if isinstance(data, torch.Tensor):
        return data.index_select(0, torch.as_tensor(indices, dtype=torch.int64))
    return data[indices]


def _take(data, index):
    """Rows ``index`` (a slice or an int64 tensor) of one batchable object."""
    if data is None:
        return None
    if isinstance(data, dict):
        return {key: _take(value, index) for key, value in data.items()}
    if isinstance(data, torch.Tensor):
        return data[index] if isinstance(index, slice) else data.index_select(0, index)
    rows = index if isinstance(index, slice) else index.numpy()
    if sp.issparse(data):
        return torch.from_numpy(data[rows].toarray())
    return data[rows]
