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
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import relplot
from _env import describe_run
from bench_metrics_speed import make_problem

from sklearn_gce.metrics import smooth_calibration_error

RESULTS = Path(__file__).resolve().parent / "results"
REQUIRED_SPEEDUP = 1.0


def time_once(function):
    start = time.perf_counter()
    value = function()
    return time.perf_counter() - start, float(value)


def compare(n_samples, n_classes, dtype, repeats):
    y_true, y_prob = make_problem(n_samples, n_classes, dtype)

    def ours():
        return smooth_calibration_error(y_true, y_prob)

    def theirs():
        confidence, hits = relplot.multiclass_logits_to_confidences(
            y_prob, y_true, probs=True
        )
        return relplot.smECE(confidence, hits)

    times = {"sklearn_gce": [], "relplot": []}
    values = {}
    for _ in range(repeats + 1):  # the first repeat is a warm-up
        for name, function in (("sklearn_gce", ours), ("relplot", theirs)):
            elapsed, values[name] = time_once(function)
            times[name].append(elapsed)
    medians = {name: statistics.median(t[1:]) for name, t in times.items()}
    return {
        "shape": [n_samples, n_classes],
        "dtype": np.dtype(dtype).name,
        "repeats": repeats,
        "times_s": {name: t[1:] for name, t in times.items()},
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
    parser.add_argument("--n-samples", type=int, default=1_000_000)
    parser.add_argument("--n-classes", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output", default="smooth_speed")
    parser.add_argument(
        "--no-write", action="store_true", help="print only (a loaded machine)"
    )
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
        env = describe_run(extra_packages=("relplot",))
        env["load_average_1_5_15min"] = [round(x, 2) for x in os.getloadavg()]
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"{args.output}.json").write_text(
            json.dumps({"environment": env, "results": rows}, indent=2) + "\n"
        )
        (RESULTS / f"{args.output}.md").write_text(markdown(env, rows))
    slow = [row["dtype"] for row in rows if row["speedup"] < REQUIRED_SPEEDUP]
    assert not slow, f"slower than relplot: {slow}"


if __name__ == "__main__":
    main()
