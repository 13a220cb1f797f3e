"""Train, calibrate and score: one run per (seed, loss), every method on it.

A run trains one network (standardisation + :class:`~sklearn_gce.GCEClassifier`)
on the seed's training split, calibrates it post hoc on the calibration split
with each method, and scores every method on the test split. All losses of a
seed share the split and the initial weights (``random_state=seed``), so
that differences between losses are paired.
"""

import contextlib
import hashlib
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from skorch.callbacks import Callback

from sklearn_gce.compare._specs import TrainingConfig, resolve_device
from sklearn_gce.datasets import split_dataset

__all__ = [
    "Comparison",
    "TrainingConfig",
    "calibrate",
    "make_model",
    "resolve_device",
    "run_comparison",
    "run_one",
    "score_predictions",
]

METRICS = ("accuracy", "ece", "adaece", "classwise_ece", "nll", "brier")
N_BINS = 15  # ECE bins, as usually reported


class _InitialWeights(Callback):
    """Fingerprint of the weights a fit starts from."""

    def on_train_begin(self, net, **kwargs):
        digest = hashlib.sha1()
        for name, tensor in net.module_.state_dict().items():
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().numpy().tobytes())
        self.fingerprint_ = digest.hexdigest()[:12]


def make_model(
    loss, *, seed, config=TrainingConfig(), sample_shape=None, n_classes=None
):
    """The network a run trains: a scaler and a seeded ``GCEClassifier``.

    Parameters
    ----------
    loss : LossSpec
        Its criterion, and :class:`MixupClassifier` when it asks for mixup.
    seed : int
        ``random_state`` of the classifier: the same seed gives the same
        initial weights and batch order whatever the loss.
    config : TrainingConfig
    sample_shape : tuple of int or None, default=None
        Shape of one sample as an image or a signal (e.g. ``(1, 8, 8)``),
        for the models that need it (``cnn``).
    n_classes : int or None, default=None
        Number of classes, for the models that need it.

    Returns
    -------
    model : Pipeline
        Unfitted ``StandardScaler() -> GCEClassifier``; the networks for
        images and signals take the scaled rows and reshape them.

    Raises
    ------
    SpecError
        When the loss or the model cannot train with these settings.
    """
    import torch
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from sklearn_gce import GCEClassifier
    from sklearn_gce.compare._mixup import MixupClassifier
    from sklearn_gce.compare._models import MODELS

    module_params = MODELS[config.model].build(config, sample_shape, n_classes)
    params = {**loss.estimator_params(config), **module_params}
    if torch.device(config.device).type in ("cpu", "cuda"):
        # one kernel per parameter instead of a dozen: the same update up to
        # float rounding, a sixth of the default MLP's training time on a CPU
        params.setdefault("optimizer__fused", True)
    classifier = GCEClassifier
    if loss.mixup is not None:
        classifier = MixupClassifier
        params["mixup_alpha"] = loss.mixup
    net = classifier(
        max_epochs=config.epochs,
        batch_size=config.batch_size,
        lr=config.lr,
        device=config.device,
        random_state=seed,
        callbacks=[("initial_weights", _InitialWeights())],
        **params,
    )
    return Pipeline([("scale", StandardScaler()), ("net", net)])


def calibrate(model, method, X_calib, y_calib):
    """Calibrate a fitted model post hoc on held-out data.

    Parameters
    ----------
    model : fitted classifier
    method : MethodSpec
        ``none`` returns ``model``; ``temperature`` fits scikit-learn's
        ``CalibratedClassifierCV(FrozenEstimator(model), method="temperature")``;
        ``ats`` fits ``ATSCalibrator(FrozenEstimator(model), n_bins=...)``.
    X_calib, y_calib : array-like
        The calibration split.

    Returns
    -------
    calibrated : classifier with ``predict_proba``
    info : dict
        For ATS, ``ats_bins_formed``: the bins it could form (its guard merges
        bins of fewer than 50 samples).
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator
    from sklearn.model_selection import KFold

    from sklearn_gce import ATSCalibrator

    if method.name == "none":
        return model, {}
    if method.name == "temperature":
        # With a FrozenEstimator, scikit-learn still splits the data (the
        # estimator's fit is a no-op, so the folds do not change the result);
        # its default stratified 5 folds fail on classes of < 5 calibration
        # samples, which two plain folds avoid.
        calibrated = CalibratedClassifierCV(
            FrozenEstimator(model), method="temperature", cv=KFold(2)
        )
        return calibrated.fit(X_calib, y_calib), {}
    calibrated = ATSCalibrator(FrozenEstimator(model), n_bins=method.n_bins)
    with warnings.catch_warnings():
        # fewer bins than asked is recorded as ats_bins_formed instead
        warnings.filterwarnings("ignore", message="Only .* confidence bins could")
        calibrated.fit(X_calib, y_calib)
    formed = calibrated.calibrated_classifiers_[0].calibrators[0].n_bins_
    return calibrated, {"ats_bins_formed": int(formed)}


def score_predictions(y_true, proba, labels):
    """Accuracy and calibration metrics of predicted probabilities.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    proba : ndarray of shape (n_samples, n_classes)
        Columns follow ``labels``.
    labels : array-like of shape (n_classes,)

    Returns
    -------
    scores : dict
        ``accuracy``; ``ece`` (15 equal-width bins, top label, L1);
        ``adaece`` (15 equal-mass bins); ``classwise_ece`` (15 equal-width
        bins); ``nll`` (scikit-learn's ``log_loss``); ``brier``
        (scikit-learn's multiclass ``brier_score_loss``: the squared error
        summed over classes, averaged over samples).
    """
    from sklearn.metrics import accuracy_score, brier_score_loss, log_loss

    from sklearn_gce.metrics import (
        classwise_calibration_error,
        expected_calibration_error,
    )

    labels = np.asarray(labels)
    y_pred = labels[np.argmax(proba, axis=1)]
    common = {"n_bins": N_BINS, "labels": labels}
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "ece": float(expected_calibration_error(y_true, proba, **common)),
        "adaece": float(
            expected_calibration_error(y_true, proba, strategy="quantile", **common)
        ),
        "classwise_ece": float(classwise_calibration_error(y_true, proba, **common)),
        "nll": float(log_loss(y_true, proba, labels=labels)),
        "brier": float(brier_score_loss(y_true, proba, labels=labels)),
    }


def ood_auroc(proba_known, proba_unknown):
    """AUROC of the maximum probability, known-class samples as positives."""
    from sklearn.metrics import roc_auc_score

    scores = np.concatenate([proba_known.max(axis=1), proba_unknown.max(axis=1)])
    is_known = np.r_[np.ones(len(proba_known)), np.zeros(len(proba_unknown))]
    return float(roc_auc_score(is_known, scores))


def _fingerprint(*arrays):
    digest = hashlib.sha1()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(array.astype(str) if array.dtype == object else array)
    return digest.hexdigest()[:12]


@dataclass
class RunResult:
    """The records of one run, the test probabilities of each method, the
    test labels they go with, and the warnings the run raised (each once, as
    ``(category name, message)``)."""

    records: list
    proba: dict = field(default_factory=dict)
    y_test: np.ndarray | None = None
    warnings: list = field(default_factory=list)


def run_one(
    split, loss, methods, *, config=TrainingConfig(), dataset_name="", model=None
):
    """Train one network on a split and score it under every post-hoc method.

    Parameters
    ----------
    split : Split
    loss : LossSpec
    methods : list of MethodSpec
    config : TrainingConfig
    dataset_name : str
        Recorded in each record.
    model : Pipeline or None, default=None
        The unfitted model, as made by :func:`make_model` for this split,
        loss and config; None makes it.

    Returns
    -------
    result : RunResult
        One record (a flat dict) per method: ``dataset``, ``seed``, ``loss``,
        ``method``, the metrics of :func:`score_predictions`, ``ood_auroc``
        when the split has unknown-class samples, ``fit_seconds`` (the
        network's training, the same for every method of the run),
        ``calibration_seconds``, ``ats_bins`` and ``ats_bins_formed`` (ATS
        only), ``split_fingerprint`` and ``init_fingerprint`` (hashes of the
        split and of the initial weights, equal across the losses of a
        seed), and the split sizes. ``proba`` maps each method's key to its
        test probabilities.
    """
    seed = split.seed
    if model is None:
        model = _model_for(split, loss, config)
    start = time.perf_counter()
    model.fit(split.X_train, split.y_train)
    fit_seconds = time.perf_counter() - start
    labels = model.classes_
    common = {
        "dataset": dataset_name,
        "seed": seed,
        "loss": loss.key,
        "model": config.model,
        "fit_seconds": fit_seconds,
        "epochs": config.epochs,
        "n_train": len(split.y_train),
        "n_calib": len(split.y_calib),
        "n_test": len(split.y_test),
        "split_fingerprint": _fingerprint(
            split.X_train,
            split.y_train,
            split.X_calib,
            split.y_calib,
            split.X_test,
            split.y_test,
        ),
        "init_fingerprint": dict(model[-1].callbacks_)["initial_weights"].fingerprint_,
    }
    result = RunResult(records=[])
    for method in methods:
        start = time.perf_counter()
        calibrated, info = calibrate(model, method, split.X_calib, split.y_calib)
        calibration_seconds = time.perf_counter() - start
        proba = calibrated.predict_proba(split.X_test)
        record = {**common, "method": method.key}
        record.update(score_predictions(split.y_test, proba, labels))
        if split.X_unknown is not None:
            record["ood_auroc"] = ood_auroc(
                proba, calibrated.predict_proba(split.X_unknown)
            )
        record["calibration_seconds"] = calibration_seconds
        if method.name == "ats":
            record["ats_bins"] = method.n_bins
            record.update(info)
        result.records.append(record)
        result.proba[method.key] = proba
    return result


def _model_for(split, loss, config):
    return make_model(
        loss,
        seed=split.seed,
        config=config,
        sample_shape=split.sample_shape,
        n_classes=len(np.unique(split.y_train)),
    )


_warmed_up = set()  # devices on which this process has trained a network


def _warm_up(device):
    """One tiny fit per process and device, so that torch's one-off start-up
    cost is not timed as part of a run's training."""
    from sklearn_gce import GCEClassifier

    if device in _warmed_up:
        return
    X = np.random.default_rng(0).standard_normal((8, 2)).astype(np.float32)
    y = np.arange(8) % 2
    GCEClassifier(max_epochs=1, batch_size=4, device=device).fit(X, y)
    _warmed_up.add(device)


@contextlib.contextmanager
def _one_torch_thread():
    """Torch on one intra-op thread, as set before on exit.

    Every run trains on one thread, in the caller's process (``n_jobs=1``) or
    in a worker: the networks are small, and the thread count changes float
    results in the last bits, which would make ``n_jobs`` change the numbers.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _run_task(index, split, loss, model, methods, config, dataset_name, keep_proba):
    """One (seed, loss) run, in a worker process or in the caller's.

    The model is made by the caller, so that losses and models registered
    at run time (which a new worker process does not know) train as well.
    """
    with _one_torch_thread():
        _warm_up(config.device)
        with warnings.catch_warnings(record=True) as caught:
            # every run records its own warnings, whichever process ran it
            warnings.simplefilter("always")
            result = run_one(
                split,
                loss,
                methods,
                config=config,
                dataset_name=dataset_name,
                model=model,
            )
    for warning in caught:
        message = " ".join(str(warning.message).split())  # on one line
        item = (warning.category.__name__, message)
        if item not in result.warnings:
            result.warnings.append(item)
    if keep_proba:
        result.y_test = split.y_test
    else:
        result.proba = {}
    return index, result


@dataclass
class Comparison:
    """Every run of a comparison on one dataset.

    Attributes
    ----------
    dataset : Dataset
    losses, methods : list
        The specs compared, in order.
    seeds : list of int
    config : TrainingConfig
    records : list of dict
        One per (seed, loss, method), in that order; see :func:`run_one`.
    proba : dict
        ``(loss key, method key) -> [(y_test, proba) per seed]`` for the
        losses asked to be kept.
    classes : ndarray
        The class labels the networks were trained on.
    split_sizes : dict
        Sizes of the first seed's split.
    seconds : float
        Wall time of the whole comparison.
    n_jobs : int
        Number of processes that trained the networks.
    warnings : list of dict
        The warnings raised in the runs, in run order: ``seed``, ``loss``,
        ``category`` and ``message``.
    """

    dataset: object
    losses: list
    methods: list
    seeds: list
    config: TrainingConfig
    records: list = field(default_factory=list)
    proba: dict = field(default_factory=dict)
    classes: np.ndarray | None = None
    split_sizes: dict = field(default_factory=dict)
    seconds: float = 0.0
    n_jobs: int = 1
    warnings: list = field(default_factory=list)


def run_comparison(
    dataset,
    losses,
    methods,
    *,
    seeds,
    config=TrainingConfig(),
    calib_size=0.2,
    test_size=0.2,
    train_size=None,
    unknown_classes=None,
    keep_proba=(),
    progress=None,
    n_jobs=1,
):
    """Every loss on every seed, each scored under every post-hoc method.

    The (seed, loss) runs are independent: with ``n_jobs`` > 1 they train in
    parallel worker processes (forked from this one on Linux, otherwise
    joblib's, see ``sklearn_gce.compare._workers``), each on one torch
    thread, as they do with ``n_jobs=1``; the results are the same whatever
    ``n_jobs``, in the same order, except for the timings.

    Parameters
    ----------
    dataset : Dataset
    losses : list of LossSpec
    methods : list of MethodSpec
    seeds : iterable of int
        Each seed fixes a split (:func:`~sklearn_gce.datasets.split_dataset`)
        and the initial weights, shared by every loss.
    config : TrainingConfig
    calib_size, test_size : float
    train_size : float, int or None, default=None
        Subsample of the training split (see
        :func:`~sklearn_gce.datasets.split_dataset`); None keeps it whole.
    unknown_classes : array-like or None
        Classes left out of training; their samples give ``ood_auroc``.
    keep_proba : collection of str
        Loss keys whose test probabilities are kept (for plots).
    progress : callable or None
        Called as ``progress(done, total, label)`` each time a run ends.
    n_jobs : int or None, default=1
        Worker processes, as in joblib: None or 1 trains in this process,
        -1 uses every CPU, -2 all but one... At most one per run.

    Returns
    -------
    comparison : Comparison
    """
    from joblib import delayed

    from sklearn_gce.compare._workers import n_workers, parallel_results

    seeds = [int(seed) for seed in seeds]
    comparison = Comparison(dataset, list(losses), list(methods), seeds, config)
    start = time.perf_counter()

    def split_of(seed):
        return split_dataset(
            dataset,
            seed,
            calib_size=calib_size,
            test_size=test_size,
            train_size=train_size,
            unknown_classes=unknown_classes,
        )

    first = split_of(seeds[0])
    comparison.split_sizes = first.sizes
    comparison.classes = np.unique(first.y_train)
    runs = [(seed, loss) for seed in seeds for loss in comparison.losses]
    comparison.n_jobs = n_workers(n_jobs, len(runs))

    def tasks():  # each seed's split made when its runs are dispatched
        index = 0
        for seed in seeds:
            split = first if seed == seeds[0] else split_of(seed)
            for loss in comparison.losses:
                yield delayed(_run_task)(
                    index,
                    split,
                    loss,
                    _model_for(split, loss, config),
                    comparison.methods,
                    config,
                    dataset.name,
                    loss.key in keep_proba,
                )
                index += 1

    if comparison.n_jobs == 1:
        finished = (call(*args, **kwargs) for call, args, kwargs in tasks())
    else:
        finished = parallel_results(tasks(), comparison.n_jobs, config.device)
    results = [None] * len(runs)
    for done, (index, result) in enumerate(finished, start=1):
        results[index] = result
        if progress is not None:
            seed, loss = runs[index]
            progress(done, len(runs), f"seed {seed} {loss.key}")
    for (seed, loss), result in zip(runs, results):
        comparison.records.extend(result.records)
        comparison.warnings += [
            {"seed": seed, "loss": loss.key, "category": category, "message": text}
            for category, text in result.warnings
        ]
        for method_key, proba in result.proba.items():
            comparison.proba.setdefault((loss.key, method_key), []).append(
                (result.y_test, proba)
            )
    comparison.seconds = time.perf_counter() - start
    return comparison
