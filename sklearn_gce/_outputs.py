"""From a module's outputs to class probabilities, and the checks on both.

``predict_nonlinearity="auto"`` applies a softmax, computed in float64, to
the outputs of a module trained with any criterion, except where skorch's
convention is that the module returns probabilities: an ``NLLLoss``
criterion (skorch takes the log for the loss) or several criteria. There the
outputs must be probabilities; :func:`as_probabilities` makes sure they are.
"""

import math
import warnings

import numpy as np
import scipy.special
import torch

__all__ = [
    "as_probabilities",
    "auto_nonlinearity",
    "check_n_outputs",
    "check_proba",
    "divergence",
    "to_proba",
]

# how far the rows of a module's "probabilities" may sum from 1
_PROBABILITY_TOLERANCE = 1e-3
# a training batch with a loss this large whose predicted probabilities are
# all exactly 0 or 1 has diverged (a sane model's loss is O(log n_classes))
_DIVERGED_LOSS = 1e3


def _softmax_float64(logits):
    return torch.softmax(logits.double(), dim=-1)


def _float64(probabilities):
    return probabilities.double()


def _identity(output):
    return output


def auto_nonlinearity(criteria):
    """The map of ``predict_nonlinearity="auto"``, given the net's criteria.

    Returns
    -------
    nonlinearity : callable
        Tensor to tensor.
    outputs_are_probabilities : bool
        Whether the module is expected to return probabilities already.
    """
    if len(criteria) == 1 and not isinstance(criteria[0], torch.nn.NLLLoss):
        return _softmax_float64, False
    return _float64, True


def to_proba(predict_nonlinearity, criteria):
    """The map from outputs to probabilities of a ``predict_nonlinearity``.

    As :func:`auto_nonlinearity` for "auto"; None is the identity.
    """
    if predict_nonlinearity is None:
        return _identity, False
    if isinstance(predict_nonlinearity, str) and predict_nonlinearity == "auto":
        return auto_nonlinearity(criteria)
    if not callable(predict_nonlinearity):
        raise TypeError("predict_nonlinearity has to be a callable, 'auto' or None")
    return predict_nonlinearity, False


def check_n_outputs(n_outputs, classes):
    """ValueError unless the module has one output per class."""
    if n_outputs != len(classes):
        raise ValueError(
            f"The module returns {n_outputs} outputs per sample but there are "
            f"{len(classes)} classes {np.asarray(classes).tolist()}: give the "
            "module one output per class (or pass classes=[...] listing every "
            "label)."
        )


def check_proba(proba, classes=None):
    """Probabilities that are finite, with a column per class (if known)."""
    if not np.all(np.isfinite(proba)):
        raise FloatingPointError(
            "The network produced non-finite outputs; its weights may have "
            "diverged during training."
        )
    if classes is not None:
        check_n_outputs(proba.shape[1] if proba.ndim == 2 else 1, classes)


def as_probabilities(outputs):
    """The outputs if each row is a probability distribution; otherwise
    (with a warning) their softmax."""
    sums = outputs.sum(axis=-1)
    if np.all(outputs >= 0) and np.all(np.abs(sums - 1) <= _PROBABILITY_TOLERANCE):
        return outputs
    warnings.warn(
        "With an NLLLoss criterion (or several criteria) the module should "
        "return probabilities, as in skorch, but its outputs are not (negative "
        "values, or rows that do not sum to 1): predict_proba applies a "
        "softmax to them. Return probabilities, use a criterion on logits "
        "(GCELoss, CrossEntropyLoss), or set predict_nonlinearity.",
        UserWarning,
        stacklevel=3,
    )
    return scipy.special.softmax(outputs, axis=-1)


def divergence(loss, y_pred, criteria):
    """What shows that a training batch diverged, or None.

    Called on every training batch: a sane loss returns at once.

    Parameters
    ----------
    loss : float
        The batch's loss.
    y_pred : torch.Tensor
        The module's output.
    criteria : callable
        Returns the net's criteria (see :func:`auto_nonlinearity`).
    """
    if not math.isfinite(loss):
        return f"The loss became {loss}"
    if loss < _DIVERGED_LOSS or not isinstance(y_pred, torch.Tensor):
        return None
    nonlinearity, _ = auto_nonlinearity(criteria())
    proba = nonlinearity(y_pred.detach())
    if proba.ndim == 2 and bool(((proba == 0) | (proba == 1)).all()):
        return (
            f"The loss reached {loss:.3g} and every predicted probability of a "
            "batch is exactly 0 or 1"
        )
    return None
