import random

import numpy as np
import pytest


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
