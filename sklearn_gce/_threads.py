"""Torch's intra-op threads while a classifier fits or predicts.

A small network gains nothing from torch's intra-op threads: each of its
operations is too small to split, and split anyway it waits for the slowest
core, which on a busy machine is one that another process holds (a fit on
digits took 27 s on one thread and 238 s on two on a loaded 2-core machine).
A large network on the CPU gains from them, and a GPU does not use them.

``torch_threads="auto"`` therefore runs a call on one thread when the module
is on the CPU and its work per batch (parameters times rows) is below
:data:`SMALL_WORK`, and leaves torch's setting alone otherwise; an integer
sets that many threads, None leaves torch alone. The setting is global to the
process, so :func:`num_threads` always restores it, also on an exception.
"""

import contextlib
from numbers import Integral

import torch

__all__ = ["SMALL_WORK", "num_threads", "threads_for"]

# Parameters x batch rows below which "auto" uses one thread: about the
# geometric mean of the default MLP on digits (19 210 parameters x 64 rows,
# 1.2e6) and a CNN of 1.2 M parameters (7.7e7), which must keep its threads
# where they pay. On the loaded 2-core machine where this was written
# (benchmarks/bench_threads.py --sweep), one thread took 0.09-0.55x the time
# of two for MLPs of 1.2e6 to 2.8e8 and 0.63-0.85x for the CNN, so a lower
# threshold would only give up speed; the sweep on an idle machine shows
# where the crossover lies there.
SMALL_WORK = 10_000_000


def threads_for(torch_threads, module, batch_rows):
    """The number of intra-op threads for a call, or None to keep torch's.

    Parameters
    ----------
    torch_threads : "auto", int or None
        The classifier's parameter.
    module : torch.nn.Module
        The network.
    batch_rows : int or None
        Rows per batch of the call (None: unknown, taken as large).

    Returns
    -------
    n_threads : int or None

    Examples
    --------
    >>> import torch
    >>> threads_for("auto", torch.nn.Linear(64, 10), 64)
    1
    >>> threads_for("auto", torch.nn.Linear(2000, 1000), 64) is None
    True
    >>> threads_for(4, torch.nn.Linear(64, 10), 64)
    4
    """
    if torch_threads is None or isinstance(torch_threads, Integral):
        return None if torch_threads is None else int(torch_threads)
    parameters = list(module.parameters())
    if batch_rows is None or not parameters:
        return None
    if any(p.device.type != "cpu" for p in parameters):
        return None
    work = sum(p.numel() for p in parameters) * batch_rows
    return 1 if work < SMALL_WORK else None


@contextlib.contextmanager
def num_threads(n):
    """Run the block on ``n`` intra-op threads (None: torch's), then restore.

    Examples
    --------
    >>> import torch
    >>> before = torch.get_num_threads()
    >>> with num_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    previous = torch.get_num_threads()
    if n is None or n == previous:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
