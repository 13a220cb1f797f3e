"""Mixup (Zhang et al. 2018) as a training option of the comparison."""

from numbers import Real

import numpy as np
import torch
from sklearn.utils import check_random_state
from skorch.dataset import unpack_data
from skorch.utils import to_tensor

from sklearn_gce._compat import Interval
from sklearn_gce.classifier import GCEClassifier

__all__ = ["MixupClassifier"]


class MixupClassifier(GCEClassifier):
    """:class:`~sklearn_gce.GCEClassifier` trained with mixup.

    Mixup changes the training data, not the criterion. For each training
    batch ``(x, y)`` it draws :math:`\\lambda \\sim \\mathrm{Beta}(\\alpha,
    \\alpha)` and a random permutation :math:`\\pi` of the batch, feeds the
    network :math:`\\tilde x = \\lambda x + (1 - \\lambda) x_\\pi`, and
    minimises

    .. math::

        \\lambda \\, L(f(\\tilde x), y) + (1 - \\lambda) \\, L(f(\\tilde x), y_\\pi)

    with the classifier's criterion :math:`L`. For a criterion that is a
    mean over samples (cross-entropy, label smoothing, focal losses) this is
    the usual mixup loss. Generative Cross-Entropy is a batch-level loss (its
    regulariser compares the batch's mean prediction with the batch's class
    frequencies), so with GCE it is the mix of two batch-level losses: the
    mixed batch scored once against ``y`` and once against ``y[perm]``.

    Implemented in skorch's ``train_step_single`` hook; prediction and
    everything else are those of ``GCEClassifier``. :math:`\\lambda` and
    :math:`\\pi` come from a numpy generator seeded by ``random_state`` at
    the start of each fit, apart from torch's random state, so that the
    initial weights and the batch order are those of the same classifier
    without mixup.

    Parameters
    ----------
    *args, **kwargs
        Those of :class:`~sklearn_gce.GCEClassifier`.
    mixup_alpha : float, default=0.2
        :math:`\\alpha > 0`; small values keep :math:`\\lambda` near 0 or 1
        (mild mixing), 1 draws it uniformly.

    References
    ----------
    H. Zhang, M. Cisse, Y. N. Dauphin and D. Lopez-Paz, "mixup: Beyond
    Empirical Risk Minimization", ICLR 2018.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_gce.compare import MixupClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> model = MixupClassifier(mixup_alpha=0.4, max_epochs=5, random_state=0)
    >>> model.fit(X, y).predict_proba(X[:2]).shape
    (2, 3)
    """

    _parameter_constraints = {
        **GCEClassifier._parameter_constraints,
        "mixup_alpha": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, *args, mixup_alpha=0.2, **kwargs):
        super().__init__(*args, **kwargs)
        self.mixup_alpha = mixup_alpha

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        super().on_train_begin(net, X=X, y=y, **kwargs)
        self._mixup_random = check_random_state(self.random_state)

    def train_step_single(self, batch, **fit_params):
        """Mix the batch, then skorch's training step on the mixed batch."""
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        if not isinstance(Xi, (np.ndarray, torch.Tensor)):
            raise TypeError(
                f"mixup mixes arrays or tensors; got a batch of {type(Xi).__name__}"
            )
        Xi = to_tensor(Xi, device=self.device)
        lam = float(self._mixup_random.beta(self.mixup_alpha, self.mixup_alpha))
        perm = self._mixup_random.permutation(len(Xi))
        mixed = lam * Xi + (1.0 - lam) * Xi[torch.as_tensor(perm, device=Xi.device)]
        y_pred = self.infer(mixed, **fit_params)
        loss = lam * self.get_loss(y_pred, yi, X=mixed, training=True) + (
            1.0 - lam
        ) * self.get_loss(y_pred, _rows(yi, perm), X=mixed, training=True)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}


def _rows(y, perm):
    """Rows ``perm`` of a batch's targets; of each part of a tuple of them
    (such as targets with their sample weights)."""
    if isinstance(y, tuple):
        return type(y)(*(_rows(part, perm) for part in y))
    if isinstance(y, torch.Tensor):
        return y[torch.as_tensor(perm, device=y.device)]
    return np.asarray(y)[perm]
