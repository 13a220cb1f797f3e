import errno
import json
import math
import os
import signal
import threading
import time
import warnings

import numpy as np
import pytest
import torch
from _readme import python_block
from scipy.stats import wilcoxon
from sklearn.metrics import accuracy_score, brier_score_loss, log_loss

from sklearn_gce.compare import (
    LOSSES,
    METRICS,
    MODELS,
    LossSpec,
    MethodSpec,
    MixupClassifier,
    SpecError,
    TrainingConfig,
    calibrate,
    format_summary,
    format_tests,
    make_model,
    mean_interval,
    min_p_value,
    ood_auroc,
    output_folder,
    paired_tests,
    parse_losses,
    parse_methods,
    resolve_device,
    run_comparison,
    run_one,
    score_predictions,
    summarize,
    warning_notes,
    wilcoxon_paired,
    write_csv,
    write_json,
)
from sklearn_gce.datasets import load_dataset, split_dataset
from sklearn_gce.losses import DualFocalLoss, FLSD53Loss, FocalLoss, GCELoss, MbLSLoss

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


def test_parse_losses_with_mixup():
    losses = parse_losses("ce+mixup, gce:0.5+mixup:0.4 ,ce,ce+mixup:1")
    assert [loss.key for loss in losses] == [
        "ce+mixup",
        "gce:0.5+mixup:0.4",
        "ce",
        "ce+mixup:1",
    ]
    assert [loss.mixup for loss in losses] == [0.2, 0.4, None, 1.0]
    assert losses[1].is_gce and losses[1].param == 0.5
    assert "mixup (alpha = 0.4)" in losses[1].description


@pytest.mark.parametrize(
    "text, message",
    [
        ("ce,nope", "unknown loss 'nope'"),
        ("gce:x", "not a number"),
        ("gce:-1", "in \\[0, 1\\]"),
        ("focal:-1", ">= 0"),
        ("gce:inf", "finite"),
        ("ls:1", "in \\[0, 1\\)"),
        ("flsd53:2", "takes no parameter"),
        ("gce,gce:1", "listed twice"),
        ("ce+mixup,ce+mixup:0.2", "listed twice"),
        (" , ", "no losses"),
        ("ce+cutmix", "only mixup"),
        ("ce+mixup:0", "positive"),
        ("ce+mixup:nan", "positive"),
        ("ce+mixup:x", "not a number"),
        ("gce:", "not a number"),
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
        ("ats:\u00b2", "n_bins"),  # a digit to str.isdigit, not to int
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
        ("mbls", MbLSLoss, {"margin": 10.0, "reg_weight": 0.1}),
        ("mbls:4", MbLSLoss, {"margin": 4.0}),
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


def test_every_registered_loss_parses_builds_and_has_help():
    assert LOSSES.names() == [*ALL_LOSSES.split(","), "mbls"]
    X = np.random.default_rng(0).standard_normal((40, 3))
    y = np.arange(40) % 3
    for entry in LOSSES:
        (loss,) = parse_losses(entry.name)
        params = loss.estimator_params(FAST)
        assert "criterion" in params
        proba = make_model(loss, seed=0, config=FAST).fit(X, y).predict_proba(X)
        assert np.all(proba >= 0) and np.allclose(proba.sum(axis=1), 1)
        assert entry.help().startswith(entry.usage + ": ")
        if entry.param is not None:
            assert f"{entry.default:g} by default" in entry.help()
    assert MODELS.names() == ["mlp", "cnn", "resnet1d"]


@pytest.mark.parametrize(
    "model, shape, module",
    [
        ("cnn", (1, 8, 8), "CNN2dModule"),
        ("cnn", (1, 40), "CNN1dModule"),
        ("resnet1d", (1, 40), "ResNet1dModule"),
    ],
)
def test_models_for_images_and_signals(model, shape, module):
    X = np.random.default_rng(0).standard_normal((40, int(np.prod(shape))))
    y = np.arange(40) % 4
    config = TrainingConfig(epochs=1, model=model)
    pipeline = make_model(
        parse_losses("gce")[0], seed=0, config=config, sample_shape=shape, n_classes=4
    ).fit(X, y)
    net = pipeline[-1]
    assert type(net.module_).__name__ == module
    assert net.module_.input_shape == shape
    proba = pipeline.predict_proba(X)
    assert proba.shape == (40, 4) and np.allclose(proba.sum(axis=1), 1)


@pytest.mark.parametrize("model", ["cnn", "resnet1d"])
def test_convolutional_models_refuse_tables(model):
    config = TrainingConfig(model=model)
    with pytest.raises(SpecError, match=f"--model {model} takes .*use --model mlp"):
        make_model(parse_losses("ce")[0], seed=0, config=config, n_classes=3)


def test_mlp_on_images_takes_the_flat_rows():
    config = TrainingConfig(epochs=0, hidden=(8,))
    pipeline = make_model(
        parse_losses("ce")[0], seed=0, config=config, sample_shape=(1, 8, 8)
    )
    pipeline.fit(np.zeros((10, 64)), np.arange(10) % 2)
    assert pipeline[-1].module_.layers[0].in_features == 64


def test_gce_refuses_batches_of_one_sample():
    one = TrainingConfig(batch_size=1)
    with pytest.raises(SpecError, match="--batch-size 2 or more"):
        make_model(parse_losses("gce")[0], seed=0, config=one)
    make_model(parse_losses("gce:0")[0], seed=0, config=one)  # plain CE


def test_loss_settings_are_checked_without_building_the_loss(monkeypatch):
    # what the command line checks before it imports torch
    from sklearn_gce._registry import Entry

    def build(value, config):
        raise AssertionError("built")

    def check_settings(value, config):
        if config.epochs > value:
            raise SpecError(f"at most {value:g} epochs")

    entry = Entry("short", build, "short", "epochs", 3.0, None, check_settings)
    monkeypatch.setitem(LOSSES._entries, "short", entry)
    parse_losses("short")[0].check(TrainingConfig(epochs=3))
    with pytest.raises(SpecError, match="at most 2 epochs"):
        parse_losses("short:2")[0].check(TrainingConfig(epochs=3))
    with pytest.raises(SpecError, match="at most 2 epochs"):  # before building
        parse_losses("short:2")[0].estimator_params(TrainingConfig(epochs=3))
    with pytest.raises(SpecError, match="--batch-size 2 or more"):
        parse_losses("gce")[0].check(TrainingConfig(batch_size=1))
    parse_losses("ce,gce:0")[1].check(TrainingConfig(batch_size=1))


# --- mixup ---


def test_mixup_model_keeps_initial_weights_and_batch_order():
    X = np.random.default_rng(0).standard_normal((60, 5))
    y = np.arange(60) % 3
    config = TrainingConfig(epochs=0, hidden=(8,))
    plain = make_model(parse_losses("ce")[0], seed=3, config=config)
    mixed = make_model(parse_losses("ce+mixup:0.4")[0], seed=3, config=config)
    assert type(mixed[-1]) is MixupClassifier and mixed[-1].mixup_alpha == 0.4
    plain.fit(X, y), mixed.fit(X, y)
    for name, tensor in plain[-1].module_.state_dict().items():
        assert torch.equal(tensor, mixed[-1].module_.state_dict()[name])


@pytest.mark.parametrize("criterion", [torch.nn.CrossEntropyLoss, GCELoss])
def test_mixup_training_step_is_the_mixed_loss(criterion):
    X = np.random.default_rng(0).standard_normal((16, 4)).astype(np.float32)
    y = np.array(["a", "b", "c", "d"] * 4)
    net = MixupClassifier(
        criterion=criterion, mixup_alpha=0.5, max_epochs=0, random_state=7
    ).fit(X, y)
    net.on_train_begin(net)
    step = net.train_step_single((torch.from_numpy(X), y))

    random = np.random.RandomState(7)
    lam = random.beta(0.5, 0.5)
    perm = random.permutation(16)
    mixed = lam * torch.from_numpy(X) + (1 - lam) * torch.from_numpy(X[perm])
    logits = net.module_(mixed)
    index = {label: i for i, label in enumerate(net.classes_)}
    target = torch.tensor([index[label] for label in y])
    expected = lam * net.criterion_(logits, target) + (1 - lam) * net.criterion_(
        logits, target[perm]
    )
    assert 0 < lam < 1
    torch.testing.assert_close(step["loss"], expected)
    assert all(p.grad is not None for p in net.module_.parameters())


def test_mixup_permutes_every_part_of_the_targets():
    from typing import NamedTuple

    from sklearn_gce.compare._mixup import _rows

    class Weighted(NamedTuple):
        target: object
        sample_weight: object

    perm = np.array([2, 0, 1])
    batch = Weighted(np.array(["a", "b", "c"]), torch.tensor([1.0, 2.0, 3.0]))
    mixed = _rows(batch, perm)
    assert type(mixed) is Weighted and mixed.target.tolist() == ["c", "a", "b"]
    assert mixed.sample_weight.tolist() == [3.0, 1.0, 2.0]


def test_mixup_is_seeded_and_changes_training():
    X = np.random.default_rng(0).standard_normal((80, 4))
    y = (X[:, 0] > 0).astype(int)

    def proba(alpha, seed=0):
        if alpha is None:
            from sklearn_gce import GCEClassifier

            net = GCEClassifier(max_epochs=3, random_state=seed)
        else:
            net = MixupClassifier(mixup_alpha=alpha, max_epochs=3, random_state=seed)
        return net.fit(X, y).predict_proba(X)

    assert np.array_equal(proba(0.4), proba(0.4))
    assert not np.array_equal(proba(0.4), proba(None))
    assert not np.array_equal(proba(0.4), proba(0.4, seed=1))


def test_mixup_classifier_parameters():
    from sklearn.base import clone

    net = MixupClassifier(reg_weight=0.5, mixup_alpha=0.3, max_epochs=1)
    params = clone(net).get_params()
    assert params["mixup_alpha"] == 0.3 and params["reg_weight"] == 0.5
    X, y = np.zeros((8, 2)), np.arange(8) % 2
    with pytest.raises(ValueError, match="mixup_alpha"):
        MixupClassifier(mixup_alpha=0).fit(X, y)


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


TIMINGS = ("fit_seconds", "calibration_seconds")


def _without_timings(records):
    return [{k: v for k, v in r.items() if k not in TIMINGS} for r in records]


def test_parallel_runs_give_the_same_results_in_the_same_order(digits, comparison):
    # also the test of reproducibility: other processes, other orders of runs
    seen = []
    parallel = run_comparison(
        digits,
        parse_losses("ce,gce,focal"),
        parse_methods("none,temperature,ats"),
        seeds=[0, 1],
        config=FAST,
        keep_proba=("ce", "gce"),
        n_jobs=2,
        progress=lambda done, total, label: seen.append((done, total, label)),
    )
    assert parallel.n_jobs == 2 and comparison.n_jobs == 1
    # exactly equal, float for float, in the same order
    assert _without_timings(parallel.records) == _without_timings(comparison.records)
    assert parallel.proba.keys() == comparison.proba.keys()
    for key, pairs in parallel.proba.items():
        for (y, p), (y1, p1) in zip(pairs, comparison.proba[key], strict=True):
            assert np.array_equal(y, y1) and np.array_equal(p, p1)
    assert [done for done, _, _ in seen] == [1, 2, 3, 4, 5, 6]
    assert {total for _, total, _ in seen} == {6}
    labels = {label for _, _, label in seen}
    assert labels == {f"seed {s} {k}" for s in (0, 1) for k in ("ce", "gce", "focal")}


class _SmoothedCE(torch.nn.CrossEntropyLoss):
    """A loss that the library does not register."""

    def __init__(self, amount=0.0):
        super().__init__(label_smoothing=amount)


def test_losses_registered_at_run_time_train_in_workers(digits, monkeypatch):
    from sklearn_gce._registry import Entry

    def build(amount, config):
        return {"criterion": _SmoothedCE, "criterion__amount": amount}

    entry = Entry("smooth", build, "smoothed CE", param="amount", default=0.0)
    monkeypatch.setitem(LOSSES._entries, "smooth", entry)
    result = run_comparison(
        digits,
        parse_losses("smooth:0.4,ce"),
        parse_methods("none"),
        seeds=[0],
        config=TrainingConfig(epochs=1, hidden=(8,)),
        n_jobs=2,
    )
    assert [r["loss"] for r in result.records] == ["smooth:0.4", "ce"]
    assert result.records[0]["nll"] != result.records[1]["nll"]


def test_readme_example_registers_a_loss_that_trains(digits, tmp_path, monkeypatch):
    import runpy

    script = tmp_path / "poly1.py"
    script.write_text(python_block("The comparison command", contains="LOSSES.add"))
    monkeypatch.setattr(LOSSES, "_entries", dict(LOSSES._entries))
    namespace = runpy.run_path(str(script), run_name="__main__")

    logits = torch.randn(50, 4, dtype=torch.float64)
    target = torch.randint(0, 4, (50,))
    p_true = torch.softmax(logits, 1)[torch.arange(50), target]
    expected = (-torch.log(p_true) + 2 * (1 - p_true)).mean()
    torch.testing.assert_close(namespace["Poly1Loss"](2.0)(logits, target), expected)

    result = run_comparison(
        digits,
        parse_losses("ce,poly1:2"),
        parse_methods("none"),
        seeds=[0],
        config=TrainingConfig(epochs=1, hidden=(8,)),
    )
    assert [r["loss"] for r in result.records] == ["ce", "poly1:2"]
    assert result.records[0]["nll"] != result.records[1]["nll"]


class _WarningCE(torch.nn.CrossEntropyLoss):
    """Cross-entropy that warns with the batch size at every step."""

    def forward(self, logits, target):
        warnings.warn(f"a batch of {len(target)} samples", UserWarning, stacklevel=2)
        return super().forward(logits, target)


def test_warnings_of_the_runs_are_recorded_once_per_run(digits, monkeypatch):
    from sklearn_gce._registry import Entry

    entry = Entry("warns", lambda _, config: {"criterion": _WarningCE}, "warns")
    monkeypatch.setitem(LOSSES._entries, "warns", entry)
    result = run_comparison(
        digits,
        parse_losses("warns,ce"),
        parse_methods("none"),
        seeds=[0, 1],
        config=TrainingConfig(epochs=1, hidden=(8,), batch_size=500),
        train_size=600,
    )
    # batches of 500 and 100 samples: two messages per run of "warns"
    assert [(w["seed"], w["loss"], w["message"]) for w in result.warnings] == [
        (0, "warns", "a batch of 500 samples"),
        (0, "warns", "a batch of 100 samples"),
        (1, "warns", "a batch of 500 samples"),
        (1, "warns", "a batch of 100 samples"),
    ]
    assert warning_notes(result.warnings) == [
        "UserWarning in seed 0 warns and 1 other run: a batch of 500 samples"
    ]


def test_warning_notes_group_messages_that_differ_in_numbers():
    warnings_ = [
        {"seed": 0, "loss": "ce", "category": "UserWarning", "message": "T = 2.1e+03"},
        {"seed": 0, "loss": "gce", "category": "UserWarning", "message": "T = 8"},
        {"seed": 1, "loss": "ce", "category": "UserWarning", "message": "T = -0.5"},
        {"seed": 1, "loss": "ce", "category": "RuntimeWarning", "message": "T = 1"},
        {"seed": 1, "loss": "ce", "category": "UserWarning", "message": "other"},
    ]
    assert warning_notes(warnings_) == [
        "UserWarning in seed 0 ce and 2 other runs: T = 2.1e+03",
        "RuntimeWarning in seed 1 ce: T = 1",
        "UserWarning in seed 1 ce: other",
    ]


class _NaNLoss(torch.nn.CrossEntropyLoss):
    """A loss that diverges at once."""

    def forward(self, logits, target):
        return super().forward(logits, target) * float("nan")


def test_a_failing_run_in_a_worker_raises_in_the_caller(digits, monkeypatch):
    from sklearn_gce._registry import Entry

    entry = Entry("nan", lambda _, config: {"criterion": _NaNLoss}, "diverges")
    monkeypatch.setitem(LOSSES._entries, "nan", entry)
    with pytest.raises(FloatingPointError, match="non-finite outputs"):
        run_comparison(
            digits,
            parse_losses("ce,nan"),
            parse_methods("none"),
            seeds=[0, 1],
            config=TrainingConfig(epochs=2, hidden=(8,)),
            n_jobs=2,
        )


def test_runs_train_on_one_thread_and_restore_the_callers(digits):
    torch.set_num_threads(2)
    try:
        seen = []
        original = torch.nn.Module.__call__

        def spy(module, *args, **kwargs):
            seen.append(torch.get_num_threads())
            return original(module, *args, **kwargs)

        torch.nn.Module.__call__ = spy
        try:
            run_comparison(
                digits,
                parse_losses("ce"),
                parse_methods("none"),
                seeds=[0],
                config=TrainingConfig(epochs=1, hidden=(8,)),
            )
        finally:
            torch.nn.Module.__call__ = original
        assert seen and set(seen) == {1}
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)  # as tests/conftest.py sets it


def test_n_jobs_is_capped_by_the_number_of_runs(digits):
    result = run_comparison(
        digits,
        parse_losses("ce"),
        parse_methods("none"),
        seeds=[0],
        config=TrainingConfig(epochs=1, hidden=(8,)),
        n_jobs=-1,
    )
    assert result.n_jobs == 1 and len(result.records) == 1


def test_splits_are_made_as_their_runs_start(digits, monkeypatch):
    # memory does not grow with the number of seeds before the first run
    from sklearn_gce.compare import _engine

    made, seen = [], []
    split_dataset = _engine.split_dataset

    def counted(dataset, seed, **kwargs):
        made.append(seed)
        return split_dataset(dataset, seed, **kwargs)

    monkeypatch.setattr(_engine, "split_dataset", counted)
    result = run_comparison(
        digits,
        parse_losses("ce"),
        parse_methods("none"),
        seeds=range(4),
        config=TrainingConfig(epochs=1, hidden=(8,)),
        train_size=50,
        progress=lambda done, total, label: seen.append(len(made)),
    )
    assert made == [0, 1, 2, 3] and seen[0] < 4
    assert [r["seed"] for r in result.records] == [0, 1, 2, 3]


def test_train_size_subsamples_the_training_split_only(digits):
    result = run_comparison(
        digits,
        parse_losses("ce"),
        parse_methods("none"),
        seeds=[0, 1],
        config=TrainingConfig(epochs=1, hidden=(8,)),
        train_size=200,
    )
    assert {r["n_train"] for r in result.records} == {200}
    assert {r["n_calib"] for r in result.records} == {360}
    assert result.split_sizes == {"train": 200, "calibration": 360, "test": 360}


# --- writing outputs: all or nothing ---


def _write(folder, **files):
    for name, text in files.items():
        with open(os.path.join(folder, name), "w") as file:
            file.write(text)


def _contents(path):
    return {name: open(os.path.join(path, name)).read() for name in os.listdir(path)}


def test_output_folder_replaces_files_all_at_once(tmp_path):
    _write(tmp_path, **{"a.txt": "old", "keep.txt": "mine"})
    with output_folder(tmp_path) as folder:
        assert os.path.dirname(folder) == str(tmp_path)
        _write(folder, **{"a.txt": "new", "b.txt": "new"})
        assert (tmp_path / "a.txt").read_text() == "old"  # nothing moved yet
        assert not (tmp_path / "b.txt").exists()
    assert _contents(tmp_path) == {"a.txt": "new", "b.txt": "new", "keep.txt": "mine"}


def test_output_folder_changes_nothing_when_writing_fails(tmp_path):
    _write(tmp_path, **{"a.txt": "old"})
    with pytest.raises(OSError, match="No space"):
        with output_folder(tmp_path) as folder:
            _write(folder, **{"a.txt": "half"})
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert _contents(tmp_path) == {"a.txt": "old"}  # no temporary folder left


def test_output_folder_of_a_removed_folder(tmp_path):
    with pytest.raises(FileNotFoundError):
        with output_folder(tmp_path / "gone"):
            pass


def test_runs_sharing_a_folder_do_not_interleave(tmp_path):
    from sklearn_gce.compare._files import _locked

    def run(name):
        with output_folder(tmp_path) as folder:
            _write(folder, **{"runs.csv": name, "runs.json": name})

    with _locked(tmp_path):  # another run is moving its files in
        threads = [threading.Thread(target=run, args=(n,)) for n in ("A", "B")]
        for thread in threads:
            thread.start()
        time.sleep(0.3)
        assert "runs.csv" not in os.listdir(tmp_path)
    for thread in threads:
        thread.join(timeout=30)
    files = _contents(tmp_path)
    assert files["runs.csv"] in ("A", "B") and files["runs.json"] == files["runs.csv"]
    assert set(files) == {"runs.csv", "runs.json"}


def test_interrupt_while_moving_files_is_held_until_done():
    from sklearn_gce.compare._files import _interrupts_held

    done = []
    with pytest.raises(KeyboardInterrupt):
        with _interrupts_held():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.1)
            done.append(True)
    assert done == [True]


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


@pytest.mark.parametrize(
    "diff",
    [
        [0.0, 1.0],
        [0.002, 0.001, -0.001, 0.002, 0.0, 0.003],
        [1.0, 1.0, 0.0, -2.0, 3.0, 3.0, 1.0, 0.0, 2.0, 2.0],
        [1.0, 2, 2, 3, 3, -1, 4, 5, 5, 0, 7],
        [1.0, 2, 2, 3, 3, 3, -1, 4, 5, 5, 6, 0, 7, 8],  # n > 13: approximation
    ],
)
def test_wilcoxon_with_ties_and_zeros_matches_scipy(diff):
    # accuracies on a test set tie often: scipy then runs a permutation test
    # over all sign flips (n <= 13), which wilcoxon_paired computes itself
    # (also checked on 300 random cases when written)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy's normal approximation
        expected = wilcoxon(diff, zero_method="wilcox").pvalue
    result = wilcoxon_paired(diff, np.zeros(len(diff)))
    assert result["p_value"] == pytest.approx(expected, rel=1e-12)


def test_mean_interval_is_scipys_t_interval():
    from scipy.stats import t

    values = np.random.default_rng(0).normal(0.01, 0.02, 10)
    mean, (low, high) = mean_interval(values, confidence_level=0.9)
    half = t.ppf(0.95, 9) * values.std(ddof=1) / np.sqrt(10)
    assert math.isclose(mean, values.mean())
    assert math.isclose(low, mean - half) and math.isclose(high, mean + half)
    assert mean_interval([0.25, 0.25, 0.25]) == (0.25, (0.25, 0.25))
    mean, interval = mean_interval([0.3])
    assert mean == 0.3 and all(math.isnan(bound) for bound in interval)


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
    _, interval = mean_interval(np.subtract(gce, ce))
    assert (test["mean_diff_low"], test["mean_diff_high"]) == interval


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

    from sklearn_gce import _registry, datasets
    from sklearn_gce.compare import _files, _mixup, _specs, _stats

    for module in (_registry, datasets, _files, _mixup, _specs, _stats):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0 and result.attempted > 0
