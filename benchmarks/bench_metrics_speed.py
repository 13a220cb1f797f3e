"""Speed of expected_calibration_error against torchmetrics, side by side.

Times ``sklearn_gce.metrics.expected_calibration_error`` (validation included)
and ``torchmetrics.functional.classification.multiclass_calibration_error``
(its default validation included) on the same 1 000 000 x 100 probability
matrix, in float32 and float64, alternating the two in each repeat, and
reports the medians. The claim checked at the end: ours is at least 2x faster.

Run from the repository root::

    python benchmarks/bench_metrics_speed.py

It writes ``benchmarks/results/metrics_speed.json`` and ``.md`` (not with
``--no-write``).
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
from _speed import add_arguments, alternate, environment, make_problem, write_results
from torchmetrics.functional.classification import multiclass_calibration_error

from sklearn_gce.metrics import expected_calibration_error

REQUIRED_SPEEDUP = 2.0


def compare(n_samples, n_classes, dtype, repeats):
    y_true, y_prob = make_problem(n_samples, n_classes, dtype)
    preds, target = torch.from_numpy(y_prob), torch.from_numpy(y_true)

    def ours():
        return expected_calibration_error(y_true, y_prob, n_bins=15, norm="l1")

    def theirs():
        return multiclass_calibration_error(
            preds, target, num_classes=n_classes, n_bins=15, norm="l1"
        )

    times, medians, values = alternate(
        {"sklearn_gce": ours, "torchmetrics": theirs}, repeats
    )
    return {
        "shape": [n_samples, n_classes],
        "dtype": np.dtype(dtype).name,
        "repeats": repeats,
        **{f"{name}_s": t for name, t in times.items()},
        **{f"{name}_median_s": m for name, m in medians.items()},
        "speedup": medians["torchmetrics"] / medians["sklearn_gce"],
        **{f"{name}_ece": v for name, v in values.items()},
    }


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
    add_arguments(parser, output="metrics_speed", repeats=7)
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
    if not args.no_write:
        env = environment(extra_packages=("torchmetrics",))
        write_results(args.output, env, rows, markdown(env, rows))
    slow = [row["dtype"] for row in rows if row["speedup"] < REQUIRED_SPEEDUP]
    assert not slow, f"less than {REQUIRED_SPEEDUP}x faster than torchmetrics: {slow}"


if __name__ == "__main__":
    main()
