import os
import random

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

# One BLAS thread, in the tests and in the processes they start: the problems
# under test are tiny, and on a loaded 2-core machine a second OpenBLAS thread
# makes each small product wait for the busy core (an ATSCalibrator fit took
# 8x the CPU time). OpenBLAS reads the variable when it loads: pytest has
# loaded numpy's already (for the filterwarnings setting), hence
# _one_blas_thread below as well.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def pytest_configure(config):
    # The networks under test are tiny: a second intra-op thread buys nothing,
    # and on a loaded 2-core machine it makes every parallel op wait for the
    # other core (tests ran 15x slower that way). Subprocesses set their own.
    if config.getoption("numprocesses", None) and not hasattr(config, "workerinput"):
        return  # pytest-xdist's controller runs no test: torch's import waits
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)


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
