"""Speed of smooth_calibration_error against relplot's smECE, side by side.

Times ``sklearn_gce.metrics.smooth_calibration_error`` (validation included)
and relplot's top-label smooth ECE (``relplot.smECE`` of
``relplot.multiclass_logits_to_confidences(..., probs=True)``, the
reference implementation of Blasiok & Nakkiran 2023) on the same
1 000 000 x 100 probability matrix, in float32 and float64, alternating the
two in each repeat, and reports the medians and the two values (they differ
by relplot's discretisation, see the function's Notes). The claim checked at
the end: ours is at least as fast.

Run from the repository root (relplot is in the ``tests`` extra)::

    python benchmarks/bench_smooth_speed.py

It writes ``benchmarks/results/smooth_speed.json`` and ``.md``.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import relplot
from _speed import add_arguments, alternate, environment, make_problem, write_results

from sklearn_gce.metrics import smooth_calibration_error

REQUIRED_SPEEDUP = 1.0


def compare(n_samples, n_classes, dtype, repeats):
    y_true, y_prob = make_problem(n_samples, n_classes, dtype)

    def ours():
        return smooth_calibration_error(y_true, y_prob)

    def theirs():
        confidence, hits = relplot.multiclass_logits_to_confidences(
            y_prob, y_true, probs=True
        )
        return relplot.smECE(confidence, hits)

    times, medians, values = alternate(
        {"sklearn_gce": ours, "relplot": theirs}, repeats
    )
    return {
        "shape": [n_samples, n_classes],
        "dtype": np.dtype(dtype).name,
        "repeats": repeats,
        "times_s": times,
        "median_s": medians,
        "speedup": medians["relplot"] / medians["sklearn_gce"],
        "values": values,
    }


def markdown(env, rows):
    lines = [
        "# smooth_calibration_error vs relplot's smECE (top label)",
        "",
        f"Command: `{env['command']}` (medians of alternating repeats,"
        " validation included). The load average shows how busy the (shared)"
        " machine was.",
        "",
        *(f"- {key}: {value}" for key, value in env.items()),
        "",
        "| shape | dtype | sklearn_gce (s) | relplot (s) | speedup | values |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        shape = " x ".join(str(n) for n in row["shape"])
        values = row["values"]
        lines.append(
            f"| {shape} | {row['dtype']} | {row['median_s']['sklearn_gce']:.3f} |"
            f" {row['median_s']['relplot']:.3f} | {row['speedup']:.2f}x |"
            f" {values['sklearn_gce']:.5f} / {values['relplot']:.5f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser, output="smooth_speed")
    args = parser.parse_args(argv)

    rows = []
    for dtype in (np.float32, np.float64):
        row = compare(args.n_samples, args.n_classes, dtype, args.repeats)
        print(
            f"{row['dtype']}: sklearn_gce {row['median_s']['sklearn_gce']:.3f} s,"
            f" relplot {row['median_s']['relplot']:.3f} s,"
            f" speedup {row['speedup']:.2f}x"
        )
        rows.append(row)
    if not args.no_write:
        env = environment(extra_packages=("relplot",))
        write_results(args.output, env, rows, markdown(env, rows))
    slow = [row["dtype"] for row in rows if row["speedup"] < REQUIRED_SPEEDUP]
    assert not slow, f"slower than relplot: {slow}"


if __name__ == "__main__":
    main()
