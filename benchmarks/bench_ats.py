"""ATS benchmarks: speed against scikit-learn's temperature scaling, and
held-out calibration against the number of bins.

``speed``: on one 1 000 000 x 100 float64 logit matrix, fit and predict with
scikit-learn's internal temperature calibrator
(``sklearn.calibration._TemperatureScaling``, what
``CalibratedClassifierCV(method="temperature")`` fits on the scores, so the
base estimator's cost is left out of both) and with
``AdaptiveTemperatureScaling`` (15 bins, the default, and 1 bin). Calls are
interleaved in each round; ratios are medians of per-round ratios. Peak
memory allocated during each fit is measured apart, with tracemalloc.
Claims checked: fit time ratio <= 1.0 and predict_proba ratio <= 1.5.

``bins``: synthetic logits whose true calibration map is a temperature
(``sklearn_gce._testing.make_tempered_logits``): a step (T = 0.5 below
confidence 0.5, 2.0 above), a smooth T(c) = exp(3 (c - 0.5)), and one
constant T = 1.7. For calibration sets of 2 000 and 20 000 samples, held-out
(100 000 samples) ECE (15 equal-width bins, L1, from
``sklearn_gce.metrics.expected_calibration_error``) and log loss of ATS for
n_bins from 1 (temperature scaling) to 50, over 10 seeds. Claims checked at
the default n_bins=15: ECE below half of temperature scaling's on the two
confidence-dependent cases; on the constant one, ECE within 0.005 and log
loss within 0.1% of temperature scaling's.

Run from the repository root::

    python benchmarks/bench_ats.py speed
    python benchmarks/bench_ats.py bins

They write ``benchmarks/results/ats_speed.{md,json}`` and
``benchmarks/results/ats_vs_bins.{md,json}``, and exit with status 1 if a
claim fails.
"""

import argparse
import json
import os
import statistics
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _env import describe_run, markdown_header
from scipy.special import softmax
from sklearn.calibration import _TemperatureScaling
from sklearn.metrics import log_loss

from sklearn_gce._testing import make_tempered_logits
from sklearn_gce.calibration import AdaptiveTemperatureScaling
from sklearn_gce.metrics import expected_calibration_error

RESULTS = Path(__file__).resolve().parent / "results"
MAX_FIT_RATIO = 1.0
MAX_PREDICT_RATIO = 1.5
N_BINS = [1, 2, 3, 5, 8, 10, 15, 20, 30, 40, 50]
SCENARIOS = {
    "step": lambda c: np.where(c < 0.5, 0.5, 2.0),
    "smooth": lambda c: np.exp(3.0 * (c - 0.5)),
    "constant": 1.7,
}
VARIANTS = {
    "ats": {},
    "ats_no_shrinkage": {"shrinkage": False},
    "ats_uniform": {"strategy": "uniform"},
}


# --- speed ----------------------------------------------------------------------


def make_scores(n_samples, n_classes, seed=0):
    """Random logits with a boost on the label, built in place (one N x K array)."""
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((n_samples, n_classes))
    logits *= 3.0
    y = rng.integers(0, n_classes, n_samples)
    logits[np.arange(n_samples), y] += 4.0
    return logits, y


def _timed_rounds(functions, rounds):
    """Call each function once per round, the order rotating between rounds.

    Returns, per name, the list of (wall, user CPU, system CPU) seconds, and
    the last result of each function. System time is mostly the kernel
    zeroing fresh pages for an 800 MB output: it comes in bursts on a shared
    machine, which is why user CPU time is reported beside wall time.
    """
    names = list(functions)
    times = {name: [] for name in names}
    results = {}
    for round_index in range(rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            results.pop(name, None)  # free the previous output first
            before, start = os.times(), time.perf_counter()
            results[name] = functions[name]()
            wall, after = time.perf_counter() - start, os.times()
            times[name].append(
                (wall, after.user - before.user, after.system - before.system)
            )
    return times, results


def _median_ratio(times, base, column):
    return statistics.median(t[column] / b[column] for t, b in zip(times, base))


def _peak_bytes(function):
    tracemalloc.start()
    function()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def run_speed(n_samples, n_classes, rounds):
    logits, y = make_scores(n_samples, n_classes)
    fitters = {
        "sklearn_temperature": lambda: _TemperatureScaling().fit(logits, y),
        "ats_15_bins": lambda: AdaptiveTemperatureScaling().fit(logits, y),
        "ats_1_bin": lambda: AdaptiveTemperatureScaling(n_bins=1).fit(logits, y),
    }
    fit_times, fitted = _timed_rounds(fitters, rounds)
    predictors = {
        "sklearn_temperature": lambda: fitted["sklearn_temperature"].predict(logits),
        "ats_15_bins": lambda: fitted["ats_15_bins"].predict_proba(logits),
        "ats_1_bin": lambda: fitted["ats_1_bin"].predict_proba(logits),
    }
    predict_times, probas = _timed_rounds(predictors, 3 * rounds)
    difference = np.abs(probas["ats_1_bin"] - probas["sklearn_temperature"]).max()
    del probas
    peaks = {name: _peak_bytes(fit) for name, fit in fitters.items()}

    rows = []
    for name in fitters:
        fit, predict = fit_times[name], predict_times[name]
        fit_base = fit_times["sklearn_temperature"]
        predict_base = predict_times["sklearn_temperature"]
        rows.append(
            {
                "method": name,
                "fit_s": statistics.median(t[0] for t in fit),
                "fit_ratio": _median_ratio(fit, fit_base, 0),
                "fit_user_ratio": _median_ratio(fit, fit_base, 1),
                "predict_s": statistics.median(t[0] for t in predict),
                "predict_ratio": _median_ratio(predict, predict_base, 0),
                "predict_user_ratio": _median_ratio(predict, predict_base, 1),
                "peak_fit_mb": peaks[name] / 2**20,
            }
        )
    ours = rows[1]
    versus_one_bin = [
        _median_ratio(predict_times["ats_15_bins"], predict_times["ats_1_bin"], c)
        for c in (0, 1)
    ]
    checks = {
        f"fit ratio (ATS 15 bins / sklearn) <= {MAX_FIT_RATIO}": ours["fit_ratio"]
        <= MAX_FIT_RATIO,
        f"predict_proba ratio (ATS 15 bins / sklearn) <= {MAX_PREDICT_RATIO}": ours[
            "predict_ratio"
        ]
        <= MAX_PREDICT_RATIO,
    }
    return {
        "shape": [n_samples, n_classes],
        "rounds": rounds,
        "rows": rows,
        "raw_fit_wall_user_sys_s": fit_times,
        "raw_predict_wall_user_sys_s": predict_times,
        "predict_ratio_vs_ats_1_bin_wall_user": versus_one_bin,
        "max_abs_proba_difference_1_bin_vs_sklearn": float(difference),
        "fitted_temperature_sklearn": float(1 / fitted["sklearn_temperature"].beta_),
        "fitted_temperature_ats_1_bin": float(fitted["ats_1_bin"].temperatures_[0]),
        "checks": checks,
    }


def speed_markdown(result, info):
    n, k = result["shape"]
    lines = [
        markdown_header("ATS speed against scikit-learn's temperature scaling", info),
        f"Logits: {n} x {k} float64 (one array, {n * k * 8 / 2**20:.0f} MB). "
        f"Medians over {result['rounds']} rounds (fit) and "
        f"{3 * result['rounds']} rounds (predict_proba), each round calling "
        "every method once in a rotating order. Ratios are medians of per-round "
        "ratios to `sklearn_temperature` (scikit-learn's `_TemperatureScaling`, "
        "fitted on the same array): on wall time, and on user CPU time, which "
        "leaves out the kernel's page zeroing for the large outputs (it comes "
        "in bursts on this shared machine). Peak memory: extra bytes allocated "
        "during one fit (tracemalloc), the input array excluded.",
        "",
        "| method | fit (s) | fit ratio (wall / user) | predict_proba (s) "
        "| predict ratio (wall / user) | peak fit memory (MB) |",
        "|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        lines.append(
            f"| {row['method']} | {row['fit_s']:.2f} "
            f"| {row['fit_ratio']:.2f} / {row['fit_user_ratio']:.2f} "
            f"| {row['predict_s']:.2f} "
            f"| {row['predict_ratio']:.2f} / {row['predict_user_ratio']:.2f} "
            f"| {row['peak_fit_mb']:.0f} |"
        )
    wall, user = result["predict_ratio_vs_ats_1_bin_wall_user"]
    lines += [
        "",
        "- predict_proba, ATS 15 bins / ATS 1 bin (our own global temperature "
        f"scaling, the leanest baseline): {wall:.2f} wall, {user:.2f} user CPU",
        "- one bin vs scikit-learn: temperatures "
        f"{result['fitted_temperature_ats_1_bin']:.6f} vs "
        f"{result['fitted_temperature_sklearn']:.6f}, largest probability "
        f"difference {result['max_abs_proba_difference_1_bin_vs_sklearn']:.1e}",
        "",
        "Claims:",
        "",
    ]
    lines += [
        f"- {claim}: {'PASS' if ok else 'FAIL'}"
        for claim, ok in result["checks"].items()
    ]
    return "\n".join(lines) + "\n"


# --- calibration against n_bins -------------------------------------------------


def _errors(y, proba, n_classes):
    labels = np.arange(n_classes)
    return (
        expected_calibration_error(y, proba, labels=labels),
        log_loss(y, proba, labels=labels),
    )


def run_bins(n_classes, calibration_sizes, n_test, seeds):
    records = []
    for scenario, temperature in SCENARIOS.items():
        for seed in seeds:
            z_test, y_test = make_tempered_logits(
                n_test, n_classes, temperature, random_state=10_000 + seed
            )
            confidence = softmax(z_test, axis=1).max(axis=1)
            truth = temperature(confidence) if callable(temperature) else temperature
            oracle = softmax(z_test / np.broadcast_to(truth, (n_test,))[:, None], 1)
            records.append(
                dict(
                    scenario=scenario,
                    n_cal=0,
                    seed=seed,
                    variant="oracle",
                    n_bins=0,
                    **dict(zip(("ece", "nll"), _errors(y_test, oracle, n_classes))),
                )
            )
            for n_cal in calibration_sizes:
                z_cal, y_cal = make_tempered_logits(
                    n_cal, n_classes, temperature, random_state=seed
                )
                for variant, params in VARIANTS.items():
                    for n_bins in N_BINS:
                        ats = AdaptiveTemperatureScaling(n_bins=n_bins, **params)
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore", UserWarning)
                            ats.fit(z_cal, y_cal)
                        ece, nll = _errors(y_test, ats.predict_proba(z_test), n_classes)
                        records.append(
                            dict(
                                scenario=scenario,
                                n_cal=n_cal,
                                seed=seed,
                                variant=variant,
                                n_bins=n_bins,
                                bins_formed=ats.n_bins_,
                                ece=ece,
                                nll=nll,
                            )
                        )
    return records


def _summary(records, **match):
    chosen = [r for r in records if all(r[k] == v for k, v in match.items())]
    ece = np.array([r["ece"] for r in chosen])
    nll = np.array([r["nll"] for r in chosen])
    return float(ece.mean()), float(ece.std()), float(nll.mean()), float(nll.std())


def bins_summary(records):
    """Mean and std over seeds of every (scenario, n_cal, variant, n_bins)."""
    keys = sorted(
        {(r["scenario"], r["n_cal"], r["variant"], r["n_bins"]) for r in records}
    )
    summary = []
    for scenario, n_cal, variant, n_bins in keys:
        ece, ece_std, nll, nll_std = _summary(
            records, scenario=scenario, n_cal=n_cal, variant=variant, n_bins=n_bins
        )
        summary.append(
            dict(
                scenario=scenario,
                n_cal=n_cal,
                variant=variant,
                n_bins=n_bins,
                ece_mean=round(ece, 6),
                ece_std=round(ece_std, 6),
                nll_mean=round(nll, 6),
                nll_std=round(nll_std, 6),
            )
        )
    return summary


def bins_checks(records, calibration_sizes):
    checks = {}
    for n_cal in calibration_sizes:
        for scenario in SCENARIOS:
            ts = _summary(
                records, scenario=scenario, n_cal=n_cal, variant="ats", n_bins=1
            )
            ats = _summary(
                records, scenario=scenario, n_cal=n_cal, variant="ats", n_bins=15
            )
            if scenario == "constant":
                claim = f"{scenario}, n_cal={n_cal}: ECE within 0.005, log loss 0.1%"
                checks[claim] = bool(
                    ats[0] <= ts[0] + 0.005 and ats[2] <= ts[2] * 1.001
                )
            else:
                claim = f"{scenario}, n_cal={n_cal}: ECE below half of TS's"
                checks[claim] = bool(ats[0] < ts[0] / 2)
    return checks


def bins_markdown(records, checks, settings, info):
    lines = [
        markdown_header("ATS held-out calibration against n_bins", info),
        f"{settings['n_classes']} classes; held-out test sets of "
        f"{settings['n_test']} samples; mean ± std over seeds "
        f"{settings['seeds']}. ECE: 15 equal-width bins, L1 "
        "(`sklearn_gce.metrics.expected_calibration_error`); NLL: log loss. "
        "`ats` is the default (equal-mass bins, empirical-Bayes shrinkage), "
        "`ats_no_shrinkage` keeps each bin's own temperature, `ats_uniform` uses "
        "equal-width bins. n_bins=1 is ordinary temperature scaling; "
        "`bins formed` is the mean number of bins `ats` could form "
        "(min_samples_per_bin=50). `oracle` applies the true temperature map: "
        "its ECE is the floor that a finite test set measures.",
        "",
    ]
    lines += [
        "## Summary: temperature scaling (n_bins=1) against ATS (n_bins=15)",
        "",
        "| case | calibration samples | TS ECE | ATS ECE | TS NLL | ATS NLL "
        "| oracle ECE |",
        "|---|---|---|---|---|---|---|",
    ]
    for scenario in SCENARIOS:
        oracle = _summary(records, scenario=scenario, variant="oracle")
        for n_cal in settings["calibration_sizes"]:
            match = dict(scenario=scenario, n_cal=n_cal, variant="ats")
            ts = _summary(records, n_bins=1, **match)
            ats = _summary(records, n_bins=15, **match)
            lines.append(
                f"| {scenario} | {n_cal} | {ts[0]:.4f} | {ats[0]:.4f} "
                f"| {ts[2]:.4f} | {ats[2]:.4f} | {oracle[0]:.4f} |"
            )
    lines.append("")
    for scenario in SCENARIOS:
        for n_cal in settings["calibration_sizes"]:
            oracle = _summary(records, scenario=scenario, variant="oracle")
            lines += [
                f"## {scenario}, {n_cal} calibration samples",
                "",
                f"oracle: ECE {oracle[0]:.4f} ± {oracle[1]:.4f}, NLL {oracle[2]:.4f}",
                "",
                "| n_bins | bins formed | ats ECE | ats NLL | ats_no_shrinkage ECE "
                "| ats_uniform ECE |",
                "|---|---|---|---|---|---|",
            ]
            for n_bins in N_BINS:
                match = dict(scenario=scenario, n_cal=n_cal, n_bins=n_bins)
                ats = _summary(records, variant="ats", **match)
                alone = _summary(records, variant="ats_no_shrinkage", **match)
                uniform = _summary(records, variant="ats_uniform", **match)
                formed = np.mean(
                    [
                        r["bins_formed"]
                        for r in records
                        if r["variant"] == "ats"
                        and all(r[k] == v for k, v in match.items())
                    ]
                )
                lines.append(
                    f"| {n_bins} | {formed:.1f} | {ats[0]:.4f} ± {ats[1]:.4f} "
                    f"| {ats[2]:.4f} | {alone[0]:.4f} ± {alone[1]:.4f} "
                    f"| {uniform[0]:.4f} ± {uniform[1]:.4f} |"
                )
            lines.append("")
    lines += ["Claims (default n_bins=15 against n_bins=1):", ""]
    lines += [f"- {claim}: {'PASS' if ok else 'FAIL'}" for claim, ok in checks.items()]
    return "\n".join(lines) + "\n"


# --- command line ----------------------------------------------------------------


def _write(name, markdown, payload):
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.md").write_text(markdown)
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    print(markdown)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=["speed", "bins"])
    parser.add_argument("--n-samples", type=int, default=1_000_000)
    parser.add_argument("--n-classes", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    info = describe_run()
    info["load_average_1_5_15min"] = str(os.getloadavg())
    if args.what == "speed":
        result = run_speed(args.n_samples, args.n_classes, args.rounds)
        _write("ats_speed", speed_markdown(result, info), {"run": info, **result})
        ok = all(result["checks"].values())
    else:
        settings = dict(
            n_classes=10,
            calibration_sizes=[2000, 20000],
            n_test=100_000,
            seeds=list(range(args.seeds)),
        )
        records = run_bins(
            settings["n_classes"],
            settings["calibration_sizes"],
            settings["n_test"],
            settings["seeds"],
        )
        checks = bins_checks(records, settings["calibration_sizes"])
        payload = {"run": info, "settings": settings, "checks": checks}
        payload["summary"] = bins_summary(records)
        _write("ats_vs_bins", bins_markdown(records, checks, settings, info), payload)
        ok = all(checks.values())
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
