"""scikit-learn's own estimator checks, on every estimator of the package."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_gce import GCEClassifier

# Checks that truly cannot pass, with the reason. Keep this empty if possible.
EXPECTED_FAILED_CHECKS = {}


def _estimators():
    return [GCEClassifier(max_epochs=30, random_state=0)]


@parametrize_with_checks(
    _estimators(),
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS.get(
        type(est).__name__, {}
    ),
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
