"""scikit-learn's own estimator checks, on every estimator of the package."""

import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_gce import AdaptiveTemperatureScaling, ATSCalibrator, GCEClassifier

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

ESTIMATORS = [
    GCEClassifier(max_epochs=30, random_state=0),
    # cv=3 as in scikit-learn's own checks of CalibratedClassifierCV: some
    # checks fit on 10 samples, too few for 5 stratified folds
    ATSCalibrator(cv=3),
    ATSCalibrator(LogisticRegression(C=1), cv=3, n_bins=3, ensemble=False),
    # predict_proba scores (no decision_function), equal-width bins
    ATSCalibrator(
        DecisionTreeClassifier(max_depth=3, random_state=0),
        cv=3,
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
    check(estimator)
