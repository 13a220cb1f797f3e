"""pytest plugin for skorch_suite.py: GCEClassifier in place of NeuralNetClassifier.

With GCE_SWAP=1, ``skorch.NeuralNetClassifier`` (what skorch's tests import)
becomes a ``GCEClassifier`` whose defaults are ``NeuralNetClassifier``'s own,
so that only incompatibilities count. skorch's own modules keep the original
(``skorch.classifier.NeuralNetClassifier``), which they name in ``super()``.
With GCE_SWAP_NAME=1 as well, the swapped class also takes skorch's class
name and module, to tell the tests that fail only on the name in a message
or a ``repr``.
"""

import functools
import os

if os.environ.get("GCE_SWAP") == "1":
    import skorch
    import torch
    from skorch.dataset import Dataset, ValidSplit
    from torch.utils.data import DataLoader

    import sklearn_gce

    SKORCH_DEFAULTS = dict(
        criterion=torch.nn.NLLLoss,
        train_split=ValidSplit(5, stratified=True),
        classes=None,
        optimizer=torch.optim.SGD,
        lr=0.01,
        max_epochs=10,
        batch_size=128,
        iterator_train=DataLoader,
        iterator_valid=DataLoader,
        dataset=Dataset,
        callbacks=None,
        predict_nonlinearity="auto",
        warm_start=False,
        verbose=1,
        device="cpu",
        compile=False,
        use_caching="auto",
        torch_load_kwargs=None,
    )

    class GCEClassifier(sklearn_gce.GCEClassifier):
        __init__ = functools.partialmethod(
            sklearn_gce.GCEClassifier.__init__, **SKORCH_DEFAULTS
        )

    if os.environ.get("GCE_SWAP_NAME") == "1":
        GCEClassifier.__name__ = GCEClassifier.__qualname__ = "NeuralNetClassifier"
        GCEClassifier.__module__ = "skorch.classifier"

    skorch.NeuralNetClassifier = GCEClassifier
