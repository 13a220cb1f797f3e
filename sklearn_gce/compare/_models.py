"""The networks a comparison can train, one :data:`MODELS` entry each.

An entry's ``build(config, sample_shape, n_classes)`` returns the
:class:`~sklearn_gce.GCEClassifier` parameters that choose the network, or
raises :class:`SpecError` when it cannot take the data (before importing
torch: the command line checks its settings with it); ``sample_shape`` is
the shape of one sample as an image or a signal (None for a table), and the
networks take the table's flattened rows. A new network is one
``MODELS.add(...)`` call.
"""

from sklearn_gce._registry import Registry
from sklearn_gce.compare._specs import SpecError

__all__ = ["MODELS"]

MODELS = Registry("model", error=SpecError)


def _mlp(config, sample_shape, n_classes):
    return {"module__hidden_sizes": tuple(config.hidden)}


def _sized(module, sample_shape, n_classes):
    params = {"module": module, "module__input_shape": tuple(sample_shape)}
    if n_classes is not None:
        params["module__n_classes"] = n_classes
    return params


def _cnn(config, sample_shape, n_classes):
    if sample_shape is None:
        raise SpecError(
            "--model cnn takes images or signals (digits, mnist1d); the rows of a "
            "CSV are tabular: use --model mlp"
        )
    from sklearn_gce.modules import CNN1dModule, CNN2dModule

    module = CNN2dModule if len(sample_shape) == 3 else CNN1dModule
    return _sized(module, sample_shape, n_classes)


def _resnet1d(config, sample_shape, n_classes):
    if sample_shape is None or len(sample_shape) != 2:
        raise SpecError(
            "--model resnet1d takes signals (mnist1d); for images use --model cnn, "
            "for a CSV use --model mlp"
        )
    from sklearn_gce.modules import ResNet1dModule

    return _sized(ResNet1dModule, sample_shape, n_classes)


MODELS.add(
    "mlp",
    _mlp,
    "GCEClassifier's default MLP (ReLU; hidden layers set by --hidden); any data",
)
MODELS.add(
    "cnn",
    _cnn,
    "a small convolutional network: CNN2dModule for images (digits as 1x8x8), "
    "CNN1dModule for signals (mnist1d as 1x40); not for a CSV",
)
MODELS.add(
    "resnet1d",
    _resnet1d,
    "ResNet1dModule, a deeper residual network for signals (mnist1d), meant for "
    "large training sets on a GPU",
)
