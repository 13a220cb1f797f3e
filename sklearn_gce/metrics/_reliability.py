"""Multiclass (top-label) reliability diagram, in scikit-learn's Display API."""

from numbers import Integral, Real

import numpy as np

from sklearn_gce._compat import Interval, validate_parameter_constraints
from sklearn_gce.metrics._binning import assign_bins, bin_values, top_label_data
from sklearn_gce.metrics._bootstrap import bin_accuracy_interval


def _import_pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "ReliabilityDisplay needs matplotlib, an optional dependency: "
            "pip install matplotlib (or pip install 'sklearn-gce[plot]')."
        ) from exc
    return plt


class ReliabilityDisplay:
    """Top-label reliability diagram, with the gap to the diagonal and a histogram.

    For binary and multiclass classifiers alike, samples are binned by their
    top-label confidence (largest predicted probability) exactly as in
    :func:`~sklearn_gce.metrics.expected_calibration_error`, and each
    non-empty bin is drawn as a bar whose height is its accuracy, together
    with a bar from the accuracy to the bin's mean confidence (the gap to
    the diagonal). Below it, a histogram shows the fraction of samples in
    each bin; the legend shows the ECE (l1) of the same bins. With
    ``confidence_level``, an error bar on each bar shows the bootstrap
    interval of its accuracy.

    Create it with :meth:`from_estimator` or :meth:`from_predictions`; all
    parameters are stored as attributes. Plotting needs matplotlib.

    Parameters
    ----------
    bin_edges : ndarray of shape (n_bins + 1,)
        Bin edges, from 0 to 1; bins are closed on the left, the last one
        also on the right.

    accuracy : ndarray of shape (n_bins,)
        Fraction of correct top-label predictions in each bin, NaN if empty.

    confidence : ndarray of shape (n_bins,)
        Mean top-label confidence in each bin, NaN if empty.

    bin_weight : ndarray of shape (n_bins,)
        Number of samples (total sample weight) in each bin.

    ece : float
        Expected calibration error (l1) of these bins.

    estimator_name : str, default=None
        Name shown in the legend; if None, only the ECE is shown.

    accuracy_interval : ndarray of shape (2, n_bins), default=None
        Lower and upper bounds of each bin's accuracy (NaN for empty bins),
        drawn as error bars; None for no band.

    confidence_level : float, default=None
        Confidence level of ``accuracy_interval``, for the legend.

    Attributes
    ----------
    bars_ : matplotlib BarContainer
        Accuracy bars, one per non-empty bin.

    gap_bars_ : matplotlib BarContainer or None
        Bars from the accuracy to the mean confidence of each non-empty bin.

    ref_line_ : matplotlib Line2D or None
        The diagonal of perfect calibration.

    hist_bars_ : matplotlib BarContainer or None
        Fraction of the samples in each non-empty bin.

    band_ : matplotlib ErrorbarContainer or None
        Error bars of the accuracy interval of each non-empty bin.

    ax_ : matplotlib Axes
        Axes with the reliability diagram.

    hist_ax_ : matplotlib Axes or None
        Axes with the confidence histogram, below ``ax_``.

    figure_ : matplotlib Figure
        Figure containing the diagram.

    See Also
    --------
    sklearn.calibration.CalibrationDisplay : Positive-class calibration curve
        of a binary classifier.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_gce.metrics import ReliabilityDisplay
    >>> X, y = load_iris(return_X_y=True)
    >>> model = LogisticRegression(max_iter=1000).fit(X[::2], y[::2])
    >>> display = ReliabilityDisplay.from_estimator(model, X[1::2], y[1::2])
    >>> [text.get_text() for text in display.ax_.get_legend().get_texts()]
    ['Perfectly calibrated', 'LogisticRegression (ECE = 0.1125)', 'Gap']
    """

    def __init__(
        self,
        bin_edges,
        accuracy,
        confidence,
        bin_weight,
        *,
        ece,
        estimator_name=None,
        accuracy_interval=None,
        confidence_level=None,
    ):
        self.bin_edges = bin_edges
        self.accuracy = accuracy
        self.confidence = confidence
        self.bin_weight = bin_weight
        self.ece = ece
        self.estimator_name = estimator_name
        self.accuracy_interval = accuracy_interval
        self.confidence_level = confidence_level

    def plot(
        self,
        *,
        ax=None,
        name=None,
        ref_line=True,
        show_gap=True,
        show_histogram=True,
        show_band=True,
        **kwargs,
    ):
        """Draw the diagram.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; if None, a new figure and axes are created. With
            ``show_histogram=True`` the histogram takes the lower part of it.

        name : str, default=None
            Name for the legend; if None, ``estimator_name``.

        ref_line : bool, default=True
            Whether to draw the diagonal of perfect calibration.

        show_gap : bool, default=True
            Whether to draw the gap between accuracy and mean confidence.

        show_histogram : bool, default=True
            Whether to draw the histogram of the samples over the bins.

        show_band : bool, default=True
            Whether to draw the accuracy intervals, when the display has them
            (``accuracy_interval`` is not None).

        **kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.bar` for the accuracy bars.

        Returns
        -------
        display : ReliabilityDisplay
            This object, with the matplotlib artists as attributes.
        """
        plt = _import_pyplot()
        if ax is None:
            _, ax = plt.subplots()
        name = self.estimator_name if name is None else name
        filled = self.bin_weight > 0
        left = self.bin_edges[:-1][filled]
        width = np.diff(self.bin_edges)[filled]
        accuracy = self.accuracy[filled]

        label = f"ECE = {self.ece:.4f}"
        if name is not None:
            label = f"{name} ({label})"
        bar_kwargs = {"color": "tab:blue", "edgecolor": "black", "label": label}
        self.bars_ = ax.bar(left, accuracy, width, align="edge", **bar_kwargs | kwargs)
        self.gap_bars_ = None
        if show_gap:
            self.gap_bars_ = ax.bar(
                left,
                self.confidence[filled] - accuracy,
                width,
                bottom=accuracy,
                align="edge",
                color="tab:red",
                alpha=0.3,
                edgecolor="tab:red",
                hatch="//",
                label="Gap",
            )
        self.band_ = None
        if show_band and self.accuracy_interval is not None:
            self._plot_band(ax, left + width / 2, accuracy, filled)
        self.ref_line_ = None
        if ref_line:
            (self.ref_line_,) = ax.plot(
                [0, 1], [0, 1], "k:", label="Perfectly calibrated"
            )
        ax.set(xlim=(0, 1), ylim=(0, 1), ylabel="Accuracy")
        ax.legend(loc="upper left")

        self.hist_ax_ = self.hist_bars_ = None
        if show_histogram:
            self._plot_histogram(ax, left, width, filled)
        else:
            ax.set_xlabel("Confidence")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    def _plot_band(self, ax, centre, accuracy, filled):
        low, high = self.accuracy_interval[:, filled]
        label = "Bootstrap interval"
        if self.confidence_level is not None:
            label = f"{self.confidence_level:.0%} bootstrap interval"
        self.band_ = ax.errorbar(
            centre,
            accuracy,
            yerr=np.stack([accuracy - low, high - accuracy]),
            fmt="none",
            ecolor="black",
            elinewidth=1,
            capsize=3,
            label=label,
        )

    def _plot_histogram(self, ax, left, width, filled):
        from mpl_toolkits.axes_grid1 import make_axes_locatable

        hist_ax = make_axes_locatable(ax).append_axes(
            "bottom", size="25%", pad=0.1, sharex=ax
        )
        fraction = self.bin_weight[filled] / self.bin_weight.sum()
        self.hist_bars_ = hist_ax.bar(
            left, fraction, width, align="edge", color="tab:gray", edgecolor="black"
        )
        hist_ax.set(xlim=(0, 1), xlabel="Confidence", ylabel="Fraction")
        ax.tick_params(labelbottom=False)
        self.hist_ax_ = hist_ax

    @classmethod
    def from_predictions(
        cls,
        y_true,
        y_prob,
        *,
        n_bins=15,
        strategy="uniform",
        labels=None,
        sample_weight=None,
        name=None,
        ax=None,
        ref_line=True,
        show_gap=True,
        show_histogram=True,
        confidence_level=None,
        n_resamples=1000,
        random_state=None,
        **kwargs,
    ):
        """Plot the reliability diagram of predicted probabilities.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            True class labels.

        y_prob : array-like of shape (n_samples, n_classes) or (n_samples,)
            Predicted probabilities, as for
            :func:`~sklearn_gce.metrics.expected_calibration_error`.

        n_bins : int, default=15
            Number of bins.

        strategy : {"uniform", "quantile"}, default="uniform"
            Equal-width or equal-mass bins.

        labels : array-like of shape (n_classes,), default=None
            The class of each column of ``y_prob``, in column order; if None,
            the sorted unique values of ``y_true``.

        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        name : str, default=None
            Name for the legend.

        ax, ref_line, show_gap, show_histogram, **kwargs
            As in :meth:`plot`.

        confidence_level : float, default=None
            If given, in (0, 1): the level of a bootstrap interval of each
            bin's accuracy, drawn as an error bar. The samples of each bin
            are resampled (percentile method of
            :func:`scipy.stats.bootstrap`), so the interval is that of the
            bin's accuracy given its number of samples; a bin whose samples
            are all right (or all wrong) gets none.

        n_resamples : int, default=1000
            Number of bootstrap resamples of each bin, at least 2.

        random_state : int, RandomState instance or None, default=None
            Seeds the resampling.

        Returns
        -------
        display : ReliabilityDisplay
        """
        _import_pyplot()
        validate_parameter_constraints(
            {
                "confidence_level": [Interval(Real, 0, 1, closed="neither"), None],
                "n_resamples": [Interval(Integral, 2, None, closed="left")],
                "random_state": ["random_state"],
            },
            {
                "confidence_level": confidence_level,
                "n_resamples": n_resamples,
                "random_state": random_state,
            },
            caller_name="ReliabilityDisplay.from_predictions",
        )
        confidence, hits, sample_weight = top_label_data(
            y_true, y_prob, labels, sample_weight
        )
        bins = bin_values(confidence, hits, sample_weight, n_bins, strategy)
        interval = None
        if confidence_level is not None:
            interval = bin_accuracy_interval(
                assign_bins(confidence, bins.edges, strategy),
                hits,
                sample_weight,
                n_bins,
                confidence_level,
                n_resamples,
                random_state,
            )
        display = cls(
            bins.edges,
            bins.accuracy,
            bins.confidence,
            bins.weight,
            ece=bins.error("l1"),
            estimator_name=name,
            accuracy_interval=interval,
            confidence_level=confidence_level,
        )
        return display.plot(
            ax=ax,
            ref_line=ref_line,
            show_gap=show_gap,
            show_histogram=show_histogram,
            **kwargs,
        )

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y,
        *,
        n_bins=15,
        strategy="uniform",
        sample_weight=None,
        name=None,
        ax=None,
        ref_line=True,
        show_gap=True,
        show_histogram=True,
        confidence_level=None,
        n_resamples=1000,
        random_state=None,
        **kwargs,
    ):
        """Plot the reliability diagram of a fitted classifier on data.

        Parameters
        ----------
        estimator : estimator instance
            Fitted classifier (or pipeline ending in one) with
            ``predict_proba`` and ``classes_``; the columns of
            ``predict_proba`` are read through ``classes_``.

        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        y : array-like of shape (n_samples,)
            True class labels.

        n_bins, strategy, sample_weight, confidence_level, n_resamples, random_state
            As in :meth:`from_predictions`.

        name : str, default=None
            Name for the legend; if None, the estimator's class name.

        ax, ref_line, show_gap, show_histogram, **kwargs
            As in :meth:`plot`.

        Returns
        -------
        display : ReliabilityDisplay
        """
        _import_pyplot()
        return cls.from_predictions(
            y,
            estimator.predict_proba(X),
            n_bins=n_bins,
            strategy=strategy,
            labels=estimator.classes_,
            sample_weight=sample_weight,
            name=type(estimator).__name__ if name is None else name,
            ax=ax,
            ref_line=ref_line,
            show_gap=show_gap,
            show_histogram=show_histogram,
            confidence_level=confidence_level,
            n_resamples=n_resamples,
            random_state=random_state,
            **kwargs,
        )
