"""Input checks for GCEClassifier.

Array-likes (numpy arrays, lists, DataFrames, sparse matrices) are checked as
scikit-learn checks them; skorch's other inputs (torch tensors, dicts and
lists of tensors, torch datasets) keep their type and get lighter checks.
"""

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils.validation import validate_data
from skorch.utils import is_dataset

__all__ = [
    "as_network_input",
    "check_input",
    "first_array",
    "is_torch_input",
    "sample_shape",
]

_NUMPY_DTYPES = {
    torch.float16: np.float16,
    torch.float32: np.float32,
    torch.float64: np.float64,
}


def is_torch_input(X):
    """A tensor, a dict of arrays, or a list or tuple of tensors (skorch's inputs)."""
    if sp.issparse(X):  # a DOK matrix is a dict
        return False
    if isinstance(X, (torch.Tensor, dict)):
        return True
    return (
        isinstance(X, (list, tuple)) and len(X) > 0 and isinstance(X[0], torch.Tensor)
    )


def check_input(estimator, X, *, reset):
    """``X`` checked for fitting (``reset=True``) or for prediction.

    Array-likes go through scikit-learn's ``validate_data`` (numeric, finite,
    at least one sample and one feature; ``n_features_in_`` and
    ``feature_names_in_`` are set or compared). Tensors and dicts are checked
    for NaN and infinity, and a 2-D tensor's number of columns is set or
    compared as ``n_features_in_``. Datasets pass unchanged.

    Returns
    -------
    X : the checked input (array-likes become numpy arrays or CSR matrices)
    """
    if is_dataset(X):
        return X
    if not is_torch_input(X):
        return validate_data(
            estimator,
            X,
            reset=reset,
            accept_sparse="csr",
            dtype="numeric",
            allow_nd=True,
        )
    for value in X.values() if isinstance(X, dict) else _as_list(X):
        if _is_floating(value) and not _all_finite(value):
            raise ValueError("Input X contains NaN or infinity.")
    if isinstance(X, torch.Tensor) and X.ndim >= 2:
        _check_n_features(estimator, X.shape[1], reset)
    return X


def _check_n_features(estimator, n_features, reset):
    if reset:
        estimator.n_features_in_ = n_features
        return
    expected = getattr(estimator, "n_features_in_", n_features)
    if n_features != expected:
        raise ValueError(
            f"X has {n_features} features, but {type(estimator).__name__} is "
            f"expecting {expected} features as input."
        )


def _as_list(X):
    return list(X) if isinstance(X, (list, tuple)) else [X]


def _is_floating(value):
    if isinstance(value, torch.Tensor):
        return value.is_floating_point()
    return isinstance(value, np.ndarray) and value.dtype.kind in "fc"


def _all_finite(value):
    if isinstance(value, torch.Tensor):
        return bool(torch.isfinite(value).all())
    return bool(np.all(np.isfinite(value)))


def first_array(X):
    """The first array of a dict, list or tuple input; ``X`` itself otherwise."""
    if sp.issparse(X):  # a DOK matrix is a dict
        return X
    if isinstance(X, dict):
        return next(iter(X.values()))
    if isinstance(X, (list, tuple)) and is_torch_input(X):
        return X[0]
    return X


def sample_shape(X):
    """The shape of one sample of ``X`` (a tuple), or None if it has none.

    Examples
    --------
    >>> import numpy as np
    >>> sample_shape(np.zeros((5, 1, 8, 8)))
    (1, 8, 8)
    """
    if is_dataset(X):
        try:
            first = X[0][0]
        except (TypeError, IndexError, KeyError, ValueError):
            return None
        shape = getattr(first, "shape", None)
        return tuple(shape) if shape is not None else None
    if isinstance(X, dict):
        return None
    X = first_array(X)
    shape = X.shape if hasattr(X, "shape") else np.shape(X)
    return tuple(shape[1:])


def as_network_input(X, dtype, cast_integers=False):
    """``X`` with its floating arrays in the network's float ``dtype``.

    Integer and boolean arrays are cast too when ``cast_integers`` (for the
    default MLP, which only takes floats); datasets and other inputs pass
    unchanged.

    Raises
    ------
    ValueError
        For a value too large for ``dtype`` (it would become infinite).
    """
    if is_dataset(X) or dtype is None:
        return X

    def cast(data):
        if isinstance(data, torch.Tensor):
            if data.is_floating_point() or (cast_integers and not data.is_complex()):
                _check_range(data.abs().max().item() if data.numel() else 0, dtype)
                return data.to(dtype)
            return data
        kind = getattr(getattr(data, "dtype", None), "kind", None)
        if kind == "f" or (cast_integers and kind in ("b", "i", "u")):
            values = data.data if sp.issparse(data) else data
            _check_range(np.abs(values).max() if values.size else 0, dtype)
            if dtype not in _NUMPY_DTYPES:  # bfloat16 has no numpy dtype
                return torch.as_tensor(np.asarray(data, dtype=np.float32)).to(dtype)
            return data.astype(_NUMPY_DTYPES[dtype], copy=False)
        return data

    if isinstance(X, dict):
        return {key: cast(value) for key, value in X.items()}
    if isinstance(X, (list, tuple)):
        return type(X)(cast(value) for value in X)
    return cast(X)


def _check_range(largest, dtype):
    largest = float(largest)
    if largest > torch.finfo(dtype).max:
        raise ValueError(
            f"Input X contains a value too large for the network's {dtype} "
            f"({largest:.3g} > {torch.finfo(dtype).max:.3g}); scale the inputs."
        )
