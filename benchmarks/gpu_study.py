"""The study's larger setting, for one GPU: mnist1d with 60 000 signals, ResNet1d.

The grid of ``benchmarks/study.py`` (ce, gce:0.25, gce:0.5, gce, ls, mbls,
flsd53, dualfocal, ce+mixup, each under none / temperature scaling / ATS;
seeds 0-9; paired Wilcoxon tests) on MNIST-1D generated with 60 000 samples
(36 000 training, 12 000 calibration and 12 000 test signals per seed), with
:class:`~sklearn_gce.modules.ResNet1dModule` (``--model resnet1d``): Adam, lr
1e-3, batch 256, 10 epochs. The (seed, loss) runs go to ``--n-jobs`` worker
processes sharing the GPU (the networks are small: one process alone leaves
the GPU mostly idle). Seeds run in rounds; the report is rewritten after
each round, and no round starts that would end after ``--max-minutes``, so
that one call stays within its time (the report says which seeds ran).

Without a GPU, or on a machine without the ``mnist1d`` package, first save
the data where it is installed, then pass it::

    python benchmarks/gpu_study.py --save-data .gpu_data/mnist1d-60000.npz
    python benchmarks/gpu_study.py OUT --data .gpu_data/mnist1d-60000.npz

or generate it in the call (about a minute on one core)::

    python benchmarks/gpu_study.py OUT

It writes ``study.md``, ``study_runs.csv`` and ``study.json`` under ``OUT``.
"""

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

_HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(_HERE.parent), str(_HERE)]  # this checkout's package first

from _env import describe_run
from study import GRID_LOSSES, Plan, Setting, run_setting, write_report

from sklearn_gce.compare import resolve_device
from sklearn_gce.datasets import Dataset, load_mnist1d

N_SAMPLES = 60_000


def gpu_plan(dataset, *, seeds=10, epochs=10, batch_size=256, losses=GRID_LOSSES):
    """The one setting of the GPU study, on the named (already loaded) dataset."""
    setting = Setting("grid", dataset, dataset, losses, None, epochs, batch_size)
    return Plan(seeds=seeds, settings=(setting,), lr=1e-3, model="resnet1d")


def save_data(path, n_samples=N_SAMPLES):
    """Generate MNIST-1D with ``n_samples`` signals and save it as ``.npz``."""
    dataset = load_mnist1d(n_samples)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, X=dataset.X, y=dataset.y, description=dataset.description)


def load_data(path=None, n_samples=N_SAMPLES):
    """The study's dataset: from a saved ``.npz``, or generated."""
    if path is None:
        return load_mnist1d(n_samples)
    with np.load(path) as data:
        X, y, description = data["X"], data["y"], str(data["description"])
    return Dataset(
        X=X,
        y=y,
        feature_names=tuple(f"x{i}" for i in range(X.shape[1])),
        name=f"mnist1d-{len(y)}",
        description=f"{description} (read from {Path(path).name})",
        sample_shape=(1, X.shape[1]),
    )


def _can_plot():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def run_gpu_study(
    out,
    dataset,
    plan,
    *,
    device="cuda",
    n_jobs=6,
    seeds_per_round=2,
    max_minutes=7.0,
):
    """Train the plan's setting round by round, writing the report after each.

    Returns
    -------
    seeds : list of int
        The seeds that ran (a prefix of ``0 .. plan.seeds - 1``).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    info = describe_run(extra_packages=("mnist1d",), device=device)
    info["dataset"] = dataset.description
    info["n_jobs"] = str(n_jobs)
    title = f"GPU study: {dataset.name}, ResNet1dModule"
    setting = plan.settings[0]
    loaded, done, records, proba, ran = {setting.dataset: dataset}, {}, [], {}, []
    start, last_round = time.perf_counter(), 0.0

    def report():
        write_report(
            out,
            info,
            replace(plan, seeds=len(ran)),
            {"grid": ([setting], records)},
            {"grid": time.perf_counter() - start},
            title,
            proba if _can_plot() else None,
        )

    seeds = list(range(plan.seeds))
    for first in range(0, len(seeds), seeds_per_round):
        elapsed = time.perf_counter() - start
        if ran and elapsed + last_round > max_minutes * 60:
            info["stopped"] = (
                f"after seeds {ran[0]}-{ran[-1]}: another round would pass "
                f"--max-minutes {max_minutes:g}"
            )
            report()
            break
        batch = seeds[first : first + seeds_per_round]
        round_start = time.perf_counter()
        new_records, new_proba, _ = run_setting(
            plan,
            setting,
            n_jobs=n_jobs,
            device=device,
            loaded=loaded,
            done=done,
            seeds=batch,
        )
        last_round = time.perf_counter() - round_start
        records += new_records
        proba.update(new_proba)
        ran += batch
        report()
        minutes = (time.perf_counter() - start) / 60
        print(f"seeds {ran[0]}-{ran[-1]} done ({minutes:.1f} min)", flush=True)
    return ran


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, nargs="?", help="folder of the outputs")
    parser.add_argument("--data", type=Path, help="an .npz saved by --save-data")
    parser.add_argument("--save-data", type=Path, help="generate, save, and exit")
    parser.add_argument("--n-samples", type=int, default=N_SAMPLES)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--losses", default=GRID_LOSSES)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--n-jobs", type=int, default=6)
    parser.add_argument("--seeds-per-round", type=int, default=2)
    parser.add_argument("--max-minutes", type=float, default=7.0)
    args = parser.parse_args(argv)
    if args.save_data is not None:
        save_data(args.save_data, args.n_samples)
        print(f"wrote {args.save_data}")
        return 0
    if args.out is None:
        parser.error("give the output folder (or --save-data PATH)")
    device = resolve_device(args.device)
    dataset = load_data(args.data, args.n_samples)
    plan = gpu_plan(
        dataset.name,
        seeds=args.seeds,
        epochs=args.epochs,
        batch_size=args.batch_size,
        losses=args.losses,
    )
    run_gpu_study(
        args.out,
        dataset,
        plan,
        device=device,
        n_jobs=args.n_jobs,
        seeds_per_round=args.seeds_per_round,
        max_minutes=args.max_minutes,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
