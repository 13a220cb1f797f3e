"""Adaptive (bin-wise) temperature scaling: the math, as functions on logits.

This is the project's reconstruction of the paper's unpublished ATS (see
``AdaptiveTemperatureScaling`` for the maths in words). Nothing here knows about
estimators: inputs are validated 2-D logits, integer labels in
``[0, n_classes)`` and non-negative sample weights.

Arrays of shape (n_samples, n_classes) can be large (1e6 x 100 float64 is
800 MB), so every pass over the logits walks row chunks of about 2 MB through
one reused buffer instead of materialising full-size temporaries.
"""

from typing import NamedTuple

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import chdtri

# The search for t = log T spans this much on either side of log(scale), where
# scale is the logits' typical spread (see search_interval): scikit-learn's
# temperature scaling searches [-10, 10] whatever the scale.
LOG_TEMPERATURE_HALF_WIDTH = 10.0
# Weight of the pseudo-sample drawn from the model's own probabilities, which
# pulls every temperature toward T = 1 (see fit_adaptive_temperatures).
PRIOR_SAMPLES = 1.0
# Fewer bins with an informative loss than this: the spread of the true
# temperatures is not estimated (DerSimonian-Laird needs at least three).
MIN_INFORMATIVE_BINS = 3
# The spread between bins counts only beyond what noise alone exceeds with
# this probability (see between_bin_variance).
HETEROGENEITY_LEVEL = 0.05
_XATOL = 1e-6
# Step in log T for the finite-difference curvature of a loss.
_CURVATURE_STEP = 1e-2
# Half-width, in log T, of the first (narrow) search around a good guess:
# a bin's temperature, around the global one; the global one, around a pilot's.
_BRACKET = 1.0
_PILOT_BRACKET = 0.1
_EDGE = 10 * _XATOL  # a minimiser this close to an edge may lie beyond it
# The global temperature is first estimated on about this many rows.
_PILOT_ROWS = 100_000
_CHUNK_BYTES = 2**21


def _row_blocks(rows, n_rows, n_classes):
    """Yield row selections (slices, or index arrays when ``rows`` is given)."""
    step = max(1, _CHUNK_BYTES // (8 * n_classes))
    if rows is None:
        for start in range(0, n_rows, step):
            yield slice(start, min(start + step, n_rows))
    else:
        for start in range(0, len(rows), step):
            yield rows[start : start + step]


def _shifted(logits, block, top, buffer):
    """Write ``logits[block] - top[block]`` (every entry <= 0) into ``buffer``."""
    src_rows = logits[block] if isinstance(block, slice) else None
    n = src_rows.shape[0] if src_rows is not None else len(block)
    out = buffer[:n]
    # overflow only turns extreme (finite) gaps into -inf, which exp maps to 0
    with np.errstate(over="ignore"):
        if src_rows is not None:
            np.subtract(src_rows, top[block, None], out=out)
        else:
            if logits.dtype == out.dtype:
                np.take(logits, block, axis=0, out=out)
            else:
                out[...] = logits[block]
            out -= top[block, None]
    return out


def _sum_exp(shifted, scratch):
    """Row sums of ``exp(shifted)``; each is >= 1 since each row holds a 0."""
    scratch = scratch[: shifted.shape[0]]
    np.exp(shifted, out=scratch)
    return scratch.sum(axis=1)


class LogitStatistics(NamedTuple):
    """Per-sample quantities that the fit needs (all float64, one per row).

    Attributes
    ----------
    top : ndarray
        Largest logit ``m`` of each row.
    gap : ndarray
        ``m - z_y``: 0 when the top label is correct, else > 0.
    confidence : ndarray
        Uncalibrated top-label confidence ``max softmax(z)``, in
        ``[1/n_classes, 1]``.
    model_gap : ndarray
        ``sum_k p_k (m - z_k)`` with ``p = softmax(z)``: the gap expected
        when the label is drawn from the model's own probabilities.
    spread : ndarray
        ``m - mean_k z_k``: how far apart the row's logits are (>= 0).
    """

    top: np.ndarray
    gap: np.ndarray
    confidence: np.ndarray
    model_gap: np.ndarray
    spread: np.ndarray


def logit_statistics(logits, y):
    """Per-sample quantities that the fit needs, in one pass over the logits.

    Parameters
    ----------
    logits : ndarray of shape (n_samples, n_classes)
        Finite logits (float32 or float64).
    y : ndarray of shape (n_samples,)
        Integer labels in ``[0, n_classes)``.

    Returns
    -------
    statistics : LogitStatistics
    """
    n_samples, n_classes = logits.shape
    top = logits.max(axis=1).astype(np.float64)
    gap, confidence, model_gap, spread = np.empty((4, n_samples))
    buffer = np.empty((min(n_samples, _CHUNK_BYTES // 8 // n_classes + 1), n_classes))
    scratch = np.empty_like(buffer)
    for block in _row_blocks(None, n_samples, n_classes):
        shifted = _shifted(logits, block, top, buffer)
        gap[block] = -shifted[np.arange(shifted.shape[0]), y[block]]
        spread[block] = -shifted.mean(axis=1)
        exp = scratch[: shifted.shape[0]]
        np.exp(shifted, out=exp)
        total = exp.sum(axis=1)
        confidence[block] = 1.0 / total
        # a gap that overflowed to -inf has probability 0: leave it out
        np.multiply(exp, shifted, out=exp, where=exp > 0)
        model_gap[block] = -exp.sum(axis=1) / total
    return LogitStatistics(top, gap, confidence, model_gap, spread)


def search_interval(spread, sample_weight=None):
    """Bounds on ``t = log T``: ``log(scale) +/- LOG_TEMPERATURE_HALF_WIDTH``.

    ``scale`` is the (weighted, lower) median of the rows' positive spreads
    (1 when every row is constant), so that logits on any scale (1e-3 or
    1e5) find their temperature: multiplying every logit by ``c`` multiplies
    the fitted temperature by ``c`` and moves the interval by ``log c``
    (within the range of float64). An integer weight acts as repetition.
    """
    keep = spread > 0
    if sample_weight is not None:
        keep &= sample_weight > 0
    scale = 1.0
    values = spread[keep]
    if values.size and sample_weight is None:
        middle = (values.size - 1) // 2
        scale = float(np.partition(values, middle)[middle])
    elif values.size:
        order = np.argsort(values, kind="stable")
        cumulative = sample_weight[keep][order].cumsum()
        scale = float(values[order[np.searchsorted(cumulative, cumulative[-1] / 2)]])
    centre = np.log(min(scale, np.finfo(np.float64).max))
    # and T itself must stay a finite, normal float64
    return (
        max(centre - LOG_TEMPERATURE_HALF_WIDTH, np.log(np.finfo(np.float64).tiny)),
        min(centre + LOG_TEMPERATURE_HALF_WIDTH, np.log(np.finfo(np.float64).max)),
    )


def bin_confidences(confidence, inner_edges):
    """Index of the bin of each confidence.

    Bin ``b`` holds the confidences in ``[edges[b], edges[b + 1])``, where
    ``edges = [-inf, *inner_edges, +inf]``: the convention of
    :mod:`sklearn_gce.metrics` (a value on an edge goes to the bin above).
    Fit and prediction both call this function, so they share it.
    """
    return np.searchsorted(inner_edges, confidence, side="right")


def quantile_edges(confidence, n_bins, sample_weight=None):
    """Inner edges that split the confidences into bins of equal weight.

    Each edge is the midpoint between the confidence where the cumulative
    weight first reaches ``b / n_bins`` and the next larger distinct
    confidence. Ties can make edges coincide or vanish, so fewer than
    ``n_bins - 1`` edges may come back. Zero-weight samples play no part, so
    an integer weight acts exactly like repeating the sample.
    """
    if sample_weight is not None:
        keep = sample_weight > 0
        confidence, sample_weight = confidence[keep], sample_weight[keep]
    order = np.argsort(confidence, kind="stable")
    values = confidence[order]
    if values.size == 0 or n_bins == 1:
        return np.empty(0)
    weight = np.ones_like(values) if sample_weight is None else sample_weight[order]
    cumulative = np.cumsum(weight)
    targets = cumulative[-1] * np.arange(1, n_bins) / n_bins
    crossing = np.minimum(np.searchsorted(cumulative, targets), values.size - 1)
    following = np.searchsorted(values, values[crossing], side="right")
    valid = following < values.size
    edges = 0.5 * (values[crossing[valid]] + values[following[valid]])
    return np.unique(edges)


def uniform_edges(n_bins, n_classes):
    """Inner edges of ``n_bins`` equal-width bins over ``[1/n_classes, 1]``."""
    return np.linspace(1.0 / n_classes, 1.0, n_bins + 1)[1:-1]


def merge_small_bins(inner_edges, bin_weight, min_weight):
    """Drop edges until every bin holds at least ``min_weight`` (or one bin is left).

    The lightest bin is merged into its lighter neighbour, repeatedly.

    Parameters
    ----------
    inner_edges : ndarray of shape (n_bins - 1,)
    bin_weight : ndarray of shape (n_bins,)
        Total sample weight in each bin.
    min_weight : float

    Returns
    -------
    inner_edges : ndarray
        The remaining edges.
    """
    edges = list(inner_edges)
    weight = list(bin_weight)
    while len(weight) > 1 and min(weight) < min_weight:
        b = int(np.argmin(weight))
        if b == 0:
            other = 1
        elif b == len(weight) - 1:
            other = b - 1
        else:
            other = b - 1 if weight[b - 1] <= weight[b + 1] else b + 1
        low = min(b, other)
        weight[low] += weight.pop(low + 1)
        edges.pop(low)
    return np.asarray(edges, dtype=np.float64)


class TemperedNLL:
    """Summed negative log-likelihood of ``softmax(logits / T)`` over some rows.

    Calling the object with ``t = log T`` returns the loss. For one sample
    with top logit ``m`` and label logit ``z_y`` it is
    ``log sum_k exp((z_k - m) / T) + (m - z_y) / T``; the sum is >= 1, so no
    log of zero and no overflow can occur.

    The optimiser calls the loss a dozen or more times, so the shifted logits
    ``z - m`` of the first row blocks (up to ``cache_bytes``) are kept instead
    of being gathered and shifted again at every call.

    Parameters
    ----------
    logits : ndarray of shape (n_samples, n_classes)
    top, gap : ndarray of shape (n_samples,)
        From :func:`logit_statistics`.
    sample_weight : ndarray of shape (n_samples,), default=None
    rows : ndarray of int, default=None
        Restrict the sum to these rows (all rows when None).
    cache_bytes : int, default=2**27
    """

    def __init__(
        self, logits, top, gap, sample_weight=None, rows=None, cache_bytes=2**27
    ):
        self.logits, self.top, self.gap = logits, top, gap
        self.sample_weight = sample_weight
        n_samples, n_classes = logits.shape
        n_rows = n_samples if rows is None else len(rows)
        self._buffer = np.empty(
            (min(n_rows, _CHUNK_BYTES // 8 // n_classes + 1), n_classes)
        )
        self._blocks = list(_row_blocks(rows, n_samples, n_classes))
        self._cached = []
        for block in self._blocks:
            if (len(self._cached) + 1) * self._buffer.nbytes > cache_bytes:
                break
            self._cached.append(_shifted(logits, block, top, self._buffer).copy())

    def __call__(self, log_temperature):
        beta = np.exp(-log_temperature)
        total = 0.0
        for i, block in enumerate(self._blocks):
            if i < len(self._cached):
                scaled = self._buffer[: len(self._cached[i])]
                with np.errstate(over="ignore"):
                    np.multiply(self._cached[i], beta, out=scaled)
            else:
                scaled = _shifted(self.logits, block, self.top, self._buffer)
                with np.errstate(over="ignore"):
                    scaled *= beta
            np.exp(scaled, out=scaled)
            loss = np.log(scaled.sum(axis=1)) + beta * self.gap[block]
            if self.sample_weight is None:
                total += loss.sum()
            else:
                total += loss @ self.sample_weight[block]
        return float(total)


def fit_log_temperature(objective, bounds, around=None, half_width=_BRACKET):
    """Minimise ``objective(t)`` over ``t = log T`` in ``bounds``.

    A bounded Brent search (:func:`scipy.optimize.minimize_scalar`), so no
    gradient is needed, and every temperature is finite and positive. With
    ``around``, the search first runs on ``around +/- half_width``, which
    takes fewer loss evaluations, and reruns on the full interval if its
    minimiser ends on an edge of the narrow one.

    Parameters
    ----------
    objective : callable
    bounds : tuple of float
        ``(low, high)``, for example from :func:`search_interval`.
    around : float, default=None
    half_width : float, default=1.0

    Returns
    -------
    log_temperature : float
    value : float
        The objective at the minimiser.
    """
    low, high = bounds
    if around is not None:
        narrow = (max(low, around - half_width), min(high, around + half_width))
        t, value = _bounded_minimum(objective, narrow)
        if not (_on_edge(t, narrow) and not _on_edge(t, bounds)):
            return t, value
    return _bounded_minimum(objective, bounds)


def _on_edge(t, bounds):
    return t - bounds[0] < _EDGE or bounds[1] - t < _EDGE


def _bounded_minimum(objective, bounds):
    result = minimize_scalar(
        objective, bounds=bounds, method="bounded", options={"xatol": _XATOL}
    )
    return float(result.x), float(result.fun)


class AdaptiveFit(NamedTuple):
    """What :func:`fit_adaptive_temperatures` found.

    Attributes
    ----------
    inner_edges : ndarray of shape (n_bins_ - 1,)
        Bin edges on the confidence, for :func:`bin_confidences`.
    temperatures : ndarray of shape (n_bins_,)
        One temperature per bin formed; finite and positive.
    global_temperature : float
        The temperature of one-bin temperature scaling on the same data.
    log_temperature_se : float
        Standard error of the global ``log T`` (from the loss's curvature);
        ``inf`` when the loss is flat, ``nan`` when no fit was made.
    degenerate : {None, "all_correct", "at_bound"}
        ``"all_correct"``: no sample is misclassified, so the log-loss
        keeps falling as ``T -> 0`` and every temperature was set to 1.
        ``"at_bound"``: a temperature ended on an edge of ``bounds``.
    bounds : tuple of float
        The search interval on ``log T``.
    """

    inner_edges: np.ndarray
    temperatures: np.ndarray
    global_temperature: float
    log_temperature_se: float
    degenerate: str | None
    bounds: tuple


def fit_adaptive_temperatures(
    logits,
    y,
    *,
    n_bins,
    strategy="quantile",
    min_samples_per_bin=1,
    shrinkage=True,
    sample_weight=None,
    prior_samples=PRIOR_SAMPLES,
):
    """Fit one temperature per confidence bin, pooled toward the global one.

    The loss is the log-loss of the samples plus that of ``prior_samples``
    pseudo-samples, spread over the rows, whose labels are drawn from the
    model's own probabilities ``softmax(z)``: that pseudo-loss is lowest at
    ``T = 1``, so it keeps the fit finite and cautious on a handful of
    samples, and its pull fades as ``prior_samples / n``. With weights
    ``w`` (total ``W``) and ``eps = prior_samples / (W + prior_samples)``,
    each sample's gap ``m - z_y`` is replaced by
    ``(1 - eps) (m - z_y) + eps sum_k p_k (m - z_k)``.

    Parameters
    ----------
    logits : ndarray of shape (n_samples, n_classes)
        Finite logits.
    y : ndarray of shape (n_samples,)
        Integer labels in ``[0, n_classes)``.
    n_bins : int
        Number of bins asked for (fewer may be formed, see Returns).
    strategy : {"quantile", "uniform"}, default="quantile"
        Equal-weight bins, or equal-width bins over ``[1/n_classes, 1]``.
    min_samples_per_bin : float, default=1
        Bins with less total sample weight are merged into a neighbour.
    shrinkage : bool, default=True
        Give each bin its most probable log-temperature under the prior
        ``N(t_global, tau2)``, with ``tau2`` from :func:`between_bin_variance`
        (``tau2 = 0`` gives every bin the global temperature). Otherwise each
        bin keeps its own, except bins with a nearly flat loss, which get the
        global one.
    sample_weight : ndarray of shape (n_samples,), default=None
    prior_samples : float, default=1.0
        Weight of the pseudo-samples; 0 gives the maximum-likelihood fit
        (scikit-learn's temperature scaling with one bin).

    Returns
    -------
    fit : AdaptiveFit
    """
    stats = logit_statistics(logits, y)
    weight = np.ones(len(y)) if sample_weight is None else sample_weight
    bounds = search_interval(stats.spread, sample_weight)
    if not np.any(stats.gap[weight > 0] > 0):
        return AdaptiveFit(np.empty(0), np.ones(1), 1.0, np.nan, "all_correct", bounds)
    eps = prior_samples / (weight.sum() + prior_samples)
    gap = (1.0 - eps) * stats.gap + eps * stats.model_gap

    def loss(rows=None):
        return TemperedNLL(logits, stats.top, gap, sample_weight, rows)

    t_global, t_variance = _fit_global(logits, stats.top, gap, sample_weight, bounds)
    edges = confidence_edges(
        stats.confidence,
        n_bins,
        n_classes=logits.shape[1],
        strategy=strategy,
        min_weight=min_samples_per_bin,
        sample_weight=sample_weight,
    )
    t_bins = np.array([t_global])
    if len(edges):
        bins = bin_confidences(stats.confidence, edges)
        order = np.argsort(bins, kind="stable")
        splits = np.cumsum(np.bincount(bins, minlength=len(edges) + 1))[:-1]
        bin_rows = np.split(order, splits)
        own = np.array([_fit_bin(loss(rows), t_global, bounds) for rows in bin_rows])
        t_own, variances = own[:, 0], own[:, 1]
        if not shrinkage:
            t_bins = np.where(np.isfinite(variances), t_own, t_global)
        elif (tau2 := between_bin_variance(t_own, variances)) == 0.0:
            t_bins = np.full(len(bin_rows), t_global)
        else:
            t_bins = np.array(
                [
                    _fit_bin_map(loss(rows), t_global, tau2, t)
                    for rows, t in zip(bin_rows, t_own)
                ]
            )
    at_bound = any(_on_edge(t, bounds) for t in t_bins)
    return AdaptiveFit(
        edges,
        np.exp(t_bins),
        float(np.exp(t_global)),
        float(np.sqrt(t_variance)),
        "at_bound" if at_bound else None,
        bounds,
    )


def confidence_edges(
    confidence, n_bins, *, n_classes, strategy, min_weight, sample_weight=None
):
    """Inner bin edges, with every bin holding at least ``min_weight``.

    Equal-mass bins are first limited to ``total weight // min_weight``
    bins; then :func:`merge_small_bins` handles what ties or equal-width
    bins leave too small.
    """
    if strategy == "quantile":
        total = len(confidence) if sample_weight is None else sample_weight.sum()
        if min_weight > 0:
            n_bins = int(max(1, min(n_bins, total // min_weight)))
        edges = quantile_edges(confidence, n_bins, sample_weight)
    else:
        edges = uniform_edges(n_bins, n_classes)
    bins = bin_confidences(confidence, edges)
    weight = np.bincount(bins, weights=sample_weight, minlength=len(edges) + 1)
    return merge_small_bins(edges, weight, min_weight)


def _fit_global(logits, top, gap, sample_weight, bounds):
    """Global log-temperature on all rows, and its variance.

    On many rows, a first fit on about ``_PILOT_ROWS`` evenly spaced rows
    brackets the search, which then needs fewer passes over all the rows;
    the variance then comes from the pilot's, at its own minimiser, scaled
    by the weight ratio (it only serves to warn about a poorly determined
    temperature).
    """
    n_samples = logits.shape[0]
    stride = n_samples // _PILOT_ROWS
    if stride < 2:
        full = TemperedNLL(logits, top, gap, sample_weight)
        t, value = fit_log_temperature(full, bounds)
        return t, _variance(full, t, value)
    pilot_rows = np.arange(0, n_samples, stride)
    pilot = TemperedNLL(logits, top, gap, sample_weight, rows=pilot_rows)
    around, value = fit_log_temperature(pilot, bounds)
    if sample_weight is None:
        share = len(pilot_rows) / n_samples
    else:
        share = sample_weight[pilot_rows].sum() / sample_weight.sum()
    variance = _variance(pilot, around, value) * share
    del pilot  # its cache, before the next one is built
    full = TemperedNLL(logits, top, gap, sample_weight)
    t, _ = fit_log_temperature(full, bounds, around=around, half_width=_PILOT_BRACKET)
    return t, variance


def _variance(nll, t, value):
    """Inverse curvature of ``nll`` at its minimiser ``t`` (inf if flat)."""
    h = _CURVATURE_STEP
    curvature = (nll(t + h) - 2.0 * value + nll(t - h)) / h**2
    return 1.0 / curvature if curvature > 0 else np.inf


def _fit_bin(nll, t_global, bounds):
    """A bin's own log-temperature and its variance (inverse curvature).

    The variance is infinite when the bin's loss is almost flat (curvature
    below 1, a standard error above 1 in log T), as when every sample in it
    is right, or every one wrong, or when its minimiser lies on an edge of
    the search: such a bin cannot say which temperature it needs.
    """
    t, value = fit_log_temperature(nll, bounds, around=t_global)
    variance = _variance(nll, t, value)
    if variance >= 1.0 or _on_edge(t, bounds):
        variance = np.inf
    return t, variance


def between_bin_variance(t_bins, variances):
    """Spread of the true log-temperatures between bins, conservatively.

    Each bin's own estimate ``t_bins[b]`` has variance ``variances[b]``
    (infinite for bins that do not enter the estimate). As in DerSimonian
    and Laird's method of moments, Cochran's ``Q`` (the weighted scatter of
    the estimates) is compared with what their variances alone would give,
    but with the ``1 - HETEROGENEITY_LEVEL`` quantile of its chi-squared law
    in place of its mean: ``tau2 = max(0, (Q - q) / C)``. When the bins
    differ no more than noise explains, ``tau2`` is therefore 0 in 95% of
    fits (DerSimonian and Laird's is positive in about 40%), and it grows
    continuously with ``Q`` beyond that.

    Returns
    -------
    tau2 : float
        >= 0; 0 with fewer than ``MIN_INFORMATIVE_BINS`` informative bins,
        too few for a spread to be told from noise.
    """
    informative = np.isfinite(variances)
    if informative.sum() < MIN_INFORMATIVE_BINS:
        return 0.0
    w, t = 1.0 / variances[informative], t_bins[informative]
    centre = w @ t / w.sum()
    q = w @ (t - centre) ** 2
    noise = chdtri(len(t) - 1, HETEROGENEITY_LEVEL)
    return float(max(0.0, (q - noise) / (w.sum() - (w @ w) / w.sum())))


def _fit_bin_map(nll, t_global, tau2, t_own):
    """A bin's log-temperature under the prior ``N(t_global, tau2)``.

    The loss is unimodal with its minimum at ``t_own`` and the prior's
    is at ``t_global``, so the minimum of their sum lies between the two.
    """

    def objective(t):
        return nll(t) + 0.5 * (t - t_global) ** 2 / tau2

    low, high = sorted([t_own, t_global])
    return _bounded_minimum(objective, (low - _XATOL, high + _XATOL))[0]


def tempered_softmax(logits, inner_edges, temperatures):
    """Calibrated probabilities: ``softmax(z / T_b)`` with ``b`` the bin of ``z``.

    Parameters
    ----------
    logits : ndarray of shape (n_samples, n_classes)
        Finite logits.
    inner_edges : ndarray of shape (n_bins - 1,)
    temperatures : ndarray of shape (n_bins,)

    Returns
    -------
    proba : ndarray of shape (n_samples, n_classes)
        float64; rows sum to one.
    """
    n_samples, n_classes = logits.shape
    proba = np.empty((n_samples, n_classes))
    inverse = 1.0 / np.asarray(temperatures, dtype=np.float64)
    scratch = np.empty((min(n_samples, _CHUNK_BYTES // 8 // n_classes + 1), n_classes))
    for block in _row_blocks(None, n_samples, n_classes):
        rows = logits[block]
        out = proba[block]
        # the same operations as in logit_statistics, so that a sample gets the
        # same confidence, hence the same bin, at fit and at predict time
        top = rows.max(axis=1).astype(np.float64)
        with np.errstate(over="ignore"):
            np.subtract(rows, top[:, None], out=out)
            if len(inverse) == 1:
                out *= inverse[0]
            else:
                confidence = 1.0 / _sum_exp(out, scratch)
                out *= inverse[bin_confidences(confidence, inner_edges)][:, None]
        np.exp(out, out=out)
        out /= out.sum(axis=1, keepdims=True)
    return proba
