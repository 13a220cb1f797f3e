"""Speed of expected_calibration_error against torchmetrics, side by side.

Times ``sklearn_gce.metrics.expected_calibration_error`` (validation included)
and ``torchmetrics.functional.classification.multiclass_calibration_error``
(its default validation included) on the same 1 000 000 x 100 probability
matrix, in float32 and float64, alternating the two in each repeat, and
reports the medians. The claim checked at the end: ours is at least 2x faster.

Run from the repository root::

    python benchmarks/bench_metrics_speed.py

It writes ``benchmarks/results/metrics_speed.json`` and ``.md``.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
from _env import describe_run
from torchmetrics.functional.classification import multiclass_calibration_error

from sklearn_gce.metrics import expected_calibration_error

RESULTS = Path(__file__).resolve().parent / "results"
REQUIRED_SPEEDUP = 2.0


def make_problem(n_samples, n_classes, dtype, seed=0):
    """Softmax of random logits, built in place to keep one N x K array."""
    rng = np.random.default_rng(seed)
    prob = rng.standard_normal((n_samples, n_classes), dtype=np.float32)
    prob *= 2
    prob = prob.astype(dtype, copy=False)
    np.exp(prob, out=prob)
    prob /= prob.sum(axis=1, keepdims=True)
    y_true = rng.integers(0, n_classes, n_samples)
    return y_true, prob


def time_once(function):
    start = time.perf_counter()
    value = function()
    return time.perf_counter() - start, float(value)


def compare(n_samples, n_classes, dtype, repeats):
    y_true, y_prob = make_problem(n_samples, n_classes, dtype)
    preds, target = torch.from_numpy(y_prob), torch.from_numpy(y_true)

    def ours():
        return expected_calibration_error(y_true, y_prob, n_bins=15, norm="l1")

    def theirs():
        return multiclass_calibration_error(
            preds, target, num_classes=n_classes, n_bins=15, norm="l1"
        )

    ours()
    theirs()  # warm-up
    ours_times, theirs_times = [], []
    for _ in range(repeats):
        elapsed, ours_value = time_once(ours)
        ours_times.append(elapsed)
        elapsed, theirs_value = time_once(theirs)
        theirs_times.append(elapsed)
    ours_median = statistics.median(ours_times)
    theirs_median = statistics.median(theirs_times)
    return {
        "shape": [n_samples, n_classes],
        "dtype": np.dtype(dtype).name,
        "repeats": repeats,
        "sklearn_gce_s": ours_times,
        "torchmetrics_s": theirs_times,
        "sklearn_gce_median_s": ours_median,
        "torchmetrics_median_s": theirs_median,
        "speedup": theirs_median / ours_median,
        "sklearn_gce_ece": ours_value,
        "torchmetrics_ece": theirs_value,
    }


def environment():
    info = describe_run(extra_packages=("torchmetrics",))
    info["load_average_1_5_15min"] = [round(x, 2) for x in os.getloadavg()]
    return info


def markdown(env, rows):
    lines = [
        "# expected_calibration_error vs torchmetrics",
        "",
        f"Command: `{env['command']}` (medians of alternating repeats,"
        " validation included on both sides; n_bins=15, norm='l1'). The load"
        " average shows how busy the (shared) machine was.",
        "",
        *(f"- {key}: {value}" for key, value in env.items()),
        "",
        "| shape | dtype | sklearn_gce (s) | torchmetrics (s) | speedup |"
        " ECE difference |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        shape = " x ".join(str(n) for n in row["shape"])
        difference = abs(row["sklearn_gce_ece"] - row["torchmetrics_ece"])
        lines.append(
            f"| {shape} | {row['dtype']} | {row['sklearn_gce_median_s']:.4f} |"
            f" {row['torchmetrics_median_s']:.4f} | {row['speedup']:.2f}x |"
            f" {difference:.1e} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=1_000_000)
    parser.add_argument("--n-classes", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--output", default="metrics_speed")
    args = parser.parse_args(argv)

    rows = []
    for dtype in (np.float32, np.float64):
        row = compare(args.n_samples, args.n_classes, dtype, args.repeats)
        print(
            f"{row['dtype']}: sklearn_gce {row['sklearn_gce_median_s']:.4f} s,"
            f" torchmetrics {row['torchmetrics_median_s']:.4f} s,"
            f" speedup {row['speedup']:.2f}x"
        )
        rows.append(row)
    env = environment()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.output}.json").write_text(
        json.dumps({"environment": env, "results": rows}, indent=2) + "\n"
    )
    (RESULTS / f"{args.output}.md").write_text(markdown(env, rows))
    slow = [row["dtype"] for row in rows if row["speedup"] < REQUIRED_SPEEDUP]
    assert not slow, f"less than {REQUIRED_SPEEDUP}x faster than torchmetrics: {slow}"


if __name__ == "__main__":
    main()
