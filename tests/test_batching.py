import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from skorch.dataset import Dataset
from torch.utils.data import Subset

from sklearn_gce.batching import (
    BatchIterator,
    batch_bounds,
    cat_rows,
    first_rows,
    fixed_size_chunks,
)


@pytest.mark.parametrize(
    "n_samples, batch_size, drop_last, expected",
    [
        (10, 4, False, [(0, 4), (4, 8), (8, 10)]),
        (9, 4, False, [(0, 4), (4, 9)]),  # a last batch of one is merged
        (9, 4, True, [(0, 4), (4, 8)]),
        (1, 4, False, [(0, 1)]),  # nothing to merge it into
        (5, -1, False, [(0, 5)]),
        (0, 4, False, []),
        (8, 4, True, [(0, 4), (4, 8)]),
    ],
)
def test_batch_bounds(n_samples, batch_size, drop_last, expected):
    assert batch_bounds(n_samples, batch_size, drop_last) == expected


def _sizes(iterator):
    return [len(yb) for _, yb in iterator]


def _dataset(n=9, n_features=3):
    X = np.arange(n * n_features, dtype=np.float32).reshape(n, n_features)
    return X, np.arange(n)


@pytest.mark.parametrize(
    "to_input",
    [
        lambda X: X,
        torch.from_numpy,
        sp.csr_matrix,
        lambda X: {"a": X, "b": torch.from_numpy(X[:, :1].copy())},
    ],
    ids=["numpy", "tensor", "sparse", "dict"],
)
def test_slices_match_a_data_loader(to_input):
    X, y = _dataset()
    ours = list(BatchIterator(Dataset(to_input(X), y), batch_size=4))
    assert [len(yb) for _, yb in ours] == [4, 5]
    Xb = ours[1][0]["a"] if isinstance(ours[1][0], dict) else ours[1][0]
    assert isinstance(Xb, torch.Tensor)
    np.testing.assert_array_equal(Xb.numpy(), X[4:])
    np.testing.assert_array_equal(ours[1][1].numpy(), y[4:])


def test_shuffle_visits_every_sample_once_per_epoch():
    X, y = _dataset(n=50)
    iterator = BatchIterator(Dataset(X, y), batch_size=8, shuffle=True)
    first = np.concatenate([yb.numpy() for _, yb in iterator])
    second = np.concatenate([yb.numpy() for _, yb in iterator])
    assert sorted(first) == list(range(50)) == sorted(second)
    assert not np.array_equal(first, second)
    for Xb, yb in iterator:  # rows stay paired with their targets
        np.testing.assert_array_equal(Xb.numpy(), X[yb.numpy()])


def test_shuffle_follows_the_generator():
    X, y = _dataset(n=30)

    def order(seed):
        gen = torch.Generator().manual_seed(seed)
        iterator = BatchIterator(
            Dataset(X, y), batch_size=8, shuffle=True, generator=gen
        )
        return np.concatenate([yb.numpy() for _, yb in iterator])

    np.testing.assert_array_equal(order(3), order(3))
    assert not np.array_equal(order(3), order(4))


def test_subset_of_a_dataset_is_sliced():
    X, y = _dataset(n=10)
    subset = Subset(Dataset(sp.csr_matrix(X), y), [1, 3, 5, 7, 9])
    iterator = BatchIterator(subset, batch_size=2)
    assert iterator._arrays is not None
    assert sp.issparse(iterator._arrays[0])  # stays sparse until batched
    batches = list(iterator)
    assert [len(yb) for _, yb in batches] == [2, 3]
    np.testing.assert_array_equal(batches[1][0].numpy(), X[[5, 7, 9]])


def test_string_targets_stay_numpy():
    X, _ = _dataset(n=5)
    y = np.array(list("abcab"), dtype=object)
    (_, yb), *_ = BatchIterator(Dataset(X, y), batch_size=5)
    assert isinstance(yb, np.ndarray) and list(yb) == list("abcab")


def test_read_only_arrays_are_copied_not_shared():
    X, y = _dataset()
    X.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch warns about non-writable arrays
        (Xb, _), *_ = BatchIterator(Dataset(X, y), batch_size=4)
    Xb[0, 0] = -1.0
    assert X[0, 0] == 0.0


class _CustomDataset(torch.utils.data.Dataset):
    def __len__(self):
        return 9

    def __getitem__(self, i):
        return torch.tensor([float(i)]), i


def test_custom_datasets_use_a_data_loader_that_merges():
    iterator = BatchIterator(_CustomDataset(), batch_size=4)
    assert iterator._arrays is None
    assert _sizes(iterator) == [4, 5] and len(iterator) == 2


def test_loader_kwargs_select_the_data_loader():
    X, y = _dataset()
    iterator = BatchIterator(Dataset(X, y), batch_size=4, collate_fn=None)
    assert iterator._arrays is None
    assert _sizes(iterator) == [4, 5]


def test_explicit_sampler_is_respected():
    X, y = _dataset()
    sampler = torch.utils.data.SequentialSampler(range(9))
    iterator = BatchIterator(Dataset(X, y), batch_size=4, sampler=sampler)
    assert _sizes(iterator) == [4, 4, 1]


@pytest.mark.parametrize("batch_size", [0, -2, 2.5, "4"])
def test_bad_batch_size(batch_size):
    X, y = _dataset()
    with pytest.raises(ValueError, match="batch_size"):
        BatchIterator(Dataset(X, y), batch_size=batch_size)


def test_fixed_size_chunks_pad_the_last_chunk_with_its_last_row():
    X = torch.arange(10.0).reshape(5, 2)
    chunks = fixed_size_chunks({"a": X, "b": X[:, :1]}, 2)
    assert [n for _, n in chunks] == [2, 2, 1]
    last, _ = chunks[-1]
    torch.testing.assert_close(last["a"], X[[4, 4]])
    torch.testing.assert_close(last["b"], X[[4, 4], :1])
    ((only, n),) = fixed_size_chunks((X, X), 8)
    assert n == 5 and len(only[1]) == 8
    assert fixed_size_chunks(X, 5)[0][0] is not None


@pytest.mark.parametrize(
    "X",
    [np.zeros((3, 2)), {"a": torch.zeros(3), "b": torch.zeros(2)}, torch.zeros(0, 2)],
    ids=["numpy", "ragged", "empty"],
)
def test_inputs_without_fixed_size_chunks(X):
    assert fixed_size_chunks(X, 4) is None


def test_first_rows_drop_the_padding_or_give_up():
    out = torch.arange(8).reshape(4, 2)
    torch.testing.assert_close(first_rows(out, 3, 4), out[:3])
    parts = first_rows((out, out[:, 0]), 1, 4)
    assert [len(p) for p in parts] == [1, 1]
    assert first_rows((out, out[::2]), 3, 4) is None  # not one row per sample
    assert first_rows(out.sum(), 3, 4) is None
    joined = cat_rows([(out, out[:, 0]), (out[:1], out[:1, 0])])
    assert [len(p) for p in joined] == [5, 5]
    torch.testing.assert_close(cat_rows([out, out[:1]]), out[[0, 1, 2, 3, 0]])


def test_docstring_examples():
    import doctest

    from sklearn_gce import batching as module

    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
