"""The worker processes that train a comparison's networks in parallel.

On Linux, with joblib's default backend and a CPU device, the workers are
forked from this process once it has imported torch: they start in a
fraction of a second, where joblib's ``loky`` workers (new interpreters)
each import torch, skorch and scikit-learn first, which takes about 5 s of a
core each (joblib's own fork backend, ``multiprocessing``, cannot return
results as they finish, which the progress bar needs). Elsewhere (macOS,
Windows, a CUDA device, a backend chosen with ``joblib.parallel_config``,
e.g. Dask, or a process that runs other threads, such as a notebook's
kernel), the runs go through joblib.
"""

import gc
import itertools
import multiprocessing
import queue
import signal
import sys
import threading

__all__ = ["n_workers", "parallel_results"]


def n_workers(n_jobs, n_runs):
    """The processes a comparison of ``n_runs`` runs trains on (1: in this
    process), for joblib's ``n_jobs``."""
    from joblib import effective_n_jobs

    return max(1, min(effective_n_jobs(n_jobs), n_runs))


def parallel_results(calls, n_jobs, device):
    """What each call returns, in the order the calls finish.

    Parameters
    ----------
    calls : iterable of (function, args, kwargs)
        As made by ``joblib.delayed``; consumed as workers become free, so
        that what a call needs is made when it starts.
    n_jobs : int
        Worker processes (>= 2).
    device : str
        The torch device the calls train on.

    Yields
    ------
    result
        The return value of each call. The first exception a call raises is
        raised here, and every worker is stopped.
    """
    if _can_fork(device):
        yield from _forked_results(calls, n_jobs)
        return
    from joblib import Parallel

    yield from Parallel(n_jobs=n_jobs, return_as="generator_unordered")(calls)


def _can_fork(device):
    from sklearn_gce._compat import joblib_backend_is_loky

    return (
        sys.platform.startswith("linux")
        and str(device) == "cpu"
        and joblib_backend_is_loky()
        # a lock another thread holds at the fork stays held in the child
        and threading.active_count() == 1
    )


def _forked_results(calls, n_jobs):
    # The workers' full garbage collections would each go over every object
    # of torch, scikit-learn, ... inherited from this process (0.15 s each);
    # frozen, these are left out (and their memory pages stay shared).
    frozen_before = gc.get_freeze_count()
    gc.freeze()
    try:
        yield from _results_of_a_fork_pool(calls, n_jobs)
    finally:
        if not frozen_before:
            gc.unfreeze()


def _results_of_a_fork_pool(calls, n_jobs):
    finished = queue.SimpleQueue()
    calls = iter(calls)
    context = multiprocessing.get_context("fork")
    with context.Pool(n_jobs, initializer=_start_worker) as pool:

        def submit(count):
            submitted = 0
            for call in itertools.islice(calls, count):
                pool.apply_async(
                    _call, (call,), callback=finished.put, error_callback=finished.put
                )
                submitted += 1
            return submitted

        # two calls per worker in flight, so that no worker waits for its next
        running = submit(2 * n_jobs)
        while running:
            item = finished.get()
            if isinstance(item, BaseException):
                raise item  # leaving the block terminates the workers
            yield item
            running += submit(1) - 1


def _start_worker():
    # Ctrl-C reaches every process of the terminal's group: the parent alone
    # handles it (and stops the workers)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)  # as joblib's workers: one BLAS thread each


def _call(call):
    function, args, kwargs = call
    return function(*args, **kwargs)
