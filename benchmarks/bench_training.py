"""Training speed: GCE's cost and the framework's cost, measured side by side.

1. End-to-end: ``GCEClassifier(reg_weight=1)`` vs the same classifier with
   ``criterion=torch.nn.CrossEntropyLoss`` (goal: at most 1.10x).
2. Framework overhead: ``GCEClassifier`` vs a hand-written PyTorch loop
   (tensor slicing, same model, loss, optimizer, batch size; goal: at most
   1.25x), with plain skorch ``NeuralNetClassifier`` (DataLoader) for reference.

Setting of issue 2: MLP 64 -> 256 -> 10, 20 000 x 64 samples, 10 classes,
batch 128, Adam. Runs are interleaved round by round, in an order rotated
from round to round; each ratio is the median over rounds of the per-round
ratio. Every run uses the same torch
threads (``--threads``, or torch's default): the classifier's fits pass
``torch_threads=None``, so that its thread policy (measured by
``bench_threads.py``) does not enter the framework's cost.

    python benchmarks/bench_training.py [--out benchmarks/results/training_speed.md]
"""

import argparse
import statistics
import time

import numpy as np
import torch
from _env import describe_run, markdown_header
from skorch import NeuralNetClassifier

from sklearn_gce import GCEClassifier, GCELoss, MLPModule

N_SAMPLES, N_FEATURES, N_CLASSES, BATCH = 20_000, 64, 10, 128


def make_data(seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((N_CLASSES, N_FEATURES))
    y = rng.integers(0, N_CLASSES, N_SAMPLES)
    X = centers[y] + 2.0 * rng.standard_normal((N_SAMPLES, N_FEATURES))
    return X.astype(np.float32), y.astype(np.int64)


def _module():
    return MLPModule(N_FEATURES, N_CLASSES, hidden_sizes=(256,))


DEVICE = "cpu"


def _sync():
    if DEVICE != "cpu":
        torch.cuda.synchronize()


def fit_gce(X, y, epochs, criterion=GCELoss):
    GCEClassifier(
        criterion=criterion,
        max_epochs=epochs,
        batch_size=BATCH,
        random_state=0,
        device=DEVICE,
        torch_threads=None,
    ).fit(X, y)
    _sync()


def fit_gce_ce(X, y, epochs):
    fit_gce(X, y, epochs, criterion=torch.nn.CrossEntropyLoss)


def fit_skorch(X, y, epochs):
    torch.manual_seed(0)
    NeuralNetClassifier(
        _module,
        criterion=GCELoss,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        max_epochs=epochs,
        batch_size=BATCH,
        train_split=None,
        iterator_train__shuffle=True,
        verbose=0,
        device=DEVICE,
    ).fit(X, y)
    _sync()


def fit_by_hand(X, y, epochs):
    torch.manual_seed(0)
    X, y = torch.from_numpy(X), torch.from_numpy(y)
    model = _module().to(DEVICE)
    criterion = GCELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(X))
        for start in range(0, len(X), BATCH):
            index = order[start : start + BATCH]
            optimizer.zero_grad()
            Xb = X.index_select(0, index).to(DEVICE)
            yb = y.index_select(0, index).to(DEVICE)
            loss = criterion(model(Xb), yb)
            loss.backward()
            optimizer.step()
    _sync()


CANDIDATES = {
    "hand_loop": fit_by_hand,
    "gce": fit_gce,
    "gce_with_ce_criterion": fit_gce_ce,
    "skorch_dataloader": fit_skorch,
}


def run(rounds, epochs):
    X, y = make_data()
    for fn in CANDIDATES.values():  # warm-up
        fn(X[:2000], y[:2000], 1)
    times = {name: [] for name in CANDIDATES}
    names = list(CANDIDATES)
    for round_ in range(rounds):
        # each candidate takes each position in turn: the first run of a round
        # was measured about 5% slower than the same run later in the round
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            CANDIDATES[name](X, y, epochs)
            times[name].append(time.perf_counter() - start)
    return times


def ratio(times, name, base):
    return statistics.median(t / b for t, b in zip(times[name], times[base]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    global DEVICE
    DEVICE = args.device

    times = run(args.rounds, args.epochs)
    steps = args.epochs * -(-N_SAMPLES // BATCH)
    rows = [
        (
            "GCEClassifier (GCE) vs same with CrossEntropyLoss",
            "gce",
            "gce_with_ce_criterion",
            1.10,
        ),
        ("GCEClassifier vs hand-written loop", "gce", "hand_loop", 1.25),
        (
            "skorch NeuralNetClassifier + DataLoader vs hand-written loop",
            "skorch_dataloader",
            "hand_loop",
            None,
        ),
    ]
    lines = ["| comparison | ratio (median) | goal |", "|---|---|---|"]
    for label, name, base, goal in rows:
        lines.append(
            f"| {label} | **{ratio(times, name, base):.3f}** | {goal or '-'} |"
        )
    lines += ["", "| run | median time per fit (s) | per step (us) |", "|---|---|---|"]
    for name, values in times.items():
        median = statistics.median(values)
        lines.append(f"| {name} | {median:.3f} | {median / steps * 1e6:.0f} |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        with open(args.out, "w") as f:
            info = describe_run(device=args.device)
            f.write(markdown_header("Training speed", info))
            f.write(
                f"\n{N_SAMPLES} x {N_FEATURES}, {N_CLASSES} classes, MLP 64-256-10, "
                f"batch {BATCH}, Adam, {args.epochs} epochs per fit, {args.rounds} "
                "interleaved rounds.\n\n"
            )
            f.write(table + "\n")


if __name__ == "__main__":
    main()
