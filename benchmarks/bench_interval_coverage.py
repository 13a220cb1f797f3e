"""How often the bootstrap interval of a calibration error covers its target.

The simulation behind the coverage claims of
``sklearn_gce.metrics.bootstrap_calibration_error``'s docstring, on the whole
grid: softmax models from calibrated (temperature 1.0) to strongly
overconfident (0.6), test sets of 300 and 2 000 samples, every metric and
option of ``COVERAGE_SETTINGS``; 200 test sets per cell, 300 bootstrap
resamples each. The target is the expected error at that test-set size (its
mean over 1 000 fresh test sets). The slow tests check one column of it
(``tests/test_uncertainty.py``); the whole grid took 9 minutes with
``--n-jobs 2`` on 2 cores.

    python benchmarks/bench_interval_coverage.py [--n-jobs 2]

writes ``benchmarks/results/interval_coverage.{md,json}``. Deterministic
(fixed seeds); no timing is recorded.
"""

import argparse
import json
import warnings

from _env import describe_run, markdown_header
from joblib import Parallel, delayed

from sklearn_gce._testing import (
    COVERAGE_SETTINGS,
    expected_error_at_size,
    interval_coverage,
)

TEMPERATURES = (1.0, 0.8, 0.6)
SIZES = (300, 2000)


def cell(metric, options, temperature, n_samples, n_replications):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        target, spread = expected_error_at_size(
            metric, n_samples, temperature, 1000, seed=50_000, **options
        )
        rate, width = interval_coverage(
            metric, n_samples, temperature, n_replications, target, 300, **options
        )
    name = metric + "".join(f", {k}={v}" for k, v in options.items())
    return {
        "setting": name,
        "temperature": temperature,
        "n_samples": n_samples,
        "target": float(target),
        "coverage": rate,
        "median_width_over_spread": width / (2 * 1.96 * spread),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--replications", type=int, default=200)
    parser.add_argument("--out", default="benchmarks/results/interval_coverage")
    args = parser.parse_args()
    cells = [
        (metric, options, temperature, n_samples)
        for n_samples in SIZES
        for temperature in TEMPERATURES
        for metric, options in COVERAGE_SETTINGS
    ]
    rows = Parallel(n_jobs=args.n_jobs)(
        delayed(cell)(*c, args.replications) for c in cells
    )
    lines = [
        markdown_header("Coverage of the bootstrap intervals", describe_run()),
        f"{args.replications} test sets per row, 300 bootstrap resamples each, "
        '95% intervals (`method="normal"`); target: the expected error at '
        "the test-set size (mean over 1 000 fresh test sets); width: median "
        "interval width over 2 x 1.96 standard deviations of the error.",
        "",
        "| setting | temperature | samples | coverage | width / (2 x 1.96 sd) |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['setting']} | {row['temperature']} | {row['n_samples']} | "
            f"{row['coverage']:.3f} | {row['median_width_over_spread']:.2f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    with open(args.out + ".md", "w") as file:
        file.write(text)
    with open(args.out + ".json", "w") as file:
        json.dump(rows, file, indent=1)


if __name__ == "__main__":
    main()
