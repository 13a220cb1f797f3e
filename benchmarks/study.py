"""The comparison study at a larger scale, through the same engine as the command.

Every number comes from :func:`sklearn_gce.compare.run_comparison` (the code
path of ``sklearn-gce compare``); this script only chooses the settings and
writes the report.

1. ``grid``: the six losses (ce, gce, ls, focal, flsd53, dualfocal) x the
   post-hoc methods (none, temperature scaling, ATS with 15 bins) on digits,
   mnist1d (10 000 generated samples) and mnist1d-lt100 (training split
   long-tailed, imbalance ratio 100), 10 seeds each; test-split accuracy,
   ECE, AdaECE, classwise ECE, NLL and Brier, mean ± std; paired Wilcoxon
   tests of GCE against each baseline.
2. ``ats_bins``: on the same trained networks, ATS with n_bins from 1 to 50
   (fitted on the calibration split, scored on the test split), and ATS (15
   bins) against temperature scaling, paired over seeds.
3. ``ood``: networks trained on classes 0-5 of digits and of mnist1d; AUROC
   of the maximum probability between held-out test samples of the known
   classes and all samples of the unknown classes 6-9.

Run from the repository root::

    python benchmarks/study.py            # the committed study
    python benchmarks/study.py --quick --out /tmp/study   # a smoke test

It writes ``study.md``, ``study_runs.csv``, ``study.json`` and a few PNGs to
``benchmarks/results/`` (or ``--out``).
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _env import describe_run, markdown_header

from sklearn_gce.compare import (
    COLUMNS,
    DEFAULT_LOSSES,
    METRICS,
    ProgressBar,
    TrainingConfig,
    paired_tests,
    parse_losses,
    parse_methods,
    plot_reliability,
    run_comparison,
    summarize,
    wilcoxon_paired,
    write_csv,
    write_json,
)
from sklearn_gce.datasets import load_dataset

RESULTS = Path(__file__).resolve().parent / "results"
DATASETS = ("digits", "mnist1d", "mnist1d-lt100")
OOD_DATASETS = ("digits", "mnist1d")
UNKNOWN_CLASSES = (6, 7, 8, 9)
MAIN_METHODS = ("none", "temperature", "ats")
SWEEP_BINS = (1, 2, 3, 5, 8, 10, 15, 20, 30, 40, 50)
TESTED = ("accuracy", "ece", "adaece", "classwise_ece")
TITLES = {key: title for key, title in COLUMNS.items() if key != "fit_seconds"}


def _methods():
    sweep = ",".join(f"ats:{b}" for b in SWEEP_BINS if b != 15)
    return parse_methods(",".join(MAIN_METHODS) + "," + sweep)


def _run(name, losses, methods, seeds, config, unknown=None, keep=()):
    dataset = load_dataset(name)
    label = f"{name} (unknown classes {list(unknown)})" if unknown else name
    print(f"{label}: {dataset.description}", file=sys.stderr)
    bar = ProgressBar()
    try:
        comparison = run_comparison(
            dataset,
            losses,
            methods,
            seeds=seeds,
            config=config,
            unknown_classes=unknown,
            keep_proba=keep,
            progress=bar,
        )
    finally:
        bar.close()
    return comparison


# --- markdown ---------------------------------------------------------------------


def _pm(row, metric, digits=4):
    return f"{row[f'{metric}_mean']:.{digits}f} ± {row[f'{metric}_std']:.{digits}f}"


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _summary_table(summary, metrics):
    header = ["loss", "post-hoc", *(TITLES[m] for m in metrics), "fit s"]
    rows = [
        [
            row["loss"],
            row["method"],
            *(_pm(row, m) for m in metrics),
            f"{row['fit_seconds_mean']:.2f}",
        ]
        for row in summary
        if row["method"] in MAIN_METHODS
    ]
    return _table(header, rows)


def _tests_table(tests, metrics):
    """One row per (baseline, method): GCE minus baseline, and p, per metric."""
    cells = {}
    for t in tests:
        cells[t["baseline"], t["method"], t["metric"]] = t
    header = ["baseline", "post-hoc"] + [
        f"{TITLES[m]}: GCE − baseline (p)" for m in metrics
    ]
    rows = []
    for baseline in dict.fromkeys(t["baseline"] for t in tests):
        for method in MAIN_METHODS:
            row = [baseline, method]
            for metric in metrics:
                t = cells.get((baseline, method, metric))
                if t is None and metric == "accuracy":
                    t = cells.get((baseline, MAIN_METHODS[0], metric))
                row.append(_test_cell(t))
            rows.append(row)
    return _table(header, rows)


def _test_cell(t):
    if t is None:
        return ""
    mark = {"GCE better": " **better**", "GCE worse": " **worse**"}.get(
        t["verdict"], ""
    )
    return f"{t['mean_diff']:+.4f} ({t['p_value']:.2g}){mark}"


def _sweep_table(summary, losses):
    by = {(row["loss"], row["method"]): row for row in summary}
    header = ["n_bins", "bins formed"] + [f"{loss} ECE" for loss in losses]
    rows = []
    for bins in SWEEP_BINS:
        key = "ats" if bins == 15 else f"ats:{bins}"
        formed = by[losses[0], key].get("ats_bins_formed_mean", float("nan"))
        rows.append(
            [bins, f"{formed:.1f}"] + [_pm(by[loss, key], "ece") for loss in losses]
        )
    ts = ["TS (sklearn)", "-"] + [
        _pm(by[loss, "temperature"], "ece") for loss in losses
    ]
    return _table(header, rows + [ts])


def ats_against_temperature(records, losses):
    """Per loss: ATS (15 bins) minus temperature scaling in test ECE, paired
    over seeds, with its Wilcoxon p-value."""
    values = {(r["loss"], r["method"], r["seed"]): r["ece"] for r in records}
    results = {}
    for loss in losses:
        seeds = sorted(s for (key, m, s) in values if key == loss and m == "ats")
        ats = [values[loss, "ats", s] for s in seeds]
        ts = [values[loss, "temperature", s] for s in seeds]
        results[loss] = wilcoxon_paired(ats, ts)
    return results


def _ats_row(results, losses):
    cells = []
    for loss in losses:
        r = results[loss]
        cells.append(f"{r['mean_diff']:+.4f} (p {r['p_value']:.2g})")
    return _table(["", *(f"{loss}" for loss in losses)], [["ATS(15) − TS", *cells]])


def _headline(summary, tests):
    """A few sentences a reader can check against the tables."""
    by = {(row["loss"], row["method"]): row for row in summary}
    best = {}
    for method in MAIN_METHODS:
        rows = [row for row in summary if row["method"] == method]
        best[method] = min(rows, key=lambda row: row["ece_mean"])["loss"]
    top = max(
        (row for row in summary if row["method"] == "none"),
        key=lambda row: row["accuracy_mean"],
    )["loss"]
    wins = [t for t in tests if t["verdict"] == "GCE better"]
    losses = [t for t in tests if t["verdict"] == "GCE worse"]
    gce = by["gce", "none"]
    return [
        f"Most accurate loss: {top} ({by[top, 'none']['accuracy_mean']:.4f}); "
        f"GCE {gce['accuracy_mean']:.4f}.",
        "Lowest ECE: "
        + ", ".join(f"{method}: {best[method]}" for method in MAIN_METHODS)
        + ".",
        f"Of {len(tests)} paired tests, GCE is significantly better in {len(wins)} "
        f"and significantly worse in {len(losses)} (p < 0.05, uncorrected).",
    ]


def _ood_table(summary):
    rows = [
        [row["loss"], row["method"], _pm(row, "ood_auroc"), _pm(row, "accuracy")]
        for row in summary
        if row["method"] in MAIN_METHODS
    ]
    return _table(["loss", "post-hoc", "OOD AUROC", "accuracy (6 classes)"], rows)


# --- plots --------------------------------------------------------------------------


def _plot_sweep(grid, path):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.2 * len(grid), 3.6))
    axes = figure.subplots(1, len(grid), squeeze=False)[0]
    for ax, (name, (summary, losses)) in zip(axes, grid.items()):
        by = {(row["loss"], row["method"]): row for row in summary}
        for loss in losses:
            keys = ["ats" if b == 15 else f"ats:{b}" for b in SWEEP_BINS]
            means = [by[loss, key]["ece_mean"] for key in keys]
            ax.plot(SWEEP_BINS, means, marker="o", markersize=3, label=loss)
        ax.set(xscale="log", xlabel="ATS n_bins", ylabel="test ECE", title=name)
        ax.set_xticks(SWEEP_BINS[::2], [str(b) for b in SWEEP_BINS[::2]])
        ax.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=70)


# --- main ---------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--hidden", default="256,256")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--quick", action="store_true", help="2 seeds, 2 epochs: a smoke test"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.epochs = 2, 2
    args.out.mkdir(parents=True, exist_ok=True)
    info = describe_run(extra_packages=("mnist1d", "matplotlib"))
    config = TrainingConfig(
        epochs=args.epochs, hidden=tuple(int(h) for h in args.hidden.split(","))
    )
    losses = parse_losses(DEFAULT_LOSSES)
    loss_keys = [loss.key for loss in losses]
    seeds = range(args.seeds)
    start = time.perf_counter()

    records, sections, json_parts, grid, seconds = [], [], {}, {}, {}
    for name in DATASETS:
        comparison = _run(name, losses, _methods(), seeds, config, keep=("ce", "gce"))
        seconds[name] = comparison.seconds
        records += comparison.records
        metrics = [*METRICS, "fit_seconds", "ats_bins_formed"]
        summary = summarize(comparison.records, metrics)
        main_records = [r for r in comparison.records if r["method"] in MAIN_METHODS]
        tests = paired_tests(main_records, metrics=TESTED)
        grid[name] = (summary, loss_keys)
        ats_vs_ts = ats_against_temperature(comparison.records, loss_keys)
        json_parts[name] = {
            "description": comparison.dataset.description,
            "split": comparison.split_sizes,
            "seconds": comparison.seconds,
            "summary": summary,
            "tests": tests,
            "ats15_minus_temperature_ece": ats_vs_ts,
        }
        png = args.out / f"study_reliability_{name}.png"
        plot_reliability(
            comparison.proba,
            ["ce", "gce"],
            list(MAIN_METHODS),
            str(png),
            labels=comparison.classes,
            title=f"{name}: test predictions of {args.seeds} seeds pooled",
        )
        sizes = ", ".join(f"{k} {v}" for k, v in comparison.split_sizes.items())
        sections += [
            f"## {name}",
            "",
            f"{comparison.dataset.description}. Split per seed: {sizes}. "
            f"{comparison.seconds / 60:.1f} min.",
            "",
            *(f"- {line}" for line in _headline(summary, tests)),
            "",
            "Test split, mean ± std over seeds (fit s: training time of one "
            "network, noisy: other jobs shared the machine):",
            "",
            _summary_table(summary, ["accuracy", "ece", "adaece", "classwise_ece"]),
            "",
            "NLL and Brier:",
            "",
            _summary_table(summary, ["nll", "brier"]),
            "",
            "GCE minus each baseline (mean over seeds; negative is better for the "
            "calibration errors, positive for accuracy), two-sided Wilcoxon "
            "signed-rank p-value over the paired seeds; **better**/**worse** "
            "mark p < 0.05 (uncorrected). Accuracy does not depend on the "
            "post-hoc method.",
            "",
            _tests_table(tests, TESTED),
            "",
            f"ATS ECE against n_bins on these networks (bins formed: ATS keeps "
            f"at least 50 calibration samples per bin, so at most "
            f"{comparison.split_sizes['calibration'] // 50} bins here):",
            "",
            _sweep_table(summary, loss_keys),
            "",
            "ATS (15 bins) minus temperature scaling in test ECE, mean over seeds, "
            "two-sided Wilcoxon signed-rank p-value over the paired seeds:",
            "",
            _ats_row(ats_vs_ts, loss_keys),
            "",
            f"![reliability diagrams]({png.name})",
            "",
        ]

    ood_sections = []
    for name in OOD_DATASETS:
        comparison = _run(
            name,
            losses,
            parse_methods(",".join(MAIN_METHODS)),
            seeds,
            config,
            unknown=UNKNOWN_CLASSES,
        )
        seconds[f"{name} ood"] = comparison.seconds
        for record in comparison.records:
            record["dataset"] = f"{name} (classes 0-5)"
        records += comparison.records
        summary = summarize(comparison.records, ["accuracy", "ood_auroc"])
        tests = paired_tests(comparison.records, metrics=["ood_auroc"])
        json_parts[f"{name} ood"] = {
            "unknown_classes": list(UNKNOWN_CLASSES),
            "split": comparison.split_sizes,
            "seconds": comparison.seconds,
            "summary": summary,
            "tests": tests,
        }
        sizes = ", ".join(f"{k} {v}" for k, v in comparison.split_sizes.items())
        ood_sections += [
            f"### {name}: trained on classes 0-5, unknown classes 6-9",
            "",
            f"Split per seed: {sizes}.",
            "",
            _ood_table(summary),
            "",
            "GCE minus each baseline in OOD AUROC (p):",
            "",
            _tests_table(tests, ["ood_auroc"]),
            "",
        ]

    _plot_sweep(grid, args.out / "study_ats_bins.png")
    total = time.perf_counter() - start
    settings = {
        "losses": ",".join(loss_keys),
        "post-hoc": ",".join(MAIN_METHODS),
        "ATS n_bins sweep": ",".join(map(str, SWEEP_BINS)),
        "seeds": f"0..{args.seeds - 1}",
        "epochs": config.epochs,
        "batch size": config.batch_size,
        "hidden layers": ",".join(map(str, config.hidden)),
        "optimizer": f"Adam, lr {config.lr}",
        "split": "60% train / 20% calibration / 20% test, stratified, per seed",
        "minutes": ", ".join(f"{k} {v / 60:.1f}" for k, v in seconds.items())
        + f"; total {total / 60:.1f}",
    }
    lines = [
        markdown_header("Study: losses and post-hoc calibrators", info),
        "Produced by `benchmarks/study.py` through `sklearn_gce.compare` (the "
        "engine of `sklearn-gce compare`). Every network of a seed starts from the "
        "same initial weights and sees the same split and batch order; ECE uses "
        "15 equal-width bins (top label), AdaECE 15 equal-mass bins, cw-ECE 15 "
        "equal-width bins per class.",
        "",
        *(f"- {key}: `{value}`" for key, value in settings.items()),
        "",
        *sections,
        "## Out-of-distribution detection (maximum probability)",
        "",
        *ood_sections,
        "## ATS against n_bins",
        "",
        "![ATS ECE against n_bins](study_ats_bins.png)",
        "",
    ]
    (args.out / "study.md").write_text("\n".join(lines), encoding="utf-8")
    write_csv(args.out / "study_runs.csv", records, significant_digits=6)
    write_json(
        args.out / "study.json",
        {"environment": info, "settings": settings, "results": json_parts},
    )
    print(f"done in {total / 60:.1f} min; wrote {args.out}/study.*", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
