"""Smooth calibration error (smECE) of Blasiok & Nakkiran (2023).

The residuals ``confidence - hit`` are smoothed with a Gaussian kernel
reflected at 0 and 1, and the error is the integral of the absolute smoothed
residual. The point masses are shared linearly between the points of a fine
grid and transformed once; each bandwidth then costs one inverse discrete
cosine transform, because the reflected kernel is diagonal in the DCT-I
basis: the reflections at both ends are exact, all images included. The
smoothed residual has no frequency above about 3 / bandwidth, so it is
evaluated on a grid as coarse as that allows.
"""

from numbers import Real

import numpy as np
from scipy import fft
from scipy.optimize import elementwise

from sklearn_gce._compat import Interval, StrOptions, validate_params
from sklearn_gce.metrics._binning import top_label_data

# The fixed-point bandwidth is searched in [MIN_BANDWIDTH, 1], as in the
# reference implementation (relplot's smECE does not go below 1e-3).
MIN_BANDWIDTH = 1e-3
# A grid step of at most an eighth of the bandwidth: linear binning then adds
# at most h**2 / 6 = 0.3% of the kernel's variance (the error at bandwidth
# 1e-3 moves by about 1e-4 of itself; at 0.01, by 1e-6).
_STEPS_PER_BANDWIDTH = 8
_MIN_GRID_INTERVALS = 8192
_EVALUATION_STEPS = 32
_BANDWIDTH_TOLERANCE = 1e-9
# 1, 0.256, 0.064, ..., 0.001: where the fixed point is bracketed first
_LADDER = MIN_BANDWIDTH * 4.0 ** np.arange(5, -1, -1)
_LADDER[0] = 1.0


def grid_intervals(bandwidth):
    """Intervals of the grid of the masses, for kernels at least ``bandwidth`` wide."""
    return _power_of_two(_STEPS_PER_BANDWIDTH / bandwidth, _MIN_GRID_INTERVALS)


def evaluation_intervals(bandwidth, n_intervals):
    """Intervals of the grid on which each smoothed residual is integrated.

    A power of two, at most the masses' ``n_intervals``: fine enough for the
    kink-corrected trapezoidal rule (``_EVALUATION_STEPS`` per bandwidth),
    with enough frequencies that the first one left out is damped by
    ``exp(-(32 pi)**2 / 2)``.
    """
    needed = np.ceil(np.log2(_EVALUATION_STEPS / bandwidth)).astype(int)
    return np.minimum(1 << np.maximum(needed, 6), n_intervals)


def _power_of_two(at_least, minimum):
    return max(minimum, 1 << int(np.ceil(np.log2(at_least))))


def grid_masses(values, weights, n_intervals):
    """Linear binning of weighted points onto the grid ``j / n_intervals``.

    ``values`` has shape (n_samples,) and holds positions in [0, 1];
    ``weights`` has shape (n_rows, n_samples) and gives one set of masses per
    row. Returns an array of shape (n_rows, n_intervals + 1): each mass is
    shared between its two nearest grid points in proportion to proximity,
    which keeps its total and its mean.
    """
    scaled = values * n_intervals
    left = np.minimum(scaled.astype(np.intp), n_intervals - 1)
    right_share = scaled - left
    n_rows, size = weights.shape[0], n_intervals + 1
    keys = (left + size * np.arange(n_rows)[:, None]).ravel()
    total = n_rows * size
    masses = np.bincount(
        keys, weights=(weights * (1 - right_share)).ravel(), minlength=total
    )
    masses += np.bincount(
        keys + 1, weights=(weights * right_share).ravel(), minlength=total
    )
    return masses.reshape(n_rows, size)


class SmoothErrorCurve:
    """Smooth calibration error as a function of the bandwidth, for rows of masses.

    Parameters
    ----------
    residual_masses : ndarray of shape (n_rows, n_intervals + 1)
        Grid masses of ``weight * (confidence - hit)``, one row per data set.
    total_weight : ndarray of shape (n_rows,)
        Total sample weight of each row.
    """

    def __init__(self, residual_masses, total_weight):
        n_intervals = residual_masses.shape[1] - 1
        residual_masses = residual_masses.copy()
        # Each end point is its own mirror image: doubling it makes the
        # even extension (what DCT-I transforms) reflect it exactly.
        residual_masses[:, [0, -1]] *= 2
        self._coefficients = fft.dct(residual_masses, type=1, axis=-1)
        self._frequencies = np.arange(n_intervals + 1)
        self._total_weight = total_weight
        self.n_rows = residual_masses.shape[0]

    def at(self, bandwidth, rows):
        """The error of each of ``rows`` at its ``bandwidth`` (same shapes).

        Each row is evaluated on the grid its own bandwidth needs, so its
        value does not depend on the other rows of the call.
        """
        bandwidth = np.asarray(bandwidth, dtype=np.float64)
        rows = np.asarray(rows)
        intervals = evaluation_intervals(bandwidth, self._frequencies.size - 1)
        errors = np.empty(bandwidth.shape)
        for n_intervals in np.unique(intervals):
            group = intervals == n_intervals
            errors[group] = self._at(bandwidth[group], rows[group], n_intervals)
        return errors

    def _at(self, bandwidth, rows, n_intervals):
        # Frequencies above n_intervals are damped below exp(-1000): the
        # smoothed residual is evaluated exactly on that coarser grid.
        frequencies = self._frequencies[: n_intervals + 1]
        # Fourier series of the Gaussian, on the period 2 of the reflection
        damping = np.exp(-0.5 * (np.pi * bandwidth[:, None] * frequencies) ** 2)
        smoothed = fft.idct(
            self._coefficients[rows, : n_intervals + 1] * damping, type=1, axis=-1
        )
        return _integral_of_absolute_value(smoothed) / self._total_weight[rows]

    def fixed_point(self):
        """The bandwidth where the error equals it, and the error there, per row.

        The error does not increase with the bandwidth (a wider kernel
        smooths the narrower one's result), so the fixed point is unique. It
        is searched in [``MIN_BANDWIDTH``, 1]: a row whose error at
        ``MIN_BANDWIDTH`` is below it gets that bandwidth, and a row whose
        error at 1 is 1 (all residuals of one sign and size 1) gets 1. Each
        row's fixed point is first bracketed on a ladder of bandwidths from 1
        down by factors of 4 (wide bandwidths are cheap: coarse grids), then
        found by scipy's elementwise root finder (Chandrupatla's method).
        """
        rows = np.arange(self.n_rows)
        lower = np.full(self.n_rows, MIN_BANDWIDTH)
        upper = np.ones(self.n_rows)
        searching = rows
        for rung in _LADDER[1:]:
            if not searching.size:
                break
            above = self.at(np.full(searching.size, rung), searching) > rung
            lower[searching[above]] = rung
            searching = searching[~above]
            upper[searching] = rung
        # rows still searching have their fixed point below MIN_BANDWIDTH
        bandwidth = lower.copy()
        bracketed = lower < upper
        if bracketed.any():
            result = elementwise.find_root(
                lambda sigma, row: self.at(sigma, row.astype(np.intp)) - sigma,
                (lower[bracketed], upper[bracketed]),
                args=(rows[bracketed],),
                tolerances={"xatol": _BANDWIDTH_TOLERANCE, "xrtol": 0.0},
            )
            bandwidth[bracketed] = result.x
        return bandwidth, self.at(bandwidth, rows)


def _integral_of_absolute_value(values):
    """Integral over [0, 1] of ``|f|``, from samples of ``f`` on a uniform grid.

    ``f`` is smooth with zero slope at 0 and 1 (it is even about both ends),
    so the trapezoidal rule is exact but for the kinks of ``|f|`` where ``f``
    changes sign. On an interval ``[a, b]`` (sample values) that holds a
    sign change, the rule is first made exact for the linear interpolant,
    then the kink's share of the rule's error, ``h**2 / 12`` times the jump
    ``2 |f'|`` of the slope of ``|f|`` (Euler-Maclaurin), is added back with
    ``h**2 |f'| = |b - a|``. What is left is of order ``h**3``. The samples
    are masses (they carry the grid step).
    """
    magnitude = np.abs(values)
    trapezoid = magnitude.sum(axis=-1) - 0.5 * (magnitude[:, 0] + magnitude[:, -1])
    left, right = magnitude[:, :-1], magnitude[:, 1:]
    crossing = values[:, :-1] * values[:, 1:] < 0
    # on [a, b] with a sign change the interpolant's |f| integrates to
    # (a**2 + b**2) / (2 (|a| + |b|)) instead of (|a| + |b|) / 2
    excess = np.divide(
        left * right, left + right, where=crossing, out=np.zeros_like(left)
    )
    kinks = np.where(crossing, left + right, 0.0)  # |b - a|, signs opposite
    return trapezoid - excess.sum(axis=-1) + kinks.sum(axis=-1) / 6


def smooth_curve(confidence, hits, weights, n_intervals):
    """The :class:`SmoothErrorCurve` of rows of sample weights, shape (n_rows, n)."""
    residual = weights * (confidence - hits)
    return SmoothErrorCurve(
        grid_masses(confidence, residual, n_intervals), weights.sum(axis=-1)
    )


@validate_params(
    {
        "y_true": ["array-like"],
        "y_prob": ["array-like"],
        "bandwidth": [
            StrOptions({"auto"}),
            Interval(Real, 1e-4, None, closed="left"),
        ],
        "labels": ["array-like", None],
        "sample_weight": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def smooth_calibration_error(
    y_true, y_prob, *, bandwidth="auto", labels=None, sample_weight=None
):
    r"""Smooth expected calibration error (smECE) of the top-label confidence.

    The calibration error of Blasiok & Nakkiran (2023), which needs no bins:
    the residuals :math:`r_i = c_i - h_i` of the top-label confidences
    :math:`c_i` and hits :math:`h_i` (as in
    :func:`expected_calibration_error`) are smoothed with a Gaussian kernel
    of bandwidth :math:`\sigma`, reflected at 0 and 1, and

    .. math::

        \mathrm{smECE}_\sigma = \frac{1}{W} \int_0^1 \left|
            \sum_i w_i r_i K_\sigma(t, c_i) \right| dt, \quad
        K_\sigma(t, c) = \sum_{z \in \mathbb{Z}}
            \varphi_\sigma(t - c - 2z) + \varphi_\sigma(t + c - 2z)

    with :math:`\varphi_\sigma` the normal density of standard deviation
    :math:`\sigma` and :math:`W = \sum_i w_i`. With ``bandwidth="auto"`` it
    is :math:`\mathrm{smECE}_{\sigma^*}` at the unique fixed point
    :math:`\mathrm{smECE}_{\sigma^*} = \sigma^*`, the paper's choice, so the
    returned error is also the bandwidth used. It is continuous in the
    predictions, and within a constant factor of the distance to the nearest
    perfectly calibrated predictor.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True class labels.

    y_prob : array-like of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities, as in :func:`expected_calibration_error`.

    bandwidth : "auto" or float, default="auto"
        The kernel's standard deviation :math:`\sigma`, at least 1e-4; "auto"
        solves :math:`\mathrm{smECE}_\sigma = \sigma` in [1e-3, 1] (a fixed
        point below 1e-3 is reported as the error at 1e-3, as relplot does).

    labels : array-like of shape (n_classes,), default=None
        The class of each column of ``y_prob``, in column order, such as
        ``estimator.classes_``. If None, the sorted unique values of
        ``y_true``.

    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights with a positive sum.

    Returns
    -------
    error : float
        The smooth calibration error, in [0, 1].

    Raises
    ------
    ValueError
        On the same bad input as :func:`expected_calibration_error`.

    See Also
    --------
    expected_calibration_error : The binned top-label calibration error.

    Notes
    -----
    The masses are binned linearly onto a grid of at least 8192 intervals (an
    eighth of the bandwidth at most) and smoothed exactly on it through a
    discrete cosine transform. The reference implementation, relplot 1.0.3,
    agrees within 1e-3 for bandwidths up to about 0.15 (errors up to 0.15)
    and confidences away from 1; beyond, relplot differs by up to about 0.01
    because it truncates the kernel at distance 0.5 and counts confidences
    within 1e-3 of 0 or 1 at half weight; its bisection also stops within
    1e-3 of the fixed point.

    References
    ----------
    Blasiok, Nakkiran, "Smooth ECE: Principled Reliability Diagrams via
    Kernel Smoothing", ICLR 2024 (arXiv:2309.12236).

    Examples
    --------
    >>> from sklearn_gce.metrics import smooth_calibration_error
    >>> y_true = [0, 1, 1, 0, 1, 0]
    >>> y_prob = [[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4], [0.6, 0.4],
    ...           [0.8, 0.2]]
    >>> round(smooth_calibration_error(y_true, y_prob), 4)
    0.1115
    >>> round(smooth_calibration_error(y_true, y_prob, bandwidth=0.05), 4)
    0.1409
    """
    confidence, hits, sample_weight = top_label_data(
        y_true, y_prob, labels, sample_weight
    )
    weights = (
        np.ones((1, confidence.size))
        if sample_weight is None
        else (sample_weight[None, :])
    )
    if bandwidth == "auto":
        curve = smooth_curve(confidence, hits, weights, grid_intervals(MIN_BANDWIDTH))
        return float(curve.fixed_point()[1][0])
    curve = smooth_curve(confidence, hits, weights, grid_intervals(bandwidth))
    return float(curve.at(np.array([bandwidth]), np.array([0]))[0])
