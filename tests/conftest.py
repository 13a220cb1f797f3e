import random

import numpy as np
import pytest


def pytest_configure(config):
    # The networks under test are tiny: a second intra-op thread buys nothing,
    # and on a loaded 2-core machine it makes every parallel op wait for the
    # other core (tests ran 15x slower that way). Subprocesses set their own.
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)


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
