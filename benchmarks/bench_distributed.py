"""Cost of exact GCE under data parallelism: one DDP training step, 2 CPU processes.

Each of 2 gloo processes (one torch thread each) trains the same MLP under
DistributedDataParallel on its shard. A step is forward, loss, backward (with
DDP's gradient all-reduce) and an Adam step; the loss is GCELoss computed over
the global batch (distributed=True: one all-gather of 2K+2 numbers per
step), GCELoss on the shard alone
(distributed=False, not the global-batch loss) or cross-entropy. Timings are
interleaved within rounds; each ratio is the median over rounds of per-round
ratios, as in bench_loss.py.

    python benchmarks/bench_distributed.py [--out benchmarks/results/distributed.md]
"""

import argparse
import os
import socket
import statistics
import tempfile
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from _env import describe_run, markdown_header
from torch.nn.parallel import DistributedDataParallel

from sklearn_gce import GCELoss

SIZES = [(128, 10), (128, 100), (512, 1000)]  # (samples per process, classes)
N_FEATURES, HIDDEN = 64, 256


def _criteria():
    return {
        "cross_entropy": torch.nn.CrossEntropyLoss(),
        "gce_shard_only": GCELoss(distributed=False),
        "gce_global": GCELoss(distributed=True),
    }


def _time_steps(model, optimizer, criterion, X, y, n_steps):
    start = time.perf_counter()
    for _ in range(n_steps):
        optimizer.zero_grad()
        criterion(model(X), y).backward()
        optimizer.step()
    return (time.perf_counter() - start) / n_steps


def _time_all_gather(n_classes, n_steps):
    """The collective alone: an all-gather of 2K + 2 numbers."""
    summary = torch.zeros(2 * n_classes + 2)
    shards = [torch.empty_like(summary) for _ in range(dist.get_world_size())]
    start = time.perf_counter()
    for _ in range(n_steps):
        dist.all_gather(shards, summary)
    return (time.perf_counter() - start) / n_steps


def _measure(rank, batch, n_classes, rounds):
    torch.manual_seed(rank)
    X = torch.randn(batch, N_FEATURES)
    y = torch.randint(0, n_classes, (batch,))
    model = DistributedDataParallel(
        torch.nn.Sequential(
            torch.nn.Linear(N_FEATURES, HIDDEN),
            torch.nn.ReLU(),
            torch.nn.Linear(HIDDEN, n_classes),
        )
    )
    optimizer = torch.optim.Adam(model.parameters())
    criteria = _criteria()
    n_steps = 20
    for criterion in criteria.values():  # warm-up
        _time_steps(model, optimizer, criterion, X, y, n_steps)
    times = {name: [] for name in [*criteria, "all_gather"]}
    for _ in range(rounds):
        for name, criterion in criteria.items():
            times[name].append(_time_steps(model, optimizer, criterion, X, y, n_steps))
        times["all_gather"].append(_time_all_gather(n_classes, n_steps))
    return times


def _worker(rank, port, rounds, out_dir):
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2
    )
    results = [(b, k, _measure(rank, b, k, rounds)) for b, k in SIZES]
    dist.destroy_process_group()
    torch.save(results, os.path.join(out_dir, f"rank{rank}.pt"))


def _row(batch, n_classes, times):
    base = times["cross_entropy"]
    row = {"B": batch, "K": n_classes, "ce_ms": statistics.median(base) * 1e3}
    row["gather_ms"] = statistics.median(times["all_gather"]) * 1e3
    for name in ("gce_shard_only", "gce_global"):
        row[name] = statistics.median(t / b for t, b in zip(times[name], base))
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--out", default=None, help="markdown file to write")
    args = parser.parse_args()

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as out_dir:
        mp.spawn(_worker, args=(port, args.rounds, out_dir), nprocs=2)
        results = torch.load(os.path.join(out_dir, "rank0.pt"))
    lines = [
        "| B per process | K | cross-entropy step (ms) | GCE shard only / ce "
        "| GCE global batch / ce | all-gather alone (ms) |",
        "|---|---|---|---|---|---|",
    ]
    for batch, n_classes, times in results:
        r = _row(batch, n_classes, times)
        lines.append(
            f"| {r['B']} | {r['K']} | {r['ce_ms']:.2f} | {r['gce_shard_only']:.2f} "
            f"| **{r['gce_global']:.2f}** | {r['gather_ms']:.2f} |"
        )
    table = "\n".join(lines)
    print(table)
    if args.out:
        with open(args.out, "w") as f:
            f.write(
                markdown_header("Data-parallel GCE: cost per DDP step", describe_run())
            )
            f.write(
                "\n2 gloo processes on one machine, 1 torch thread each; MLP "
                f"{N_FEATURES}-{HIDDEN}-K, Adam. Median over interleaved rounds of "
                "the per-round ratio of step times (rank 0).\n\n"
            )
            f.write(table + "\n")


if __name__ == "__main__":
    main()
