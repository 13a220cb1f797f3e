"""Tables, files and pictures of a comparison's results."""

import csv
import json
import math
import re

import numpy as np

__all__ = [
    "COLUMNS",
    "format_summary",
    "format_tests",
    "notes_on_tests",
    "ats_notes",
    "warning_notes",
    "markdown_report",
    "plot_reliability",
    "write_csv",
    "write_json",
]

# record field -> column title
COLUMNS = {
    "accuracy": "accuracy",
    "ece": "ECE",
    "adaece": "AdaECE",
    "classwise_ece": "cw-ECE",
    "nll": "NLL",
    "brier": "Brier",
    "ood_auroc": "OOD AUROC",
    "fit_seconds": "fit s",
}


def _plus_minus(ascii_only):
    return "+/-" if ascii_only else "±"


def _cell(row, metric, pm, digits=3):
    mean = row.get(f"{metric}_mean")
    if mean is None:
        return ""
    std = row[f"{metric}_std"]
    if metric == "fit_seconds":
        return f"{mean:.2f}"
    return f"{mean:.{digits}f} {pm} {std:.{digits}f}"


def _summary_rows(summary, metrics, pm):
    metrics = [m for m in metrics if any(f"{m}_mean" in row for row in summary)]
    header = ["loss", "post-hoc", *(COLUMNS.get(m, m) for m in metrics)]
    rows = []
    previous = None
    for row in summary:
        loss = row["loss"] if row["loss"] != previous else ""
        previous = row["loss"]
        rows.append([loss, row["method"], *(_cell(row, m, pm) for m in metrics)])
    return header, rows


def _text_table(header, rows):
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += [
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows
    ]
    return "\n".join(lines)


def _markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join("---" for _ in header) + "|")
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def format_summary(summary, metrics, *, ascii_only=False):
    """The mean ± std table of :func:`~sklearn_gce.compare.summarize`, as text."""
    return _text_table(*_summary_rows(summary, metrics, _plus_minus(ascii_only)))


def _tests_rows(tests):
    header = [
        "metric",
        "post-hoc",
        "GCE",
        "baseline",
        "GCE mean",
        "baseline mean",
        "GCE - baseline [95% CI]",
        "seeds GCE better/equal/worse",
        "p",
        "verdict",
    ]
    rows = [
        [
            COLUMNS.get(t["metric"], t["metric"]),
            "(any)" if t["metric"] == "accuracy" else t["method"],
            t["gce"],
            t["baseline"],
            f"{t['gce_mean']:.4f}",
            f"{t['baseline_mean']:.4f}",
            _difference(t),
            f"{t['gce_wins']}/{t['n'] - t['gce_wins'] - t['gce_losses']}"
            f"/{t['gce_losses']}",
            f"{t['p_value']:.3g}",
            t["verdict"],
        ]
        for t in tests
    ]
    return header, rows


def _difference(test):
    low, high = test["mean_diff_low"], test["mean_diff_high"]
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"{test['mean_diff']:+.4f}"
    return f"{test['mean_diff']:+.4f} [{low:+.4f}, {high:+.4f}]"


def format_tests(tests):
    """The paired tests of :func:`~sklearn_gce.compare.paired_tests`, as text."""
    return _text_table(*_tests_rows(tests))


def notes_on_tests(tests, n_seeds, alpha=0.05):
    """Plain-language notes on what the tests can and cannot say."""
    notes = [
        "Two-sided Wilcoxon signed-rank tests (scipy), paired over seeds (same "
        "split and initial weights), at the 0.05 level, uncorrected for the "
        f"{len(tests)} comparisons made; 'not significant' means that the data "
        "do not show a difference, not that there is none."
    ]
    if n_seeds < 6:
        notes.append(
            f"With {n_seeds} seeds the smallest possible p-value is "
            f"{2.0 / 2**n_seeds:.3g} > {alpha}: no difference can be significant. "
            "Use --seeds 6 or more (10 or more for a test with some power)."
        )
    notes.append(
        "GCE - baseline [95% CI]: the mean over seeds of the paired differences, "
        "with its Student's t interval over seeds (none with a single seed)."
    )
    notes.append(
        "Accuracy is tested once: temperature scaling and ATS do not change "
        "the predicted class."
    )
    return notes


def ats_notes(records):
    """A note for each ATS setting that formed fewer bins than asked."""
    notes = []
    seen = set()
    for record in records:
        asked, formed = record.get("ats_bins"), record.get("ats_bins_formed")
        key = (record["method"], formed)
        if asked is None or formed is None or formed >= asked or key in seen:
            continue
        seen.add(key)
        notes.append(
            f"{record['method']}: ATS formed {formed} of {asked} bins on the "
            f"calibration split of {record['n_calib']} samples (it keeps at least "
            "50 samples per bin)."
        )
    return notes


def warning_notes(warnings):
    """One note per kind of warning raised during the runs.

    Warnings are of one kind when their messages differ only in numbers.

    Parameters
    ----------
    warnings : list of dict
        :attr:`Comparison.warnings`.

    Returns
    -------
    notes : list of str
        The first run's message of each kind, and how many runs raised it.
    """
    first, runs = {}, {}
    for warning in warnings:
        kind = re.sub(r"[-+]?\d+(\.\d*)?(e[+-]?\d+)?", "#", warning["message"])
        key = (warning["category"], kind)
        first.setdefault(key, warning)
        runs.setdefault(key, set()).add((warning["seed"], warning["loss"]))
    notes = []
    for key, warning in first.items():
        count = len(runs[key])
        where = f"seed {warning['seed']} {warning['loss']}"
        if count > 1:
            where += f" and {count - 1} other run{'s' if count > 2 else ''}"
        notes.append(f"{warning['category']} in {where}: {warning['message']}")
    return notes


def markdown_report(
    *, title, environment, description, settings, summary, metrics, tests, notes
):
    """A markdown summary: run description, results table, tests and notes."""
    lines = [f"# {title}", "", description, ""]
    lines += [f"- {key}: `{value}`" for key, value in settings.items()]
    lines += ["", "## Results (test split, mean ± std over seeds)", ""]
    lines += [_markdown_table(*_summary_rows(summary, metrics, "±")), ""]
    if tests:
        lines += ["## GCE against each baseline, paired over seeds", ""]
        lines += [_markdown_table(*_tests_rows(tests)), ""]
    if notes:
        lines += ["## Notes", ""] + [f"- {note}" for note in notes] + [""]
    lines += ["## Environment", ""]
    lines += [f"- {key}: `{value}`" for key, value in environment.items()]
    return "\n".join(lines) + "\n"


def write_csv(path, records, *, significant_digits=None):
    """One row per record; columns are the union of the records' fields.

    Floats are written in full unless ``significant_digits`` is given.
    """
    fields = list(dict.fromkeys(key for record in records for key in record))
    if significant_digits is not None:
        records = [
            {
                key: f"{value:.{significant_digits}g}"
                if isinstance(value, float)
                else value
                for key, value in record.items()
            }
            for record in records
        ]
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=fields, restval="")
        writer.writeheader()
        writer.writerows(records)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path, payload):
    """Strict JSON (NaN and infinity become null)."""
    with open(path, "w", encoding="utf-8") as file:
        json.dump(_jsonable(payload), file, indent=1, allow_nan=False)
        file.write("\n")


def plot_reliability(proba, losses, methods, path, *, labels, title=""):
    """Reliability diagrams side by side: one column per loss, one row per method.

    Parameters
    ----------
    proba : dict
        ``(loss key, method key) -> [(y_test, proba) per seed]``, as kept by
        :func:`~sklearn_gce.compare.run_comparison`; the seeds are pooled.
    losses, methods : list of str
        Keys of the columns and rows.
    path : str
        Where the PNG is written.
    labels : array-like
        Class labels, in the columns' order.
    title : str

    Returns
    -------
    path : str
    """
    from matplotlib.figure import Figure

    from sklearn_gce.metrics import ReliabilityDisplay

    figure = Figure(figsize=(4.2 * len(losses), 4.4 * len(methods)))
    axes = figure.subplots(len(methods), len(losses), squeeze=False)
    for row, method in enumerate(methods):
        for column, loss in enumerate(losses):
            pairs = proba[loss, method]
            y_true = np.concatenate([y for y, _ in pairs])
            y_prob = np.concatenate([p for _, p in pairs])
            ax = axes[row, column]
            ReliabilityDisplay.from_predictions(
                y_true, y_prob, labels=labels, name=loss, ax=ax
            )
            ax.set_title(f"{loss}, post-hoc: {method}", fontsize=10)
            ax.legend(loc="upper left", fontsize=8)
    if title:
        figure.suptitle(title, fontsize=10)
    _space_panels(figure, len(methods), len(losses), top=0.6 if title else 0.4)
    figure.savefig(path, dpi=80)
    return path


def _space_panels(figure, n_rows, n_cols, *, top):
    """Fixed margins, in inches, around and between panels of fixed size.

    Every panel has the same labels at the same font sizes, so the space they
    need is known; ``tight_layout`` measured it by drawing the whole figure
    once more (a third of the drawing time).
    """
    width, height = figure.get_size_inches()
    left, right, bottom, between_columns, between_rows = 0.75, 0.25, 0.55, 0.75, 0.9
    panel_width = (width - left - right - between_columns * (n_cols - 1)) / n_cols
    panel_height = (height - top - bottom - between_rows * (n_rows - 1)) / n_rows
    figure.subplots_adjust(
        left=left / width,
        right=1 - right / width,
        bottom=bottom / height,
        top=1 - top / height,
        wspace=between_columns / panel_width,
        hspace=between_rows / panel_height,
    )
