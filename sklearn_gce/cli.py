"""The ``sklearn-gce`` command.

``sklearn-gce compare`` (the default when no command is given) trains a
network per loss and seed, calibrates each post hoc, and reports accuracy and
calibration on a held-out test split, with paired statistics. Bad input gets
one line on stderr and exit status 2; a run that fails gets status 1.
"""

import argparse
import os
import sys
import textwrap

from sklearn_gce.compare._models import MODELS
from sklearn_gce.compare._specs import (
    DEFAULT_LOSSES,
    DEFAULT_METHODS,
    LOSSES,
    MIXUP_ALPHA,
)
from sklearn_gce.datasets import DATASETS

DEFAULT_DATASET = "digits"
DEFAULT_SEEDS = 10
MAX_SEEDS = 10_000  # each seed trains every loss: already days of training
DEFAULT_EPOCHS = 20
DEFAULT_HIDDEN = (256,)


def _fill(text, **kwargs):
    return textwrap.fill(text, 79, break_on_hyphens=False, **kwargs)


def _epilog():
    """What each name means, from the registries."""

    def section(title, lines):
        wrapped = [
            _fill(line, initial_indent="  ", subsequent_indent="    ") for line in lines
        ]
        return "\n".join([_fill(title), *wrapped])

    return "\n\n".join(
        [
            section(
                "losses (--losses, comma-separated; LOSS+mixup[:alpha] trains LOSS "
                f"with mixup, alpha {MIXUP_ALPHA:g} by default):",
                LOSSES.help(),
            ),
            section("models (--model):", MODELS.help()),
            section(
                "datasets (--dataset NAME, or your own: --csv PATH --target "
                "COLUMN; NAME-lt10, NAME-lt100... make the training split "
                "long-tailed with that imbalance ratio):",
                DATASETS.help(),
            ),
            section(
                "post-hoc methods (--post-hoc):",
                [
                    "none",
                    "temperature (or ts): scikit-learn's temperature scaling",
                    "ats[:n_bins]: adaptive temperature scaling (n_bins 15 by default)",
                ],
            ),
            "example:\n  sklearn-gce compare --dataset mnist1d --losses "
            "ce,gce:0.5,gce,ce+mixup --seeds 6 --out res",
        ]
    )


class _UsageError(Exception):
    """Bad command-line input; reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _UsageError(f"{message} (see {self.prog} --help)")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _seeds(text):
    value = _positive_int(text)
    if value > MAX_SEEDS:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_SEEDS}, got {value}")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (value > 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _fraction(text):
    value = _positive_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _n_jobs(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value == 0:
        raise argparse.ArgumentTypeError(
            "must not be 0; use a number of processes, or -1 for every CPU"
        )
    return value


def _train_size(text):
    try:
        count = int(text)
    except ValueError:
        try:
            fraction = float(text)
        except ValueError:
            fraction = None
        if fraction is not None and 0 < fraction <= 1:
            return fraction
    else:
        if count >= 1:
            return count
    raise argparse.ArgumentTypeError(
        f"must be a fraction in (0, 1] or a number of samples, got {text!r}"
    )


def _sizes(text):
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of layer widths, such as 256 "
            "or 256,128"
        ) from None
    if any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(f"layer widths must be >= 1, got {text}")
    return sizes


def _build_parser():
    parser = _Parser(
        prog="sklearn-gce",
        description="Accurate and calibrated neural-network classifiers: compare "
        "losses and post-hoc calibrators. Without a command, runs 'compare'.",
    )
    from sklearn_gce import __version__

    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", metavar="{compare}")
    compare = commands.add_parser(
        "compare",
        help="compare losses and post-hoc calibrators over seeds (the default)",
        description="Train one network per loss and seed on the same split and\n"
        "initial weights, calibrate each post hoc on a held-out calibration split,\n"
        "and report accuracy and calibration on a test split (mean +/- std over\n"
        "seeds), with paired Wilcoxon tests of GCE against each baseline.",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = compare.add_argument_group("data")
    source = data.add_mutually_exclusive_group()
    source.add_argument(
        "--dataset",
        metavar="NAME",
        help=f"embedded dataset (default: {DEFAULT_DATASET}); see below",
    )
    source.add_argument("--csv", metavar="PATH", help="your CSV file (header row)")
    data.add_argument("--target", metavar="COLUMN", help="the CSV's label column")
    data.add_argument(
        "--imbalance-ratio",
        metavar="R",
        type=_positive_float,
        help="make the CSV's training split long-tailed with this ratio (e.g. 10)",
    )
    data.add_argument(
        "--unknown-classes",
        metavar="LABELS",
        help="comma-separated classes left out of training, to measure "
        "out-of-distribution detection (AUROC of the maximum probability)",
    )
    data.add_argument(
        "--calib-size",
        type=_fraction,
        default=0.2,
        metavar="F",
        help="fraction held out for calibration (default: 0.2)",
    )
    data.add_argument(
        "--test-size",
        type=_fraction,
        default=0.2,
        metavar="F",
        help="fraction held out for testing (default: 0.2)",
    )
    data.add_argument(
        "--train-size",
        type=_train_size,
        metavar="SIZE",
        help="train on a stratified subsample of the training split: a fraction "
        "in (0, 1] or a number of samples (default: all of it); the "
        "calibration and test splits do not change",
    )
    what = compare.add_argument_group("what is compared")
    what.add_argument(
        "--losses",
        default=DEFAULT_LOSSES,
        metavar="LIST",
        help="comma-separated losses (default: %(default)s)",
    )
    what.add_argument(
        "--post-hoc",
        default=DEFAULT_METHODS,
        metavar="LIST",
        help="comma-separated post-hoc methods (default: %(default)s)",
    )
    what.add_argument(
        "--seeds",
        type=_seeds,
        default=DEFAULT_SEEDS,
        metavar="N",
        help="seeds 0..N-1, each a split and initial weights (default: "
        f"%(default)s, at most {MAX_SEEDS})",
    )
    training = compare.add_argument_group("training")
    training.add_argument(
        "--model",
        choices=MODELS.names(),
        default="mlp",
        help="the network (default: %(default)s); see below",
    )
    training.add_argument(
        "--epochs",
        type=_positive_int,
        default=DEFAULT_EPOCHS,
        metavar="N",
        help="training epochs (default: %(default)s)",
    )
    training.add_argument(
        "--batch-size",
        type=_positive_int,
        default=64,
        metavar="N",
        help="mini-batch size (default: %(default)s)",
    )
    training.add_argument(
        "--hidden",
        type=_sizes,
        metavar="SIZES",
        help="hidden layer widths of the MLP, e.g. 256 or 256,128 (default: 256)",
    )
    training.add_argument(
        "--lr",
        type=_positive_float,
        default=3e-3,
        help="Adam's learning rate (default: %(default)s)",
    )
    training.add_argument(
        "--device",
        choices=("cpu", "cuda", "auto"),
        default="cpu",
        help="torch device; auto picks cuda when available (default: %(default)s)",
    )
    training.add_argument(
        "--n-jobs",
        type=_n_jobs,
        default=-1,
        metavar="N",
        help="processes training networks in parallel, one torch thread each; -1 "
        "(the default) uses every CPU, -2 all but one; the results do not "
        "depend on it",
    )
    output = compare.add_argument_group("output")
    output.add_argument(
        "--out",
        metavar="DIR",
        help="write runs.csv, runs.json, summary.md and reliability.png here",
    )
    output.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bar or notes on stderr; results still go to stdout",
    )
    compare.set_defaults(func=_compare)
    return parser


class _RunError(Exception):
    """A run that failed (training, writing the outputs); exit status 1."""


def run():
    """The ``sklearn-gce`` command: :func:`main` on ``sys.argv``, then exit.

    Every file the command writes is closed when :func:`main` returns, and
    stdout and stderr are flushed here; the process then ends with
    ``os._exit``, skipping the interpreter's teardown of torch's modules
    (about 1.5 s of a run that takes 30).
    """
    status = main()
    if not isinstance(status, int):  # SystemExit's code: None or a message
        status = 0 if status is None else 2
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed early: what was left is lost
            status = status or 1
    os._exit(status)


def main(argv=None):
    """Run the command line; returns the exit status.

    Parameters
    ----------
    argv : list of str or None
        Arguments without the program name; None reads ``sys.argv``.

    Returns
    -------
    status : int
        0 on success, 2 for bad input, 1 for a run that failed, 130 when
        interrupted (Ctrl-C), 1 when stdout was closed early (as in
        ``sklearn-gce | head -1``), which ends the command quietly.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or (
        argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")
    ):
        argv = ["compare", *argv]
    try:
        try:
            args = _build_parser().parse_args(argv)
        except SystemExit as exc:  # --help and --version
            sys.stdout.flush()
            return exc.code
        args.argv = ["sklearn-gce", *argv]
        return args.func(args)
    except _UsageError as exc:
        _error(str(exc))
        return 2
    except _RunError as exc:
        _error(str(exc))
        return 1
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except BrokenPipeError:
        _silence(sys.stdout, sys.stderr)
        return 1


def _printable(text, stream):
    """``text`` with what ``stream`` cannot encode written as escapes."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        return text.encode(encoding, "backslashreplace").decode(encoding)
    except LookupError:
        return text


def _print(text=""):
    print(_printable(text, sys.stdout))


def _info(message):
    print(_printable(message, sys.stderr), file=sys.stderr)


def _error(message):
    _info(f"sklearn-gce: error: {message}")


def _silence(*streams):
    """Point the streams' file descriptors at os.devnull, so that nothing
    more is written to a closed pipe (Python's advice for SIGPIPE)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in streams:
        try:
            os.dup2(devnull, stream.fileno())
        except (OSError, ValueError, AttributeError):  # no file descriptor
            pass
    os.close(devnull)


def _load(args):
    from sklearn_gce.datasets import load_csv, load_dataset

    if args.csv is None:
        if args.target is not None:
            raise _UsageError("--target goes with --csv PATH")
        if args.imbalance_ratio is not None:
            raise _UsageError(
                "--imbalance-ratio goes with --csv; for an embedded dataset use "
                "its -lt name, e.g. --dataset digits-lt10"
            )
        return load_dataset(args.dataset or DEFAULT_DATASET)
    if args.target is None:
        raise _UsageError("--csv needs --target COLUMN, the column of class labels")
    return load_csv(args.csv, args.target, imbalance_ratio=args.imbalance_ratio)


def _unknown_classes(text, dataset):
    if text is None:
        return None
    labels = [part.strip() for part in text.split(",") if part.strip()]
    if dataset.y.dtype.kind in "iu":
        try:
            return [int(label) for label in labels]
        except ValueError:
            raise _UsageError(
                f"--unknown-classes {text!r}: the classes of {dataset.name} are "
                "integers"
            ) from None
    return labels


def _prepare(args):
    """Everything a run needs, checked before any training starts."""
    # the engine imports torch: bad names and settings are reported before it
    from sklearn_gce.compare import (
        MODELS,
        SpecError,
        TrainingConfig,
        parse_losses,
        parse_methods,
        resolve_device,
    )
    from sklearn_gce.datasets import DatasetError, split_dataset

    if args.hidden is not None and args.model != "mlp":
        raise _UsageError(
            f"--hidden sets the layers of the MLP; it does not apply to --model "
            f"{args.model}"
        )
    try:
        losses = parse_losses(args.losses)
        methods = parse_methods(args.post_hoc)
        if args.calib_size + args.test_size >= 1:
            raise _UsageError("--calib-size and --test-size must add up to less than 1")
        dataset = _load(args)
        unknown = _unknown_classes(args.unknown_classes, dataset)
        device = resolve_device(args.device)
        # classes too small to split fail here rather than after a first training
        split = split_dataset(
            dataset,
            0,
            calib_size=args.calib_size,
            test_size=args.test_size,
            train_size=args.train_size,
            unknown_classes=unknown,
        )
        config = TrainingConfig(
            epochs=args.epochs,
            # a batch larger than the training split is the whole split
            batch_size=min(args.batch_size, len(split.y_train)),
            hidden=args.hidden or DEFAULT_HIDDEN,
            lr=args.lr,
            device=device,
            model=args.model,
        )
        # losses and models that cannot train with these settings fail here
        for loss in losses:
            loss.check(config)
        n_classes = len(set(split.y_train.tolist()))
        MODELS[config.model].build(config, split.sample_shape, n_classes)
        if args.out is not None:
            _make_output_dir(args.out)
    except (DatasetError, SpecError, ValueError) as exc:
        raise _UsageError(str(exc)) from None
    return dataset, losses, methods, unknown, config


def _compare(args):
    dataset, losses, methods, unknown, config = _prepare(args)
    from sklearn_gce.compare import ProgressBar, run_comparison

    plotted = _plotted_losses(losses)
    bar = None if args.quiet else ProgressBar()
    if not args.quiet:
        _info(
            f"{dataset.name}: {len(losses)} losses x {args.seeds} seeds = "
            f"{len(losses) * args.seeds} networks ({config.model}, epochs: "
            f"{args.epochs}, device: {config.device}); post-hoc: "
            + ", ".join(m.key for m in methods)
        )
    try:
        comparison = run_comparison(
            dataset,
            losses,
            methods,
            seeds=range(args.seeds),
            config=config,
            calib_size=args.calib_size,
            test_size=args.test_size,
            train_size=args.train_size,
            unknown_classes=unknown,
            keep_proba=plotted,
            progress=bar,
            n_jobs=args.n_jobs,
        )
    except (FloatingPointError, RuntimeError, ValueError, MemoryError) as exc:
        raise _RunError(f"training failed: {exc}".splitlines()[0]) from None
    finally:
        if bar is not None:
            bar.close()
    report = _Report(comparison)
    status = 0
    stdout_error = None
    try:
        _print(report.text(ascii_only=_ascii_only(sys.stdout)))
        sys.stdout.flush()
    except BrokenPipeError:  # stdout closed early: still write the files
        _silence(sys.stdout)
        status = 1
    except OSError as exc:  # e.g. stdout on a full disk: still write the files
        _silence(sys.stdout)
        stdout_error = f"cannot write the results to stdout: {exc.strerror or exc}"
    if args.out is not None:
        written = _write_outputs(report, args, plotted)
        if not args.quiet:
            _info("wrote " + ", ".join(written))
    if stdout_error is not None:
        raise _RunError(stdout_error)
    return status


def _make_output_dir(path):
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise _UsageError(f"cannot create --out {path}: {exc.strerror}") from None
    if not os.access(path, os.W_OK):
        raise _UsageError(f"cannot write to --out {path}")


def _plotted_losses(losses):
    """CE and the first GCE side by side when both are compared."""
    keys = [loss.key for loss in losses]
    gce = next((loss.key for loss in losses if loss.is_gce), None)
    if "ce" in keys and gce is not None:
        return ["ce", gce]
    return keys[:2]


def _ascii_only(stream):
    try:
        "±".encode(stream.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return True
    return False


class _Report:
    """The summary, the tests and the notes of a comparison."""

    def __init__(self, comparison):
        from sklearn_gce.compare import (
            METRICS,
            ats_notes,
            notes_on_tests,
            paired_tests,
            summarize,
            warning_notes,
        )

        self.comparison = comparison
        self.metrics = [*METRICS, "ood_auroc", "fit_seconds"]
        self.summary = summarize(comparison.records, self.metrics)
        self.tests = paired_tests(comparison.records)
        n_seeds = len(comparison.seeds)
        notes = notes_on_tests(self.tests, n_seeds) if self.tests else []
        notes += ats_notes(comparison.records)
        notes += warning_notes(comparison.warnings)
        if not any(loss.is_gce for loss in comparison.losses):
            notes.append("No GCE loss was compared, so there are no paired tests.")
        self.notes = notes

    def text(self, *, ascii_only):
        from sklearn_gce.compare import format_summary, format_tests

        comparison = self.comparison
        sizes = ", ".join(f"{k} {v}" for k, v in comparison.split_sizes.items())
        lines = [
            comparison.dataset.description,
            f"split per seed: {sizes}; {len(comparison.seeds)} seeds; test-split "
            "metrics, mean +/- std over seeds",
            "",
            format_summary(self.summary, self.metrics, ascii_only=ascii_only),
        ]
        if self.tests:
            lines += [
                "",
                "GCE against each baseline (paired over seeds, Wilcoxon signed-rank):",
                format_tests(self.tests),
            ]
        lines += [f"- {note}" for note in self.notes]
        lines += [
            "",
            f"{len(comparison.records)} results in {comparison.seconds:.0f} s "
            f"({comparison.n_jobs} processes)",
        ]
        return "\n".join(lines)


def _write_outputs(report, args, plotted):
    """Every output file, all or none (see ``output_folder``); their paths."""
    from sklearn_gce.compare import output_folder

    try:
        with output_folder(args.out) as folder:
            names = _write_files(folder, report, args, plotted)
    except OSError as exc:
        if not os.path.isdir(args.out):
            reason = "the folder no longer exists (removed during the run?)"
        else:
            reason = exc.strerror or str(exc)
        raise _RunError(
            f"cannot write the results to --out {args.out}: {reason}; nothing was "
            "written"
        ) from None
    return [os.path.join(args.out, name) for name in names]


def _write_files(folder, report, args, plotted):
    from dataclasses import asdict

    from sklearn_gce.compare import (
        describe_environment,
        markdown_report,
        plot_reliability,
        write_csv,
        write_json,
    )

    comparison = report.comparison
    notes = report.notes
    names = ["runs.csv", "runs.json", "summary.md", "reliability.png"]
    plots = _have_matplotlib()
    if not plots:
        notes = [*notes, "matplotlib is not installed: reliability.png was skipped."]
        if not args.quiet:
            _info(f"note: {notes[-1]} (pip install matplotlib)")
        names.remove("reliability.png")
    path = {name: os.path.join(folder, name) for name in names}
    environment = describe_environment(comparison.config.device, argv=args.argv)
    settings = {
        "dataset": comparison.dataset.name,
        "losses": ",".join(loss.key for loss in comparison.losses),
        "post-hoc": ",".join(method.key for method in comparison.methods),
        "seeds": len(comparison.seeds),
        **asdict(comparison.config),
        "train_size": args.train_size,
        "split": comparison.split_sizes,
        "n_jobs": comparison.n_jobs,
        "torch_threads_per_run": 1,
        "seconds": round(comparison.seconds, 1),
    }
    write_csv(path["runs.csv"], comparison.records)
    write_json(
        path["runs.json"],
        {
            "environment": environment,
            "dataset": {
                "name": comparison.dataset.name,
                "description": comparison.dataset.description,
            },
            "settings": settings,
            "losses": {loss.key: loss.description for loss in comparison.losses},
            "summary": report.summary,
            "tests": report.tests,
            "notes": notes,
            "runs": comparison.records,
        },
    )
    with open(path["summary.md"], "w", encoding="utf-8") as file:
        file.write(
            markdown_report(
                title=f"sklearn-gce compare: {comparison.dataset.name}",
                environment=environment,
                description=comparison.dataset.description,
                settings=settings,
                summary=report.summary,
                metrics=report.metrics,
                tests=report.tests,
                notes=notes,
            )
        )
    if plots:
        plot_reliability(
            comparison.proba,
            plotted,
            [method.key for method in comparison.methods],
            path["reliability.png"],
            labels=comparison.classes,
            title=f"{comparison.dataset.name}: test predictions pooled over "
            f"{len(comparison.seeds)} seeds",
        )
    return names


def _have_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
