"""Fit time under GCEClassifier's thread policy, against 1 and 2 torch threads.

Two networks on scikit-learn's digits (1797 images, 1 x 8 x 8):

- ``mlp``: the default ``GCEClassifier()`` (MLP 64-256-10, 19 210
  parameters; 19 210 x 64 rows is below the policy's threshold, so "auto"
  runs it on one thread);
- ``cnn``: ``CNN2dModule`` with channels (256, 512) (1 203 210 parameters;
  above the threshold, so "auto" keeps torch's threads).

Each is fitted with ``torch_threads="auto"`` (the policy, starting from
torch's default of one thread per core), ``torch_threads=1`` and
``torch_threads=2``, in interleaved rounds, first on an idle machine, then
with two CPU-bound background processes (``python -c "while True: pass"``,
started and stopped by this script). Reported: the median fit time of each
setting and its ratio to the policy's (per round, median over rounds).

``--sweep`` adds the measurement behind the threshold: the time of one
training epoch on one thread over its time on two, for MLPs of growing
width (parameters x batch rows from 1e6 to 1e8) and the CNN, idle and
loaded; "auto" should pick one thread where that ratio is at most about 1.

Run from the repository root on an otherwise idle machine (15 to 30
minutes on 2 cores: two threads beside two busy processes are slow, which is
what it measures)::

    python benchmarks/bench_threads.py --sweep

It writes ``benchmarks/results/threads.{md,json}``; ``--quick`` runs a small
version (few epochs, one round, nothing written) to check the script.
"""

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from _env import Background, describe_run, markdown_header
from sklearn.datasets import load_digits

from sklearn_gce import CNN2dModule, GCEClassifier, MLPModule
from sklearn_gce._threads import SMALL_WORK, threads_for

RESULTS = Path(__file__).resolve().parent / "results"
SETTINGS = {"policy": "auto", "1 thread": 1, "2 threads": 2}
CNN_CHANNELS = (256, 512)
SWEEP_WIDTHS = [(256,), (1024,), (4096,), (1024, 1024), (2048, 2048)]


def load_images():
    X, y = load_digits(return_X_y=True)
    return (X / 16).astype(np.float32).reshape(-1, 1, 8, 8), y


def make_classifier(network, torch_threads, epochs):
    """``network`` is "mlp", "cnn" or a tuple of MLP hidden sizes."""
    kwargs = dict(max_epochs=epochs, random_state=0, torch_threads=torch_threads)
    if network == "cnn":
        return GCEClassifier(CNN2dModule, module__channels=CNN_CHANNELS, **kwargs)
    if network == "mlp":
        return GCEClassifier(**kwargs)
    return GCEClassifier(MLPModule, module__hidden_sizes=network, **kwargs)


def fit_time(network, torch_threads, epochs, X, y):
    start = time.perf_counter()
    make_classifier(network, torch_threads, epochs).fit(X, y)
    return time.perf_counter() - start


def describe(network, X, y):
    """Parameters, work per batch and the policy's choice for ``network``."""
    net = make_classifier(network, "auto", 0).fit(X, y)
    n_params = sum(p.numel() for p in net.module_.parameters())
    rows = min(net.batch_size, len(X))
    choice = threads_for("auto", net.module_, rows)
    return {
        "parameters": n_params,
        "work_per_batch": n_params * rows,
        "auto_threads": choice or f"torch's ({torch.get_num_threads()})",
    }


def compare(network, epochs, rounds, X, y):
    """Interleaved fit times of each setting, and ratios to the policy."""
    fit_time(network, "auto", 1, X[:256], y[:256])  # warm-up
    times = {name: [] for name in SETTINGS}
    for _ in range(rounds):
        for name, value in SETTINGS.items():
            times[name].append(fit_time(network, value, epochs, X, y))
    return {
        "median_s": {name: statistics.median(t) for name, t in times.items()},
        "ratio_to_policy": {
            name: statistics.median(a / b for a, b in zip(t, times["policy"]))
            for name, t in times.items()
        },
        "times_s": times,
    }


def sweep(networks, epochs_of, rounds, X, y):
    """Median over rounds of (time on 1 thread) / (time on 2 threads)."""
    rows = []
    for network in networks:
        n_epochs = epochs_of["cnn" if network == "cnn" else "mlp"]
        fit_time(network, 1, 1, X[:256], y[:256])  # warm-up
        ratios = []
        for _ in range(rounds):
            one = fit_time(network, 1, n_epochs, X, y)
            two = fit_time(network, 2, n_epochs, X, y)
            ratios.append(one / two)
        rows.append(
            {
                "network": "cnn" if network == "cnn" else f"mlp {network}",
                **describe(network, X, y),
                "epochs": n_epochs,
                "one_over_two_threads": statistics.median(ratios),
            }
        )
    return rows


def markdown(info, results, args):
    lines = [markdown_header("Torch threads: the classifier's policy", info)]
    lines.append(
        f"Digits (1797 x 1 x 8 x 8), batch 64, {args.rounds} interleaved rounds; "
        f"the policy starts from torch's default of {args.default_threads} "
        f"threads; one thread below {SMALL_WORK:.0e} parameters x batch rows.\n"
    )
    for condition, by_network in results["fits"].items():
        lines += [
            f"## {condition}",
            "",
            "| network | parameters | auto picks | epochs | policy (s) "
            "| 1 thread (s) | 2 threads (s) | 1 thread / policy | 2 threads / policy |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for network, row in by_network.items():
            median, ratio = row["median_s"], row["ratio_to_policy"]
            lines.append(
                f"| {network} | {row['parameters']:,} | {row['auto_threads']} "
                f"| {row['epochs']} | {median['policy']:.2f} "
                f"| {median['1 thread']:.2f} | {median['2 threads']:.2f} "
                f"| {ratio['1 thread']:.2f} | {ratio['2 threads']:.2f} |"
            )
        lines.append("")
    for condition, rows in results.get("sweep", {}).items():
        lines += [
            f"## Threshold sweep, {condition}: a fit on 1 thread / on 2 threads",
            "",
            "| network | parameters | parameters x batch rows | auto picks "
            "| epochs | 1 thread / 2 threads |",
            "|---|---|---|---|---|---|",
        ]
        for row in rows:
            lines.append(
                f"| {row['network']} | {row['parameters']:,} "
                f"| {row['work_per_batch']:.2e} | {row['auto_threads']} "
                f"| {row['epochs']} | {row['one_over_two_threads']:.2f} |"
            )
        lines.append("")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mlp-epochs", type=int, default=20)
    parser.add_argument("--cnn-epochs", type=int, default=2)
    parser.add_argument(
        "--default-threads",
        type=int,
        default=os.cpu_count(),
        help="torch's threads outside the calls (torch's default: one per core)",
    )
    parser.add_argument("--sweep", action="store_true", help="the threshold sweep")
    parser.add_argument("--idle-only", action="store_true")
    parser.add_argument("--quick", action="store_true", help="check the script")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.mlp_epochs, args.cnn_epochs = 1, 1, 1
    torch.set_num_threads(args.default_threads)
    X, y = load_images()
    if args.quick:
        X, y = X[:300], y[:300]
    epochs = {"mlp": args.mlp_epochs, "cnn": args.cnn_epochs}
    conditions = {"idle": 0} if args.idle_only else {"idle": 0, "loaded": 2}
    results = {"fits": {}, "sweep": {}}
    for condition, n_background in conditions.items():
        with Background(n_background):
            results["fits"][condition] = {
                network: {
                    **describe(network, X, y),
                    "epochs": n_epochs,
                    **compare(network, n_epochs, args.rounds, X, y),
                }
                for network, n_epochs in epochs.items()
            }
            if args.sweep:
                networks = [*SWEEP_WIDTHS, "cnn"]
                sweep_epochs = {"mlp": max(1, args.mlp_epochs // 4), "cnn": 1}
                results["sweep"][condition] = sweep(
                    networks, sweep_epochs, args.rounds, X, y
                )
        assert torch.get_num_threads() == args.default_threads, "setting not restored"
    info = describe_run()
    info["load_average_1_5_15min"] = [round(x, 2) for x in os.getloadavg()]
    report = markdown(info, results, args)
    print(report)
    if not args.quick:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "threads.md").write_text(report)
        (RESULTS / "threads.json").write_text(
            json.dumps({"environment": info, **results}, indent=2) + "\n"
        )


if __name__ == "__main__":
    main()
