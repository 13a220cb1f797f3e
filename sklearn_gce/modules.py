"""Networks for GCEClassifier: torch modules sized from the data.

Each module takes the data's sizes as keyword arguments in ``__init__``
(``n_features``, ``n_classes``, ...), which ``GCEClassifier`` fills in from the
training data when ``module`` is None.
"""

import torch

__all__ = ["MLPModule"]


class MLPModule(torch.nn.Module):
    """The default network: fully connected layers with ReLU, returning logits.

    Inputs with more than two dimensions (images, sequences) are flattened.

    Parameters
    ----------
    n_features : int
        Number of input features (after flattening).
    n_classes : int
        Number of outputs.
    hidden_sizes : tuple of int, default=(256,)
        Width of each hidden layer; ``()`` gives a linear model.
    dropout : float, default=0.0
        Dropout probability after each hidden layer.

    Examples
    --------
    >>> from sklearn_gce import MLPModule
    >>> MLPModule(4, 3, hidden_sizes=(8,))
    MLPModule(
      (layers): Sequential(
        (0): Linear(in_features=4, out_features=8, bias=True)
        (1): ReLU()
        (2): Linear(in_features=8, out_features=3, bias=True)
      )
    )
    """

    def __init__(self, n_features, n_classes, hidden_sizes=(256,), dropout=0.0):
        super().__init__()
        layers = []
        n_inputs = n_features
        for width in hidden_sizes:
            layers += [torch.nn.Linear(n_inputs, width), torch.nn.ReLU()]
            if dropout:
                layers.append(torch.nn.Dropout(dropout))
            n_inputs = width
        layers.append(torch.nn.Linear(n_inputs, n_classes))
        self.layers = torch.nn.Sequential(*layers)

    def forward(self, X):
        if X.ndim > 2:
            X = X.flatten(1)
        return self.layers(X)
