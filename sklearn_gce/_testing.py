"""Synthetic data shared by the tests and the benchmarks (not public API)."""

import numpy as np
from scipy.special import softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state


def make_tempered_logits(
    n_samples, n_classes, temperature=1.0, *, scale=3.0, random_state=None
):
    """Logits whose true calibration map is a (confidence-dependent) temperature.

    Draw ``z ~ scale * N(0, I)`` and then ``y ~ softmax(z / T(c(z)))``, where
    ``c(z) = max softmax(z)`` is the uncalibrated confidence. The best possible
    calibration of ``z`` is therefore ``softmax(z / T(c(z)))``.

    Parameters
    ----------
    n_samples, n_classes : int
    temperature : float or callable, default=1.0
        The true temperature, or a function from an array of confidences to
        an array of temperatures.
    scale : float, default=3.0
        Spread of the logits (larger: more confident).
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    logits : ndarray of shape (n_samples, n_classes)
    y : ndarray of shape (n_samples,)
        Integer labels in ``[0, n_classes)``.
    """
    rng = check_random_state(random_state)
    logits = scale * rng.standard_normal((n_samples, n_classes))
    confidence = softmax(logits, axis=1).max(axis=1)
    if callable(temperature):
        temperature = np.asarray(temperature(confidence), dtype=np.float64)
    temperature = np.broadcast_to(temperature, (n_samples,))
    proba = softmax(logits / temperature[:, None], axis=1)
    cumulative = np.cumsum(proba, axis=1)
    cumulative[:, -1] = 1.0  # rounding must not leave a draw above every class
    y = (rng.uniform(size=(n_samples, 1)) < cumulative).argmax(axis=1)
    return logits, y


class LogitModel(ClassifierMixin, BaseEstimator):
    """A 'model' whose decision function is its input: the logits themselves.

    Wrapped in ``FrozenEstimator``, it lets ``ATSCalibrator`` and
    ``CalibratedClassifierCV`` calibrate logits made by
    :func:`make_tempered_logits`.
    """

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def decision_function(self, X):
        return np.asarray(X)

    def predict(self, X):
        return self.classes_[np.argmax(X, axis=1)]
