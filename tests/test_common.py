"""scikit-learn's own estimator checks, on every estimator of the package."""

import pytest
from sklearn.base import clone
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_gce import (
    AdaptiveTemperatureScaling,
    ATSCalibrator,
    GCEClassifier,
    MLPModule,
)

# Checks that truly cannot pass, with the reason.
# AdaptiveTemperatureScaling calibrates logits, one column per class: these
# checks fit it on make_blobs(n_samples=21): 2 features, 3 classes.
_LOGITS_NEED_A_COLUMN_PER_CLASS = (
    "fits 2-column X with 3 classes: calibrating logits needs one column per class"
)
EXPECTED_FAILED_CHECKS = {
    "AdaptiveTemperatureScaling": {
        "check_estimators_overwrite_params": _LOGITS_NEED_A_COLUMN_PER_CLASS,
        "check_estimators_fit_returns_self": _LOGITS_NEED_A_COLUMN_PER_CLASS,
        "check_readonly_memmap_input": _LOGITS_NEED_A_COLUMN_PER_CLASS,
    },
}


class _Float64MLP(MLPModule):
    """The default network, in float64."""

    def __init__(self, n_features, n_classes, **kwargs):
        super().__init__(n_features, n_classes, **kwargs)
        self.double()


# Parameters a check runs with, as scikit-learn's own test suite sets them
# (PER_ESTIMATOR_CHECK_PARAMS in sklearn.utils._test_common.instance_generator,
# which e.g. checks MLPClassifier's sample weights with solver="lbfgs"). Fits on
# weighted and on repeated samples train the same network only up to float32
# rounding (about 1e-6 after 30 epochs), and the check compares at 1e-7; in
# float64 they agree. (tests/test_classifier_training.py checks that integer
# weights equal repeated samples in the loss value.)
_WEIGHTS_IN_FLOAT64 = {"module": _Float64MLP}
CHECK_PARAMS = {
    "GCEClassifier": {
        "check_sample_weight_equivalence_on_dense_data": _WEIGHTS_IN_FLOAT64,
        "check_sample_weight_equivalence_on_sparse_data": _WEIGHTS_IN_FLOAT64,
    }
}

ESTIMATORS = [
    GCEClassifier(max_epochs=15, lr=3e-3, random_state=0),
    # cv=3 as in scikit-learn's own checks of CalibratedClassifierCV: some
    # checks fit on 10 samples, too few for 5 stratified folds
    ATSCalibrator(cv=3),
    # one calibrator fit on cross-validated predictions, predict_proba scores
    # (no decision_function), equal-width bins
    ATSCalibrator(
        DecisionTreeClassifier(max_depth=3, random_state=0),
        cv=3,
        ensemble=False,
        n_bins=3,
        strategy="uniform",
        min_samples_per_bin=1,
    ),
    AdaptiveTemperatureScaling(),
]


# the checks fit ATS on a few dozen random samples: fewer bins than asked,
# poorly determined or degenerate temperatures are expected (and warned about)
@pytest.mark.filterwarnings("ignore:Only .* confidence bins:UserWarning")
@pytest.mark.filterwarnings("ignore:.*determines the temperature poorly:UserWarning")
@pytest.mark.filterwarnings("ignore:Every calibration sample is classified:UserWarning")
@pytest.mark.filterwarnings("ignore:A temperature reached:UserWarning")
@parametrize_with_checks(
    ESTIMATORS,
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS.get(
        type(est).__name__, {}
    ),
)
def test_sklearn_compatible_estimator(estimator, check):
    name = getattr(check, "func", check).__name__
    params = CHECK_PARAMS.get(type(estimator).__name__, {}).get(name)
    check(clone(estimator).set_params(**params) if params else estimator)
