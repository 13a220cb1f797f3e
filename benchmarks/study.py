"""The study of issue 11: GCE in the paper's regime, through the command's engine.

Every number comes from :func:`sklearn_gce.compare.run_comparison` (the code
path of ``sklearn-gce compare``) with the small convolutional networks
(``--model cnn``); this script only chooses the settings, adds the tail-class
accuracy, and writes the report. Five parts, 10 seeds each, every loss of a
seed trained from the same initial weights on the same split:

1. ``grid``: ce, gce:0.25, gce:0.5, gce, ls, mbls, flsd53, dualfocal and
   ce+mixup, each under none / temperature scaling / ATS, on digits (CNN2d)
   and mnist1d (CNN1d, 1 000 training signals), 10 epochs, batch 64, Adam
   with lr 1e-2 (the CNNs' recommended training, fewer epochs).
2. ``efficiency``: GCE against CE on mnist1d at 5 training-set sizes, every
   size trained for the same number of batches (about 10 000 samples seen).
3. ``longtail``: mnist1d-lt10 and mnist1d-lt100 (training split long-tailed,
   calibration and test splits balanced), ce, gce and ls: accuracy,
   classwise ECE, and the accuracy on the 3 rarest training classes
   (``tail_accuracy``).
4. ``batch``: GCE against CE at batch sizes 16, 64, 256 and 512 (GCE
   estimates the class marginal over each batch), 1 000 training signals,
   same epochs and learning rate.
5. ``ood``: networks trained on classes 0-5; AUROC of the maximum probability
   between test samples of the known classes and samples of classes 6-9
   (ce, gce, ls).

Paired two-sided Wilcoxon signed-rank tests over the seeds (as the command).
Run from the repository root, on 2 cores::

    OMP_NUM_THREADS=1 python benchmarks/study.py --n-jobs 2    # the committed study
    python benchmarks/study.py --quick --out /tmp/study         # a few minutes

It prints an estimate of its time first, and writes ``study.md``,
``study_runs.csv``, ``study.json`` and two reliability PNGs to
``benchmarks/results/`` (or ``--out``).
"""

import argparse
import math
import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _env import describe_run, markdown_header

from sklearn_gce.compare import (
    COLUMNS,
    TrainingConfig,
    paired_tests,
    parse_losses,
    parse_methods,
    plot_reliability,
    run_comparison,
    summarize,
    write_csv,
    write_json,
)
from sklearn_gce.datasets import load_dataset

RESULTS = Path(__file__).resolve().parent / "results"
PARTS = ("grid", "efficiency", "longtail", "batch", "ood")
METHODS = ("none", "temperature", "ats")
TITLES = {
    **{key: title for key, title in COLUMNS.items() if key != "fit_seconds"},
    "tail_accuracy": "tail accuracy",
    "ood_auroc": "OOD AUROC",
}
# Seconds to train on 1 000 samples (one torch thread, small CNNs of
# --model cnn, by batch size), measured on the 2-core machine of the study
# while other jobs ran on it (load average 2-4): the basis of the estimate.
SECONDS_PER_1000 = {16: 1.2, 32: 0.66, 64: 0.4, 128: 0.25, 256: 0.18, 512: 0.15}


@dataclass(frozen=True)
class Setting:
    """One comparison: a dataset and how its networks are trained."""

    part: str
    label: str  # the ``dataset`` field of its records, unique in the study
    dataset: str
    losses: str
    train_size: int | None = None
    epochs: int = 10
    batch_size: int = 64
    unknown_classes: tuple | None = None


@dataclass(frozen=True)
class Plan:
    """Everything the study runs; :func:`full_plan` is the committed one."""

    seeds: int
    settings: tuple
    lr: float = 1e-2
    model: str = "cnn"
    tail_classes: int = 3

    def config(self, setting, device="cpu"):
        return TrainingConfig(
            epochs=setting.epochs,
            batch_size=setting.batch_size,
            lr=self.lr,
            device=device,
            model=self.model,
        )


MODEL_TEXT = {
    "cnn": "CNN2dModule on digits as 1x8x8, CNN1dModule on mnist1d as 1x40",
    "resnet1d": "ResNet1dModule on mnist1d as 1x40",
}
GRID_LOSSES = "ce,gce:0.25,gce:0.5,gce,ls,mbls,flsd53,dualfocal,ce+mixup"


def full_plan(
    seeds=10,
    scale=1.0,
    sizes=(250, 500, 1000, 2000, 4000),
    batches=(16, 64, 256, 512),
    mnist1d="mnist1d",
    digits="digits",
):
    """The committed study (``scale`` < 1 shortens every training)."""

    def epochs(n):
        return max(1, round(n * scale))

    grid_train, samples_seen = 1000, 10_000
    settings = [
        Setting("grid", digits, digits, GRID_LOSSES, None, epochs(10)),
        Setting("grid", mnist1d, mnist1d, GRID_LOSSES, grid_train, epochs(10)),
    ]
    for n in sizes:
        settings.append(
            Setting(
                "efficiency",
                f"{mnist1d} n={n}",
                mnist1d,
                "ce,gce",
                n,
                epochs(math.ceil(samples_seen / n)),
            )
        )
    for ratio in (10, 100):
        name = f"{mnist1d}-lt{ratio}"
        settings.append(Setting("longtail", name, name, "ce,gce,ls", None, epochs(10)))
    for batch in batches:
        settings.append(
            Setting(
                "batch",
                f"{mnist1d} batch={batch}",
                mnist1d,
                "ce,gce",
                grid_train,
                epochs(10),
                batch,
            )
        )
    ood = (6, 7, 8, 9)
    settings += [
        Setting(
            "ood",
            f"{digits} (classes 0-5)",
            digits,
            "ce,gce,ls",
            None,
            epochs(10),
            unknown_classes=ood,
        ),
        Setting(
            "ood",
            f"{mnist1d} (classes 0-5)",
            mnist1d,
            "ce,gce,ls",
            600,
            epochs(10),
            unknown_classes=ood,
        ),
    ]
    return Plan(seeds=seeds, settings=tuple(settings))


def quick_plan():
    """A smoke test of every part: 2 seeds, a tenth of the training."""
    return full_plan(seeds=2, scale=0.1, sizes=(250, 1000), batches=(16, 512))


# --- running ------------------------------------------------------------------------


def _train_key(setting, loss):
    """What determines a run's network, besides the seed."""
    return (
        setting.dataset,
        setting.train_size,
        setting.epochs,
        setting.batch_size,
        setting.unknown_classes,
        loss,
    )


def estimate_seconds(plan, n_jobs, loaded=None):
    """Rough wall time of the plan on ``n_jobs`` workers, from SECONDS_PER_1000.

    ``loaded`` maps dataset names to loaded datasets (to size the splits).
    """
    from sklearn_gce.datasets import split_dataset

    loaded = {} if loaded is None else loaded
    seen, total = set(), 0.0
    for setting in plan.settings:
        dataset = _dataset(loaded, setting.dataset)
        n_train = split_dataset(
            dataset,
            0,
            train_size=setting.train_size,
            unknown_classes=setting.unknown_classes,
        ).sizes["train"]
        per_1000 = SECONDS_PER_1000.get(setting.batch_size, 0.4)
        for loss in setting.losses.split(","):
            key = _train_key(setting, loss)
            if key in seen:
                continue
            seen.add(key)
            fit = n_train * setting.epochs * per_1000 / 1000
            total += plan.seeds * fit * (1.2 if "mixup" in loss else 1.0)
    return total / max(1, n_jobs)


def _dataset(loaded, name):
    if name not in loaded:
        loaded[name] = load_dataset(name)
    return loaded[name]


class _LineProgress:
    """One line per finished run (the study's output goes to a log file)."""

    def __init__(self, label):
        self.label, self.start = label, time.perf_counter()

    def __call__(self, done, total, run):
        elapsed = time.perf_counter() - self.start
        print(
            f"  {self.label}: {done}/{total} {run} ({elapsed:.0f} s)",
            file=sys.stderr,
            flush=True,
        )


def run_setting(
    plan, setting, *, n_jobs=1, device="cpu", loaded=None, done=None, seeds=None
):
    """The comparison of one setting, its runs shared with earlier settings.

    Parameters
    ----------
    plan : Plan
    setting : Setting
    n_jobs : int
    device : str
    loaded : dict or None
        Dataset name -> loaded Dataset, filled as datasets are loaded.
    done : dict or None
        ``(train key, seed) -> (records, proba per method)`` of runs already
        made, reused when a setting trains the same network again (the same
        data, epochs and batch size), and filled with the new runs.
    seeds : list of int or None
        None runs seeds ``0 .. plan.seeds - 1``.

    Returns
    -------
    records : list of dict
        With ``dataset`` set to ``setting.label`` and ``part`` added.
    proba : dict
        ``(loss, method, seed) -> (y_test, proba)``.
    seconds : float
    """
    loaded = {} if loaded is None else loaded
    done = {} if done is None else done
    dataset = _dataset(loaded, setting.dataset)
    seeds = list(range(plan.seeds)) if seeds is None else list(seeds)
    losses = parse_losses(setting.losses)
    new = [
        loss
        for loss in losses
        if any((_train_key(setting, loss.key), s) not in done for s in seeds)
    ]
    seconds = 0.0
    if new:
        comparison = run_comparison(
            dataset,
            new,
            parse_methods(",".join(METHODS)),
            seeds=seeds,
            config=plan.config(setting, device),
            train_size=setting.train_size,
            unknown_classes=setting.unknown_classes,
            keep_proba=[loss.key for loss in new],
            progress=_LineProgress(setting.label),
            n_jobs=n_jobs,
        )
        seconds = comparison.seconds
        for loss in new:
            for seed in seeds:
                records = [
                    r
                    for r in comparison.records
                    if r["loss"] == loss.key and r["seed"] == seed
                ]
                proba = {
                    r["method"]: comparison.proba[loss.key, r["method"]][
                        seeds.index(seed)
                    ]
                    for r in records
                }
                done[_train_key(setting, loss.key), seed] = (records, proba)
    records, proba = [], {}
    for seed in seeds:
        for loss in losses:
            runs, probas = done[_train_key(setting, loss.key), seed]
            for record in runs:
                records.append(
                    {**record, "dataset": setting.label, "part": setting.part}
                )
                proba[loss.key, record["method"], seed] = probas[record["method"]]
    return records, proba, seconds


def add_tail_accuracy(records, proba, n_tail):
    """Add ``tail_accuracy``: the mean recall over the ``n_tail`` classes with
    the fewest training samples (the last labels of a long-tailed split)."""
    from sklearn.metrics import recall_score

    for record in records:
        y_test, p = proba[record["loss"], record["method"], record["seed"]]
        labels = np.unique(y_test)
        y_pred = labels[np.argmax(p, axis=1)]
        record["tail_accuracy"] = float(
            recall_score(y_test, y_pred, labels=labels[-n_tail:], average="macro")
        )


# --- markdown ---------------------------------------------------------------------


def _pm(row, metric, digits=4):
    if f"{metric}_mean" not in row:
        return ""
    return f"{row[f'{metric}_mean']:.{digits}f} ± {row[f'{metric}_std']:.{digits}f}"


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _summary_table(summary, metrics, first="loss"):
    header = [first, "post-hoc", *(TITLES[m] for m in metrics), "fit s"]
    rows = [
        [row["loss"] if first == "loss" else row["dataset"], row["method"]]
        + [_pm(row, m) for m in metrics]
        + [f"{row['fit_seconds_mean']:.1f}"]
        for row in summary
    ]
    return _table(header, rows)


def _index(tests):
    return {
        (t["dataset"], t["gce"], t["baseline"], t["metric"], t["method"]): t
        for t in tests
    }


def _cell(index, dataset, gce, baseline, metric, method):
    t = index.get((dataset, gce, baseline, metric, method))
    if t is None:
        return ""
    mark = {"GCE better": " **better**", "GCE worse": " **worse**"}.get(
        t["verdict"], ""
    )
    return f"{t['mean_diff']:+.4f} ({t['p_value']:.2g}){mark}"


def _column(metric, method):
    return TITLES[metric] if method is None else f"{TITLES[metric]} {method}"


def _tests_table(tests, dataset, pairs, columns):
    """GCE minus baseline (p) per (gce, baseline) row and (metric, method) column;
    a method of None means the first one (accuracy does not depend on it)."""
    index = _index(tests)
    header = ["GCE", "baseline", *(_column(m, meth) for m, meth in columns)]
    rows = [
        [gce, baseline]
        + [
            _cell(index, dataset, gce, baseline, m, meth or METHODS[0])
            for m, meth in columns
        ]
        for gce, baseline in pairs
    ]
    return _table(header, rows)


def _pairs(tests, dataset):
    """Each GCE variant against each baseline, and λ = 1 against the others."""
    pairs = [
        (t["gce"], t["baseline"])
        for t in tests
        if t["dataset"] == dataset
        and (not t["baseline"].startswith("gce") or t["gce"] == "gce")
    ]
    return list(dict.fromkeys(pairs))


PREAMBLE = (
    "Produced by `benchmarks/study.py` through "
    "`sklearn_gce.compare.run_comparison` (the engine of `sklearn-gce "
    "compare`). Every network of a seed starts from the same initial weights "
    "and sees the same split and batch order; ECE uses 15 equal-width bins "
    "(top label), AdaECE 15 equal-mass bins, cw-ECE 15 equal-width bins per "
    "class. Only the times depend on the machine (it was shared with other "
    "jobs: see the load averages); every other number is deterministic."
)

TESTS_NOTE = (
    "GCE minus baseline, mean over the paired seeds (positive is better for "
    "accuracy and AUROC, negative for the calibration errors and NLL), with the "
    "two-sided Wilcoxon signed-rank p-value; **better** / **worse** mark "
    "p < 0.05, not corrected for the many tests. Accuracy does not depend on "
    "the post-hoc method (tested once)."
)


def _sizes(records, label):
    record = next(r for r in records if r["dataset"] == label)
    return (
        f"train {record['n_train']}, calibration {record['n_calib']}, "
        f"test {record['n_test']}"
    )


def grid_section(records, settings, out, proba):
    lines = ["## 1. Losses x post-hoc methods (CNNs)", ""]
    tested = ["accuracy", "ece", "classwise_ece", "nll"]
    columns = [
        ("accuracy", None),
        ("ece", "none"),
        ("ece", "temperature"),
        ("ece", "ats"),
        ("classwise_ece", "ats"),
        ("nll", "temperature"),
    ]
    payload = {}
    for setting in settings:
        part = [r for r in records if r["dataset"] == setting.label]
        summary = summarize(part, [*TESTED_ALL, "fit_seconds"])
        tests = paired_tests(part, metrics=tested)
        payload[setting.label] = {"summary": summary, "tests": tests}
        png = f"study_reliability_{setting.label}.png"
        losses = {r["loss"] for r in part}
        plotted = proba is not None and {"ce", "gce"} <= losses
        if plotted:
            _plot(proba, part, setting, out / png)
        lines += [
            f"### {setting.label}",
            "",
            f"Split per seed: {_sizes(part, setting.label)}; {setting.epochs} "
            f"epochs, batch {setting.batch_size}.",
            "",
            _summary_table(
                summary, ["accuracy", "ece", "adaece", "classwise_ece", "nll"]
            ),
            "",
            TESTS_NOTE,
            "",
            _tests_table(tests, setting.label, _pairs(tests, setting.label), columns),
            "",
        ]
        if plotted:
            lines += [f"![reliability diagrams of ce and gce]({png})", ""]
    return lines, payload


def _plot(proba, records, setting, path):
    seeds = sorted({r["seed"] for r in records})
    kept = {
        (loss, method): [proba[loss, method, s] for s in seeds]
        for loss in ("ce", "gce")
        for method in METHODS
    }
    plot_reliability(
        kept,
        ["ce", "gce"],
        list(METHODS),
        str(path),
        labels=np.unique(kept["ce", "none"][0][0]),
        title=f"{setting.label}: test predictions of {len(seeds)} seeds pooled",
    )


def _versus_ce_table(records, tests, settings, first):
    """One row per setting: CE and GCE means, and GCE - CE (p)."""
    summary = {
        (r["dataset"], r["loss"], r["method"]): r
        for r in summarize(records, TESTED_ALL)
    }
    index = _index(tests)
    header = [
        first,
        "CE accuracy",
        "GCE accuracy",
        "GCE − CE accuracy (p)",
        "CE ECE",
        "GCE ECE",
        "GCE − CE ECE (p)",
        "… after TS (p)",
        "… NLL after TS (p)",
    ]
    rows = []
    for s in settings:
        ce, gce = summary[s.label, "ce", "none"], summary[s.label, "gce", "none"]
        rows.append(
            [
                s.label.split(" ", 1)[-1],
                _pm(ce, "accuracy"),
                _pm(gce, "accuracy"),
                _cell(index, s.label, "gce", "ce", "accuracy", "none"),
                _pm(ce, "ece"),
                _pm(gce, "ece"),
                _cell(index, s.label, "gce", "ce", "ece", "none"),
                _cell(index, s.label, "gce", "ce", "ece", "temperature"),
                _cell(index, s.label, "gce", "ce", "nll", "temperature"),
            ]
        )
    return _table(header, rows)


TESTED_ALL = ("accuracy", "ece", "adaece", "classwise_ece", "nll", "brier")


def _versus_ce_section(records, settings, heading, note, first):
    tests = paired_tests(records, metrics=["accuracy", "ece", "nll"])
    text = [
        heading,
        "",
        note,
        "",
        _versus_ce_table(records, tests, settings, first),
        "",
    ]
    return text, {"tests": tests, "summary": summarize(records, TESTED_ALL)}


def efficiency_section(records, settings):
    note = (
        "Every size is trained for about 10 000 samples seen (epochs = 10 000 / "
        "size, rounded up), so that the small sets are not under-trained; "
        "calibration and test splits are the same 2 000 signals each for every "
        "size."
    )
    heading = "## 2. Data efficiency: GCE against CE by training-set size (mnist1d)"
    return _versus_ce_section(records, settings, heading, note, "train size")


def longtail_section(records, settings, n_tail):
    metrics = ["accuracy", "tail_accuracy", "ece", "classwise_ece"]
    tests = paired_tests(
        records, metrics=["accuracy", "tail_accuracy", "classwise_ece", "ece"]
    )
    summary = summarize(records, [*TESTED_ALL, "tail_accuracy", "fit_seconds"])
    columns = [
        ("accuracy", None),
        ("tail_accuracy", None),
        ("classwise_ece", "none"),
        ("classwise_ece", "temperature"),
        ("classwise_ece", "ats"),
        ("ece", "ats"),
    ]
    text = [
        "## 3. Long tail (mnist1d, training split long-tailed)",
        "",
        f"Tail accuracy: mean recall on the {n_tail} classes with the fewest "
        "training samples (labels 7-9). The calibration and test splits are "
        "balanced, as in CIFAR-10-LT; post-hoc methods are fitted on the "
        "balanced calibration split.",
        "",
    ]
    for s in settings:
        part = [r for r in records if r["dataset"] == s.label]
        text += [
            f"### {s.label}",
            "",
            f"Split per seed: {_sizes(part, s.label)}; {s.epochs} epochs.",
            "",
            _summary_table([r for r in summary if r["dataset"] == s.label], metrics),
            "",
            _tests_table(tests, s.label, _pairs(tests, s.label), columns),
            "",
        ]
    return text, {"summary": summary, "tests": tests}


def batch_section(records, settings):
    note = (
        f"{settings[0].train_size} training signals, {settings[0].epochs} "
        "epochs and the same learning rate at every batch size (so larger "
        "batches take fewer steps: compare GCE with CE within a row)."
    )
    heading = "## 4. Batch size: GCE against CE (mnist1d)"
    return _versus_ce_section(records, settings, heading, note, "batch")


def ood_section(records, settings):
    tests = paired_tests(records, metrics=["ood_auroc"])
    summary = summarize(records, ["accuracy", "ood_auroc"])
    text = ["## 5. Out-of-distribution detection (maximum probability)", ""]
    for s in settings:
        rows = [
            [r["loss"], r["method"], _pm(r, "ood_auroc"), _pm(r, "accuracy")]
            for r in summary
            if r["dataset"] == s.label
        ]
        part = [r for r in records if r["dataset"] == s.label]
        text += [
            f"### {s.label}, unknown classes 6-9",
            "",
            f"Split per seed: {_sizes(part, s.label)}; {s.epochs} epochs.",
            "",
            _table(["loss", "post-hoc", "OOD AUROC", "accuracy (6 classes)"], rows),
            "",
            _tests_table(
                tests,
                s.label,
                _pairs(tests, s.label),
                [("ood_auroc", m) for m in METHODS],
            ),
            "",
        ]
    return text, {"summary": summary, "tests": tests}


# --- main ---------------------------------------------------------------------------


def write_report(out, info, plan, results, seconds, title, proba=None):
    """Write study.md, study_runs.csv and study.json from the parts run so far.

    ``results`` maps each part run to its (settings, records).
    """
    sections, payload, records = [], {}, []
    for part, (settings, part_records) in results.items():
        records += part_records
        if part == "grid":
            text, data = grid_section(part_records, settings, out, proba)
        elif part == "efficiency":
            text, data = efficiency_section(part_records, settings)
        elif part == "longtail":
            text, data = longtail_section(part_records, settings, plan.tail_classes)
        elif part == "batch":
            text, data = batch_section(part_records, settings)
        else:
            text, data = ood_section(part_records, settings)
        sections += text
        payload[part] = data
    settings = {
        "model": f"--model {plan.model} ({MODEL_TEXT[plan.model]}), Adam",
        "learning rate": plan.lr,
        "seeds": f"0..{plan.seeds - 1}",
        "split": "60% train / 20% calibration / 20% test, stratified, per seed; "
        "train subsampled where a train size is given",
        "post-hoc": ",".join(METHODS) + " (ATS with 15 bins)",
        "minutes": ", ".join(f"{k} {v / 60:.1f}" for k, v in seconds.items())
        + " (wall time, shared machine)",
    }
    lines = [
        markdown_header(title, info),
        PREAMBLE,
        "",
        *(f"- {key}: `{value}`" for key, value in settings.items()),
        "",
        *sections,
    ]
    (out / "study.md").write_text("\n".join(lines), encoding="utf-8")
    write_csv(out / "study_runs.csv", records, significant_digits=6)
    write_json(
        out / "study.json",
        {
            "environment": info,
            "settings": settings,
            "plan": [vars(s) for s in plan.settings],
            "results": payload,
        },
    )


def run_study(plan, out, *, parts=PARTS, n_jobs=1, device="cpu", title=None, info=None):
    """Run the parts of a plan and write the report after each one.

    Returns
    -------
    results : dict
        part -> (settings, records).
    """
    out.mkdir(parents=True, exist_ok=True)
    info = dict(
        describe_run(extra_packages=("mnist1d", "matplotlib"), device=device)
        if info is None
        else info
    )
    info["n_jobs"] = str(n_jobs)
    info["load_average_1_5_15min_at_start"] = _load()
    title = title or "Study: GCE in the paper's regime (CNNs, small data, long tails)"
    loaded, done, results, seconds, proba_all = {}, {}, {}, {}, {}
    start = time.perf_counter()
    for part in parts:
        settings = [s for s in plan.settings if s.part == part]
        part_records, part_start = [], time.perf_counter()
        for setting in settings:
            records, proba, _ = run_setting(
                plan, setting, n_jobs=n_jobs, device=device, loaded=loaded, done=done
            )
            if part == "longtail":
                add_tail_accuracy(records, proba, plan.tail_classes)
            if part == "grid":
                proba_all.update(proba)
            part_records += records
        results[part] = (settings, part_records)
        seconds[part] = time.perf_counter() - part_start
        seconds.pop("total", None)
        seconds["total"] = time.perf_counter() - start
        info["load_average_1_5_15min_at_end"] = _load()
        write_report(out, info, plan, results, seconds, title, proba_all)
        print(
            f"{part} done in {seconds[part] / 60:.1f} min", file=sys.stderr, flush=True
        )
    return results


def _load():
    try:
        return str(tuple(round(x, 2) for x in os.getloadavg()))
    except OSError:
        return "unknown"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help="comma-separated subset of " + ",".join(PARTS),
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="2 seeds, a tenth of the training: a smoke test of a few minutes",
    )
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown part(s) {unknown}; choose among {','.join(PARTS)}")
    plan = quick_plan() if args.quick else full_plan(seeds=args.seeds)
    plan = replace(plan, settings=tuple(s for s in plan.settings if s.part in parts))
    estimate = estimate_seconds(plan, args.n_jobs)
    print(
        f"{sum(1 for _ in plan.settings)} settings, {plan.seeds} seeds, "
        f"--n-jobs {args.n_jobs}: about {estimate / 60:.1f} min on the study's "
        "machine under moderate load (fewer idle)",
        file=sys.stderr,
        flush=True,
    )
    start = time.perf_counter()
    run_study(plan, args.out, parts=parts, n_jobs=args.n_jobs)
    total = time.perf_counter() - start
    print(f"done in {total / 60:.1f} min; wrote {args.out}/study.*", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
