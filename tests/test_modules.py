import doctest
import pickle

import numpy as np
import pytest
import torch

import sklearn_gce
from sklearn_gce import CNN1dModule, CNN2dModule, GCEClassifier, ResNet1dModule
from sklearn_gce import modules as modules_module

CONV_MODULES = (CNN1dModule, CNN2dModule, ResNet1dModule)


# small sizes, for speed
SMALL = {
    CNN1dModule: {"channels": (8, 8)},
    CNN2dModule: {"channels": (8, 8)},
    ResNet1dModule: {"widths": (8, 16), "blocks_per_stage": 1},
}


def _small(cls, input_shape, n_classes=3, **params):
    return cls(input_shape, n_classes, **{**SMALL[cls], **params})


def _sample_shape(cls, channels=1):
    """A small shape of one sample: a signal of 8 points or a 4 x 3 image."""
    return (channels, 4, 3) if cls is CNN2dModule else (channels, 8)


# --- shapes ---


@pytest.mark.parametrize(
    "cls, input_shape, params",
    [
        (CNN1dModule, (1, 40), {}),
        (CNN1dModule, (40,), {}),
        (CNN1dModule, (3, 17), {"kernel_size": 3}),
        (CNN1dModule, (2, 1), {"kernel_size": 1}),
        (CNN1dModule, (1, 300), {"pooled_size": 1}),
        (CNN2dModule, (1, 8, 8), {}),
        (CNN2dModule, (8, 8), {}),
        (CNN2dModule, (3, 32, 32), {}),
        (CNN2dModule, (2, 5, 3), {"channels": (4, 4, 4, 4)}),
        (CNN2dModule, (1, 1, 1), {"kernel_size": 1}),
        (ResNet1dModule, (1, 40), {}),
        (ResNet1dModule, (40,), {"blocks_per_stage": 1, "kernel_size": 5}),
        (ResNet1dModule, (2, 3), {"widths": (4, 4, 4, 4)}),
        (ResNet1dModule, (1, 1), {"kernel_size": 1}),
    ],
)
def test_output_is_logits_of_n_classes(cls, input_shape, params):
    net = cls(input_shape, 7, **params).eval()
    shape = net.input_shape
    assert shape == (
        input_shape if len(input_shape) == len(shape) else (1, *input_shape)
    )
    out = net(torch.randn(5, *shape))
    assert out.shape == (5, 7) and out.dtype == torch.float32
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("cls", CONV_MODULES)
def test_input_without_channel_axis_or_flattened(cls):
    shape = _sample_shape(cls)
    net = _small(cls, shape, kernel_size=3).eval()
    X = torch.randn(5, *shape)
    expected = net(X)
    # the same computation on the same numbers: equal to the last bit
    assert torch.equal(net(X.squeeze(1)), expected)
    assert torch.equal(net(X.flatten(1)), expected)


def test_the_head_is_sized_from_the_input():
    # 40 -> 20 -> 10 -> 5 after three poolings, pooled to min(5, pooled_size)
    assert CNN1dModule((1, 40), 10).head[-1].in_features == 32 * 5
    assert CNN1dModule((1, 40), 10, pooled_size=1).head[-1].in_features == 32
    # 32 x 32 -> 8 x 8 after two poolings, average-pooled to 4 x 4
    assert CNN2dModule((3, 32, 32), 10).head[-1].in_features == 64 * 16
    assert CNN2dModule((1, 8, 8), 10).head[-1].in_features == 64 * 4
    assert ResNet1dModule((1, 40), 10, widths=(8, 16)).head[-1].in_features == 16


# --- argument checks ---


@pytest.mark.parametrize(
    "cls, args, params, error, match",
    [
        (CNN1dModule, ((1, 2, 40), 3), {}, ValueError, "of 3 dimension"),
        (CNN1dModule, ((), 3), {}, ValueError, "of 0 dimension"),
        (CNN1dModule, (40, 3), {}, TypeError, "input_shape must be"),
        (CNN1dModule, ("40", 3), {}, TypeError, "input_shape must be"),
        (CNN1dModule, ((1, 0), 3), {}, ValueError, "input_shape must be >= 1"),
        (CNN1dModule, ((1, 4.0), 3), {}, TypeError, "input_shape must be an int"),
        (CNN1dModule, ((1, 40), 0), {}, ValueError, "n_classes must be >= 1"),
        (CNN1dModule, ((1, 40), 2.5), {}, TypeError, "n_classes must be an integer"),
        (CNN1dModule, ((1, 40), True), {}, TypeError, "n_classes must be an integer"),
        (CNN1dModule, ((1, 40), 3), {"channels": ()}, ValueError, "at least one"),
        (CNN1dModule, ((1, 40), 3), {"channels": 32}, TypeError, "sequence"),
        (CNN1dModule, ((1, 40), 3), {"channels": (8, -1)}, ValueError, "channels"),
        (CNN1dModule, ((1, 4), 3), {"kernel_size": 5}, ValueError, "larger than"),
        (CNN1dModule, ((1, 40), 3), {"kernel_size": 0}, ValueError, "kernel_size"),
        (CNN1dModule, ((1, 40), 3), {"pooled_size": 0}, ValueError, "pooled_size"),
        (CNN1dModule, ((1, 40), 3), {"dropout": 1.0}, ValueError, r"\[0, 1\)"),
        (CNN1dModule, ((1, 40), 3), {"dropout": "0.1"}, TypeError, "dropout"),
        (CNN2dModule, ((40,), 3), {}, ValueError, "height, width"),
        (CNN2dModule, ((1, 8, 8, 8), 3), {}, ValueError, "of 4 dimension"),
        (CNN2dModule, ((1, 8, 2), 3), {}, ValueError, "larger than the input"),
        (ResNet1dModule, ((1, 40), 3), {"widths": ()}, ValueError, "widths"),
        (ResNet1dModule, ((1, 40), 3), {"blocks_per_stage": 0}, ValueError, "blocks"),
        (ResNet1dModule, ((1, 40), 3), {"kernel_size": 4}, ValueError, "odd"),
        (ResNet1dModule, ((1, 2), 3), {}, ValueError, "larger than the input"),
        (ResNet1dModule, ((1, 8, 8), 3), {}, ValueError, "channels, length"),
    ],
)
def test_bad_arguments_get_clear_errors(cls, args, params, error, match):
    with pytest.raises(error, match=match):
        cls(*args, **params)


@pytest.mark.parametrize("cls", CONV_MODULES)
def test_input_of_the_wrong_shape_or_type_gets_a_clear_error(cls):
    shape = _sample_shape(cls, channels=2)
    net = _small(cls, shape, kernel_size=3)
    wrong = [(5, 3, *shape[1:]), (5, *shape[1:]), (5, 2, 7, *shape[2:]), (5,)]
    for wrong_shape in wrong:
        with pytest.raises(ValueError, match=r"expects input of shape \(n_samples, 2"):
            net(torch.randn(*wrong_shape))
    with pytest.raises(TypeError, match="floating-point tensor, got torch.int64"):
        net(torch.zeros(5, *shape, dtype=torch.int64))


# --- training ---


def _bumps(n_samples, length=16, seed=0):
    """Three classes of noisy signals: a bump, a dip or a step, anywhere."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n_samples)
    X = 0.3 * rng.standard_normal((n_samples, 1, length))
    start = rng.integers(0, length - 4, n_samples)
    for i, (label, at) in enumerate(zip(y, start)):
        X[i, 0, at : at + 4] += (1.5, -1.5, 0.0)[label]
        if label == 2:
            X[i, 0, at:] += 1.0
    return X.astype(np.float32), y


@pytest.mark.parametrize("cls", CONV_MODULES)
def test_fit_through_the_classifier_beats_chance(cls):
    X, y = _bumps(240)
    if cls is CNN2dModule:
        X = X.reshape(len(X), 1, 4, 4)
    clf = GCEClassifier(
        module=cls,
        module__input_shape=X.shape[1:],
        module__n_classes=3,
        lr=1e-2,
        max_epochs=5,
        batch_size=32,
        random_state=0,
        **{f"module__{name}": value for name, value in SMALL[cls].items()},
    )
    X_test, y_test = _bumps(300, seed=1)
    clf.fit(X[:200], y[:200])
    # chance is 1/3; these reach 0.87-0.99 over seeds
    assert clf.score(X_test.reshape(len(X_test), *X.shape[1:]), y_test) > 0.75
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize("cls", CONV_MODULES)
def test_gradients_reach_every_parameter(cls):
    shape = _sample_shape(cls, channels=2)
    net = _small(cls, shape, kernel_size=3, dropout=0.1)
    loss = torch.nn.functional.cross_entropy(
        net(torch.randn(16, *shape)), torch.arange(16) % 3
    )
    loss.backward()
    for name, param in net.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


@pytest.mark.parametrize("cls", CONV_MODULES)
def test_same_seed_same_network(cls):
    shape = _sample_shape(cls)
    X = torch.randn(6, *shape)
    outputs = []
    for _ in range(2):
        torch.manual_seed(3)
        outputs.append(_small(cls, shape, kernel_size=3).eval()(X))
    assert torch.equal(outputs[0], outputs[1])
    torch.manual_seed(4)
    assert not torch.allclose(_small(cls, shape, kernel_size=3).eval()(X), outputs[0])


def test_classifier_fits_are_reproducible():
    X, y = _bumps(60)
    probas = []
    for seed in (0, 0, 1):
        clf = GCEClassifier(
            module=ResNet1dModule,
            module__input_shape=(1, 16),
            module__n_classes=3,
            module__widths=(4, 8),
            max_epochs=2,
            random_state=seed,
        )
        probas.append(clf.fit(X, y).predict_proba(X))
    np.testing.assert_array_equal(probas[0], probas[1])
    assert not np.allclose(probas[0], probas[2])


@pytest.mark.parametrize("cls", CONV_MODULES)
def test_float64_modules(cls):
    shape = _sample_shape(cls)
    net = _small(cls, shape, kernel_size=3).eval()
    X = torch.randn(6, *shape)
    expected = net(X)
    out = net.double()(X.double())
    assert out.dtype == torch.float64
    assert torch.allclose(out, expected.double(), rtol=1e-4, atol=1e-5)


def test_classifier_with_a_float64_module():
    X, y = _bumps(60)
    net = CNN1dModule((1, 16), 3, channels=(4,)).double()
    clf = GCEClassifier(module=net, max_epochs=2, random_state=0).fit(X, y)
    assert next(clf.module_.parameters()).dtype == torch.float64
    assert clf.predict_proba(X).shape == (60, 3)


# --- the package's face ---


def test_exported_lazily_from_the_package():
    for name in ("CNN1dModule", "CNN2dModule", "ResNet1dModule"):
        assert name in sklearn_gce.__all__ and name in modules_module.__all__
        assert getattr(sklearn_gce, name) is getattr(modules_module, name)
    assert sklearn_gce._LAZY["CNN1dModule"] == "sklearn_gce.modules"


def test_docstring_examples():
    result = doctest.testmod(modules_module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
