"""Loss alone, forward + backward: generative_cross_entropy vs F.cross_entropy.

Goal (issue 2): at most 2.5x cross-entropy at (B, K) in {(128, 10), (256, 100),
(1024, 1000)}. Timings are interleaved (CE, GCE, CE, GCE, ...) within one run,
and each ratio is the median over rounds of per-round ratios, which is robust
to the noise of a shared machine. Also times GCE forced through each of its
two local forms (log space, probability space), to justify the size at which
the probability-space form takes over, and GCE with sample weights.

    python benchmarks/bench_loss.py [--threads 1] [--out FILE.md]

``--clock cpu`` times the process's CPU time instead of the wall clock: with
one thread, a rough guide on a machine that other jobs keep busy.
"""

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from _env import describe_run, markdown_header

from sklearn_gce import losses

SIZES = [(128, 10), (256, 100), (512, 128), (1024, 100), (1024, 1000)]
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def _gce_from(min_numel):
    """GCE with the probability-space form from ``min_numel`` logits on."""

    def gce(logits, target):
        saved = losses._PROB_SPACE_MIN_NUMEL
        losses._PROB_SPACE_MIN_NUMEL = min_numel
        try:
            return losses.generative_cross_entropy(logits, target)
        finally:
            losses._PROB_SPACE_MIN_NUMEL = saved

    return gce


def _time_per_call(fn, logits, target, n_calls, clock):
    sync = torch.cuda.synchronize if logits.is_cuda else (lambda: None)
    sync()
    start = clock()
    for _ in range(n_calls):
        fn(logits, target).backward()
    sync()
    return (clock() - start) / n_calls


def measure(batch, n_classes, rounds, device="cpu", clock=time.perf_counter):
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(batch, n_classes, generator=gen).to(device).requires_grad_()
    target = torch.randint(0, n_classes, (batch,), generator=gen).to(device)
    weight = (torch.rand(batch, generator=gen) + 0.5).to(device)
    candidates = {
        "cross_entropy": lambda z, y: F.cross_entropy(z, y),
        "gce": losses.generative_cross_entropy,
        "gce_log_space": _gce_from(2**62),
        "gce_prob_space": _gce_from(0),
        "gce_weighted": lambda z, y: losses.generative_cross_entropy(
            z, y, sample_weight=weight
        ),
    }
    if device != "cpu":  # the probability-space form is for the CPU only
        del candidates["gce_prob_space"]
    n_calls = max(5, int(2e7 / (batch * n_classes + 20_000)))
    # warm-up of about a second per candidate: the first calls of a new size
    # pay for page faults until the allocator settles (up to 2x on our VMs)
    for _ in range(2):
        for fn in candidates.values():
            deadline = time.perf_counter() + 0.5
            while time.perf_counter() < deadline:
                _time_per_call(fn, logits, target, n_calls, clock)
    times = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            times[name].append(_time_per_call(fn, logits, target, n_calls, clock))
    base = times["cross_entropy"]
    row = {"B": batch, "K": n_classes, "ce_us": statistics.median(base) * 1e6}
    for name in candidates:
        if name != "cross_entropy":
            ratios = [t / b for t, b in zip(times[name], base)]
            row[name] = statistics.median(ratios)
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall")
    parser.add_argument(
        "--sizes", default=None, help="B:K,B:K,... (default: the goal's and more)"
    )
    parser.add_argument("--out", default=None, help="markdown file to write")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes = SIZES
    if args.sizes:
        sizes = [
            tuple(int(n) for n in size.split(":")) for size in args.sizes.split(",")
        ]

    rows = [
        measure(b, k, args.rounds, args.device, CLOCKS[args.clock]) for b, k in sizes
    ]
    lines = [
        "| B | K | cross_entropy (us) | gce / ce | log-space form / ce "
        "| prob-space form / ce | gce with sample_weight / ce |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        prob_space = r.get("gce_prob_space")
        lines.append(
            f"| {r['B']} | {r['K']} | {r['ce_us']:.1f} | **{r['gce']:.2f}** "
            f"| {r['gce_log_space']:.2f} "
            f"| {'-' if prob_space is None else f'{prob_space:.2f}'} "
            f"| {r['gce_weighted']:.2f} |"
        )
    table = "\n".join(lines)
    print(table)
    if args.out:
        info = describe_run(device=args.device)
        with open(args.out, "w") as f:
            f.write(markdown_header("Loss speed: GCE vs cross-entropy", info))
            f.write(
                "\nForward + backward of one batch, median over interleaved rounds "
                f"of the per-round ratio ({args.clock} clock). `gce` is the public "
                "function (probability-space form from "
                f"{losses._PROB_SPACE_MIN_NUMEL} logits on CPU). Goal: gce / ce "
                "<= 2.5 at (128, 10), (256, 100), (1024, 1000).\n\n"
            )
            f.write(table + "\n")


if __name__ == "__main__":
    main()
