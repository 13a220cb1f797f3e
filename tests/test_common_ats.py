"""scikit-learn's estimator checks on ATSCalibrator (to fold into test_common.py)."""

import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_gce.calibration import ATSCalibrator

# the checks fit on a few dozen samples: fewer bins than asked for is expected
pytestmark = pytest.mark.filterwarnings("ignore:Only .* confidence bins:UserWarning")


@parametrize_with_checks(
    [
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
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
