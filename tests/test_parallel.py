"""Results do not depend on the number of worker processes (``n_jobs``).

The checks of the entry points that take ``n_jobs``, except the comparison's
own (test_compare.py, beside the comparison they are compared with). Those
that start joblib's worker processes are marked slow.
"""

import csv
import json

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from sklearn.datasets import load_wine, make_classification
from sklearn.model_selection import cross_val_score
from sklearn.preprocessing import StandardScaler

from sklearn_gce import ATSCalibrator, GCEClassifier, cli

TINY = ["--seeds", "2", "--epochs", "1", "--hidden", "8", "--quiet"]


def _wine():
    X, y = load_wine(return_X_y=True)
    return StandardScaler().fit_transform(X).astype(np.float32), y


# scikit-learn's n_jobs starts joblib's workers (new interpreters, which
# import scikit-learn and torch: seconds): those checks run with the slow tests
@pytest.mark.slow
def test_cross_val_score_in_parallel_equals_sequential():
    X, y = _wine()
    clf = GCEClassifier(max_epochs=5, random_state=0)
    sequential = cross_val_score(clf, X, y, cv=3)
    parallel = cross_val_score(clf, X, y, cv=3, n_jobs=2)
    np.testing.assert_array_equal(sequential, parallel)


@pytest.mark.slow
def test_parallel_workers_do_not_oversubscribe_threads():
    X, y = _wine()

    def torch_threads(estimator, X, y):
        return torch.get_num_threads()

    clf = GCEClassifier(max_epochs=5, random_state=0)
    threads = cross_val_score(clf, X, y, cv=2, n_jobs=2, scoring=torch_threads)
    assert np.all(threads == 1)


@pytest.mark.slow
def test_calibrator_n_jobs_gives_the_same_model():
    X, y = make_classification(n_samples=600, n_classes=3, n_informative=4)
    one = ATSCalibrator(cv=3, n_bins=3, n_jobs=1).fit(X, y)
    two = ATSCalibrator(cv=3, n_bins=3, n_jobs=2).fit(X, y)
    assert_allclose(one.predict_proba(X), two.predict_proba(X))


def _table_without_times(text):
    """The stdout tables without the time column and the closing line."""
    lines = [line for line in text.splitlines() if " results in " not in line]
    start = next(i for i, line in enumerate(lines) if line.startswith("loss "))
    stop = lines.index("", start)
    cut = lines[start].index("fit s")
    return lines[:start] + [line[:cut] for line in lines[start:stop]] + lines[stop:]


def _csv_rows(path):
    with open(path, newline="") as file:
        rows = list(csv.DictReader(file))
    for row in rows:
        del row["fit_seconds"], row["calibration_seconds"]
    return rows


def test_command_n_jobs_changes_nothing_but_the_time(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "_have_matplotlib", lambda: False)  # 2 s a picture
    outputs = {}
    for n_jobs in ("1", "2"):
        out_dir = tmp_path / n_jobs
        argv = [*TINY, "--losses", "ce,gce,ls", "--n-jobs", n_jobs]
        assert cli.main([*argv, "--out", str(out_dir)]) == 0
        out, _ = capsys.readouterr()
        payload = json.loads((out_dir / "runs.json").read_text())
        outputs[n_jobs] = (out, payload, out_dir)
    (out1, json1, dir1), (out2, json2, dir2) = outputs["1"], outputs["2"]
    assert json1["settings"]["n_jobs"] == 1 and json2["settings"]["n_jobs"] == 2
    assert "(2 processes)" in out2
    assert _table_without_times(out1) == _table_without_times(out2)
    assert _csv_rows(dir1 / "runs.csv") == _csv_rows(dir2 / "runs.csv")
    timings = ("fit_seconds", "calibration_seconds")
    for key in ("runs", "summary"):
        for a, b in zip(json1[key], json2[key], strict=True):
            assert {k: v for k, v in a.items() if not k.startswith(timings)} == {
                k: v for k, v in b.items() if not k.startswith(timings)
            }
    assert json1["tests"] == json2["tests"] and json1["notes"] == json2["notes"]
    md1, md2 = ((d / "summary.md").read_text() for d in (dir1, dir2))

    def results(markdown):  # the tables, tests and notes, without fit times
        body = markdown.split("## Results")[1].split("## Environment")[0]
        return [line.rsplit("|", 2)[0] for line in body.splitlines()]

    assert results(md1) == results(md2) and "GCE against" in md1
