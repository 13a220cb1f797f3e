import numpy as np
import pytest
import torch
from sklearn.exceptions import DataConversionWarning

from sklearn_gce._labels import (
    ClassIndex,
    as_targets,
    check_classes,
    check_targets,
    class_index,
    distinct_labels,
)

BIG = np.uint64(2**63 + 5)  # beyond int64

LABEL_SETS = {
    "contiguous": np.array([0, 1, 2]),
    "gaps": np.array([-3, 7, 10]),
    "bool": np.array([False, True]),
    "uint8": np.array([3, 1, 200], dtype=np.uint8),
    "uint16": np.array([3, 1, 60000], dtype=np.uint16),
    "uint32": np.array([3, 1, 2**32 - 1], dtype=np.uint32),
    "uint64": np.array([3, 1, BIG, 2**64 - 1], dtype=np.uint64),
    "int8": np.array([-128, 0, 127], dtype=np.int8),
    "float": np.array([1.0, 2.0, 4.0]),
    "str": np.array(["cat", "dog", "eel"]),
    "object": np.array(["cat", "dog", "eel"], dtype=object),
}


@pytest.mark.parametrize(
    "name, as_tensor",
    [(name, False) for name in LABEL_SETS]
    + [(name, True) for name in LABEL_SETS if name not in ("str", "object")],
)
def test_class_index_maps_labels_to_positions(name, as_tensor):
    classes = distinct_labels(LABEL_SETS[name])
    rng = np.random.default_rng(0)
    positions = rng.integers(0, len(classes), 50)
    labels = classes[positions]
    if as_tensor:
        labels = torch.from_numpy(labels)
    indices = ClassIndex(classes)(labels)
    assert indices.dtype == torch.int64
    np.testing.assert_array_equal(indices.numpy(), positions)


def test_class_index_follows_the_order_of_classes():
    index = ClassIndex(np.array(["b", "c", "a"]))
    np.testing.assert_array_equal(index(["a", "b", "c"]).numpy(), [2, 0, 1])
    assert not index.identity and ClassIndex(np.arange(3)).identity


@pytest.mark.parametrize("as_tensor", [False, True])
def test_unknown_labels_are_refused(as_tensor):
    index = ClassIndex(np.array([1, 5, 9]))
    labels = np.array([1, 4, 9, 12])
    with pytest.raises(ValueError, match=r"not in classes_ \[1, 5, 9\]: \[4, 12\]"):
        index(torch.from_numpy(labels) if as_tensor else labels)


def test_duplicate_classes_are_refused():
    with pytest.raises(ValueError, match="distinct"):
        ClassIndex(np.array([0, 1, 1]))


def test_class_index_survives_pickling():
    import pickle

    index = ClassIndex(np.array([10, 20]))
    index(torch.tensor([20, 10]))  # fills the per-device cache
    restored = pickle.loads(pickle.dumps(index))
    np.testing.assert_array_equal(restored(torch.tensor([20, 10])).numpy(), [1, 0])


def test_targets_that_are_not_classes_may_be_indices_as_in_skorch():
    with pytest.warns(UserWarning, match="read as indices"):
        index = class_index(np.array(["foo", "bar"]), np.array([0, 1, 1]))
    np.testing.assert_array_equal(index(np.array([1, 0])).numpy(), [1, 0])
    with pytest.raises(ValueError, match="not in classes_"):
        class_index(np.array(["foo", "bar"]), np.array([0, 2]))
    with pytest.raises(ValueError, match="not in classes_"):
        class_index(np.array([0, 1]), np.array(["a", "b"]))
    assert class_index(np.array([3, 1]), np.array([1, 3])).identity is False


def test_check_targets_follows_scikit_learn():
    with pytest.warns(DataConversionWarning):
        assert check_targets(np.array([[0], [1]])).shape == (2,)
    with pytest.raises(ValueError, match="Unknown label type"):
        check_targets(np.array([0.5, 1.5]))
    with pytest.raises(ValueError, match="NaN"):
        check_targets(np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match="0 sample"):
        check_targets(np.array([], dtype=int))
    np.testing.assert_array_equal(check_targets(torch.tensor([1, 0])), [1, 0])
    # several dimensions pass (as in skorch: for a get_loss of one's own)
    assert check_targets(np.zeros((4, 3, 1))).shape == (4, 3, 1)


def test_mixed_label_types_are_refused():
    with pytest.raises(TypeError, match="labels of one type"):
        distinct_labels(np.array([1, "a"], dtype=object))


def test_as_targets_flattens_columns_only():
    assert as_targets(None) is None
    assert as_targets([[1], [2]]).shape == (2,)
    assert as_targets(torch.zeros(3, 1)).shape == (3,)
    assert as_targets(np.zeros((3, 2))).shape == (3, 2)


def test_check_classes_of_partial_fit():
    np.testing.assert_array_equal(check_classes([2, 0, 1]), [0, 1, 2])
    check_classes([1, 0], fitted=np.array([0, 1]))
    with pytest.raises(ValueError, match="differs from the classes of the first"):
        check_classes([0, 1, 2], fitted=np.array([0, 1]))
