"""Speed of classwise_calibration_error against an earlier revision, side by side.

The classwise error used to bin one column at a time; it now bins blocks of
rows over all columns with one ``bincount`` of (class, bin) keys. This script
loads ``sklearn_gce.metrics`` as it was at ``--baseline`` (a git revision, read
with ``git show``) next to the working tree's, times both on the same
1 000 000 x 100 probability matrix (float32, then float64), alternating
them in each repeat, checks that they agree, and reports the medians and
their ratio. The claim checked at the end: the working tree is at least 3x
faster, in both dtypes.

Run from the repository root (a git checkout)::

    python benchmarks/bench_classwise_speed.py --baseline bc5968a

It writes ``benchmarks/results/classwise_speed.json`` and ``.md``.
"""

import argparse
import importlib
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _speed import add_arguments, alternate, environment, make_problem, write_results

from sklearn_gce.metrics import classwise_calibration_error

REQUIRED_SPEEDUP = 3.0
PACKAGE = "sklearn_gce/metrics"


def load_baseline(revision, directory):
    """Import ``sklearn_gce.metrics`` of ``revision`` as ``baseline_metrics``."""
    names = subprocess.run(
        ["git", "ls-tree", "--name-only", f"{revision}:{PACKAGE}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    package = Path(directory) / "baseline_metrics"
    package.mkdir()
    for name in names:
        if not name.endswith(".py"):
            continue
        source = subprocess.run(
            ["git", "show", f"{revision}:{PACKAGE}/{name}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        (package / name).write_text(
            source.replace("sklearn_gce.metrics", "baseline_metrics")
        )
    sys.path.insert(0, str(directory))
    return importlib.import_module("baseline_metrics")


def compare(baseline, n_samples, n_classes, dtype, repeats):
    y_true, y_prob = make_problem(n_samples, n_classes, dtype)
    times, medians, values = alternate(
        {
            "baseline": lambda: baseline.classwise_calibration_error(y_true, y_prob),
            "current": lambda: classwise_calibration_error(y_true, y_prob),
        },
        repeats,
    )
    assert np.isclose(values["baseline"], values["current"], rtol=1e-9), values
    return {
        "shape": [n_samples, n_classes],
        "dtype": np.dtype(dtype).name,
        "repeats": repeats,
        "times_s": times,
        "median_s": medians,
        "speedup": medians["baseline"] / medians["current"],
        "values": values,
    }


def markdown(env, rows, baseline):
    lines = [
        "# classwise_calibration_error: working tree vs an earlier revision",
        "",
        f"Command: `{env['command']}` (medians of alternating repeats,"
        " validation included; n_bins=15, norm='l1'). The load average"
        " shows how busy the (shared) machine was.",
        "",
        *(f"- {key}: {value}" for key, value in env.items()),
        "",
        f"| shape | dtype | {baseline} (s) | working tree (s) | speedup |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        shape = " x ".join(str(n) for n in row["shape"])
        lines.append(
            f"| {shape} | {row['dtype']} | {row['median_s']['baseline']:.3f} |"
            f" {row['median_s']['current']:.3f} | {row['speedup']:.2f}x |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="bc5968a", help="git revision")
    add_arguments(parser, output="classwise_speed")
    args = parser.parse_args(argv)

    rows = []
    with tempfile.TemporaryDirectory() as directory:
        baseline = load_baseline(args.baseline, directory)
        for dtype in (np.float32, np.float64):
            row = compare(baseline, args.n_samples, args.n_classes, dtype, args.repeats)
            print(
                f"{row['dtype']}: baseline {row['median_s']['baseline']:.3f} s,"
                f" current {row['median_s']['current']:.3f} s,"
                f" speedup {row['speedup']:.2f}x"
            )
            rows.append(row)
    if not args.no_write:
        env = environment()
        env["baseline_revision"] = args.baseline
        write_results(args.output, env, rows, markdown(env, rows, args.baseline))
    slow = [row["dtype"] for row in rows if row["speedup"] < REQUIRED_SPEEDUP]
    assert not slow, f"not {REQUIRED_SPEEDUP}x faster than {args.baseline}: {slow}"


if __name__ == "__main__":
    main()
