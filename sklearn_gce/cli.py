"""The ``sklearn-gce`` command (placeholder until the comparison lands)."""

import sys


def main(argv=None):
    """Fit GCEClassifier on scikit-learn's digits and report held-out quality."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sklearn_gce import GCEClassifier

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    model = make_pipeline(StandardScaler(), GCEClassifier(random_state=0))
    model.fit(X_train, y_train)
    proba = model.predict_proba(X_test)
    print(
        f"digits: accuracy {model.score(X_test, y_test):.3f}, "
        f"mean confidence {proba.max(axis=1).mean():.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
