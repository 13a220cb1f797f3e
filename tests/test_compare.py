import json
import math

import numpy as np
import pytest
import torch
from scipy.stats import wilcoxon
from sklearn.metrics import accuracy_score, brier_score_loss, log_loss

from sklearn_gce.compare import (
    METRICS,
    LossSpec,
    MethodSpec,
    SpecError,
    TrainingConfig,
    calibrate,
    format_summary,
    format_tests,
    make_model,
    min_p_value,
    ood_auroc,
    paired_tests,
    parse_losses,
    parse_methods,
    resolve_device,
    run_comparison,
    run_one,
    score_predictions,
    summarize,
    wilcoxon_paired,
    write_csv,
    write_json,
)
from sklearn_gce.datasets import load_dataset, split_dataset
from sklearn_gce.losses import DualFocalLoss, FLSD53Loss, FocalLoss, GCELoss

FAST = TrainingConfig(epochs=2, hidden=(16,))
ALL_LOSSES = "ce,gce,ls,focal,flsd53,dualfocal"


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def comparison(digits):
    return run_comparison(
        digits,
        parse_losses("ce,gce,focal"),
        parse_methods("none,temperature,ats"),
        seeds=[0, 1],
        config=FAST,
        keep_proba=("ce", "gce"),
    )


# --- names of losses and methods ---


def test_parse_losses_defaults_and_parameters():
    losses = parse_losses(ALL_LOSSES + ",gce:0.5, GCE:0 ,focal:2,ls:0.1")
    assert [loss.key for loss in losses] == [
        *ALL_LOSSES.split(","),
        "gce:0.5",
        "gce:0",
        "focal:2",
        "ls:0.1",
    ]
    assert [loss.param for loss in losses[:6]] == [None, 1.0, 0.05, 3.0, None, 5.0]
    assert parse_losses("gce:1")[0].key == "gce"
    assert [loss.is_gce for loss in losses[:2]] == [False, True]


@pytest.mark.parametrize(
    "text, message",
    [
        ("ce,nope", "unknown loss 'nope'"),
        ("gce:x", "not a number"),
        ("gce:-1", ">= 0"),
        ("gce:inf", "finite"),
        ("ls:1", "in \\[0, 1\\)"),
        ("flsd53:2", "takes no parameter"),
        ("gce,gce:1", "listed twice"),
        (" , ", "no losses"),
    ],
)
def test_parse_losses_errors(text, message):
    with pytest.raises(SpecError, match=message):
        parse_losses(text)


def test_parse_methods():
    methods = parse_methods("none, ts ,ats,ats:20")
    assert [m.key for m in methods] == ["none", "temperature", "ats", "ats:20"]
    assert [m.n_bins for m in methods] == [None, None, 15, 20]
    for text, message in [
        ("none,iso", "unknown post-hoc method 'iso'"),
        ("ats:0", "n_bins"),
        ("ats:2.5", "n_bins"),
        ("none:1", "takes no parameter"),
        ("ts,temperature", "listed twice"),
    ]:
        with pytest.raises(SpecError, match=message):
            parse_methods(text)


@pytest.mark.parametrize(
    "key, criterion, attributes",
    [
        ("ce", torch.nn.CrossEntropyLoss, {"label_smoothing": 0.0}),
        ("ls", torch.nn.CrossEntropyLoss, {"label_smoothing": 0.05}),
        ("gce:0.5", GCELoss, {"reg_weight": 0.5}),
        ("focal", FocalLoss, {"gamma": 3.0}),
        ("flsd53", FLSD53Loss, {}),
        ("dualfocal", DualFocalLoss, {"gamma": 5.0}),
    ],
)
def test_each_loss_trains_with_the_library_criterion(key, criterion, attributes):
    X = np.random.default_rng(0).standard_normal((40, 3))
    y = np.arange(40) % 2
    model = make_model(parse_losses(key)[0], seed=0, config=FAST).fit(X, y)
    fitted = model[-1].criterion_
    assert type(fitted) is criterion
    for name, value in attributes.items():
        assert getattr(fitted, name) == value


# --- pairing ---


def test_losses_of_a_seed_share_initial_weights():
    X = np.random.default_rng(0).standard_normal((60, 5))
    y = np.arange(60) % 3
    untrained = TrainingConfig(epochs=0, hidden=(8,))

    def weights(key, seed):
        model = make_model(parse_losses(key)[0], seed=seed, config=untrained)
        return model.fit(X, y)[-1].module_.state_dict()

    reference = weights("ce", 0)
    for key in ALL_LOSSES.split(",")[1:]:
        for name, tensor in weights(key, 0).items():
            assert torch.equal(tensor, reference[name])
    other = weights("ce", 1)
    assert not all(torch.equal(other[name], reference[name]) for name in reference)


def test_records_prove_the_pairing(comparison):
    for seed in (0, 1):
        records = [r for r in comparison.records if r["seed"] == seed]
        assert len({r["split_fingerprint"] for r in records}) == 1
        assert len({r["init_fingerprint"] for r in records}) == 1
    by_seed = {r["seed"]: r for r in comparison.records}
    assert by_seed[0]["split_fingerprint"] != by_seed[1]["split_fingerprint"]
    assert by_seed[0]["init_fingerprint"] != by_seed[1]["init_fingerprint"]


def test_a_comparison_is_reproducible(digits, comparison):
    again = run_comparison(
        digits,
        parse_losses("ce,gce,focal"),
        parse_methods("none,temperature,ats"),
        seeds=[0, 1],
        config=FAST,
    )
    for first, second in zip(comparison.records, again.records):
        for metric in METRICS:
            assert first[metric] == second[metric]


# --- post-hoc methods ---


def test_post_hoc_methods_keep_accuracy_and_change_probabilities(comparison):
    runs = {}
    for record in comparison.records:
        runs.setdefault((record["seed"], record["loss"]), {})[record["method"]] = record
    assert len(runs) == 6
    for methods in runs.values():
        assert set(methods) == {"none", "temperature", "ats"}
        assert len({m["accuracy"] for m in methods.values()}) == 1
        assert methods["temperature"]["nll"] != methods["none"]["nll"]
        assert methods["ats"]["ats_bins"] == 15
        assert 1 <= methods["ats"]["ats_bins_formed"] <= 7  # 360 samples / 50
    for loss in ("ce", "gce"):
        for method in ("none", "temperature", "ats"):
            assert len(comparison.proba[loss, method]) == 2
    assert ("focal", "none") not in comparison.proba


def test_calibrate_uses_the_library_calibrators(digits):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    from sklearn_gce import ATSCalibrator

    split = split_dataset(digits, 0)
    model = make_model(parse_losses("ce")[0], seed=0, config=FAST)
    model.fit(split.X_train, split.y_train)
    none, info = calibrate(model, MethodSpec("none"), split.X_calib, split.y_calib)
    assert none is model and info == {}
    ts, _ = calibrate(model, MethodSpec("temperature"), split.X_calib, split.y_calib)
    assert isinstance(ts, CalibratedClassifierCV) and ts.method == "temperature"
    # the two plain folds give scikit-learn's default result for a frozen model
    default = CalibratedClassifierCV(FrozenEstimator(model), method="temperature")
    default.fit(split.X_calib, split.y_calib)
    assert np.array_equal(
        ts.predict_proba(split.X_test), default.predict_proba(split.X_test)
    )
    ats, info = calibrate(model, MethodSpec("ats", 3), split.X_calib, split.y_calib)
    assert isinstance(ats, ATSCalibrator) and ats.n_bins == 3
    assert info == {"ats_bins_formed": 3}
    for calibrated in (ts, ats):
        assert np.array_equal(
            calibrated.predict(split.X_test), model.predict(split.X_test)
        )


def test_run_one_scores_unknown_classes_and_long_tails(digits):
    split = split_dataset(load_dataset("digits-lt10"), 0, unknown_classes=[8, 9])
    result = run_one(
        split, LossSpec("gce", 1.0), parse_methods("none,ats"), config=FAST
    )
    assert [r["method"] for r in result.records] == ["none", "ats"]
    for record in result.records:
        assert 0.0 <= record["ood_auroc"] <= 1.0
        assert record["n_train"] == len(split.y_train) < 0.6 * 0.8 * len(digits.y)
        assert record["fit_seconds"] > 0 and record["calibration_seconds"] >= 0
    assert result.proba["ats"].shape == (len(split.y_test), 8)


# --- metrics ---


def test_score_predictions_on_constructed_probabilities():
    labels = np.array(["a", "b", "c"])
    y = np.array(["a", "b", "c", "a"])
    proba = np.array(
        [[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.5, 0.25, 0.25]]
    )
    scores = score_predictions(y, proba, labels)
    assert set(scores) == set(METRICS)
    assert scores["accuracy"] == accuracy_score(y, ["a", "b", "a", "a"]) == 0.75
    assert math.isclose(scores["nll"], log_loss(y, proba, labels=labels))
    assert math.isclose(scores["brier"], brier_score_loss(y, proba, labels=labels))
    # top-label ECE by hand: bins of 15 hold one sample each
    expected = np.mean(np.abs([0.8 - 1, 0.7 - 1, 0.6 - 0, 0.5 - 1]))
    assert math.isclose(scores["ece"], expected)
    perfect = score_predictions(y, np.eye(3)[[0, 1, 2, 0]], labels)
    assert perfect["accuracy"] == 1 and perfect["ece"] == perfect["brier"] == 0


def test_ood_auroc_on_constructed_scores():
    known = np.array([[0.9, 0.1], [0.8, 0.2]])
    unknown = np.array([[0.6, 0.4], [0.5, 0.5], [0.55, 0.45]])
    assert ood_auroc(known, unknown) == 1.0
    assert ood_auroc(unknown, known) == 0.0
    assert ood_auroc(known, known) == 0.5


def test_resolve_device():
    if torch.cuda.is_available():
        assert resolve_device("auto") == "cuda"
    else:
        assert resolve_device("auto") == "cpu"
        with pytest.raises(ValueError, match="no CUDA device"):
            resolve_device("cuda")
    assert resolve_device("cpu") == "cpu"


# --- statistics ---


def _records(values, loss, metric="ece", method="none"):
    return [
        {"dataset": "d", "seed": s, "loss": loss, "method": method, metric: v}
        for s, v in enumerate(values)
    ]


def test_summarize_means_and_sample_stds():
    records = _records([0.1, 0.2, 0.6], "ce") + _records([0.3], "gce")
    ce, gce = summarize(records, ["ece", "absent"])
    assert ce["n_seeds"] == 3 and math.isclose(ce["ece_mean"], 0.3)
    assert math.isclose(ce["ece_std"], np.std([0.1, 0.2, 0.6], ddof=1))
    assert gce["ece_std"] == 0.0 and "absent_mean" not in gce


def test_wilcoxon_matches_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.random(10), rng.random(10)
    result = wilcoxon_paired(a, b)
    assert result["p_value"] == wilcoxon(a, b).pvalue
    assert result["n"] == result["n_nonzero"] == 10
    assert math.isclose(result["mean_diff"], np.mean(a - b))
    assert wilcoxon_paired(a + 1, a)["direction"] == 1
    assert (
        wilcoxon_paired([1, 2, 3], [2, 2.5, 2])["direction"] == -1
    )  # rank sums +2.5, -3.5
    identical = wilcoxon_paired([0.5, 0.5], [0.5, 0.5])
    assert identical["p_value"] == 1.0 and identical["direction"] == 0


def test_min_p_value():
    assert [min_p_value(n) for n in (0, 1, 5, 6, 10)] == [
        1.0,
        1.0,
        0.0625,
        0.03125,
        2 / 1024,
    ]


@pytest.mark.parametrize(
    "gce, ce, verdict, wins, losses",
    [
        ([0.1] * 6, [0.2] * 6, "GCE better", 6, 0),  # lower ECE on every seed
        ([0.3] * 6, [0.2] * 6, "GCE worse", 0, 6),
        ([0.1] * 5, [0.2] * 5, "too few seeds to test", 5, 0),
        ([0.1, 0.3] * 3, [0.2] * 6, "not significant", 3, 3),
        ([0.2] * 6, [0.2] * 6, "no difference", 0, 0),
    ],
)
def test_paired_test_verdicts(gce, ce, verdict, wins, losses):
    records = _records(gce, "gce") + _records(ce, "ce")
    (test,) = paired_tests(records, metrics=["ece"])
    assert test["verdict"] == verdict
    assert (test["gce"], test["baseline"], test["n"]) == ("gce", "ce", len(gce))
    assert (test["gce_wins"], test["gce_losses"]) == (wins, losses)
    assert test["min_p_value"] == min_p_value(len(gce))


def test_higher_accuracy_is_better_and_tested_once():
    records = []
    for method in ("none", "ats"):
        records += _records([0.9] * 7, "gce:0.5", "accuracy", method)
        records += _records([0.8] * 7, "focal", "accuracy", method)
        records += _records([0.9] * 7, "gce", "accuracy", method)
    tests = paired_tests(records, metrics=["accuracy"])
    pairs = [(t["gce"], t["baseline"], t["method"], t["verdict"]) for t in tests]
    assert pairs == [
        ("gce:0.5", "focal", "none", "GCE better"),
        ("gce:0.5", "gce", "none", "no difference"),
        ("gce", "gce:0.5", "none", "no difference"),
        ("gce", "focal", "none", "GCE better"),
    ]


def test_paired_tests_use_common_seeds_only():
    records = _records([0.1] * 8, "gce") + _records([0.2] * 6, "ce")
    (test,) = paired_tests(records, metrics=["ece"])
    assert test["n"] == 6


# --- reports ---


def test_tables_and_strict_json(comparison, tmp_path):
    summary = summarize(comparison.records, [*METRICS, "fit_seconds"])
    text = format_summary(summary, [*METRICS, "fit_seconds"])
    assert "±" in text and "cw-ECE" in text
    assert "+/-" in format_summary(summary, METRICS, ascii_only=True)
    assert len(text.splitlines()) == 2 + 9
    tests = paired_tests(comparison.records)
    assert "too few seeds to test" in format_tests(tests)
    rows = [{"a": 1 / 3, "b": "x"}, {"a": 2.0, "c": 7}]
    write_csv(tmp_path / "full.csv", rows)
    write_csv(tmp_path / "short.csv", rows, significant_digits=3)
    assert (tmp_path / "full.csv").read_text().splitlines() == [
        "a,b,c",
        f"{1 / 3!r},x,",
        "2.0,,7",
    ]
    assert (tmp_path / "short.csv").read_text().splitlines()[1] == "0.333,x,"
    path = tmp_path / "out.json"
    write_json(path, {"x": float("nan"), "y": np.float64(1.5), "z": (np.int64(2),)})
    assert json.loads(path.read_text()) == {"x": None, "y": 1.5, "z": [2]}


def test_reliability_diagrams_side_by_side(comparison, tmp_path):
    pytest.importorskip("matplotlib")
    from sklearn_gce.compare import plot_reliability

    path = plot_reliability(
        comparison.proba,
        ["ce", "gce"],
        ["none", "ats"],
        str(tmp_path / "r.png"),
        labels=comparison.classes,
    )
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_docstring_examples():
    import doctest

    from sklearn_gce import datasets
    from sklearn_gce.compare import _specs, _stats

    for module in (datasets, _specs, _stats):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0 and result.attempted > 0
