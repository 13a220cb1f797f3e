"""scikit-learn's own estimator checks, on every estimator of the package."""

import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_gce import ATSCalibrator, GCEClassifier

# Checks that truly cannot pass, with the reason. Empty: every check passes.
EXPECTED_FAILED_CHECKS = {}

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
]


# the checks fit ATS on a few dozen samples: fewer bins than asked is expected
@pytest.mark.filterwarnings("ignore:Only .* confidence bins:UserWarning")
@parametrize_with_checks(
    ESTIMATORS,
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS.get(
        type(est).__name__, {}
    ),
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
