"""Model selection on a local Dask cluster, against the same search in process."""

import logging
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from _readme import python_block
from joblib import parallel_config
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV

import sklearn_gce
from sklearn_gce import GCEClassifier
from sklearn_gce.metrics import neg_expected_calibration_error_scorer

PARAM_GRID = {"reg_weight": [0.0, 0.5, 1.0]}


def torch_threads(estimator, X, y):
    """A "score": the number of torch threads where the estimator is scored."""
    return torch.get_num_threads()


SCORING = {"score": neg_expected_calibration_error_scorer, "threads": torch_threads}

# a local cluster starts worker processes that import torch: seconds
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client():
    # imported here, not at the top: collecting this module (deselected
    # unless -m slow) should not cost every pytest process distributed's
    # import (1 s)
    distributed = pytest.importorskip("distributed")
    cloudpickle = pytest.importorskip("cloudpickle")
    # the workers cannot import this test module: send its functions by value
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    with cluster, distributed.Client(cluster) as client:
        yield client
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def _search(n_jobs):
    X, y = make_classification(
        150, n_features=6, n_informative=4, n_classes=3, random_state=0
    )
    estimator = GCEClassifier(
        module__hidden_sizes=(16,), max_epochs=3, batch_size=32, random_state=0
    )
    search = GridSearchCV(
        estimator, PARAM_GRID, scoring=SCORING, refit="score", cv=3, n_jobs=n_jobs
    )
    return search.fit(X, y)


def test_workers_run_torch_on_one_thread(client):
    threads = client.run(torch.get_num_threads)
    assert len(threads) == 2
    assert set(threads.values()) == {1}


def test_dask_search_equals_the_sequential_search(client):
    with parallel_config("dask"):
        on_dask = _search(n_jobs=-1)
    # the workers run torch on one thread: so does the reference, as summation
    # order (hence rounding) depends on the number of threads
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        sequential = _search(n_jobs=1)
    finally:
        torch.set_num_threads(threads)

    # the folds ran on the workers, each on one torch thread
    np.testing.assert_array_equal(on_dask.cv_results_["mean_test_threads"], 1)
    for key in ("mean_test_score", "std_test_score", "rank_test_score"):
        np.testing.assert_array_equal(
            on_dask.cv_results_[key], sequential.cv_results_[key]
        )
    for split in range(3):
        key = f"split{split}_test_score"
        np.testing.assert_array_equal(
            on_dask.cv_results_[key], sequential.cv_results_[key]
        )
    assert on_dask.best_params_ == sequential.best_params_
    # the scores differ between candidates: the comparison is not vacuous
    assert len(set(sequential.cv_results_["mean_test_score"])) == 3


def test_readme_example_runs_as_a_script(tmp_path):
    pytest.importorskip("distributed")
    script = tmp_path / "search.py"
    script.write_text(python_block("Model selection on Dask (or Ray)"))
    root = os.path.dirname(os.path.dirname(os.path.abspath(sklearn_gce.__file__)))
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": root},
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("{'reg_weight': ")
