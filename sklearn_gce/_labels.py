"""Class labels for GCEClassifier: checking them, and mapping them to class indices.

The datasets a classifier trains on keep the user's labels, so that skorch's
scoring callbacks compare ``predict`` (labels) with labels; only the loss
needs class indices, and :class:`ClassIndex` maps each batch to them.
"""

import warnings

import numpy as np
import torch
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, column_or_1d
from skorch.utils import to_numpy

__all__ = [
    "class_index",
    "ClassIndex",
    "as_targets",
    "check_classes",
    "check_targets",
    "distinct_labels",
    "partial_fit_classes",
]

# label dtypes torch.searchsorted handles; others are mapped with numpy
_SEARCHABLE = (torch.int64, torch.int32, torch.float64, torch.float32)


def check_targets(y):
    """Class labels as a numpy array, checked as scikit-learn classifiers check them.

    A column vector is flattened (with scikit-learn's DataConversionWarning).
    Targets of more dimensions (sequences, several outputs per sample) pass
    unchanged after a check for NaN and infinity, as in skorch: only a custom
    ``get_loss`` can use them.

    Parameters
    ----------
    y : array-like or torch.Tensor

    Returns
    -------
    y : ndarray
    """
    if isinstance(y, torch.Tensor):
        y = to_numpy(y)
    y = check_array(y, ensure_2d=False, allow_nd=True, dtype=None, input_name="y")
    if y.ndim > 2 or (y.ndim == 2 and y.shape[1] != 1):
        return y
    y = column_or_1d(y, warn=True)
    check_classification_targets(y)
    return y


def as_targets(y):
    """``y`` for a dataset: flattened if it is a column, otherwise unchanged."""
    if y is None:
        return None
    if not isinstance(y, torch.Tensor):
        y = np.asarray(y)
    return y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y


def distinct_labels(y):
    """The sorted distinct labels of ``y``, in its dtype.

    Raises
    ------
    TypeError
        If ``y`` mixes labels that cannot be ordered (e.g. strings and numbers).
    """
    try:
        return np.unique(y)
    except TypeError as error:
        raise TypeError(
            "y mixes labels of different types that cannot be sorted "
            f"({error}); use labels of one type."
        ) from None


def check_classes(classes, fitted=None):
    """Classes given to ``partial_fit``: distinct labels, the same at every call.

    Parameters
    ----------
    classes : array-like of shape (n_classes,)
    fitted : ndarray or None
        The classes of the first call, if there was one.

    Returns
    -------
    classes : ndarray
        Sorted, as in scikit-learn's ``partial_fit``.
    """
    classes = distinct_labels(column_or_1d(np.asarray(classes)))
    if fitted is not None and not np.array_equal(classes, np.asarray(fitted)):
        raise ValueError(
            f"classes={classes.tolist()} differs from the classes of the first call "
            f"to partial_fit, {np.asarray(fitted).tolist()}; fit again to change them."
        )
    return classes


def class_index(classes, y=None):
    """The :class:`ClassIndex` for the targets ``y`` of a fit.

    The targets are labels from ``classes``; or, when some are not but all
    are integers in ``[0, len(classes))``, class indices into ``classes``, as
    in skorch (where ``classes`` only names the outputs), with a warning.

    Raises
    ------
    ValueError
        For labels that are neither.
    """
    classes = np.asarray(classes)
    if y is None or np.ndim(y) != 1:
        return ClassIndex(classes)
    known = set(classes.tolist())
    labels = distinct_labels(to_numpy(y) if isinstance(y, torch.Tensor) else y)
    unknown = [label for label in labels.tolist() if label not in known]
    if not unknown:
        return ClassIndex(classes)
    if labels.dtype.kind in "iu" and labels[0] >= 0 and labels[-1] < len(classes):
        warnings.warn(
            f"y holds values that are not in classes {classes.tolist()} "
            f"({unknown}), but are class indices: they are read as indices into "
            "classes, as skorch does.",
            UserWarning,
            stacklevel=3,
        )
        return ClassIndex(np.arange(len(classes)))
    raise ValueError(
        f"y contains labels not in classes_ {classes.tolist()}: {unknown}."
    )


def partial_fit_classes(classes, fitted=None, declared=None):
    """The ``classes`` argument of ``partial_fit``, checked.

    Parameters
    ----------
    classes : array-like of shape (n_classes,)
    fitted : array-like or None
        The classes of the earlier calls; None at the first call.
    declared : array-like or None
        The classifier's ``classes`` parameter, which must agree.

    Returns
    -------
    classes : ndarray
        Sorted.
    """
    if fitted is not None:
        return check_classes(classes, fitted=distinct_labels(fitted))
    classes = check_classes(classes)
    if declared is not None and len(declared):
        check_classes(declared, fitted=classes)
    return classes


class ClassIndex:
    """Maps class labels to their positions in ``classes``, batch by batch.

        Parameters
        ----------
        classes : array-like of shape (n_classes,)
            Distinct labels, in the order of the network's outputs.

        Examples
        --------
        >>> import warnings

    import numpy as np
        >>> index = ClassIndex(np.array(["b", "a", "c"]))
        >>> index(np.array(["a", "c", "a"]))
        tensor([1, 2, 1])
    """

    def __init__(self, classes):
        classes = np.asarray(classes)
        if len(np.unique(classes)) != len(classes):
            raise ValueError(
                f"classes must be distinct labels, got {classes.tolist()}."
            )
        self.classes = classes
        # labels that are already the indices (skorch's convention) pass as they are
        self.identity = classes.dtype.kind in "iu" and np.array_equal(
            classes, np.arange(len(classes))
        )
        self._order = np.argsort(classes, kind="stable")
        self._sorted = classes[self._order]
        self._on_device = {}

    def __call__(self, labels):
        """Class indices (int64) of a batch of labels, on the labels' device.

        Raises
        ------
        ValueError
            For a label that is not one of the classes.
        """
        if isinstance(labels, torch.Tensor):
            if self.identity:
                return labels.long()
            if labels.dtype in _SEARCHABLE and self._sorted.dtype.kind in "iuf":
                return self._tensor_indices(labels)
            return self._numpy_indices(to_numpy(labels)).to(labels.device)
        return self._numpy_indices(np.asarray(labels))

    def _numpy_indices(self, labels):
        position = np.searchsorted(self._sorted, labels).clip(0, len(self._sorted) - 1)
        unknown = self._sorted[position] != labels
        if np.any(unknown):
            self._raise_unknown(labels[unknown])
        return torch.from_numpy(self._order[position].astype(np.int64))

    def _tensor_indices(self, labels):
        key = (labels.device, labels.dtype)
        if key not in self._on_device:
            self._on_device[key] = (
                torch.as_tensor(self._sorted, device=labels.device).to(labels.dtype),
                torch.as_tensor(self._order, device=labels.device),
            )
        sorted_classes, order = self._on_device[key]
        position = torch.searchsorted(sorted_classes, labels)
        position = position.clamp_(max=len(self._sorted) - 1)
        if not torch.equal(sorted_classes[position], labels):
            self._raise_unknown(to_numpy(labels))
        return order[position]

    def _raise_unknown(self, labels):
        unknown = np.setdiff1d(labels, self.classes)
        raise ValueError(
            f"y contains labels not in classes_ {self.classes.tolist()}: "
            f"{unknown.tolist()}."
        )

    def __getstate__(self):
        return {key: value for key, value in vars(self).items() if key != "_on_device"}

    def __setstate__(self, state):
        self.__dict__.update(state, _on_device={})
