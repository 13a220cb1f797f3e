import gc
import os
import random

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

# One BLAS thread, in the tests and in the processes they start: the problems
# under test are tiny, and on a loaded 2-core machine a second OpenBLAS thread
# makes each small product wait for the busy core (an ATSCalibrator fit took
# 8x the CPU time). OpenBLAS reads the variable when it loads, which may
# already have happened, hence _one_blas_thread below as well.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _runs_tests(config):
    """False in pytest-xdist's controller, which only hands out the tests."""
    return not config.getoption("numprocesses", None) or hasattr(config, "workerinput")


def pytest_configure(config):
    # pytest's exit collects every object of torch and scikit-learn first
    # (1 to 1.5 s a process); frozen objects are not collected.
    config.add_cleanup(gc.freeze)
    if not _runs_tests(config):
        return  # nor does the controller import torch or scikit-learn
    # Named here rather than in pyproject.toml's filterwarnings, where the
    # controller would import scikit-learn to read it (2 s before the
    # workers start).
    config.addinivalue_line(
        "filterwarnings", "error::sklearn.exceptions.DataConversionWarning"
    )
    # Collecting imports torch, scikit-learn and every test module: with the
    # collector on, that is 2 s of full collections of an ever larger heap.
    # It comes back on once the tests are collected.
    gc.disable()
    # The networks under test are tiny: a second intra-op thread buys nothing,
    # and on a loaded 2-core machine it makes every parallel op wait for the
    # other core (tests ran 15x slower that way). Subprocesses set their own.
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)


def pytest_collection_finish(session):
    gc.enable()


@pytest.fixture(autouse=True, scope="session")
def _one_blas_thread():
    """One thread in every BLAS library loaded once the tests are collected."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(autouse=True)
def _fixed_seeds():
    """Every test starts from the same global random state."""
    random.seed(0)
    np.random.seed(0)  # noqa: NPY002 (the global state is what we pin)
    try:
        import torch
    except ImportError:  # the numpy-only modules are tested without torch too
        return
    torch.manual_seed(0)
