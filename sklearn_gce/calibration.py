"""Adaptive piecewise temperature scaling (ATS) for any classifier.

:class:`AdaptiveTemperatureScaling` calibrates logits from any source (for
example a network trained elsewhere); :class:`ATSCalibrator` wraps a
scikit-learn classifier with the conventions of
:class:`sklearn.calibration.CalibratedClassifierCV`. The maths lives in
:mod:`sklearn_gce._temperature`. This module does not import torch.
"""

import warnings
from inspect import signature
from numbers import Integral, Real

import numpy as np
from sklearn import get_config
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    clone,
)
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import LeaveOneOut, check_cv
from sklearn.utils import get_tags, indexable
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    process_routing,
)
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import (
    check_array,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from sklearn_gce._compat import (
    HasMethods,
    Interval,
    StrOptions,
    _check_method_params,
    _check_sample_weight,
    _fit_context,
    _num_samples,
    _safe_indexing,
)
from sklearn_gce._temperature import fit_adaptive_temperatures, tempered_softmax

__all__ = ["ATSCalibrator", "AdaptiveTemperatureScaling"]

# Probabilities are clipped here before the log, as scikit-learn's temperature
# scaling adds the same 1e-12, so that a zero probability gives a finite logit.
_PROBA_FLOOR = 1e-12

_ATS_PARAMETER_CONSTRAINTS = {
    "n_bins": [Interval(Integral, 1, None, closed="left")],
    "strategy": [StrOptions({"quantile", "uniform"})],
    "min_samples_per_bin": [Interval(Real, 0, None, closed="left")],
    "shrinkage": ["boolean"],
}


class AdaptiveTemperatureScaling(BaseEstimator):
    r"""Adaptive piecewise temperature scaling of logits.

    Held-out samples are binned by their uncalibrated top-label confidence
    and each bin gets its own temperature. This is the sklearn_gce project's
    **reconstruction** of the "adaptive temperature scaling" (ATS) of Zhan,
    Zhou and Shen (arXiv 2604.06689), whose exact algorithm is not
    published; it belongs to the family of bin-wise temperature scaling
    (Ji et al., 2019).

    With logits :math:`z \in \mathbb{R}^K`, confidence
    :math:`c(z) = \max_k \mathrm{softmax}(z)_k`, per-sample loss
    :math:`\ell_i(t) = -\log \mathrm{softmax}(z_i e^{-t})_{y_i}` and sample
    weights :math:`w_i` (total :math:`W`):

    1. the loss of a set of samples is their log-loss plus that of one
       pseudo-sample whose label is drawn from the model's own
       probabilities :math:`p_i = \mathrm{softmax}(z_i)`, spread over the
       rows:

       .. math::

           L(t) = \sum_i w_i \left[\ell_i(t) + \frac{1}{W}
           \sum_k p_{ik} \ell_{ik}(t)\right],

       where :math:`\ell_{ik}` is the loss had the label been :math:`k`.
       The pseudo-sample's loss is lowest at :math:`T = 1` (the scores as
       they are), so on a handful of samples it keeps the temperature
       moderate, and its pull fades as :math:`1/W`;
    2. the global log-temperature is :math:`t_g = \arg\min_t L(t)`;
    3. bin edges :math:`e_b` are weighted quantiles of the calibration
       confidences (``strategy="quantile"``) or equally spaced on
       :math:`[1/K, 1]` (``"uniform"``); bin :math:`b` holds the confidences
       in :math:`[e_b, e_{b+1})` (the convention of :mod:`sklearn_gce.metrics`);
       bins lighter than ``min_samples_per_bin`` are merged into a neighbour;
    4. each bin's own log-temperature and its variance are

       .. math::

           \hat t_b = \arg\min_t L_b(t), \qquad v_b = 1 / L_b''(\hat t_b),

       with :math:`L_b` the part of :math:`L` from the bin's samples;
    5. with ``shrinkage=True``, the spread :math:`\tau^2` of the true
       log-temperatures around :math:`t_g` is estimated from the
       :math:`(\hat t_b, v_b)` by a conservative form of DerSimonian and
       Laird's random-effects method: with weights :math:`w_b = 1/v_b`,
       Cochran's :math:`Q = \sum_b w_b (\hat t_b - \bar t)^2` and
       :math:`C = \sum_b w_b - \sum_b w_b^2 / \sum_b w_b`,
       :math:`\tau^2 = \max(0, (Q - q_{0.95}) / C)`, where :math:`q_{0.95}`
       is the 95th percentile of :math:`\chi^2_{B-1}` (DerSimonian and Laird
       subtract its mean, :math:`B - 1`, and find a spread in about 40% of
       data sets that have none). Each bin then gets its most probable
       log-temperature under the prior :math:`\mathcal{N}(t_g, \tau^2)`:

       .. math::

           t_b = \arg\min_t L_b(t) + \frac{(t - t_g)^2}{2 \tau^2}, \qquad
           \hat p(z) = \mathrm{softmax}\left(z / e^{t_{b(z)}}\right),

       where :math:`b(z)` is the bin of :math:`c(z)`. When the bins differ
       no more than their noise explains (in 95% of the data sets where
       they do not differ), :math:`\tau^2 = 0`, every :math:`t_b = t_g` and
       ATS is temperature scaling.

    A bin whose loss is almost flat (:math:`L_b'' < 1`, as when all its
    samples are right, or all wrong) or whose minimiser lies on an edge of
    the search does not enter :math:`\tau^2`, and
    :math:`\tau^2` is only estimated from three or more such informative
    bins (two cannot tell a spread from noise): on small sets ATS is
    therefore temperature scaling, and it moves away from it only as far as
    the data show the bins to differ.

    Guards, each with a ``UserWarning`` that says why:

    - when every calibration sample is classified correctly, :math:`L`
      keeps falling as :math:`T \to 0`, toward a temperature that would
      make any future error cost without bound: ATS keeps :math:`T = 1`;
    - every :math:`t` comes from a bounded Brent search (no gradients) on
      :math:`\log s \pm 10`, where :math:`s` is the (weighted) median over
      samples of :math:`\max_k z_k - \mathrm{mean}_k z_k`, so that logits on
      any scale
      find their temperature; a temperature that ends on an edge of this
      interval is reported;
    - a global temperature whose standard error on :math:`\log T` (from the
      curvature of :math:`L`) exceeds 0.3 is reported: too few samples, or
      too few errors among them, to tell it within a factor 1.35.

    Dividing logits by a positive temperature never changes their argmax,
    so accuracy is unchanged. With ``n_bins=1`` this is temperature scaling
    with the pseudo-sample: it tends to scikit-learn's
    ``CalibratedClassifierCV(method="temperature")`` as :math:`W` grows
    (their probabilities differ by about :math:`10^{-3}` on 1000 samples).

    Parameters
    ----------
    n_bins : int, default=15
        Number of confidence bins asked for.
    strategy : {"quantile", "uniform"}, default="quantile"
        Equal-mass bins (weighted quantiles) or equal-width bins over
        :math:`[1/K, 1]`.
    min_samples_per_bin : float, default=50
        Equal-mass bins are limited to ``total weight // min_samples_per_bin``
        bins, and any bin holding less weight is merged into its lighter
        neighbour. When fewer bins than ``n_bins`` result (too few samples,
        or too few distinct confidences), a ``UserWarning`` says so and the
        fit goes on with the bins formed (one bin is temperature scaling).
    shrinkage : bool, default=True
        Pool the bins' log-temperatures toward the global one (step 5).
        ``False`` keeps each bin's own :math:`\hat t_b` (bin-wise temperature
        scaling), except that a bin with an almost flat loss gets
        :math:`t_g`.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The label of each logit column: ``arange(n_classes)`` when ``y``
        held column indices, else the sorted distinct labels of ``y``.
    bin_edges_ : ndarray of shape (n_bins_ + 1,)
        Confidence edges, from ``1 / n_classes`` to 1; bin ``b`` holds the
        confidences in ``[bin_edges_[b], bin_edges_[b + 1])`` (the first bin
        also holds anything below, the last one 1 itself).
    temperatures_ : ndarray of shape (n_bins_,)
        Temperature of each bin; finite and positive.
    global_temperature_ : float
        The temperature of (one-bin) temperature scaling on the same data.
    n_bins_ : int
        Number of bins formed (at most ``n_bins``).
    n_features_in_ : int
        Number of logit columns (classes) seen during fit.

    See Also
    --------
    ATSCalibrator : The same calibration around a scikit-learn classifier.
    sklearn.calibration.CalibratedClassifierCV : Its ``method="temperature"``
        is the one-bin case without the pseudo-sample.

    Notes
    -----
    Sample weights are frequency weights: a bin's size is the sum of its
    weights. On 200 000 samples or more, a first fit on about 100 000 evenly
    spaced rows narrows the search for :math:`t_g`, which is still fitted on
    all rows.

    References
    ----------
    .. [1] H. Zhan, Y. Zhou, Y. Shen, "Towards Accurate and Calibrated
       Classification: Regularizing Cross-Entropy From A Generative
       Perspective", arXiv 2604.06689, 2026.
    .. [2] B. Ji, H. Jung, J. Yoon, K. Kim, Y. Shin, "Bin-wise Temperature
       Scaling (BTS): Improvement in Confidence Calibration Performance
       through Simple Scaling Techniques", ICCV Workshops, 2019.
    .. [3] R. DerSimonian, N. Laird, "Meta-analysis in clinical trials",
       Controlled Clinical Trials 7(3), 1986.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_gce.calibration import AdaptiveTemperatureScaling
    >>> rng = np.random.default_rng(0)
    >>> logits = 3 * rng.standard_normal((2000, 4))
    >>> y = logits.argmax(axis=1)
    >>> y[:500] = rng.integers(0, 4, 500)
    >>> ats = AdaptiveTemperatureScaling(n_bins=5).fit(logits, y)
    >>> ats.temperatures_.shape
    (5,)
    >>> bool(np.allclose(ats.predict_proba(logits).sum(axis=1), 1.0))
    True
    >>> bool((ats.predict(logits) == logits.argmax(axis=1)).all())
    True
    """

    _parameter_constraints: dict = dict(_ATS_PARAMETER_CONSTRAINTS)

    def __init__(
        self, *, n_bins=15, strategy="quantile", min_samples_per_bin=50, shrinkage=True
    ):
        self.n_bins = n_bins
        self.strategy = strategy
        self.min_samples_per_bin = min_samples_per_bin
        self.shrinkage = shrinkage

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, logits, y, sample_weight=None):
        """Fit the bin edges and one temperature per bin.

        Parameters
        ----------
        logits : array-like of shape (n_samples, n_classes)
            Uncalibrated, finite logits (or log-probabilities), n_classes >= 2.
        y : array-like of shape (n_samples,)
            Integer column indices in ``[0, n_classes)``, or labels with
            exactly ``n_classes`` distinct values, column ``k`` of ``logits``
            belonging to the ``k``-th label in sorted order (the order of a
            scikit-learn classifier's ``classes_``).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative frequency weights.

        Returns
        -------
        self : object
            The fitted calibrator.
        """
        logits, y = validate_data(self, logits, y, dtype=[np.float64, np.float32])
        n_classes = logits.shape[1]
        if n_classes < 2:
            raise ValueError(
                "logits need one column per class, at least 2; got "
                f"n_features = {n_classes}."
            )
        y, self.classes_ = _encode_columns(y, n_classes)
        if sample_weight is not None:
            sample_weight = _check_frequency_weights(sample_weight, logits)
        fit = fit_adaptive_temperatures(
            logits,
            y,
            n_bins=self.n_bins,
            strategy=self.strategy,
            min_samples_per_bin=self.min_samples_per_bin,
            shrinkage=self.shrinkage,
            sample_weight=sample_weight,
        )
        n_samples = len(y) if sample_weight is None else sample_weight.sum()
        for message in _fit_warnings(fit, self, n_samples):
            warnings.warn(message, UserWarning, stacklevel=3)
        self.bin_edges_ = np.concatenate([[1.0 / n_classes], fit.inner_edges, [1.0]])
        self.temperatures_ = fit.temperatures
        self.global_temperature_ = fit.global_temperature
        self.n_bins_ = len(fit.temperatures)
        return self

    def predict_proba(self, logits):
        """Calibrated probabilities.

        Parameters
        ----------
        logits : array-like of shape (n_samples, n_classes)
            Finite logits, columns as in :meth:`fit`.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            float64, columns follow ``classes_``, rows sum to one; never NaN.
        """
        check_is_fitted(self)
        logits = validate_data(
            self, logits, dtype=[np.float64, np.float32], reset=False
        )
        return tempered_softmax(logits, self.bin_edges_[1:-1], self.temperatures_)

    def predict(self, logits):
        """Label of the largest logit (temperature scaling keeps it).

        Parameters
        ----------
        logits : array-like of shape (n_samples, n_classes)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        check_is_fitted(self)
        logits = validate_data(
            self, logits, dtype=[np.float64, np.float32], reset=False
        )
        return self.classes_[logits.argmax(axis=1)]


# A global temperature known to no better than this (standard error of log T,
# a factor e^0.3 = 1.35) is reported as poorly determined: typically on fewer
# than 10 to 20 samples, or on a few more with hardly any error among them.
_UNCERTAIN_LOG_TEMPERATURE = 0.3


def _fit_warnings(fit, calibrator, n_samples):
    """The messages that a fit's degenerate cases call for."""
    if fit.degenerate == "all_correct":
        return [
            "Every calibration sample is classified correctly, so the log-loss "
            "keeps falling as the temperature goes to 0 and cannot choose one; "
            "such a temperature would make any later error cost without bound. "
            "ATS keeps T = 1 (the scores as they are). Calibrate on more, "
            "unselected samples."
        ]
    messages = []
    log_t = np.log(fit.temperatures)
    low, high = fit.bounds
    if np.any(log_t > high - 1e-5):
        messages.append(
            "A temperature reached the upper edge of its search interval (T = "
            f"{np.exp(high):.3g}, centred on the logits' scale): the calibration "
            "log-loss keeps falling as T grows, as the scores do no better than "
            "chance on these samples. Their probabilities are nearly uniform."
        )
    if np.any(log_t < low + 1e-5):
        messages.append(
            "A temperature reached the lower edge of its search interval (T = "
            f"{np.exp(low):.3g}, centred on the logits' scale): the calibration "
            "log-loss keeps falling as T shrinks, as the scores misclassify "
            "almost no sample, and any later error will cost much."
        )
    if not messages and fit.log_temperature_se > _UNCERTAIN_LOG_TEMPERATURE:
        messages.append(
            f"The calibration set (total sample weight {n_samples:.4g}) "
            "determines the temperature poorly: log T = "
            f"{np.log(fit.global_temperature):.2f} with a standard error of "
            f"{fit.log_temperature_se:.2f}. ATS pulls it toward T = 1 with the "
            "weight of one sample; calibrate on more samples for a reliable "
            "temperature."
        )
    n_bins = len(fit.temperatures)
    if n_bins < calibrator.n_bins:
        messages.append(
            f"Only {n_bins} of the n_bins={calibrator.n_bins} confidence bins "
            "could be formed: too few calibration samples (bins need "
            f"min_samples_per_bin={calibrator.min_samples_per_bin}) or too few "
            f"distinct confidences. Calibrating with {n_bins} bin(s)."
        )
    return messages


# Frequency weights totalling more than this are refused: the fit's sums of
# squared curvatures would overflow float64 (and no data set is that large).
_LARGEST_TOTAL_WEIGHT = 1e100


def _check_frequency_weights(sample_weight, X):
    """scikit-learn's checks (finite, non-negative, not all zero), and a finite fit.

    The weights are frequencies (the pseudo-sample weighs 1, bins need
    ``min_samples_per_bin``), so they cannot be rescaled silently.
    """
    sample_weight = _check_sample_weight(
        sample_weight, X, dtype=np.float64, ensure_non_negative=True
    )
    with np.errstate(over="ignore"):
        total = sample_weight.sum()
    if not total <= _LARGEST_TOTAL_WEIGHT:
        raise ValueError(
            f"sample_weight sums to {total:.3g}; ATS takes weights as counts of "
            f"samples and refuses totals above {_LARGEST_TOTAL_WEIGHT:.0e}, which "
            "would overflow float64 in the fit. Rescale the weights."
        )
    return sample_weight


def _encode_columns(y, n_classes):
    """Column index of each label, and the label of each column.

    Integer labels in ``[0, n_classes)`` are column indices; any other
    labels must take exactly ``n_classes`` distinct values, in the column
    order of their sorted values.
    """
    y = column_or_1d(y)
    if y.dtype.kind not in "iu":  # integers need no check (it is slow on 1e6)
        check_classification_targets(y)
    if y.dtype.kind == "O":  # numbers stored as objects are numbers
        y = np.asarray(y.tolist())
    if y.dtype.kind in "iuf":
        as_int = y.astype(np.intp)
        if np.array_equal(as_int, y) and as_int.min() >= 0 and as_int.max() < n_classes:
            return as_int, np.arange(n_classes)
    classes, indices = np.unique(y, return_inverse=True)
    if len(classes) != n_classes:
        shown = classes[:5].tolist() + (["..."] if len(classes) > 5 else [])
        raise ValueError(
            f"y must hold integer class indices in [0, n_classes) = [0, {n_classes})"
            f", or exactly {n_classes} distinct labels (one per logits column, in "
            f"sorted order); got {len(classes)} distinct label(s): {shown}."
        )
    return indices, classes


def _column_of(known, y):
    """Position of each label of ``y`` in ``known`` (-1 if absent)."""
    labels, inverse = np.unique(y, return_inverse=True)
    position = {label: i for i, label in enumerate(np.asarray(known).tolist())}
    codes = np.array([position.get(label, -1) for label in labels.tolist()])
    return codes[inverse]


class _CalibratedClassifier:
    """A fitted classifier and its fitted calibrator, as in scikit-learn.

    Shaped like ``sklearn.calibration._CalibratedClassifier``: ``estimator``,
    ``calibrators`` (a one-item list; empty when the estimator knows a
    single class, which then gets probability 1) and ``classes``, the labels
    of the output columns. The estimator's ``classes_`` may come in any
    order and may miss some of ``classes``: its columns are put where its
    labels are, and the classes it does not know get probability 0.
    """

    def __init__(self, estimator, calibrators, *, classes, method="ats"):
        self.estimator = estimator
        self.calibrators = calibrators
        self.classes = classes
        self.method = method

    def predict_proba(self, X):
        columns = np.searchsorted(self.classes, self.estimator.classes_)
        proba = np.zeros((_num_samples(X), len(self.classes)))
        if self.calibrators:
            logits = _logits(self.estimator, X)
            proba[:, columns] = self.calibrators[0].predict_proba(logits)
        else:
            proba[:, columns] = 1.0
        return proba


def _response_method(estimator):
    if hasattr(estimator, "decision_function"):
        return "decision_function"
    return "predict_proba"


def _scores_to_logits(scores, method, estimator):
    """Turn ``decision_function`` or ``predict_proba`` output into logits.

    A binary decision value ``s`` (a log-odds for logistic models) becomes
    ``(-s/2, s/2)``, whose softmax is ``(1 - sigmoid(s), sigmoid(s))``;
    probabilities become their (clipped) logarithm. Column ``k`` belongs to
    ``estimator.classes_[k]``.
    """
    scores = np.asarray(scores)
    if method == "predict_proba":
        logits = np.log(np.clip(scores, _PROBA_FLOOR, None))
    elif scores.ndim == 1 or scores.shape[1] == 1:
        half = scores.reshape(-1, 1) / 2
        logits = np.hstack([-half, half])
    else:
        logits = scores
    name = _name(estimator)
    if not np.isfinite(logits).all():
        raise ValueError(
            f"{name}.{method} returned NaN or infinite scores for "
            f"{int((~np.isfinite(logits)).any(axis=1).sum())} sample(s); "
            "ATS needs finite scores to calibrate."
        )
    n_classes = len(estimator.classes_)
    if logits.shape[1] != n_classes:
        raise ValueError(
            f"{name}.{method} returned {logits.shape[1]} columns for "
            f"{n_classes} classes."
        )
    return logits


def _name(estimator):
    if isinstance(estimator, FrozenEstimator):
        estimator = estimator.estimator
    return type(estimator).__name__


def _logits(estimator, X):
    method = _response_method(estimator)
    return _scores_to_logits(getattr(estimator, method)(X), method, estimator)


def _fit_calibrated(estimator, X, y, classes, calibrator, sample_weight, scores=None):
    """Fit ``calibrator`` to ``estimator``'s scores on ``X`` (or ``scores``).

    Labels are matched to score columns through ``estimator.classes_``, in
    whatever order it lists them. Samples whose label the estimator was not
    fitted on (a cross-validation fold that missed a class) cannot be given
    a probability by temperature scaling and are left out, as
    ``CalibratedClassifierCV`` goes on with such folds.
    """
    known = np.asarray(estimator.classes_)
    if len(known) < 2:
        return _CalibratedClassifier(estimator, [], classes=classes)
    index = _column_of(known, y)
    usable = index >= 0
    if not usable.any():
        raise ValueError(
            f"{_name(estimator)} was fitted on classes {known.tolist()}, none of "
            "which appears among the samples it should be calibrated on."
        )
    logits = _logits(estimator, X) if scores is None else scores
    if not usable.all():
        logits, index = logits[usable], index[usable]
        sample_weight = None if sample_weight is None else sample_weight[usable]
    calibrator = clone(calibrator).fit(logits, index, sample_weight)
    return _CalibratedClassifier(estimator, [calibrator], classes=classes)


def _fit_on_rows(estimator, X, y, rows, fit_params):
    """Fit ``estimator`` on some rows, with the sample-aligned parameters cut."""
    params = _check_method_params(X, params=fit_params, indices=rows)
    return estimator.fit(_safe_indexing(X, rows), _safe_indexing(y, rows), **params)


def _fit_fold(estimator, X, y, train, test, classes, calibrator, sw, fit_params):
    """Fit ``estimator`` on ``train`` and its calibrator on ``test``."""
    _fit_on_rows(estimator, X, y, train, fit_params)
    sw_test = None if sw is None else _safe_indexing(sw, test)
    return _fit_calibrated(
        estimator,
        _safe_indexing(X, test),
        _safe_indexing(y, test),
        classes,
        calibrator,
        sw_test,
    )


def _fold_logits(estimator, X, y, train, test, classes, fit_params):
    """Logits on ``test`` of ``estimator`` fitted on ``train``, columns as
    ``classes``; None if the fold's estimator did not learn exactly those."""
    _fit_on_rows(estimator, X, y, train, fit_params)
    position = _column_of(estimator.classes_, classes)
    if len(estimator.classes_) != len(classes) or (position < 0).any():
        return None
    return _logits(estimator, _safe_indexing(X, test))[:, position]


class ATSCalibrator(ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    r"""Calibrate any classifier with adaptive piecewise temperature scaling.

    The conventions are those of
    :class:`sklearn.calibration.CalibratedClassifierCV`, with
    :class:`AdaptiveTemperatureScaling` (the sklearn_gce project's
    **reconstruction** of the paper's unpublished ATS; see that class for the
    maths) as the calibration method. The scores calibrated are the
    estimator's ``decision_function`` if it has one, else
    :math:`\log` ``predict_proba`` (clipped at ``1e-12``), as for
    scikit-learn's ``method="temperature"``; a binary decision value
    :math:`s` is taken as the logits :math:`(-s/2, s/2)`.

    With ``ensemble=True``, each ``cv`` split fits a clone of ``estimator``
    on its training part and a calibrator on its test part, and
    :meth:`predict_proba` averages the pairs. With ``ensemble=False``, the
    calibrator is fitted on the out-of-fold scores of the splits and the
    estimator is refitted on all the data. A pre-fitted estimator wrapped in
    :class:`~sklearn.frozen.FrozenEstimator` (``ensemble="auto"`` then means
    ``False``) is calibrated on all of ``X``, without cross-validation, as
    its cross-validated scores would be the same; ``predict`` then equals
    the estimator's own argmax.

    Score columns are matched to labels through each fitted estimator's
    ``classes_``, in whatever order it lists them; ``classes_`` here is
    sorted. A fold whose estimator did not see some class (its training
    part lacked it) gives that class probability 0, as in
    ``CalibratedClassifierCV``, and its calibrator leaves out the samples of
    that class, to which temperature scaling cannot give a probability; with
    ``ensemble=False``, the out-of-fold scores of such folds (of another
    shape) are left out of the calibration, with a ``RuntimeWarning`` (where
    ``cross_val_predict`` warns too).

    As in ``CalibratedClassifierCV``, ``LeaveOneOut`` is refused, and so is a
    ``cv`` with more folds than the smallest class has samples; with
    ``ensemble=True``, so is any ``cv`` whose test folds hold a single
    sample (each would be a whole calibration set).

    Parameters
    ----------
    estimator : estimator instance, default=None
        The classifier to calibrate; it needs ``classes_`` once fitted.
        ``None`` means ``LogisticRegression()``, whose scores are logits
        (scikit-learn's default, ``LinearSVC``, gives margins instead).
    n_bins : int, default=15
        Number of confidence bins asked for; ``1`` is temperature scaling
        (with the pseudo-sample of :class:`AdaptiveTemperatureScaling`).
    strategy : {"quantile", "uniform"}, default="quantile"
        Equal-mass or equal-width confidence bins.
    cv : int, cross-validation generator, iterable or None, default=None
        As in :class:`~sklearn.calibration.CalibratedClassifierCV`: None is
        5-fold (stratified for classification targets).
    n_jobs : int, default=None
        Number of folds fitted in parallel (joblib); None means 1.
    ensemble : bool or "auto", default="auto"
        ``"auto"`` is ``False`` for a ``FrozenEstimator``, ``True`` otherwise.
    min_samples_per_bin : float, default=50
        Smaller bins are merged into a neighbour (with a ``UserWarning`` when
        fewer than ``n_bins`` bins result).
    shrinkage : bool, default=True
        Pool the bins' log-temperatures toward the global one, as much as
        their spread beyond noise calls for (empirical Bayes); on fewer than
        three informative bins, or bins that differ no more than noise
        explains, ATS is temperature scaling.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The sorted class labels: those of ``y``, or of the estimator when it
        is frozen.
    calibrated_classifiers_ : list
        Fitted pairs (one per fold when ensembling, else one), each with an
        ``estimator``, a one-item list ``calibrators`` holding a fitted
        :class:`AdaptiveTemperatureScaling`, and ``classes``.
    n_features_in_ : int
        Number of features seen by the estimator, when it exposes it.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names seen by the estimator, when it exposes them.

    See Also
    --------
    AdaptiveTemperatureScaling : The same calibration on raw logits.
    sklearn.calibration.CalibratedClassifierCV : Sigmoid, isotonic and
        (global) temperature calibration.

    Notes
    -----
    Unlike ``CalibratedClassifierCV``, a frozen estimator must score every
    label of ``y`` (temperature scaling cannot add a class): labels it was
    not fitted on raise a ``ValueError``, as do NaN or infinite scores.
    The degenerate calibration sets of :class:`AdaptiveTemperatureScaling`
    (every sample right, scores no better than chance, a handful of samples)
    warn the same way here, once per fitted calibrator.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.frozen import FrozenEstimator
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_gce import ATSCalibrator
    >>> X, y = make_classification(n_samples=3000, n_classes=3,
    ...                            n_informative=5, random_state=0)
    >>> model = LogisticRegression().fit(X[:1000], y[:1000])
    >>> ats = ATSCalibrator(FrozenEstimator(model), n_bins=5)
    >>> ats.fit(X[1000:2000], y[1000:2000])
    ATSCalibrator(...)
    >>> ats.predict_proba(X[2000:]).shape
    (1000, 3)
    >>> bool((ats.predict(X[2000:]) == model.predict(X[2000:])).all())
    True
    """

    _parameter_constraints: dict = {
        "estimator": [
            HasMethods(["fit", "predict_proba"]),
            HasMethods(["fit", "decision_function"]),
            None,
        ],
        "cv": ["cv_object"],
        "n_jobs": [Integral, None],
        "ensemble": ["boolean", StrOptions({"auto"})],
        **_ATS_PARAMETER_CONSTRAINTS,
    }

    def __init__(
        self,
        estimator=None,
        *,
        n_bins=15,
        strategy="quantile",
        cv=None,
        n_jobs=None,
        ensemble="auto",
        min_samples_per_bin=50,
        shrinkage=True,
    ):
        self.estimator = estimator
        self.n_bins = n_bins
        self.strategy = strategy
        self.cv = cv
        self.n_jobs = n_jobs
        self.ensemble = ensemble
        self.min_samples_per_bin = min_samples_per_bin
        self.shrinkage = shrinkage

    def _get_estimator(self):
        if self.estimator is not None:
            return self.estimator
        estimator = LogisticRegression()
        if get_config()["enable_metadata_routing"]:
            estimator.set_fit_request(sample_weight=True)
        return estimator

    def _calibrator(self):
        return AdaptiveTemperatureScaling(
            n_bins=self.n_bins,
            strategy=self.strategy,
            min_samples_per_bin=self.min_samples_per_bin,
            shrinkage=self.shrinkage,
        )

    @_fit_context(
        # the estimator is validated by its own fit
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y, sample_weight=None, **fit_params):
        """Fit the estimator (unless frozen) and the calibrators.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, as accepted by the estimator.
        y : array-like of shape (n_samples,)
            Target labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Used by the calibrators, and passed to the estimator's ``fit``
            when it accepts it (a warning says so when it does not).
        **fit_params : dict
            Passed to the estimator's ``fit`` (routed with metadata routing).

        Returns
        -------
        self : object
            The fitted calibrator.
        """
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None."
            )
        # finite labels first: type_of_target would warn on casting inf
        y = check_array(y, ensure_2d=False, dtype=None, input_name="y")
        check_classification_targets(y)
        X, y = indexable(X, y)
        y = column_or_1d(y, warn=True)
        if sample_weight is not None:
            sample_weight = _check_frequency_weights(sample_weight, X)
        estimator = self._get_estimator()
        frozen = isinstance(estimator, FrozenEstimator)
        ensemble = (not frozen) if self.ensemble == "auto" else self.ensemble
        classes = self._classes(estimator, y) if frozen else np.unique(y)
        estimator_params, split_params = self._route(
            estimator, sample_weight, fit_params
        )
        calibrator = self._calibrator()

        if frozen and not ensemble:
            pairs = [
                _fit_calibrated(estimator, X, y, classes, calibrator, sample_weight)
            ]
        else:
            splits = self._splits(X, y, split_params, ensemble)
            if ensemble:
                pairs = Parallel(n_jobs=self.n_jobs)(
                    delayed(_fit_fold)(
                        clone(estimator),
                        X,
                        y,
                        train,
                        test,
                        classes,
                        calibrator,
                        sample_weight,
                        estimator_params,
                    )
                    for train, test in splits
                )
            else:
                pairs = [
                    self._fit_on_cv_scores(
                        estimator,
                        X,
                        y,
                        splits,
                        classes,
                        sample_weight,
                        **estimator_params,
                    )
                ]
        self.calibrated_classifiers_ = pairs
        self.classes_ = classes
        first = pairs[0].estimator
        if hasattr(first, "n_features_in_"):
            self.n_features_in_ = first.n_features_in_
        if hasattr(first, "feature_names_in_"):
            self.feature_names_in_ = first.feature_names_in_
        return self

    @staticmethod
    def _classes(estimator, y):
        """Sorted classes of a frozen estimator, which must know every label."""
        known = np.asarray(estimator.classes_)
        unseen = np.unique(y)[_column_of(known, np.unique(y)) < 0]
        if unseen.size:
            raise ValueError(
                f"y contains labels that {_name(estimator)} was not fitted on: "
                f"{unseen.tolist()} (its classes_ are {known.tolist()}). ATS "
                "cannot calibrate classes the estimator does not score."
            )
        return np.unique(known)

    def _route(self, estimator, sample_weight, fit_params):
        """Parameters for the estimator's ``fit`` and for the splitter."""
        if get_config()["enable_metadata_routing"]:
            routed = process_routing(
                self, "fit", sample_weight=sample_weight, **fit_params
            )
            return routed.estimator.fit, routed.splitter.split
        params = dict(fit_params)
        if sample_weight is not None:
            if "sample_weight" in signature(estimator.fit).parameters:
                params["sample_weight"] = sample_weight
            elif not isinstance(estimator, FrozenEstimator):
                warnings.warn(
                    f"Since {type(estimator).__name__} does not appear to accept "
                    "sample_weight, sample weights will only be used for the "
                    "calibration itself.",
                    UserWarning,
                    stacklevel=2,
                )
        return params, {}

    def _splits(self, X, y, split_params, ensemble):
        """The ``(train, test)`` index pairs of ``cv``, after scikit-learn's guards.

        As in ``CalibratedClassifierCV``: ``LeaveOneOut`` is refused, and so
        is a number of folds above the size of the smallest class. With
        ``ensemble=True``, each test fold is a calibration set, so one of a
        single sample (any splitter of the ``LeaveOneOut`` kind) is refused.
        """
        if isinstance(self.cv, LeaveOneOut):
            raise ValueError(
                "LeaveOneOut cross-validation does not allow all classes to be "
                "present in test splits. Please use a cross-validation generator "
                "that allows all classes to appear in every test and train split."
            )
        cv = check_cv(self.cv, y, classifier=True)
        n_folds = getattr(cv, "n_splits", None)
        if n_folds and np.unique(y, return_counts=True)[1].min() < n_folds:
            raise ValueError(
                f"Requesting {n_folds}-fold cross-validation but provided less "
                f"than {n_folds} examples for at least one class."
            )
        splits = list(cv.split(X, y, **split_params))
        if ensemble and min(len(test) for _, test in splits) < 2:
            raise ValueError(
                "cv gives test folds of a single sample, and with ensemble=True "
                "each test fold calibrates one model: use fewer folds (for "
                "example cv=5) or ensemble=False."
            )
        return splits

    def _fit_on_cv_scores(self, estimator, X, y, splits, classes, sw, **fit_params):
        """The ``ensemble=False`` path: calibrate on cross-validated scores.

        Each fold's scores are put in the column order of the estimator
        refitted on all the data. Samples whose fold's estimator did not see
        every class (its scores have another shape), or that no test fold
        holds, are left out of the calibration.
        """
        this_estimator = clone(estimator).fit(X, y, **fit_params)
        known = np.asarray(this_estimator.classes_)
        folds = Parallel(n_jobs=self.n_jobs)(
            delayed(_fold_logits)(
                clone(estimator), X, y, train, test, known, fit_params
            )
            for train, test in splits
        )
        logits = np.zeros((_num_samples(X), len(known)))
        complete = np.zeros(_num_samples(X), dtype=bool)
        for (_, test), fold_logits in zip(splits, folds):
            if fold_logits is not None:
                logits[test], complete[test] = fold_logits, True
        if not complete.any():
            raise ValueError(
                "With ensemble=False, ATS calibrates on the scores of folds whose "
                "estimator saw every class, and no fold's did: use stratified "
                "folds (cv=5) or ensemble=True."
            )
        if not complete.all():
            # the warning of scikit-learn's cross_val_predict, with what ATS does
            warnings.warn(
                f"{int((~complete).sum())} of {len(complete)} samples are in test "
                "folds whose training part lacks some class (or in no test fold); "
                "their scores are of another shape, and ATS leaves them out of "
                "the calibration. Use stratified folds (cv=5) to keep them.",
                RuntimeWarning,
                stacklevel=3,
            )
        rows = np.flatnonzero(complete)
        return _fit_calibrated(
            this_estimator,
            None,
            _safe_indexing(y, rows),
            classes,
            self._calibrator(),
            None if sw is None else sw[rows],
            scores=logits[rows],
        )

    def predict_proba(self, X):
        """Calibrated probabilities, averaged over the calibrated classifiers.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            As accepted by the estimator.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``; never NaN.
        """
        check_is_fitted(self)
        proba = np.zeros((_num_samples(X), len(self.classes_)))
        for calibrated in self.calibrated_classifiers_:
            proba += calibrated.predict_proba(X)
        proba /= len(self.calibrated_classifiers_)
        return proba

    def predict(self, X):
        """Most probable class of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def get_metadata_routing(self):
        """Get metadata routing of this object.

        Returns
        -------
        routing : MetadataRouter
            Routes ``fit``'s metadata to the estimator's ``fit`` and the
            splitter's ``split``; ``sample_weight`` is also used here.
        """
        return (
            MetadataRouter(owner=self)
            .add_self_request(self)
            .add(
                estimator=self._get_estimator(),
                method_mapping=MethodMapping().add(caller="fit", callee="fit"),
            )
            .add(
                splitter=self.cv,
                method_mapping=MethodMapping().add(caller="fit", callee="split"),
            )
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        estimator_tags = get_tags(self._get_estimator())
        tags.input_tags.sparse = estimator_tags.input_tags.sparse
        tags.input_tags.allow_nan = estimator_tags.input_tags.allow_nan
        return tags
