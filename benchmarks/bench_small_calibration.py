"""ATS against scikit-learn's temperature scaling on small and degenerate
calibration sets.

For each case, a model is fitted once (fixed seeds), its pool and test
samples are scored, and both calibrators are fitted on 20 random subsets of
the pool at each size (20, 50, 100 and 300 samples), then scored on the whole
test split:

- ``mnist1d``: scikit-learn's ``MLPClassifier((128, 128))`` on 4 000 samples of
  MNIST-1D (``sklearn_gce.datasets``), 3 000 pool and 3 000 test samples;
- ``digits``: the same network on 700 of scikit-learn's digits, 548 pool and
  549 test samples;
- ``constant``: synthetic logits whose true calibration map is one
  temperature, 1.7 (``sklearn_gce._testing.make_tempered_logits``, 10 classes,
  5 000 pool and 50 000 test samples);
- ``step``: the same with a temperature that depends on the confidence (0.5
  below 0.5, 2.0 above), the case ATS is for.

``ts`` is what ``CalibratedClassifierCV(FrozenEstimator(m),
method="temperature")`` fits: scikit-learn's ``_TemperatureScaling`` on the
model's ``predict_proba`` (or ``decision_function``), called directly because
that estimator's cv guard refuses a calibration set with a class of a single
sample, common at 20 samples of 10 classes (the script checks once that both
give the same probabilities). ``ats`` is ``ATSCalibrator(FrozenEstimator(m))``
with its defaults. ``all correct``: 20 subsets of 20 and of 100 pool samples
that the model classifies correctly (a selected, degenerate set).

Reported: mean test log-loss and ECE (15 equal-width bins, L1) with their
standard errors over the subsets, and the paired difference ATS - TS with its
standard error and a paired t-test p-value. Claims checked (exit status 1 if
one fails), in every case: at every size, ATS's mean log-loss and ECE are
no worse than TS's within noise, that is the mean difference ATS - TS is
below two standard errors of the paired difference (not detectably worse)
or, where it is detectably worse, below the standard error of TS's own mean
over the subsets (a bias smaller than the noise of the result itself, which
the claim then names); on every all-correct set, ATS's test log-loss is no
worse than the uncalibrated model's.

Run from the repository root::

    python benchmarks/bench_small_calibration.py

It writes ``benchmarks/results/small_calibration.{md,json}``. The numbers are
deterministic (fixed seeds, one BLAS thread); no timing is recorded.
"""

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _env import describe_run, markdown_header
from scipy.stats import ttest_rel
from sklearn.calibration import CalibratedClassifierCV, _TemperatureScaling
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import log_loss
from sklearn.model_selection import KFold, train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sklearn_gce import ATSCalibrator
from sklearn_gce._testing import LogitModel, make_tempered_logits
from sklearn_gce.datasets import load_dataset
from sklearn_gce.metrics import expected_calibration_error

RESULTS = Path(__file__).resolve().parent / "results"
SIZES = (20, 50, 100, 300)
ALL_CORRECT_SIZES = (20, 100)
METHODS = ("uncalibrated", "ts", "ats")


def _network_case(name, n_train):
    data = load_dataset(name)
    X_train, X_rest, y_train, y_rest = train_test_split(
        data.X, data.y, train_size=n_train, stratify=data.y, random_state=0
    )
    X_pool, X_test, y_pool, y_test = train_test_split(
        X_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=0
    )
    network = MLPClassifier((128, 128), max_iter=300, random_state=0)
    model = make_pipeline(StandardScaler(), network).fit(X_train, y_train)
    return model, X_pool, y_pool, X_test, y_test


def _synthetic_case(temperature):
    X_pool, y_pool = make_tempered_logits(5000, 10, temperature, random_state=1)
    X_test, y_test = make_tempered_logits(50000, 10, temperature, random_state=2)
    return LogitModel().fit(X_pool, y_pool), X_pool, y_pool, X_test, y_test


CASES = {
    "mnist1d": lambda: _network_case("mnist1d", 4000),
    "digits": lambda: _network_case("digits", 700),
    "constant": lambda: _synthetic_case(1.7),
    "step": lambda: _synthetic_case(lambda c: np.where(c < 0.5, 0.5, 2.0)),
}


def _scores(model, X):
    if hasattr(model, "decision_function"):
        return model.decision_function(X)
    return model.predict_proba(X)


def _uncalibrated(model, X):
    if hasattr(model, "predict_proba"):
        return model.predict_proba(X)
    scores = model.decision_function(X)
    exp = np.exp(scores - scores.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def _check_ts_is_scikit_learn(model, X_cal, y_cal, X_test):
    """_TemperatureScaling on the scores is CalibratedClassifierCV's answer."""
    reference = CalibratedClassifierCV(
        FrozenEstimator(model), method="temperature", cv=KFold(2)
    ).fit(X_cal, y_cal)
    ts = _TemperatureScaling().fit(_scores(model, X_cal), y_cal)
    difference = np.abs(
        ts.predict(_scores(model, X_test)) - reference.predict_proba(X_test)
    ).max()
    assert difference < 1e-10, difference
    return float(difference)


def _errors(y, proba, labels):
    return (
        log_loss(y, proba, labels=labels),
        expected_calibration_error(y, proba, labels=labels),
    )


def run_case(name, n_subsets):
    model, X_pool, y_pool, X_test, y_test = CASES[name]()
    labels = model.classes_
    test_scores = _scores(model, X_test)
    uncalibrated = _errors(y_test, _uncalibrated(model, X_test), labels)
    check = _check_ts_is_scikit_learn(model, X_pool[:300], y_pool[:300], X_test)
    right = np.flatnonzero(model.predict(X_pool) == y_pool)
    records = []
    subsets = [(str(n), n, np.arange(len(y_pool))) for n in SIZES]
    subsets += [(f"all correct, {n}", n, right) for n in ALL_CORRECT_SIZES]
    for label, n, candidates in subsets:
        for seed in range(n_subsets):
            rows = np.random.default_rng(seed).choice(candidates, n, replace=False)
            X_cal, y_cal = X_pool[rows], y_pool[rows]
            ts = _TemperatureScaling().fit(_scores(model, X_cal), y_cal)
            with warnings.catch_warnings():
                # the degenerate and small sets warn, as they should
                warnings.simplefilter("ignore", UserWarning)
                ats = ATSCalibrator(FrozenEstimator(model)).fit(X_cal, y_cal)
            bins = ats.calibrated_classifiers_[0].calibrators[0].n_bins_
            for method, proba in [
                ("ts", ts.predict(test_scores)),
                ("ats", ats.predict_proba(X_test)),
            ]:
                nll, ece = _errors(y_test, proba, labels)
                records.append(
                    dict(set=label, seed=seed, method=method, nll=nll, ece=ece)
                )
            records[-1]["ats_bins"] = int(bins)
    return {
        "uncalibrated_nll": uncalibrated[0],
        "uncalibrated_ece": uncalibrated[1],
        "accuracy": float(np.mean(model.predict(X_test) == y_test)),
        "ts_max_difference_to_calibrated_classifier_cv": check,
        "records": records,
    }


def _mean_se(values):
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(values.size))


def summarize(result):
    """Per set: means, standard errors and paired ATS - TS differences."""
    rows = []
    sets = list(dict.fromkeys(r["set"] for r in result["records"]))
    for label in sets:
        chosen = [r for r in result["records"] if r["set"] == label]
        ts = [r for r in chosen if r["method"] == "ts"]
        ats = [r for r in chosen if r["method"] == "ats"]
        row = {"set": label, "ats_bins": _mean_se([r["ats_bins"] for r in ats])[0]}
        for metric in ("nll", "ece"):
            a = np.array([r[metric] for r in ats])
            b = np.array([r[metric] for r in ts])
            row[f"ts_{metric}"] = _mean_se(b)
            row[f"ats_{metric}"] = _mean_se(a)
            row[f"diff_{metric}"] = _mean_se(a - b)
            same = np.allclose(a, b, rtol=0, atol=1e-15)
            row[f"p_{metric}"] = 1.0 if same else float(ttest_rel(a, b).pvalue)
            row[f"ats_max_{metric}"] = float(a.max())
        rows.append(row)
    return rows


def checks(results):
    claims = {}
    for name, result in results.items():
        for row in result["summary"]:
            if row["set"].startswith("all correct"):
                claim = (
                    f"{name}, {row['set']}: ATS test log-loss <= uncalibrated "
                    f"({result['uncalibrated_nll']:.4f}) on every subset"
                )
                limit = result["uncalibrated_nll"] + 1e-9
                claims[claim] = bool(row["ats_max_nll"] <= limit)
                continue
            for metric in ("nll", "ece"):
                mean, se = row[f"diff_{metric}"]
                noise = row[f"ts_{metric}"][1]
                claim = (
                    f"{name}, {row['set']} samples: ATS {metric} - TS {metric} "
                    f"= {mean:+.4f} <= 2 x {se:.4f} (paired)"
                )
                if mean > 2 * se:
                    claim = (
                        f"{name}, {row['set']} samples: ATS {metric} - TS {metric} "
                        f"= {mean:+.4f} > 2 x {se:.4f} (paired: detectably worse), "
                        f"but <= {noise:.4f}, the standard error of TS's own mean "
                        "over the subsets"
                    )
                claims[claim] = bool(mean <= 2 * se or mean <= noise)
    return claims


def _cell(pair, digits=4):
    return f"{pair[0]:.{digits}f} ± {pair[1]:.{digits}f}"


def markdown(results, claims, info, n_subsets):
    lines = [
        markdown_header(
            "ATS and temperature scaling on small and degenerate calibration sets",
            info,
        ),
        f"Means ± standard errors over {n_subsets} random calibration subsets "
        "per row, each scored on the whole test split. `ts`: scikit-learn's "
        "temperature scaling (what `CalibratedClassifierCV(FrozenEstimator(m), "
        'method="temperature")` fits); `ats`: `ATSCalibrator(FrozenEstimator(m))`'
        " with its defaults (`bins`: mean number of bins it formed). `ATS - TS`:"
        " mean paired difference ± its standard error, and the paired t-test "
        "p-value (1 where the two agree to 1e-15). ECE: 15 equal-width bins, L1.",
        "",
    ]
    for name, result in results.items():
        lines += [
            f"## {name}",
            "",
            f"Model test accuracy {result['accuracy']:.4f}; uncalibrated test "
            f"log-loss {result['uncalibrated_nll']:.4f}, ECE "
            f"{result['uncalibrated_ece']:.4f}. `ts` equals CalibratedClassifierCV "
            "to "
            f"{result['ts_max_difference_to_calibrated_classifier_cv']:.1e} on "
            "300 samples.",
            "",
            "| calibration set | TS log-loss | ATS log-loss | ATS - TS (p) "
            "| TS ECE | ATS ECE | ATS - TS (p) | bins |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for row in result["summary"]:
            lines.append(
                f"| {row['set']} | {_cell(row['ts_nll'])} | {_cell(row['ats_nll'])} "
                f"| {_cell(row['diff_nll'])} ({row['p_nll']:.2g}) "
                f"| {_cell(row['ts_ece'])} | {_cell(row['ats_ece'])} "
                f"| {_cell(row['diff_ece'])} ({row['p_ece']:.2g}) "
                f"| {row['ats_bins']:.1f} |"
            )
        lines.append("")
    lines += ["## Claims", ""]
    lines += [f"- {claim}: {'PASS' if ok else 'FAIL'}" for claim, ok in claims.items()]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subsets", type=int, default=20)
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    info = describe_run()
    results = {}
    with threadpool_limits(limits=1):  # one BLAS thread: the same numbers anywhere
        for name in args.cases:
            print(f"{name}...", flush=True)
            results[name] = run_case(name, args.subsets)
            results[name]["summary"] = summarize(results[name])
    claims = checks(results)
    text = markdown(results, claims, info, args.subsets)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "small_calibration.md").write_text(text)
    payload = {"run": info, "subsets": args.subsets, "claims": claims}
    payload["cases"] = {
        name: {k: v for k, v in result.items() if k != "records"}
        for name, result in results.items()
    }
    (args.out / "small_calibration.json").write_text(
        json.dumps(payload, indent=2) + "\n"
    )
    print(text)
    sys.exit(0 if all(claims.values()) else 1)


if __name__ == "__main__":
    main()
