"""Networks for GCEClassifier: torch modules sized from the data.

Each module takes the data's sizes as arguments of ``__init__``, which
``GCEClassifier`` fills in from the training data: ``n_features`` (the size of
one flattened sample) for :class:`MLPModule`, the default network;
``input_shape`` (the shape of one sample) and ``n_classes`` for the
convolutional networks :class:`CNN1dModule` (signals), :class:`CNN2dModule`
(images) and :class:`ResNet1dModule` (a deeper residual network for signals).
All return logits of shape (n_samples, n_classes).
"""

import math
from collections.abc import Iterable
from numbers import Integral, Real

import torch

__all__ = ["CNN1dModule", "CNN2dModule", "MLPModule", "ResNet1dModule"]


class MLPModule(torch.nn.Module):
    """The default network: fully connected layers with ReLU, returning logits.

    Inputs with more than two dimensions (images, sequences) are flattened.

    Parameters
    ----------
    n_features : int
        Number of input features (after flattening).
    n_classes : int
        Number of outputs.
    hidden_sizes : tuple of int, default=(256,)
        Width of each hidden layer; ``()`` gives a linear model.
    dropout : float, default=0.0
        Dropout probability after each hidden layer.

    Examples
    --------
    >>> from sklearn_gce import MLPModule
    >>> MLPModule(4, 3, hidden_sizes=(8,))
    MLPModule(
      (layers): Sequential(
        (0): Linear(in_features=4, out_features=8, bias=True)
        (1): ReLU()
        (2): Linear(in_features=8, out_features=3, bias=True)
      )
    )
    """

    def __init__(self, n_features, n_classes, hidden_sizes=(256,), dropout=0.0):
        super().__init__()
        layers = []
        n_inputs = n_features
        for width in hidden_sizes:
            layers += [torch.nn.Linear(n_inputs, width), torch.nn.ReLU()]
            if dropout:
                layers.append(torch.nn.Dropout(dropout))
            n_inputs = width
        layers.append(torch.nn.Linear(n_inputs, n_classes))
        self.layers = torch.nn.Sequential(*layers)

    def forward(self, X):
        if X.ndim > 2:
            X = X.flatten(1)
        return self.layers(X)


# --- argument checks of the convolutional networks ---


def _check_int(value, name, minimum=1):
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}.")
    return int(value)


def _check_widths(values, name):
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(
            f"{name} must be a sequence of positive integers such as (32, 64), "
            f"got {values!r}."
        )
    values = tuple(values)
    if not values:
        raise ValueError(f"{name} must hold at least one width, got {values!r}.")
    return tuple(_check_int(value, f"each of {name}") for value in values)


def _check_dropout(dropout):
    if isinstance(dropout, bool) or not isinstance(dropout, Real):
        raise TypeError(f"dropout must be a number in [0, 1), got {dropout!r}.")
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}.")
    return float(dropout)


def _check_input_shape(input_shape, axes):
    """``(channels, *sizes)`` from an ``input_shape`` with or without channels."""
    names = ", ".join(axes)
    one_channel = f"({names},)" if len(axes) == 1 else f"({names})"
    expected = f"(channels, {names}), or {one_channel} for one channel"
    if isinstance(input_shape, (str, bytes)) or not isinstance(input_shape, Iterable):
        raise TypeError(f"input_shape must be {expected}; got {input_shape!r}.")
    shape = tuple(input_shape)
    if len(shape) not in (len(axes), len(axes) + 1):
        raise ValueError(
            f"input_shape must be {expected}; got {shape!r}, of {len(shape)} "
            f"dimension(s)."
        )
    shape = tuple(_check_int(size, "each size in input_shape") for size in shape)
    return shape if len(shape) > len(axes) else (1, *shape)


def _check_kernel_size(kernel_size, sizes, *, odd=False):
    kernel_size = _check_int(kernel_size, "kernel_size")
    if odd and kernel_size % 2 == 0:
        raise ValueError(
            f"kernel_size must be odd, so that padding keeps the signal centred; "
            f"got {kernel_size}."
        )
    if kernel_size > min(sizes):
        raise ValueError(
            f"kernel_size={kernel_size} is larger than the input, of size "
            f"{' x '.join(map(str, sizes))}; use at most {min(sizes)}."
        )
    return kernel_size


def _halved(sizes):
    """Kernel of a pooling by 2 along every axis longer than 1, and its output."""
    kernel = tuple(2 if size > 1 else 1 for size in sizes)
    return kernel, tuple(-(-size // 2) for size in sizes)


# --- convolutional networks ---


class _ConvNet(torch.nn.Module):
    """What the convolutional networks share: input checks and the head.

    A subclass sets ``input_shape`` (with channels first), ``features`` (the
    convolutions) and ``head`` (pooling, dropout and the linear layer).
    """

    @staticmethod
    def _make_head(n_channels, sizes, pooled_size, n_classes, dropout):
        pooled = tuple(min(size, pooled_size) for size in sizes)
        pool = (torch.nn.AdaptiveAvgPool1d, torch.nn.AdaptiveAvgPool2d)[len(sizes) - 1]
        layers = [pool(pooled), torch.nn.Flatten()]
        if dropout:
            layers.append(torch.nn.Dropout(dropout))
        layers.append(torch.nn.Linear(n_channels * math.prod(pooled), n_classes))
        return torch.nn.Sequential(*layers)

    def _as_input(self, X):
        """``X`` reshaped to (n_samples, *input_shape), or a clear error."""
        shape = self.input_shape
        name = type(self).__name__
        if not isinstance(X, torch.Tensor) or not X.is_floating_point():
            kind = X.dtype if isinstance(X, torch.Tensor) else type(X).__name__
            raise TypeError(f"{name} expects a floating-point tensor, got {kind}.")
        if X.ndim >= 2 and tuple(X.shape[1:]) == shape:
            return X
        if X.ndim == len(shape) and shape[0] == 1 and tuple(X.shape[1:]) == shape[1:]:
            return X.unsqueeze(1)  # a single channel, without its axis
        if X.ndim == 2 and X.shape[1] == math.prod(shape):
            return X.reshape(len(X), *shape)  # flattened samples
        sizes = ", ".join(map(str, shape))
        raise ValueError(
            f"{name} expects input of shape (n_samples, {sizes}) or flattened "
            f"(n_samples, {math.prod(shape)}), got {tuple(X.shape)}; its "
            "input_shape must be the shape of one sample."
        )

    def forward(self, X):
        return self.head(self.features(self._as_input(X)))


class _PlainCNN(_ConvNet):
    """Convolution, ReLU and max pooling by 2 for each width, then the head."""

    _axes = ()

    def _build(
        self, input_shape, n_classes, channels, kernel_size, pooled_size, dropout
    ):
        self.input_shape = _check_input_shape(input_shape, self._axes)
        n_classes = _check_int(n_classes, "n_classes")
        channels = _check_widths(channels, "channels")
        sizes = self.input_shape[1:]
        kernel_size = _check_kernel_size(kernel_size, sizes)
        pooled_size = _check_int(pooled_size, "pooled_size")
        dropout = _check_dropout(dropout)
        conv, max_pool = {
            1: (torch.nn.Conv1d, torch.nn.MaxPool1d),
            2: (torch.nn.Conv2d, torch.nn.MaxPool2d),
        }[len(sizes)]
        layers = []
        n_inputs = self.input_shape[0]
        for width in channels:
            layers.append(conv(n_inputs, width, kernel_size, padding="same"))
            layers.append(torch.nn.ReLU())
            if max(sizes) > 1:  # pool while there is something left to pool
                kernel, sizes = _halved(sizes)
                layers.append(max_pool(kernel, ceil_mode=True))
            n_inputs = width
        self.features = torch.nn.Sequential(*layers)
        self.head = self._make_head(n_inputs, sizes, pooled_size, n_classes, dropout)


class CNN1dModule(_PlainCNN):
    """A small 1-D convolutional network for signals, returning logits.

    Each width in ``channels`` adds a convolution (``padding="same"``), a
    ReLU and a max pooling by 2 (while the signal is longer than one point);
    the last feature map is average-pooled to at most ``pooled_size``
    points, flattened, and mapped to ``n_classes`` logits by a linear layer.
    With the defaults on MNIST-1D (1 channel of 40 points) the signal goes
    40 -> 20 -> 10 -> 5 points of 32 channels (12 106 parameters), a network
    close to the CNN of the MNIST-1D paper (Greydanus 2020).

    Input: a float tensor of shape (n_samples, *input_shape); with a single
    channel also (n_samples, length), the table of signals a user has; and
    flattened samples (n_samples, channels * length), such as the output of
    a ``StandardScaler`` in a pipeline.

    Recommended training, as a starting point: Adam (the classifier's
    default) with ``lr=1e-2``, ``max_epochs=20``, ``batch_size=64``, i.e.
    ``GCEClassifier(module=CNN1dModule, lr=1e-2, max_epochs=20)``. On
    MNIST-1D's standard split (4000 training, 1000 test signals) this reaches
    a test accuracy of 0.96 with cross-entropy and with GCE (5 seeds), where
    the classifier's defaults (``lr=1e-3``, 60 epochs) reach 0.93 in three
    times as long and the default MLP 0.59-0.62
    (``benchmarks/results/cnn_accuracy.md``).

    Parameters
    ----------
    input_shape : tuple of int
        Shape of one sample: ``(channels, length)``, or ``(length,)`` for a
        single channel. ``GCEClassifier`` fills it in from the training data
        unless ``module__input_shape`` is given.
    n_classes : int
        Number of outputs; filled in by ``GCEClassifier`` likewise.
    channels : tuple of int, default=(32, 32, 32)
        Output channels of each convolution; one pooling by 2 per entry.
    kernel_size : int, default=5
        Length of every convolution kernel, at most the input's length.
    pooled_size : int, default=8
        Length to which the last feature map is average-pooled before the
        linear layer, when it is longer (1: global average pooling).
    dropout : float, default=0.0
        Dropout probability before the linear layer.

    Attributes
    ----------
    input_shape : tuple of int
        Shape of one sample, channels first.

    See Also
    --------
    ResNet1dModule : a deeper residual network for signals.

    Examples
    --------
    >>> import torch
    >>> from sklearn_gce import CNN1dModule
    >>> net = CNN1dModule(input_shape=(1, 40), n_classes=10)
    >>> net(torch.randn(8, 1, 40)).shape
    torch.Size([8, 10])
    >>> net(torch.randn(8, 40)).shape  # one channel: its axis may be left out
    torch.Size([8, 10])
    """

    _axes = ("length",)

    def __init__(
        self,
        input_shape,
        n_classes,
        channels=(32, 32, 32),
        kernel_size=5,
        pooled_size=8,
        dropout=0.0,
    ):
        super().__init__()
        self._build(input_shape, n_classes, channels, kernel_size, pooled_size, dropout)


class CNN2dModule(_PlainCNN):
    """A small convolutional network for images, returning logits.

    Each width in ``channels`` adds a convolution (``padding="same"``), a
    ReLU and a max pooling by 2 along each side longer than one pixel; the
    last feature map is average-pooled to at most ``pooled_size`` x
    ``pooled_size``, flattened, and mapped to ``n_classes`` logits by a
    linear layer. The defaults take 8 x 8 digits to 2 x 2 maps of 64
    channels, and 32 x 32 CIFAR-sized images to 8 x 8 maps pooled to 4 x 4.

    Input: a float tensor of shape (n_samples, *input_shape); with a single
    channel also (n_samples, height, width); and flattened samples
    (n_samples, channels * height * width), such as the output of a
    ``StandardScaler`` in a pipeline.

    Recommended training, as a starting point: the classifier's defaults
    (Adam, ``lr=1e-3``, 60 epochs, ``batch_size=64``). On scikit-learn's
    digits (1 x 8 x 8, 1078 training images, standard-scaled) they reach a
    test accuracy of 0.986 with cross-entropy and 0.987 with GCE (5 seeds),
    against 0.976 for the default MLP; ``lr=1e-2`` with 20 epochs, three
    times faster, reaches 0.979 and 0.988
    (``benchmarks/results/cnn_accuracy.md``).

    Parameters
    ----------
    input_shape : tuple of int
        Shape of one sample: ``(channels, height, width)``, or
        ``(height, width)`` for a single channel. ``GCEClassifier`` fills it
        in from the training data unless ``module__input_shape`` is given.
    n_classes : int
        Number of outputs; filled in by ``GCEClassifier`` likewise.
    channels : tuple of int, default=(32, 64)
        Output channels of each convolution; one pooling by 2 per entry.
    kernel_size : int, default=3
        Side of every (square) convolution kernel, at most the input's
        smaller side.
    pooled_size : int, default=4
        Side to which the last feature map is average-pooled before the
        linear layer, when it is larger (1: global average pooling).
    dropout : float, default=0.0
        Dropout probability before the linear layer.

    Attributes
    ----------
    input_shape : tuple of int
        Shape of one sample, channels first.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn_gce import CNN2dModule, GCEClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> X = (X / 16).astype("float32")  # flat rows of 8 x 8 images
    >>> clf = GCEClassifier(
    ...     module=CNN2dModule,
    ...     module__input_shape=(1, 8, 8),
    ...     module__n_classes=10,
    ...     lr=1e-2,
    ...     max_epochs=5,
    ...     random_state=0,
    ... )
    >>> clf.fit(X[:500], y[:500]).score(X[1000:], y[1000:]) > 0.9
    True
    """

    _axes = ("height", "width")

    def __init__(
        self,
        input_shape,
        n_classes,
        channels=(32, 64),
        kernel_size=3,
        pooled_size=4,
        dropout=0.0,
    ):
        super().__init__()
        self._build(input_shape, n_classes, channels, kernel_size, pooled_size, dropout)


def _conv_bn(n_inputs, width, kernel_size, stride=1):
    """A centred 1-D convolution without bias, then batch norm."""
    conv = torch.nn.Conv1d(
        n_inputs, width, kernel_size, stride, padding=kernel_size // 2, bias=False
    )
    return [conv, torch.nn.BatchNorm1d(width)]


class _BasicBlock1d(torch.nn.Module):
    """Two convolutions with batch norm, added to the input (He et al. 2016)."""

    def __init__(self, n_inputs, width, kernel_size, stride):
        super().__init__()
        self.residual = torch.nn.Sequential(
            *_conv_bn(n_inputs, width, kernel_size, stride),
            torch.nn.ReLU(),
            *_conv_bn(width, width, kernel_size),
        )
        self.shortcut = torch.nn.Identity()
        if stride != 1 or n_inputs != width:
            self.shortcut = torch.nn.Sequential(*_conv_bn(n_inputs, width, 1, stride))

    def forward(self, X):
        return torch.relu(self.residual(X) + self.shortcut(X))


class ResNet1dModule(_ConvNet):
    """A deeper 1-D residual network for signals, returning logits.

    A first convolution to ``widths[0]`` channels with batch norm and ReLU,
    then one stage per entry of ``widths``, each of ``blocks_per_stage``
    basic residual blocks (two convolutions with batch norm, and a shortcut;
    He et al. 2016). Every stage after the first halves the length (stride
    2, while it is longer than one point). A global average pooling,
    dropout and a linear layer give the logits. The defaults (3 stages of 2
    blocks: 13 convolutions, 241 194 parameters for 1 channel and 10 classes)
    are meant for large training sets, such as MNIST-1D with 50 000 generated
    samples or more, on a GPU.

    Input: as :class:`CNN1dModule`. Training in batches of one sample fails
    in batch norm; ``GCEClassifier``'s batches never hold a single sample.

    Recommended training, as a starting point: the classifier's defaults
    (Adam, ``lr=1e-3``, ``batch_size=64``) with fewer epochs: 15 epochs reach
    a test accuracy of 0.98 with cross-entropy and with GCE on MNIST-1D's
    standard split (4000 training signals, 2 seeds;
    ``benchmarks/results/cnn_accuracy.md``); larger training sets need fewer
    epochs.

    Parameters
    ----------
    input_shape : tuple of int
        Shape of one sample: ``(channels, length)``, or ``(length,)`` for a
        single channel. ``GCEClassifier`` fills it in from the training data
        unless ``module__input_shape`` is given.
    n_classes : int
        Number of outputs; filled in by ``GCEClassifier`` likewise.
    widths : tuple of int, default=(32, 64, 128)
        Channels of each stage; its length is the number of stages.
    blocks_per_stage : int, default=2
        Residual blocks in each stage (the depth).
    kernel_size : int, default=3
        Length of the convolution kernels: odd, at most the input's length.
    dropout : float, default=0.0
        Dropout probability before the linear layer.

    Attributes
    ----------
    input_shape : tuple of int
        Shape of one sample, channels first.

    See Also
    --------
    CNN1dModule : a small, faster network for signals.

    Examples
    --------
    >>> import torch
    >>> from sklearn_gce import ResNet1dModule
    >>> net = ResNet1dModule((1, 40), 10, widths=(16, 32), blocks_per_stage=1)
    >>> net(torch.randn(8, 1, 40)).shape
    torch.Size([8, 10])
    """

    def __init__(
        self,
        input_shape,
        n_classes,
        widths=(32, 64, 128),
        blocks_per_stage=2,
        kernel_size=3,
        dropout=0.0,
    ):
        super().__init__()
        self.input_shape = _check_input_shape(input_shape, ("length",))
        n_classes = _check_int(n_classes, "n_classes")
        widths = _check_widths(widths, "widths")
        blocks_per_stage = _check_int(blocks_per_stage, "blocks_per_stage")
        n_inputs, length = self.input_shape
        kernel_size = _check_kernel_size(kernel_size, (length,), odd=True)
        dropout = _check_dropout(dropout)
        layers = [*_conv_bn(n_inputs, widths[0], kernel_size), torch.nn.ReLU()]
        n_inputs = widths[0]
        for stage, width in enumerate(widths):
            for block in range(blocks_per_stage):
                stride = 2 if stage > 0 and block == 0 and length > 1 else 1
                layers.append(_BasicBlock1d(n_inputs, width, kernel_size, stride))
                length = -(-length // stride)
                n_inputs = width
        self.features = torch.nn.Sequential(*layers)
        self.head = self._make_head(n_inputs, (length,), 1, n_classes, dropout)
