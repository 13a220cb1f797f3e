"""The comparison's worker processes (sklearn_gce.compare._workers)."""

import gc
import os
import threading

import pytest
from joblib import cpu_count, delayed, parallel_config

from sklearn_gce.compare import _workers
from sklearn_gce.compare._workers import n_workers, parallel_results


def _square(x):
    return x * x, os.getpid()


def _fail(x):
    if x == 3:
        raise ValueError("run 3 failed")
    return x


def test_forked_workers_return_every_result_as_it_finishes():
    assert _workers._can_fork("cpu")
    calls = [delayed(_square)(x) for x in range(10)]
    results = list(parallel_results(calls, 2, "cpu"))
    assert sorted(value for value, _ in results) == [x * x for x in range(10)]
    pids = {pid for _, pid in results}  # one worker may take them all
    assert 1 <= len(pids) <= 2 and os.getpid() not in pids


def _frozen_objects(_):
    return gc.get_freeze_count()


def test_workers_leave_inherited_objects_out_of_garbage_collection():
    assert gc.get_freeze_count() == 0
    calls = [delayed(_frozen_objects)(x) for x in range(4)]
    in_workers = set(parallel_results(calls, 2, "cpu"))
    assert min(in_workers) > 10_000  # torch's, scikit-learn's, ... objects
    assert gc.get_freeze_count() == 0  # this process's state is restored
    with pytest.raises(ValueError, match="run 3 failed"):
        list(parallel_results((delayed(_fail)(x) for x in range(8)), 2, "cpu"))
    assert gc.get_freeze_count() == 0
    gc.freeze()  # the caller's own frozen objects stay frozen
    try:
        frozen = gc.get_freeze_count()
        list(parallel_results(calls, 2, "cpu"))
        assert gc.get_freeze_count() >= frozen
    finally:
        gc.unfreeze()


def test_calls_are_made_as_workers_become_free():
    made = []

    def calls():
        for x in range(20):
            made.append(x)
            yield delayed(_square)(x)

    results = parallel_results(calls(), 2, "cpu")
    next(results)
    assert len(made) <= 5  # two calls per worker in flight, and the next one
    assert len(list(results)) == 19 and len(made) == 20


def test_a_failing_call_raises_here_and_stops_the_workers():
    with pytest.raises(ValueError, match="run 3 failed"):
        list(parallel_results((delayed(_fail)(x) for x in range(8)), 2, "cpu"))


def test_joblib_runs_the_calls_where_forking_is_not_right():
    assert not _workers._can_fork("cuda")
    with parallel_config(backend="threading"):  # chosen by the user: kept
        assert not _workers._can_fork("cpu")
        results = list(parallel_results([delayed(_square)(3)] * 4, 2, "cpu"))
    assert {pid for _, pid in results} == {os.getpid()}  # threads, this process
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:  # a lock another thread holds would stay held in a forked child
        assert not _workers._can_fork("cpu")
    finally:
        stop.set()
        other.join()


def test_n_workers_is_capped_by_the_runs():
    assert n_workers(1, 10) == 1
    assert n_workers(8, 3) == 3
    assert n_workers(-1, 100) == cpu_count()  # joblib's count: cgroups too
    assert n_workers(None, 5) == 1
