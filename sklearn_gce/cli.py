"""The ``sklearn-gce`` command.

``sklearn-gce compare`` (the default when no command is given) trains a
network per loss and seed, calibrates each post hoc, and reports accuracy and
calibration on a held-out test split, with paired statistics. Bad input gets
one line on stderr and exit status 2; a run that fails gets status 1.
"""

import argparse
import os
import sys

from sklearn_gce.compare._specs import DEFAULT_LOSSES, DEFAULT_METHODS

DEFAULT_DATASET = "digits"
DEFAULT_SEEDS = 10
DEFAULT_EPOCHS = 60

_EPILOG = """\
losses: ce (cross-entropy), gce[:lambda] (Generative Cross-Entropy, lambda 1 by
default; e.g. gce:0.5), ls[:smoothing] (label smoothing 0.05), focal[:gamma]
(gamma 3), flsd53 (FLSD-53), dualfocal[:gamma] (gamma 5).
post-hoc methods: none, temperature (scikit-learn's temperature scaling),
ats[:n_bins] (adaptive temperature scaling, 15 bins).
datasets: digits (scikit-learn's, embedded), mnist1d (generated; needs the
mnist1d package), and NAME-lt10 / NAME-lt100 for a long-tailed training split.

example:
  sklearn-gce compare --dataset mnist1d --losses ce,gce,gce:0.5 --seeds 6 --out res
"""


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
        epilog=_EPILOG,
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
        type=_positive_int,
        default=DEFAULT_SEEDS,
        metavar="N",
        help="seeds 0..N-1, each a split and initial weights (default: %(default)s)",
    )
    training = compare.add_argument_group("training")
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
        default=(256,),
        metavar="SIZES",
        help="hidden layer widths of the MLP, e.g. 256 or 256,128 (default: 256)",
    )
    training.add_argument(
        "--lr",
        type=_positive_float,
        default=1e-3,
        help="Adam's learning rate (default: %(default)s)",
    )
    training.add_argument(
        "--device",
        choices=("cpu", "cuda", "auto"),
        default="cpu",
        help="torch device; auto picks cuda when available (default: %(default)s)",
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


def main(argv=None):
    """Run the command line; returns the exit status.

    Parameters
    ----------
    argv : list of str or None
        Arguments without the program name; None reads ``sys.argv``.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or (
        argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")
    ):
        argv = ["compare", *argv]
    try:
        args = _build_parser().parse_args(argv)
        args.argv = ["sklearn-gce", *argv]
        return args.func(args)
    except _UsageError as exc:
        _error(str(exc))
        return 2
    except KeyboardInterrupt:
        _error("interrupted")
        return 130


def _error(message):
    print(f"sklearn-gce: error: {message}", file=sys.stderr)


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
    from sklearn_gce.compare import (
        SpecError,
        TrainingConfig,
        parse_losses,
        parse_methods,
        resolve_device,
    )
    from sklearn_gce.datasets import DatasetError, split_dataset

    try:
        losses = parse_losses(args.losses)
        methods = parse_methods(args.post_hoc)
        dataset = _load(args)
        unknown = _unknown_classes(args.unknown_classes, dataset)
        device = resolve_device(args.device)
        if args.calib_size + args.test_size >= 1:
            raise _UsageError("--calib-size and --test-size must add up to less than 1")
        # classes too small to split fail here rather than after a first training
        split_dataset(
            dataset,
            0,
            calib_size=args.calib_size,
            test_size=args.test_size,
            unknown_classes=unknown,
        )
        if args.out is not None:
            _make_output_dir(args.out)
    except (DatasetError, SpecError, ValueError) as exc:
        raise _UsageError(str(exc)) from None
    config = TrainingConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        hidden=args.hidden,
        lr=args.lr,
        device=device,
    )
    return dataset, losses, methods, unknown, config


def _compare(args):
    from sklearn_gce.compare import ProgressBar, run_comparison

    dataset, losses, methods, unknown, config = _prepare(args)
    plotted = _plotted_losses(losses)
    bar = None if args.quiet else ProgressBar()
    if not args.quiet:
        _info(
            f"{dataset.name}: {len(losses)} losses x {args.seeds} seeds = "
            f"{len(losses) * args.seeds} networks (epochs: {args.epochs}, device: "
            f"{config.device}); post-hoc: " + ", ".join(m.key for m in methods)
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
            unknown_classes=unknown,
            keep_proba=plotted,
            progress=bar,
        )
    except (FloatingPointError, RuntimeError) as exc:
        _error(f"training failed: {exc}".splitlines()[0])
        return 1
    finally:
        if bar is not None:
            bar.close()
    _report(comparison, args, plotted)
    return 0


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


def _info(message):
    print(message, file=sys.stderr)


def _ascii_only(stream):
    try:
        "±".encode(stream.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return True
    return False


def _report(comparison, args, plotted):
    from sklearn_gce.compare import (
        METRICS,
        ats_notes,
        format_summary,
        format_tests,
        notes_on_tests,
        paired_tests,
        summarize,
    )

    metrics = [*METRICS, "ood_auroc", "fit_seconds"]
    summary = summarize(comparison.records, metrics)
    tests = paired_tests(comparison.records)
    notes = notes_on_tests(tests, len(comparison.seeds)) if tests else []
    notes += ats_notes(comparison.records)
    sizes = ", ".join(f"{k} {v}" for k, v in comparison.split_sizes.items())
    print(f"{comparison.dataset.description}")
    print(
        f"split per seed: {sizes}; {len(comparison.seeds)} seeds; test-split "
        "metrics, mean +/- std over seeds"
    )
    print()
    print(format_summary(summary, metrics, ascii_only=_ascii_only(sys.stdout)))
    if tests:
        print()
        print("GCE against each baseline (paired over seeds, Wilcoxon signed-rank):")
        print(format_tests(tests))
    if not any(loss.is_gce for loss in comparison.losses):
        notes.append("No GCE loss was compared, so there are no paired tests.")
    steep = [loss.key for loss in comparison.losses if loss.is_gce and loss.param > 1]
    if steep:
        notes.append(
            f"{', '.join(steep)}: GCE with lambda > 1 is not a proper loss (for "
            "lambda <= 1 it is (1 - lambda) CE + lambda GCE(1), a mix of two "
            "proper losses; above 1 it subtracts CE), and training can collapse "
            "(on digits, lambda = 2 gives chance accuracy)."
        )
    for note in notes:
        print(f"- {note}")
    print(f"\n{len(comparison.records)} results in {comparison.seconds:.0f} s")
    if args.out is not None:
        written = _write_outputs(
            comparison, args, summary, metrics, tests, notes, plotted
        )
        if not args.quiet:
            _info("wrote " + ", ".join(written))


def _write_outputs(comparison, args, summary, metrics, tests, notes, plotted):
    from dataclasses import asdict

    from sklearn_gce.compare import (
        describe_environment,
        markdown_report,
        plot_reliability,
        write_csv,
        write_json,
    )

    paths = {
        name: os.path.join(args.out, name)
        for name in ("runs.csv", "runs.json", "summary.md", "reliability.png")
    }
    plots = _have_matplotlib()
    if not plots:
        notes = [*notes, "matplotlib is not installed: reliability.png was skipped."]
        if not args.quiet:
            _info(f"note: {notes[-1]} (pip install matplotlib)")
        del paths["reliability.png"]
    environment = describe_environment(comparison.config.device, argv=args.argv)
    settings = {
        "dataset": comparison.dataset.name,
        "losses": ",".join(loss.key for loss in comparison.losses),
        "post-hoc": ",".join(method.key for method in comparison.methods),
        "seeds": len(comparison.seeds),
        **asdict(comparison.config),
        "split": comparison.split_sizes,
        "seconds": round(comparison.seconds, 1),
    }
    write_csv(paths["runs.csv"], comparison.records)
    write_json(
        paths["runs.json"],
        {
            "environment": environment,
            "dataset": {
                "name": comparison.dataset.name,
                "description": comparison.dataset.description,
            },
            "settings": settings,
            "losses": {loss.key: loss.description for loss in comparison.losses},
            "summary": summary,
            "tests": tests,
            "notes": notes,
            "runs": comparison.records,
        },
    )
    with open(paths["summary.md"], "w", encoding="utf-8") as file:
        file.write(
            markdown_report(
                title=f"sklearn-gce compare: {comparison.dataset.name}",
                environment=environment,
                description=comparison.dataset.description,
                settings=settings,
                summary=summary,
                metrics=metrics,
                tests=tests,
                notes=notes,
            )
        )
    if plots:
        plot_reliability(
            comparison.proba,
            plotted,
            [method.key for method in comparison.methods],
            paths["reliability.png"],
            labels=comparison.classes,
            title=f"{comparison.dataset.name}: test predictions pooled over "
            f"{len(comparison.seeds)} seeds",
        )
    return list(paths.values())


def _have_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
