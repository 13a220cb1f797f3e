"""Test accuracy of the convolutional networks against the default MLP.

``mnist1d``: the MNIST-1D authors' standard split (Greydanus 2020): the
``mnist1d`` package's default generation (5000 signals of 40 points, its seed
42), its first 4000 signals for training and last 1000 for testing, as given
by ``make_dataset``. The authors report a test accuracy of 94% for their CNN
(three convolutions of 25 channels; Adam, lr 1e-2, batch 100, 6000 steps)
and 68% for an MLP. Here: :class:`~sklearn_gce.CNN1dModule` with its
recommended settings (Adam, lr 1e-2, 20 epochs, batch 64) and with the
classifier's defaults (lr 1e-3, 60 epochs, batch 64), the default
:class:`~sklearn_gce.MLPModule` (one hidden layer of 256) with the same two
settings, and :class:`~sklearn_gce.ResNet1dModule` (its defaults: 3 stages
of 2 residual blocks) with lr 1e-3 for 15 epochs, on fewer seeds as it is
slower on a CPU; raw signals, as the authors use them.

``digits``: scikit-learn's handwritten digits as 1 x 8 x 8 images, on the
train and test parts of the library's split of each seed
(``sklearn_gce.datasets.split_dataset``: 60% / 20% calibration, unused /
20%), standard-scaled as the comparison command does:
:class:`~sklearn_gce.CNN2dModule` against the default MLP, both with the
classifier's defaults and with lr 1e-2 for 20 epochs.

Every network is trained with cross-entropy (``torch.nn.CrossEntropyLoss``)
and with GCE (``reg_weight=1``), one fit per seed (``random_state=seed``: the
initial weights and batch order; on digits also the split). Accuracies are
deterministic on a given machine; fit times are indicative only (CPU, one
torch thread; see the load average recorded with the run).

Claims checked (exit status 1 if one fails): on MNIST-1D, CNN1dModule with
its recommended settings reaches a mean test accuracy of at least 0.90 with
each loss and beats the MLP by at least 0.15; on digits, CNN2dModule reaches
at least 0.95 with each loss.

Run from the repository root (about an hour on 2 loaded cores)::

    OMP_NUM_THREADS=1 python benchmarks/cnn_accuracy.py

It writes ``benchmarks/results/cnn_accuracy.{md,json}``; ``--quick`` runs a
small version (one seed, few epochs, no claims) to check the script.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from _env import describe_run, markdown_header
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_gce import (
    CNN1dModule,
    CNN2dModule,
    GCEClassifier,
    MLPModule,
    ResNet1dModule,
)
from sklearn_gce.datasets import load_dataset, split_dataset

RESULTS = Path(__file__).resolve().parent / "results"
LOSSES = {
    "CE": {"criterion": torch.nn.CrossEntropyLoss},
    "GCE": {"reg_weight": 1.0},
}
SETTINGS = {
    "recommended": {"lr": 1e-2, "max_epochs": 20, "batch_size": 64},
    "defaults": {"lr": 1e-3, "max_epochs": 60, "batch_size": 64},
    "resnet": {"lr": 1e-3, "max_epochs": 15, "batch_size": 64},
}
# (dataset, model, setting), in the order of the report
PLAN = [
    ("mnist1d", "CNN1dModule", "recommended"),
    ("mnist1d", "CNN1dModule", "defaults"),
    ("mnist1d", "MLPModule", "recommended"),
    ("mnist1d", "MLPModule", "defaults"),
    ("mnist1d", "ResNet1dModule", "resnet"),
    ("digits", "CNN2dModule", "recommended"),
    ("digits", "CNN2dModule", "defaults"),
    ("digits", "MLPModule", "recommended"),
    ("digits", "MLPModule", "defaults"),
]
MODULES = {
    ("mnist1d", "CNN1dModule"): (CNN1dModule, (1, 40)),
    ("mnist1d", "MLPModule"): (MLPModule, (40,)),
    ("mnist1d", "ResNet1dModule"): (ResNet1dModule, (1, 40)),
    ("digits", "CNN2dModule"): (CNN2dModule, (1, 8, 8)),
    ("digits", "MLPModule"): (MLPModule, (64,)),
}
SETTINGS_OF_MLP = ("recommended", "defaults")
MIN_CNN1D, MIN_GAP_OVER_MLP, MIN_CNN2D = 0.90, 0.15, 0.95


def mnist1d_split():
    """The authors' split: mnist1d's default generation, as float32."""
    from mnist1d.data import get_dataset_args, make_dataset

    data = make_dataset(get_dataset_args())
    return (
        data["x"].astype(np.float32),
        data["y"].astype(np.int64),
        data["x_test"].astype(np.float32),
        data["y_test"].astype(np.int64),
    )


def digits_split(seed):
    split = split_dataset(load_dataset("digits"), seed)
    return split.X_train, split.y_train, split.X_test, split.y_test


def make_classifier(module, input_shape, n_classes, loss, setting, seed):
    params = {"module__n_classes": n_classes, **LOSSES[loss], **SETTINGS[setting]}
    if module is MLPModule:
        params["module__n_features"] = int(np.prod(input_shape))
    else:
        params["module__input_shape"] = input_shape
    return GCEClassifier(module=module, random_state=seed, **params)


def run_one(dataset, model, loss, setting, seed, data, quick):
    X_train, y_train, X_test, y_test = data
    module, input_shape = MODULES[dataset, model]
    clf = make_classifier(module, input_shape, 10, loss, setting, seed)
    if quick:
        clf.set_params(max_epochs=2)
    if dataset == "digits":  # flat rows, scaled as the comparison command does
        clf = make_pipeline(StandardScaler(), clf)
        X_train, X_test = X_train.astype(np.float32), X_test.astype(np.float32)
    start = time.perf_counter()
    clf.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    return {
        "dataset": dataset,
        "model": model,
        "setting": setting,
        "loss": loss,
        "seed": seed,
        "test_accuracy": float(np.mean(clf.predict(X_test) == y_test)),
        "fit_seconds": round(seconds, 2),
    }


def run_all(seeds, resnet_seeds, quick):
    records = []
    mnist1d = mnist1d_split()
    for seed in seeds:
        digits = digits_split(seed)
        for dataset, model, setting in PLAN:
            if model == "ResNet1dModule" and seed >= resnet_seeds:
                continue
            data = mnist1d if dataset == "mnist1d" else digits
            for loss in LOSSES:
                record = run_one(dataset, model, loss, setting, seed, data, quick)
                print(json.dumps(record), flush=True)
                records.append(record)
    return records


def _plan_order(record):
    key = (record["dataset"], record["model"], record["setting"])
    return PLAN.index(key), list(LOSSES).index(record["loss"]), record["seed"]


def summarize(records):
    groups = {}
    for record in sorted(records, key=_plan_order):
        key = (record["dataset"], record["model"], record["setting"], record["loss"])
        groups.setdefault(key, []).append(record)
    summary = []
    for (dataset, model, setting, loss), group in groups.items():
        accuracies = [r["test_accuracy"] for r in group]
        summary.append(
            {
                "dataset": dataset,
                "model": model,
                "setting": setting,
                "loss": loss,
                "mean_accuracy": round(statistics.mean(accuracies), 4),
                "sd_accuracy": round(statistics.stdev(accuracies), 4)
                if len(accuracies) > 1
                else 0.0,
                "accuracies": accuracies,
                "median_fit_seconds": statistics.median(
                    r["fit_seconds"] for r in group
                ),
            }
        )
    return summary


def check_claims(summary):
    mean = {
        (s["dataset"], s["model"], s["setting"], s["loss"]): s["mean_accuracy"]
        for s in summary
    }
    checks = {}
    for loss in LOSSES:
        cnn = mean["mnist1d", "CNN1dModule", "recommended", loss]
        mlp = max(mean["mnist1d", "MLPModule", s, loss] for s in SETTINGS_OF_MLP)
        checks[f"MNIST-1D, {loss}: CNN1dModule >= {MIN_CNN1D}"] = cnn >= MIN_CNN1D
        checks[f"MNIST-1D, {loss}: CNN1dModule - best MLP >= {MIN_GAP_OVER_MLP}"] = (
            cnn - mlp >= MIN_GAP_OVER_MLP
        )
        best_cnn2d = max(
            mean["digits", "CNN2dModule", s, loss] for s in SETTINGS_OF_MLP
        )
        checks[f"digits, {loss}: CNN2dModule >= {MIN_CNN2D}"] = best_cnn2d >= MIN_CNN2D
    return checks


def markdown(summary, checks, info, seeds):
    setting_text = {
        name: f"lr {s['lr']:g}, {s['max_epochs']} epochs, batch {s['batch_size']}"
        for name, s in SETTINGS.items()
    }
    lines = [
        markdown_header("Accuracy of the convolutional networks", info),
        f"Seeds {seeds[0]}-{seeds[-1]}; Adam; test accuracy, mean ± sd over seeds. "
        "MNIST-1D: the authors' 4000 / 1000 split of mnist1d's default "
        "generation (their CNN: 94%, their MLP: 68%). Digits: 1 x 8 x 8 images, "
        "the library's split of each seed (60% train, 20% test), standard-scaled.",
        "",
        "Settings: "
        + "; ".join(f"{name} = {text}" for name, text in setting_text.items())
        + ".",
        "",
        "Fit times were measured on a shared, loaded machine (other jobs were "
        "running on its 2 cores): indicative only, not a speed measurement.",
        "",
        "| dataset | model | setting | loss | test accuracy | per seed "
        "| median fit time (s, shared machine) |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in summary:
        per_seed = ", ".join(f"{a:.3f}" for a in s["accuracies"])
        lines.append(
            f"| {s['dataset']} | {s['model']} | {s['setting']} | {s['loss']} "
            f"| **{s['mean_accuracy']:.3f}** ± {s['sd_accuracy']:.3f} | {per_seed} "
            f"| {s['median_fit_seconds']:.1f} |"
        )
    lines += ["", "Claims:", ""]
    lines += [f"- {claim}: {'PASS' if ok else 'FAIL'}" for claim, ok in checks.items()]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument(
        "--resnet-seeds", type=int, default=2, help="seeds of the slower ResNet1dModule"
    )
    parser.add_argument(
        "--quick", action="store_true", help="one seed, 2 epochs, results not written"
    )
    parser.add_argument("--out", default=str(RESULTS / "cnn_accuracy"))
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    seeds = list(range(1 if args.quick else args.seeds))
    info = describe_run(extra_packages=["mnist1d"])
    records = run_all(seeds, args.resnet_seeds, args.quick)
    info["load_average_1_5_15min"] = str(os.getloadavg())
    summary = summarize(records)
    checks = {} if args.quick else check_claims(summary)
    text = markdown(summary, checks, info, seeds)
    print(text)
    if args.quick:
        return
    out = Path(args.out)
    out.with_suffix(".md").write_text(text)
    payload = {"run": info, "settings": SETTINGS, "checks": checks}
    payload |= {"summary": summary, "runs": records}
    out.with_suffix(".json").write_text(json.dumps(payload, indent=2) + "\n")
    sys.exit(0 if all(checks.values()) else 1)


if __name__ == "__main__":
    main()
