"""Mini-batch iteration for the classifier: slicing in memory, never batches of one.

skorch's default, a ``DataLoader`` over a ``skorch.dataset.Dataset``, fetches
every sample on its own and collates them again, which costs more than a
training step of a small network. :class:`BatchIterator` slices the arrays of
an in-memory dataset directly and falls back to a ``DataLoader`` for
everything else (custom datasets, ``num_workers``, ``collate_fn``...).

Both paths share one batching rule: a last batch of a single sample is
merged into the one before it, because Generative Cross-Entropy with
``reg_weight=1`` gives a batch of one sample a loss of 0 and no gradient.

Under data parallelism (``distributed=True``), every process walks through
the same sequence of global batches and takes its own contiguous part of
each, so that the processes together see exactly the batches of one process.

:func:`fixed_size_chunks`, :func:`first_rows` and :func:`cat_rows` let
inference run every batch at one fixed shape (see
``GCEClassifier.predict_proba``).
"""

import numpy as np
import scipy.sparse as sp
import torch
import torch.distributed as dist
from skorch.dataset import Dataset
from torch.utils.data import DataLoader, Subset

from ._weights import WeightedDataset, WeightedTarget

__all__ = [
    "BatchIterator",
    "batch_bounds",
    "cat_rows",
    "first_rows",
    "fixed_size_chunks",
]


def batch_bounds(n_samples, batch_size, drop_last=False, min_size=2):
    """Start and stop of each batch, merging a last batch of one sample.

    Parameters
    ----------
    n_samples : int
    batch_size : int
        A positive batch size, or -1 for a single batch of everything.
    drop_last : bool, default=False
        Drop a last batch smaller than ``batch_size`` instead.
    min_size : int, default=2
        A last batch of fewer samples is merged into the one before.

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
    elif len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < min_size:
        bounds[-2] = (bounds[-2][0], n_samples)
        bounds.pop()
    return bounds


class _MergingBatchSampler(torch.utils.data.Sampler):
    """Index batches for a ``DataLoader``, with the rule of :func:`batch_bounds`."""

    def __init__(self, n_samples, batch_size, shuffle, drop_last, generator, shard):
        self.n_samples = n_samples
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = generator
        self.shard = shard

    def __iter__(self):
        order = (
            _epoch_order(self.n_samples, self.generator, self.shard).tolist()
            if self.shuffle
            else list(range(self.n_samples))
        )
        for start, stop in _bounds(
            self.n_samples, self.batch_size, self.drop_last, self.shard
        ):
            start, stop = _part(start, stop, self.shard)
            yield order[start:stop]

    def __len__(self):
        return len(_bounds(self.n_samples, self.batch_size, self.drop_last, self.shard))


class BatchIterator:
    """Iterate over a dataset in mini-batches; a drop-in for skorch's ``DataLoader``.

    Used as ``iterator_train`` and ``iterator_valid`` of
    :class:`~sklearn_gce.GCEClassifier`. Settings reach it through skorch's
    prefixes, e.g. ``iterator_train__shuffle=False``.

    Parameters
    ----------
    dataset : torch.utils.data.Dataset
        A ``skorch.dataset.Dataset`` (or a ``Subset`` of one, with or without
        sample weights) holding numpy arrays, torch tensors, scipy sparse
        matrices or dicts of arrays is sliced in memory; any other dataset
        goes through a ``DataLoader``.
    batch_size : int, default=128
        Samples per batch; -1 for one batch of everything.
    shuffle : bool, default=False
        Draw a new order every epoch from ``generator`` (or torch's global
        random state).
    drop_last : bool, default=False
        Drop the last incomplete batch. When False, a last batch of a single
        sample is merged into the previous one.
    generator : torch.Generator, default=None
    distributed : bool, default=False
        Data parallelism over the initialised ``torch.distributed`` process
        group: every process goes through the same global batches (the order
        drawn by rank 0 is broadcast each epoch) and yields its contiguous
        part of each, of ``len(batch) // world_size`` samples or one more. A
        last batch with fewer samples than processes is merged into the one
        before (for up to 2 processes, the rule above).
    device : str or torch.device, default=None
        Move each batch there (as accelerate does for the data loaders
        it prepares); None leaves batches where the data is.
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
        distributed=False,
        device=None,
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
        self.distributed = distributed
        self.device = device
        self.loader_kwargs = loader_kwargs
        self._shard = _process_shard(distributed, len(dataset), batch_size)
        if self._shard and (
            "sampler" in loader_kwargs or "batch_sampler" in loader_kwargs
        ):
            raise ValueError("distributed=True chooses the batches: pass no sampler.")
        self._arrays = None if loader_kwargs else _in_memory_arrays(dataset)

    def __len__(self):
        return len(
            _bounds(len(self.dataset), self.batch_size, self.drop_last, self._shard)
        )

    def __iter__(self):
        if self._arrays is None:
            batches = iter(self._data_loader())
        else:
            batches = self._slices(*self._arrays)
        if self.device is None:
            return batches
        return (_to_device(batch, self.device) for batch in batches)

    def _slices(self, X, y):
        n_samples = len(self.dataset)
        bounds = _bounds(n_samples, self.batch_size, self.drop_last, self._shard)
        if not self.shuffle:
            for start, stop in bounds:
                index = slice(*_part(start, stop, self._shard))
                yield _take(X, index), _take(y, index)
            return
        order = _epoch_order(n_samples, self.generator, self._shard)
        for start, stop in bounds:
            start, stop = _part(start, stop, self._shard)
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
            self._shard,
        )
        return DataLoader(self.dataset, batch_sampler=sampler, **kwargs)


def _process_shard(distributed, n_samples, batch_size):
    """(rank, world_size) of this process under data parallelism, else None."""
    if not distributed:
        return None
    if not (dist.is_available() and dist.is_initialized()):
        raise RuntimeError(
            "distributed=True needs an initialised torch.distributed process group."
        )
    world_size = dist.get_world_size()
    if world_size == 1:
        return None
    if (batch_size != -1 and batch_size < world_size) or n_samples < world_size:
        raise ValueError(
            f"With {world_size} processes, every batch needs at least "
            f"{world_size} samples; got batch_size={batch_size} and "
            f"{n_samples} samples."
        )
    return dist.get_rank(), world_size


def _bounds(n_samples, batch_size, drop_last, shard):
    """Global batches; under data parallelism, each has a sample per process."""
    min_size = 2 if shard is None else max(2, shard[1])
    return batch_bounds(n_samples, batch_size, drop_last, min_size)


def _part(start, stop, shard):
    """This process's contiguous part of the global batch [start, stop)."""
    if shard is None:
        return start, stop
    rank, world_size = shard
    size = stop - start
    return start + size * rank // world_size, start + size * (rank + 1) // world_size


def _epoch_order(n_samples, generator, shard):
    """A random order of the samples; rank 0's under data parallelism."""
    order = torch.randperm(n_samples, generator=generator)
    if shard is not None:
        if dist.get_backend() == "nccl":  # NCCL only moves CUDA tensors
            buffer = order.cuda()
            dist.broadcast(buffer, src=0)
            order.copy_(buffer)
        else:
            dist.broadcast(order, src=0)
    return order


def _in_memory_arrays(dataset):
    """(X, y) of a plain skorch Dataset or a Subset of one, else None.

    With sample weights (a :class:`WeightedDataset`), y is a
    :class:`WeightedTarget` of the targets and the weights."""
    indices = None
    if isinstance(dataset, Subset):
        indices = np.asarray(dataset.indices)
        dataset = dataset.dataset
    weights = None
    if isinstance(dataset, WeightedDataset):
        weights = torch.from_numpy(np.asarray(dataset.sample_weight))
        dataset = dataset.dataset
    plain = (
        isinstance(dataset, Dataset)
        and type(dataset).__getitem__ is Dataset.__getitem__
        and type(dataset).transform is Dataset.transform
    )
    if not plain or not _sliceable(dataset.X) or not _sliceable(dataset.y, True):
        return None
    X, y = _as_batchable(dataset.X), _as_batchable(dataset.y)
    if weights is not None:
        y = WeightedTarget(y, weights)
    if indices is not None:
        X, y = _subset(X, indices), _subset(y, indices)
    return X, y


def _sliceable(data, allow_none=False):
    if data is None:
        return allow_none
    if isinstance(data, WeightedTarget):
        return all(_sliceable(value) for value in data)
    if isinstance(data, dict):
        return bool(data) and all(_sliceable(value) for value in data.values())
    if isinstance(data, np.ndarray):
        return data.ndim >= 1
    return isinstance(data, torch.Tensor) or sp.issparse(data)


def _as_batchable(data):
    """Numeric numpy arrays become tensors (zero-copy where possible).

    Unsigned integers wider than 8 bits stay numpy arrays: torch can store
    but not index or search them."""
    if isinstance(data, dict):
        return {key: _as_batchable(value) for key, value in data.items()}
    if isinstance(data, np.ndarray) and (
        data.dtype.kind in "bif" or data.dtype == np.uint8
    ):
        if not data.flags.writeable:
            data = data.copy()
        return torch.from_numpy(np.ascontiguousarray(data))
    if sp.issparse(data):
        return sp.csr_matrix(data)
    return data


def _map(fn, data, *args):
    """``fn`` applied to each part of a dict or a (named) tuple, same type."""
    if isinstance(data, dict):
        return {key: fn(value, *args) for key, value in data.items()}
    if isinstance(data, WeightedTarget):
        return WeightedTarget(*(fn(value, *args) for value in data))
    return type(data)(fn(value, *args) for value in data)


def _subset(data, indices):
    """Rows ``indices`` (a numpy array) of one batchable object, same type."""
    if data is None:
        return None
    if isinstance(data, (dict, WeightedTarget)):
        return _map(_subset, data, indices)
    if isinstance(data, torch.Tensor):
        return data.index_select(0, torch.as_tensor(indices, dtype=torch.int64))
    return data[indices]


def _to_device(data, device):
    if isinstance(data, torch.Tensor):
        return data.to(device)
    if isinstance(data, (dict, list, tuple)):
        return _map(_to_device, data, device)
    return data


def _take(data, index):
    """Rows ``index`` (a slice or an int64 tensor) of one batchable object."""
    if data is None:
        return None
    if isinstance(data, (dict, WeightedTarget)):
        return _map(_take, data, index)
    if isinstance(data, torch.Tensor):
        return data[index] if isinstance(index, slice) else data.index_select(0, index)
    rows = index if isinstance(index, slice) else index.numpy()
    if sp.issparse(data):
        return torch.from_numpy(data[rows].toarray())
    return data[rows]


def fixed_size_chunks(X, size):
    """``X`` cut into chunks of exactly ``size`` rows, the last one padded.

    The padding repeats the last row. Each chunk is a new contiguous tensor
    (never a view into ``X``), so that every chunk has the same memory
    layout. ``X`` is a tensor, or a dict, list or tuple of tensors with the
    same number of rows; for anything else (or no rows) the answer is None.

    Returns
    -------
    chunks : list of (chunk, n_rows) or None
        Each chunk, and how many of its rows are real.

    Examples
    --------
    >>> import torch
    >>> [(c.ravel().tolist(), n) for c, n in fixed_size_chunks(torch.arange(5), 3)]
    [([0, 1, 2], 3), ([3, 4, 4], 2)]
    """
    values = list(X.values()) if isinstance(X, dict) else X
    if isinstance(X, torch.Tensor):
        values = [X]
    elif not isinstance(X, (dict, list, tuple)):
        return None
    if not values or not all(
        isinstance(v, torch.Tensor) and v.ndim > 0 for v in values
    ):
        return None
    n_rows = {len(v) for v in values}
    if len(n_rows) != 1 or 0 in n_rows:
        return None
    n_rows = n_rows.pop()
    chunks = []
    for start in range(0, n_rows, size):
        index = slice(start, min(start + size, n_rows))
        chunk = _rows(X, index)
        real = index.stop - index.start
        if real < size:
            chunk = _pad(chunk, size - real)
        chunks.append((chunk, real))
    return chunks


def _rows(data, index):
    if isinstance(data, torch.Tensor):
        # a copy, not a view: matrix kernels may round differently for data at
        # another memory alignment (seen with MKL on 2 threads)
        return data[index].clone(memory_format=torch.contiguous_format)
    return _map(_rows, data, index)


def _pad(data, n_extra):
    if isinstance(data, torch.Tensor):
        return torch.cat([data, data[-1:].expand(n_extra, *data.shape[1:])])
    return _map(_pad, data, n_extra)


def first_rows(output, n_rows, n_padded):
    """The first ``n_rows`` rows of each tensor of a module's ``output``, or None.

    None when some part of the output does not have one row per input row
    (``n_padded`` rows), so that the padding cannot be dropped from it.
    """
    parts = output if isinstance(output, tuple) else (output,)
    if not all(isinstance(p, torch.Tensor) and p.ndim > 0 for p in parts):
        return None
    if any(len(p) != n_padded for p in parts):
        return None
    if isinstance(output, tuple):
        return tuple(p[:n_rows] for p in output)
    return output[:n_rows]


def cat_rows(outputs):
    """Outputs of consecutive chunks (tensors or tuples of them) joined by rows."""
    if len(outputs) == 1:
        return outputs[0]
    if isinstance(outputs[0], tuple):
        return tuple(torch.cat(parts) for parts in zip(*outputs))
    return torch.cat(outputs)
