"""Accurate and calibrated neural-network classifiers for scikit-learn.

sklearn_gce implements Generative Cross-Entropy (GCE, arXiv 2604.06689) as a
PyTorch loss and a skorch-based scikit-learn classifier, adaptive piecewise
temperature scaling (ATS) as a post-hoc calibrator for any classifier, and
calibration metrics usable as scikit-learn scorers.

The names below are imported lazily, so that ``sklearn_gce.metrics`` and
``sklearn_gce.calibration`` can be used without importing torch.
"""

from sklearn_gce._lazy import lazy_attributes

__version__ = "0.1.0.dev0"

# public name -> module that defines it
_LAZY = {
    "generative_cross_entropy": "sklearn_gce.losses",
    "GCELoss": "sklearn_gce.losses",
    "GCEClassifier": "sklearn_gce.classifier",
    "MLPModule": "sklearn_gce.modules",
    "CNN1dModule": "sklearn_gce.modules",
    "CNN2dModule": "sklearn_gce.modules",
    "ResNet1dModule": "sklearn_gce.modules",
    "ATSCalibrator": "sklearn_gce.calibration",
    "AdaptiveTemperatureScaling": "sklearn_gce.calibration",
}

__all__ = sorted(_LAZY) + ["__version__"]


__getattr__, __dir__ = lazy_attributes(globals(), _LAZY, __all__)
