"""Aggregates over seeds, and paired Wilcoxon signed-rank tests of GCE."""

import warnings

import numpy as np

__all__ = [
    "HIGHER_IS_BETTER",
    "mean_interval",
    "min_p_value",
    "paired_tests",
    "summarize",
    "wilcoxon_paired",
]

# tail_accuracy: recorded by benchmarks/study.py on long-tailed splits
HIGHER_IS_BETTER = {"accuracy": True, "ood_auroc": True, "tail_accuracy": True}
ALPHA = 0.05
# scipy's wilcoxon tests differences with ties or zeros by a permutation test
# over all 2**n sign flips when n <= 13 (above, by the normal approximation)
_SIGN_FLIPS_MAX_N = 13


def _groups(records, keys):
    groups = {}
    for record in records:
        groups.setdefault(tuple(record[key] for key in keys), []).append(record)
    return groups


def summarize(records, metrics):
    """Mean and standard deviation over seeds of each (dataset, loss, method).

    Parameters
    ----------
    records : list of dict
        As made by :func:`~sklearn_gce.compare.run_one`.
    metrics : iterable of str
        Record fields to aggregate; fields missing from a group are skipped.

    Returns
    -------
    rows : list of dict
        In the order the groups first appear: ``dataset``, ``loss``,
        ``method``, ``n_seeds``, and ``<metric>_mean`` and ``<metric>_std``
        (sample standard deviation, ``ddof=1``; 0 for a single seed).

    Examples
    --------
    >>> from sklearn_gce.compare import summarize
    >>> records = [
    ...     {"dataset": "d", "loss": "ce", "method": "none", "seed": s, "ece": e}
    ...     for s, e in enumerate([0.1, 0.3])
    ... ]
    >>> row = summarize(records, ["ece"])[0]
    >>> row["n_seeds"], round(row["ece_mean"], 3), round(row["ece_std"], 3)
    (2, 0.2, 0.141)
    """
    rows = []
    for (dataset, loss, method), group in _groups(
        records, ("dataset", "loss", "method")
    ).items():
        row = {
            "dataset": dataset,
            "loss": loss,
            "method": method,
            "n_seeds": len(group),
        }
        for metric in metrics:
            values = np.array(
                [r[metric] for r in group if r.get(metric) is not None], dtype=float
            )
            if values.size == 0:
                continue
            row[f"{metric}_mean"] = float(values.mean())
            row[f"{metric}_std"] = float(values.std(ddof=1)) if values.size > 1 else 0.0
        rows.append(row)
    return rows


def min_p_value(n):
    """Smallest two-sided p-value of an exact Wilcoxon test on ``n`` pairs.

    It is reached when all ``n`` differences have the same sign: ``2 / 2**n``.
    Below 6 pairs it exceeds 0.05, so no difference can be significant.

    Examples
    --------
    >>> from sklearn_gce.compare import min_p_value
    >>> min_p_value(5), min_p_value(6)
    (0.0625, 0.03125)
    """
    return 2.0 / 2**n if n > 0 else 1.0


def wilcoxon_paired(a, b):
    """Two-sided Wilcoxon signed-rank test of the paired differences ``a - b``.

    scipy's :func:`scipy.stats.wilcoxon`, zero differences discarded
    (``zero_method="wilcox"``); when every difference is zero there is
    nothing to test and the p-value is 1. Where scipy falls back to a
    permutation test (ties or zeros among at most 13 differences), the same
    p-value is computed here over all sign flips at once (scipy takes about
    0.3 s per test there; a comparison makes dozens).

    Parameters
    ----------
    a, b : array-like of shape (n_pairs,)

    Returns
    -------
    result : dict
        ``n`` (pairs), ``n_nonzero``, ``mean_diff`` (mean of ``a - b``),
        ``direction`` (+1 when the positive differences carry more rank
        than the negative ones, -1 when less, 0 when even), ``p_value``.

    Examples
    --------
    >>> from sklearn_gce.compare import wilcoxon_paired
    >>> result = wilcoxon_paired([2, 3, 4, 5, 6, 7], [1, 1, 1, 1, 1, 1])
    >>> result["p_value"], result["direction"]
    (0.03125, 1)
    """
    from scipy.stats import rankdata, wilcoxon

    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    diff = a - b
    nonzero = diff[diff != 0]
    result = {
        "n": int(diff.size),
        "n_nonzero": int(nonzero.size),
        "mean_diff": float(diff.mean()) if diff.size else float("nan"),
        "direction": 0,
        "p_value": 1.0,
    }
    if nonzero.size == 0:
        return result
    ranks = rankdata(np.abs(nonzero))
    balance = ranks[nonzero > 0].sum() - ranks[nonzero < 0].sum()
    result["direction"] = int(np.sign(balance))
    ties_or_zeros = nonzero.size < diff.size or np.unique(ranks).size < ranks.size
    if ties_or_zeros and diff.size <= _SIGN_FLIPS_MAX_N:
        result["p_value"] = _sign_flip_p_value(ranks, ranks[nonzero > 0].sum())
        return result
    with warnings.catch_warnings():
        # scipy warns when it falls back to the normal approximation
        warnings.simplefilter("ignore")
        result["p_value"] = float(wilcoxon(diff, zero_method="wilcox").pvalue)
    return result


def _sign_flip_p_value(ranks, rank_sum):
    """Two-sided p-value of the positive ``rank_sum`` over every assignment of
    signs to ``ranks``, as scipy's ``permutation_test`` computes it for the
    Wilcoxon statistic (zero differences, which flip onto themselves, change
    none of the proportions)."""
    flips = (np.arange(2**ranks.size)[:, None] >> np.arange(ranks.size)) & 1
    null = flips @ ranks
    tolerance = abs(np.finfo(float).eps * 100 * rank_sum)
    below = np.count_nonzero(null <= rank_sum + tolerance)
    above = np.count_nonzero(null >= rank_sum - tolerance)
    return float(min(1.0, 2 * min(below, above) / null.size))


def mean_interval(values, confidence_level=0.95):
    """The mean of ``values`` and its Student's t confidence interval.

    scipy's :func:`scipy.stats.ttest_1samp` interval, except where it is not
    defined: ``(nan, nan)`` for a single value, and the mean itself for
    values that are all equal.

    Parameters
    ----------
    values : array-like of shape (n,)
    confidence_level : float, default=0.95

    Returns
    -------
    mean : float
    interval : tuple of float
        ``(low, high)``.

    Examples
    --------
    >>> from sklearn_gce.compare import mean_interval
    >>> mean, (low, high) = mean_interval([0.1, 0.2, 0.3])
    >>> round(mean, 3), round(low, 3), round(high, 3)
    (0.2, -0.048, 0.448)
    """
    from scipy.stats import ttest_1samp

    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if values.size < 2:
        return mean, (float("nan"), float("nan"))
    if np.all(values == values[0]):
        return mean, (mean, mean)
    with warnings.catch_warnings():
        # scipy warns of precision loss when the values are nearly equal
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = ttest_1samp(values, 0.0).confidence_interval(confidence_level)
    return mean, (float(low), float(high))


def _verdict(result, higher_is_better, alpha):
    if result["n_nonzero"] == 0:
        return "no difference"
    if min_p_value(result["n"]) > alpha:
        return "too few seeds to test"
    if result["p_value"] >= alpha:
        return "not significant"
    better = result["direction"] > 0 if higher_is_better else result["direction"] < 0
    return "GCE better" if better else "GCE worse"


def paired_tests(records, *, metrics=("accuracy", "ece"), alpha=ALPHA):
    """Each GCE loss against each other loss, paired over seeds.

    For each dataset, each GCE variant (loss keys ``gce``, ``gce:<λ>``), each
    baseline (every other loss), each metric and each post-hoc method, the
    per-seed values of the two losses under the same method are compared
    with :func:`wilcoxon_paired`. Accuracy, which post-hoc temperature
    scaling does not change, is tested once, on the first method.

    Parameters
    ----------
    records : list of dict
    metrics : iterable of str
    alpha : float, default=0.05
        Significance level. There is no correction for multiple comparisons.

    Returns
    -------
    tests : list of dict
        ``dataset``, ``metric``, ``method``, ``gce``, ``baseline``, ``n``,
        ``gce_mean``, ``baseline_mean``, ``mean_diff`` (GCE minus baseline)
        and ``mean_diff_low``, ``mean_diff_high`` (its 95% confidence
        interval over seeds, see :func:`mean_interval`),
        ``gce_wins`` and ``gce_losses`` (seeds where GCE is strictly better,
        strictly worse), ``p_value``,
        ``min_p_value`` (the smallest p-value the number of seeds allows)
        and ``verdict``: "GCE better", "GCE worse", "not significant",
        "no difference" (equal on every seed) or "too few seeds to test"
        (fewer than 6 seeds: even a unanimous result has p > 0.05).
    """
    tests = []
    for (dataset,), group in _groups(records, ("dataset",)).items():
        losses = list(dict.fromkeys(r["loss"] for r in group))
        methods = list(dict.fromkeys(r["method"] for r in group))
        by_key = {(r["loss"], r["method"], r["seed"]): r for r in group}
        for gce in (loss for loss in losses if loss.split(":")[0] == "gce"):
            for baseline in (loss for loss in losses if loss != gce):
                for metric in metrics:
                    tested = methods[:1] if metric == "accuracy" else methods
                    for method in tested:
                        test = _test_pair(by_key, gce, baseline, metric, method, alpha)
                        if test is not None:
                            tests.append({"dataset": dataset, **test})
    return tests


def _test_pair(by_key, gce, baseline, metric, method, alpha):
    """One row of :func:`paired_tests`, or None without common seeds."""
    pairs = [
        (record[metric], by_key[baseline, method, seed][metric])
        for (loss, m, seed), record in sorted(by_key.items(), key=lambda kv: kv[0][2])
        if loss == gce
        and m == method
        and (baseline, method, seed) in by_key
        and record.get(metric) is not None
        and by_key[baseline, method, seed].get(metric) is not None
    ]
    if not pairs:
        return None
    a, b = np.array(pairs).T
    higher = HIGHER_IS_BETTER.get(metric, False)
    result = wilcoxon_paired(a, b)
    _, (low, high) = mean_interval(a - b)
    better = (a - b > 0) if higher else (a - b < 0)
    worse = (a - b < 0) if higher else (a - b > 0)
    return {
        "metric": metric,
        "method": method,
        "gce": gce,
        "baseline": baseline,
        "n": result["n"],
        "gce_mean": float(a.mean()),
        "baseline_mean": float(b.mean()),
        "mean_diff": result["mean_diff"],
        "mean_diff_low": low,
        "mean_diff_high": high,
        "gce_wins": int(better.sum()),
        "gce_losses": int(worse.sum()),
        "p_value": result["p_value"],
        "min_p_value": min_p_value(result["n"]),
        "verdict": _verdict(result, higher, alpha),
    }
