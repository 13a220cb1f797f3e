"""pytest plugin for sklearn_calibration_suite.py: ATS in place of scikit-learn's.

With GCE_SWAP=1, ``sklearn.calibration.CalibratedClassifierCV`` (what
scikit-learn's tests import) becomes an ``ATSCalibrator`` with its own
defaults that also takes ``CalibratedClassifierCV``'s ``method``: the value
is validated as scikit-learn does and otherwise ignored (the calibration is
always ATS), so that a test written for any method checks ATS against the
conventions of the class. scikit-learn's own modules keep the original.
"""

import os

if os.environ.get("GCE_SWAP") == "1":
    import sklearn.calibration

    from sklearn_gce import ATSCalibrator
    from sklearn_gce._compat import StrOptions

    class CalibratedClassifierCV(ATSCalibrator):
        _parameter_constraints: dict = {
            **ATSCalibrator._parameter_constraints,
            "method": [StrOptions({"sigmoid", "isotonic", "temperature"})],
        }

        def __init__(
            self,
            estimator=None,
            *,
            method="sigmoid",
            cv=None,
            n_jobs=None,
            ensemble="auto",
            n_bins=15,
            strategy="quantile",
            min_samples_per_bin=50,
            shrinkage=True,
        ):
            super().__init__(
                estimator,
                n_bins=n_bins,
                strategy=strategy,
                cv=cv,
                n_jobs=n_jobs,
                ensemble=ensemble,
                min_samples_per_bin=min_samples_per_bin,
                shrinkage=shrinkage,
            )
            self.method = method

    sklearn.calibration.CalibratedClassifierCV = CalibratedClassifierCV
