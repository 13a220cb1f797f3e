"""The networks a comparison can train, one :data:`MODELS` entry each.

An entry's ``build(config, sample_shape, n_classes)`` returns the
:class:`~sklearn_gce.GCEClassifier` parameters that choose the network and
the shape each sample is given (None: the table's rows as they are). A new
network is one ``MODELS.add(...)`` call.
"""

from sklearn_gce._registry import Registry
from sklearn_gce.compare._specs import SpecError

__all__ = ["MODELS"]

MODELS = Registry("model", error=SpecError)


def _mlp(config, sample_shape, n_classes):
    return {"module__hidden_sizes": tuple(config.hidden)}, None


MODELS.add(
    "mlp",
    _mlp,
    "GCEClassifier's default MLP (ReLU; hidden layers set by --hidden)",
)
