"""The comparison behind ``sklearn-gce compare``, as plain functions.

A comparison trains one network per (seed, loss) on a seed's split
(:func:`~sklearn_gce.datasets.split_dataset`), calibrates it post hoc with
each method, scores every method on the test split (:func:`run_one`,
:func:`run_comparison`), aggregates over seeds (:func:`summarize`) and tests
GCE against each baseline with paired Wilcoxon signed-rank tests
(:func:`paired_tests`). The runs are independent and can train in parallel
processes (``n_jobs``). What can be compared is registered in one place per
kind: :data:`LOSSES`, :data:`MODELS` and
:data:`sklearn_gce.datasets.DATASETS`. The command line
(:mod:`sklearn_gce.cli`) and the benchmark study (``benchmarks/study.py``)
both go through these functions.

Training needs torch and skorch; the names that do are imported on first use
(:data:`_LAZY`), so that the command line parses its arguments, reports
errors and prints ``--version`` without importing them.
"""

from sklearn_gce._lazy import lazy_attributes
from sklearn_gce.compare._environment import describe_environment
from sklearn_gce.compare._files import output_folder
from sklearn_gce.compare._models import MODELS
from sklearn_gce.compare._progress import ProgressBar
from sklearn_gce.compare._report import (
    COLUMNS,
    ats_notes,
    format_summary,
    format_tests,
    markdown_report,
    notes_on_tests,
    plot_reliability,
    warning_notes,
    write_csv,
    write_json,
)
from sklearn_gce.compare._specs import (
    DEFAULT_LOSSES,
    DEFAULT_METHODS,
    LOSSES,
    MIXUP_ALPHA,
    LossSpec,
    MethodSpec,
    SpecError,
    TrainingConfig,
    parse_losses,
    parse_methods,
    resolve_device,
)
from sklearn_gce.compare._stats import (
    mean_interval,
    min_p_value,
    paired_tests,
    summarize,
    wilcoxon_paired,
)

# public name -> the module that defines it (importing it imports torch)
_LAZY = {
    name: "sklearn_gce.compare._engine"
    for name in (
        "METRICS",
        "Comparison",
        "RunResult",
        "calibrate",
        "make_model",
        "ood_auroc",
        "run_comparison",
        "run_one",
        "score_predictions",
    )
}
_LAZY["MixupClassifier"] = "sklearn_gce.compare._mixup"


__all__ = [
    "COLUMNS",
    "DEFAULT_LOSSES",
    "DEFAULT_METHODS",
    "LOSSES",
    "METRICS",
    "MIXUP_ALPHA",
    "MODELS",
    "Comparison",
    "LossSpec",
    "MethodSpec",
    "MixupClassifier",
    "ProgressBar",
    "RunResult",
    "SpecError",
    "TrainingConfig",
    "ats_notes",
    "calibrate",
    "describe_environment",
    "format_summary",
    "format_tests",
    "make_model",
    "markdown_report",
    "mean_interval",
    "min_p_value",
    "notes_on_tests",
    "ood_auroc",
    "output_folder",
    "paired_tests",
    "parse_losses",
    "parse_methods",
    "plot_reliability",
    "resolve_device",
    "run_comparison",
    "run_one",
    "score_predictions",
    "summarize",
    "wilcoxon_paired",
    "warning_notes",
    "write_csv",
    "write_json",
]

__getattr__, __dir__ = lazy_attributes(globals(), _LAZY, __all__)
