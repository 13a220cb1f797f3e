"""Shared by the metric speed benchmarks: the problem, the timing, the files."""

import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
from _env import describe_run

RESULTS = Path(__file__).resolve().parent / "results"


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


def alternate(functions, repeats):
    """Time ``functions`` (a dict) in turn, ``repeats`` times after a warm-up.

    Returns the times of each, their medians and the last value of each.
    """
    values = {name: float(function()) for name, function in functions.items()}
    times = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            elapsed, values[name] = time_once(function)
            times[name].append(elapsed)
    medians = {name: statistics.median(t) for name, t in times.items()}
    return times, medians, values


def add_arguments(parser, *, output, repeats=5):
    """The options every speed benchmark takes."""
    parser.add_argument("--n-samples", type=int, default=1_000_000)
    parser.add_argument("--n-classes", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=repeats)
    parser.add_argument("--output", default=output)
    parser.add_argument(
        "--no-write", action="store_true", help="print only (a loaded machine)"
    )


def environment(extra_packages=()):
    """What a result file says about its run, with the machine's load."""
    info = describe_run(extra_packages=extra_packages)
    info["load_average_1_5_15min"] = [round(x, 2) for x in os.getloadavg()]
    return info


def write_results(output, env, rows, markdown):
    """``results/<output>.json`` (environment and rows) and ``.md``."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{output}.json").write_text(
        json.dumps({"environment": env, "results": rows}, indent=2) + "\n"
    )
    (RESULTS / f"{output}.md").write_text(markdown)
