"""GCEClassifier: skorch's NeuralNetClassifier trained with Generative Cross-Entropy."""

import contextlib
import inspect
import math
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    column_or_1d,
    validate_data,
)
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback
from skorch.dataset import Dataset
from skorch.utils import data_from_dataset, is_dataset, to_numpy

from ._compat import Interval, Options, StrOptions, validate_parameter_constraints
from .batching import BatchIterator
from .losses import DualFocalLoss, FLSD53Loss, FocalLoss, GCELoss, _check_reg_weight
from .modules import MLPModule

__all__ = ["GCEClassifier"]

# criteria whose module output are logits, so that predict_proba applies softmax
_LOGIT_CRITERIA = (
    GCELoss,
    FocalLoss,
    FLSD53Loss,
    DualFocalLoss,
    torch.nn.CrossEntropyLoss,
)


def _stored_privately(name):
    """A property kept out of ``vars()``, for state skorch sets in ``__init__``.

    scikit-learn requires ``__init__`` to set nothing but parameters; skorch
    sets ``history_``, ``initialized_`` and ``virtual_params_`` there.
    """
    key = "_" + name.rstrip("_")

    def getter(self):
        try:
            return self.__dict__[key]
        except KeyError:
            raise AttributeError(name) from None

    def setter(self, value):
        self.__dict__[key] = value

    return property(getter, setter)


_NUMPY_DTYPES = {
    torch.float16: np.float16,
    torch.float32: np.float32,
    torch.float64: np.float64,
}


def _softmax_float64(logits):
    return torch.softmax(logits.double(), dim=-1)


class _TargetCodec:
    """Maps class labels to the indices the criterion needs, batch by batch.

    Datasets keep the user's labels, so that skorch's scoring callbacks compare
    ``predict`` (labels) with labels; only the loss sees indices.
    """

    def __init__(self, classes):
        self.classes = np.asarray(classes)
        self.order = np.argsort(self.classes, kind="stable")
        self.sorted = self.classes[self.order]
        self._tensors = {}

    def indices(self, labels):
        """Indices of numpy labels; ValueError for unknown labels."""
        labels = np.asarray(labels)
        position = np.searchsorted(self.sorted, labels)
        position = np.clip(position, 0, len(self.sorted) - 1)
        unknown = self.sorted[position] != labels
        if np.any(unknown):
            raise ValueError(
                f"y contains labels not in classes_ {self.classes.tolist()}: "
                f"{np.unique(labels[unknown]).tolist()}."
            )
        return self.order[position]

    def encode_batch(self, labels):
        if not isinstance(labels, torch.Tensor):
            return torch.from_numpy(self.indices(labels))
        device = labels.device
        if device not in self._tensors:
            self._tensors[device] = (
                torch.as_tensor(self.sorted, device=device),
                torch.as_tensor(self.order, device=device),
            )
        sorted_classes, order = self._tensors[device]
        return order[torch.searchsorted(sorted_classes, labels)]

    def __getstate__(self):
        return {"classes": self.classes, "order": self.order, "sorted": self.sorted}

    def __setstate__(self, state):
        self.__dict__.update(state, _tensors={})


class GCEClassifier(NeuralNetClassifier):
    """Neural-network classifier trained with Generative Cross-Entropy.

    A skorch ``NeuralNetClassifier`` whose criterion is
    :class:`~sklearn_gce.GCELoss` (cross-entropy plus ``reg_weight`` times a
    class-level confidence regulariser, arXiv 2604.06689), with the
    behaviour of a scikit-learn classifier: labels of any type, input
    validation, ``random_state``, ``classes_``, ``n_features_in_`` and
    ``feature_names_in_``. Everything skorch offers keeps working: any torch
    module, criterion and optimizer; prefixed parameters (``module__``,
    ``criterion__``, ``optimizer__``, ``iterator_train__``, ``callbacks__``);
    callbacks and history; tensors, dicts and torch datasets as input;
    ``save_params`` / ``load_params``; ``warm_start`` and ``partial_fit``.

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=None
        The network, returning logits for the default criterion. ``None``
        builds a :class:`MLPModule` sized from the data; set its layers with
        ``module__hidden_sizes=(...)`` and ``module__dropout``.
    reg_weight : float, default=1.0
        Weight of GCE's regulariser: 0 is plain cross-entropy, 1 the paper's
        loss. Used when ``criterion`` is :class:`~sklearn_gce.GCELoss`.
    criterion : torch criterion class or instance, default=GCELoss
        Any skorch criterion, e.g. ``torch.nn.CrossEntropyLoss``.
    optimizer : torch optimizer class, default=torch.optim.Adam
    lr : float, default=1e-3
    max_epochs : int, default=60
    batch_size : int, default=64
        Samples per batch (-1: all). The batch marginal of GCE is estimated
        over each batch, so the loss depends on it.
    iterator_train, iterator_valid : class, default=BatchIterator
        :class:`~sklearn_gce.batching.BatchIterator` slices in-memory data
        and merges a last batch of one sample into the one before. Training
        batches are shuffled (``iterator_train__shuffle=False`` turns it off).
    dataset : class, default=skorch.dataset.Dataset
    train_split : callable or None, default=None
        Internal validation split (e.g. ``skorch.dataset.ValidSplit(0.2)``);
        None trains on all data, as scikit-learn estimators do.
    callbacks : list or None, default=None
    predict_nonlinearity : callable, None or "auto", default="auto"
        "auto" applies a softmax (in float64) for logit criteria.
    warm_start : bool, default=False
    verbose : int, default=0
        skorch's per-epoch log is printed when > 0.
    device : str or torch.device, default="cpu"
    compile, use_caching, torch_load_kwargs
        As in skorch.
    classes : array-like or None, default=None
        All class labels, if ``y`` may not show them all.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling and dropout for a fit (the
        global torch random state is restored afterwards). None uses torch's
        global random state.
    **kwargs
        skorch's prefixed parameters.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
        Set for array-like input.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Set when X has string column names.
    module_, criterion_, optimizer_, history_, callbacks_
        skorch's fitted components.

    Notes
    -----
    Differences from skorch's ``NeuralNetClassifier``: ``predict`` returns
    class labels rather than indices; array-likes are validated like
    scikit-learn inputs (a DataFrame becomes a float array, not a dict of
    columns); floating inputs are cast to the network's float dtype; targets
    given through a torch ``Dataset`` are class indices, as in skorch.

    Examples
    --------
    >>> from sklearn.datasets import load_wine
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_gce import GCEClassifier
    >>> X, y = load_wine(return_X_y=True)
    >>> model = make_pipeline(StandardScaler(), GCEClassifier(random_state=0))
    >>> model.fit(X, y).score(X, y) > 0.95
    True
    """

    history_ = _stored_privately("history_")
    initialized_ = _stored_privately("initialized_")
    virtual_params_ = _stored_privately("virtual_params_")

    _parameter_constraints = {
        "reg_weight": [Interval(Real, 0, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "max_epochs": [Interval(Integral, 0, None, closed="left")],
        "batch_size": [
            Interval(Integral, 1, None, closed="left"),
            Options(Integral, {-1}),
        ],
        "train_split": [None, callable],
        "predict_nonlinearity": [None, callable, StrOptions({"auto"})],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "device": [str, torch.device, None],
        "classes": [None, "array-like"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        module=None,
        *,
        reg_weight=1.0,
        criterion=GCELoss,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        max_epochs=60,
        batch_size=64,
        iterator_train=BatchIterator,
        iterator_valid=BatchIterator,
        dataset=Dataset,
        train_split=None,
        callbacks=None,
        predict_nonlinearity="auto",
        warm_start=False,
        verbose=0,
        device="cpu",
        compile=False,
        use_caching="auto",
        torch_load_kwargs=None,
        classes=None,
        random_state=None,
        **kwargs,
    ):
        super().__init__(
            module,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            iterator_train=iterator_train,
            iterator_valid=iterator_valid,
            dataset=dataset,
            train_split=train_split,
            callbacks=callbacks,
            predict_nonlinearity=predict_nonlinearity,
            warm_start=warm_start,
            verbose=verbose,
            device=device,
            compile=compile,
            use_caching=use_caching,
            torch_load_kwargs=torch_load_kwargs,
            classes=classes,
            **kwargs,
        )
        self.reg_weight = reg_weight
        self.random_state = random_state

    # --- scikit-learn's estimator contract ---

    def _get_param_names(self):
        names = _init_param_names(type(self))
        # skorch's prefixed parameters, and other keyword arguments that skorch
        # tracks for validation (it rejects unknown ones at initialize)
        extra = set(self.__dict__.get("_params_to_validate", ())) & set(self.__dict__)
        extra |= {key for key in self.__dict__ if "__" in key}
        return sorted(names | {key for key in extra if not key.endswith("_")})

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.allow_nan = False
        return tags

    def set_params(self, **params):
        if "callbacks" in params and not self.initialized_:
            # skorch would initialize the callbacks now; validate them at fit
            self.callbacks = params.pop("callbacks")
        super().set_params(**params)
        criterion = self.__dict__.get("criterion_")
        if "reg_weight" in params and isinstance(criterion, GCELoss):
            criterion.reg_weight = _check_reg_weight(params["reg_weight"])
        return self

    def _check_params(self):
        validate_parameter_constraints(
            self._parameter_constraints,
            {name: getattr(self, name) for name in self._parameter_constraints},
            caller_name=type(self).__name__,
        )
        device = torch.device(self.device) if self.device is not None else None
        if (
            device is not None
            and device.type == "cuda"
            and not torch.cuda.is_available()
        ):
            raise ValueError(
                f"device={self.device!r} was requested but CUDA is not available; "
                "use device='cpu'."
            )

    # --- fitting ---

    def fit(self, X, y=None, **fit_params):
        """Initialize (unless ``warm_start``) and train the network.

        Parameters
        ----------
        X : array-like, sparse matrix, torch tensor, dict or torch Dataset
            Array-likes of shape (n_samples, n_features, ...) are validated
            as in scikit-learn; skorch's other input types pass through.
        y : array-like of shape (n_samples,) or None
            Class labels; None only when ``X`` is a Dataset yielding targets.
        **fit_params
            Passed to the module's ``forward`` and to ``train_split``.

        Returns
        -------
        self : GCEClassifier
        """
        self._check_params()
        reset = not (self.warm_start and self.initialized_)
        X, y = self._validate_training_data(X, y, reset=reset)
        with self._seeded():
            if reset:
                self.initialize()
            X = self._as_network_dtype(X)
            super().partial_fit(X, y, _routing_method="fit", **fit_params)
        return self

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Train for ``max_epochs`` more epochs without re-initializing.

        Parameters
        ----------
        X, y
            As in :meth:`fit`.
        classes : array-like of shape (n_classes,), default=None
            All labels, at the first call, if this ``y`` lacks some of them.
        **fit_params
            As in :meth:`fit`.

        Returns
        -------
        self : GCEClassifier
        """
        self._check_params()
        first_call = not self.initialized_
        X, y = self._validate_training_data(X, y, reset=first_call, classes=classes)
        with self._seeded():
            if first_call:
                self.initialize()
            X = self._as_network_dtype(X)
            super().partial_fit(X, y, **fit_params)
        return self

    @contextlib.contextmanager
    def _seeded(self):
        """Seed torch for a fit from ``random_state``; restore its state after."""
        if self.random_state is None:
            yield
            return
        seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        device = torch.device(self.device or "cpu")
        devices = [device] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            yield

    def initialize_module(self):
        """Build the module; with ``module=None``, an MLP sized from the data."""
        kwargs = self.get_params_for("module")
        module = self.module
        if module is None:
            module = MLPModule
            sizes = self.__dict__.get("_default_module_sizes", {})
            kwargs = {**sizes, **kwargs}
            missing = [
                name for name in ("n_features", "n_classes") if name not in kwargs
            ]
            if missing:
                raise ValueError(
                    "With module=None the network is sized from the data: call fit, "
                    f"or pass {' and '.join('module__' + m for m in missing)}."
                )
        self.module_ = self.initialized_instance(module, kwargs)
        return self

    def initialize_criterion(self):
        """Build the criterion, handing ``reg_weight`` to :class:`GCELoss`."""
        kwargs = self.get_params_for("criterion")
        criterion = self.criterion
        if isinstance(criterion, type) and issubclass(criterion, GCELoss):
            if "reg_weight" in kwargs:
                raise ValueError(
                    "Set reg_weight on the classifier, not criterion__reg_weight."
                )
            kwargs["reg_weight"] = self.reg_weight
        elif isinstance(criterion, GCELoss) and criterion.reg_weight != self.reg_weight:
            raise ValueError(
                f"criterion={criterion!r} conflicts with reg_weight={self.reg_weight}; "
                "pass criterion=GCELoss (the class) and set reg_weight."
            )
        self.criterion_ = self.initialized_instance(criterion, kwargs)
        return self

    def get_iterator(self, dataset, training=False):
        """Batches of ``dataset``; training batches are shuffled by default."""
        prefix = "iterator_train" if training else "iterator_valid"
        iterator = self.iterator_train if training else self.iterator_valid
        kwargs = self.get_params_for(prefix)
        kwargs.setdefault("batch_size", self.batch_size)
        if kwargs["batch_size"] == -1:
            kwargs["batch_size"] = len(dataset)
        if training and iterator is BatchIterator:
            kwargs.setdefault("shuffle", True)
        if iterator is BatchIterator and _data_parallel_processes(self) > 1:
            # accelerate shards, places and gathers DataLoaders, and passes any
            # other iterator through: training batches are sharded here, exactly;
            # evaluation is left to accelerate, which gathers predictions
            if not training:
                kwargs.setdefault("generator", torch.Generator())  # not torch's
                return torch.utils.data.DataLoader(dataset, **kwargs)
            kwargs["distributed"] = True
            if self.accelerator.device_placement:
                kwargs.setdefault("device", self.accelerator.device)
        return iterator(dataset, **kwargs)

    def check_data(self, X, y):
        # labels were validated in fit; only a Dataset's classes need inferring
        if y is None and is_dataset(X) and "classes_inferred_" not in self.__dict__:
            super().check_data(X, y)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """The criterion on this batch, with labels mapped to class indices."""
        codec = self.__dict__.get("_target_codec")
        if codec is not None:
            y_true = codec.encode_batch(y_true)
        if (
            training
            and len(y_true) == 1
            and isinstance(self.criterion_, GCELoss)
            and self.criterion_.reg_weight > 0
            and _data_parallel_processes(self) == 1  # the global batch is larger
        ):
            raise ValueError(
                "Got a training batch of one sample, which carries no Generative "
                "Cross-Entropy gradient. Use the default iterator_train "
                "(BatchIterator merges such a batch), or drop_last=True."
            )
        return super().get_loss(y_pred, y_true, X=X, training=training)

    def _set_training(self, training=True):
        # skorch calls module.train() on every batch, which walks all submodules;
        # only switch modules whose mode differs
        for name in self._modules + self._criteria:
            module = getattr(self, name + "_")
            if isinstance(module, torch.nn.Module) and module.training != training:
                module.train(training)

    def notify(self, method_name, **cb_kwargs):
        """Call ``method_name`` on the net and on each callback that defines it.

        Same as skorch's, but callbacks that inherit skorch's no-op method are
        skipped, which matters for the per-batch events of small networks.
        """
        getattr(self, method_name)(self, **cb_kwargs)
        for method in self._callback_methods(method_name):
            method(self, **cb_kwargs)

    def _callback_methods(self, method_name):
        callbacks = self.callbacks_
        cached = self.__dict__.get("_notify_cache")
        if cached is None or cached[0] is not callbacks or cached[1] != len(callbacks):
            cached = (callbacks, len(callbacks), {})
            self.__dict__["_notify_cache"] = cached
        methods = cached[2].get(method_name)
        if methods is None:
            noop = getattr(Callback, method_name)
            methods = [
                getattr(cb, method_name)
                for _, cb in callbacks
                if getattr(type(cb), method_name, None) is not noop
            ]
            cached[2][method_name] = methods
        return methods

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_notify_cache", None)
        return state

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        super().on_batch_end(net, batch=batch, training=training, **kwargs)
        key = "train_loss" if training else "valid_loss"
        loss = self.history[-1]["batches"][-1].get(key)
        if loss is not None and not math.isfinite(loss):
            epoch = len(self.history)
            raise FloatingPointError(
                f"The {key.replace('_', ' ')} became {loss} in epoch {epoch}; "
                "training stopped. Lower the learning rate (lr) or scale the inputs."
            )

    # --- prediction ---

    def forward_iter(self, X, training=False, device="cpu"):
        self.check_is_fitted()
        X = self._validate_inference_data(X)
        return super().forward_iter(X, training=training, device=device)

    def _get_predict_nonlinearity(self):
        self.check_is_fitted()
        criterion = getattr(self.criterion_, "_orig_mod", self.criterion_)
        if self.predict_nonlinearity == "auto" and isinstance(
            criterion, _LOGIT_CRITERIA
        ):
            return _softmax_float64
        return super()._get_predict_nonlinearity()

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``.

        Parameters
        ----------
        X : array-like, sparse matrix, torch tensor, dict or torch Dataset

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        proba = super().predict_proba(X)
        if not np.all(np.isfinite(proba)):
            raise FloatingPointError(
                "The network produced non-finite outputs; its weights may have "
                "diverged during training."
            )
        return proba

    def predict(self, X):
        """Class labels of the most probable class.

        Parameters
        ----------
        X : array-like, sparse matrix, torch tensor, dict or torch Dataset

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from ``classes_`` (class indices if no classes are known,
            as in skorch).
        """
        indices = self.predict_proba(X).argmax(axis=1)
        try:
            classes = self.classes_
        except AttributeError:
            return indices
        return np.asarray(classes)[indices]

    # --- input validation ---

    def _validate_training_data(self, X, y, reset, classes=None):
        if is_dataset(X):
            if reset:
                self._reset_dataset_state(X, classes)
            return X, y
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is "
                "None."
            )
        if _is_torch_input(X):
            X = self._check_torch_input(X, reset)
            y = _check_targets(to_numpy(y) if isinstance(y, torch.Tensor) else y)
            check_consistent_length(_first_array(X), y)
        else:
            X, y = validate_data(
                self,
                X,
                y,
                reset=reset,
                accept_sparse="csr",
                dtype="numeric",
                allow_nd=True,
            )
            y = _check_targets(y)
        if reset:
            self._reset_label_state(y, classes, X)
        return X, self._stored_targets(y)

    def _validate_inference_data(self, X):
        if is_dataset(X):
            return X
        if _is_torch_input(X):
            X = self._check_torch_input(X, reset=False)
        else:
            X = validate_data(
                self,
                X,
                reset=False,
                accept_sparse="csr",
                dtype="numeric",
                allow_nd=True,
            )
        return self._as_network_dtype(X)

    def _as_network_dtype(self, X):
        """Floating input (any numeric input, for the default MLP) in the
        network's float dtype; datasets and other inputs pass unchanged."""
        if is_dataset(X):
            return X
        dtype = next(
            (p.dtype for p in self.module_.parameters() if p.is_floating_point()),
            torch.float32,
        )
        cast_all = self.module is None

        def cast(data):
            if isinstance(data, torch.Tensor):
                if data.is_floating_point() or (cast_all and not data.is_complex()):
                    return data.to(dtype)
                return data
            if hasattr(data, "dtype") and hasattr(data, "astype"):
                if data.dtype.kind == "f" or (cast_all and data.dtype.kind in "biu"):
                    if dtype not in _NUMPY_DTYPES:  # bfloat16 has no numpy dtype
                        return torch.as_tensor(data.astype(np.float32)).to(dtype)
                    return data.astype(_NUMPY_DTYPES[dtype], copy=False)
            return data

        if isinstance(X, dict):
            return {key: cast(value) for key, value in X.items()}
        if isinstance(X, (list, tuple)):
            return type(X)(cast(value) for value in X)
        return cast(X)

    def _check_torch_input(self, X, reset):
        for tensor in _tensors_in(X):
            if tensor.is_floating_point() and not torch.isfinite(tensor).all():
                raise ValueError("Input X contains NaN or infinity.")
        if isinstance(X, torch.Tensor) and X.ndim >= 2:
            if reset:
                self.n_features_in_ = X.shape[1]
            elif getattr(self, "n_features_in_", X.shape[1]) != X.shape[1]:
                raise ValueError(
                    f"X has {X.shape[1]} features, but {type(self).__name__} is "
                    f"expecting {self.n_features_in_} features as input."
                )
        return X

    def _reset_label_state(self, y, classes, X):
        if classes is None and self.classes is not None and len(self.classes):
            classes = self.classes
        if classes is not None:
            classes = np.asarray(classes)
            if len(classes) < 2 or len(np.unique(classes)) != len(classes):
                raise ValueError(
                    "classes must hold at least 2 distinct labels, got "
                    f"{classes.tolist()}."
                )
        else:
            classes = np.unique(y)
            if len(classes) < 2:
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least 2 classes in the "
                    f"data, but the data contains only one class: {classes[0]!r}."
                )
        self.classes_inferred_ = classes
        is_identity = classes.dtype.kind in "iu" and np.array_equal(
            classes, np.arange(len(classes))
        )
        self._target_codec = None if is_identity else _TargetCodec(classes)
        self._default_module_sizes = {
            "n_features": _flat_n_features(X),
            "n_classes": len(classes),
        }

    def _reset_dataset_state(self, dataset, classes):
        """Classes and input size from a torch Dataset (targets are indices)."""
        self._target_codec = None
        self.__dict__.pop("classes_inferred_", None)
        if classes is not None:
            self.classes_inferred_ = np.asarray(classes)
        sizes = {}
        try:
            sizes["n_features"] = int(np.prod(np.shape(dataset[0][0])))
        except (TypeError, IndexError, ValueError):
            pass
        known = classes if classes is not None else self.classes
        if known is not None and len(known):
            sizes["n_classes"] = len(known)
        else:
            try:
                _, y = data_from_dataset(dataset)
                sizes["n_classes"] = len(np.unique(to_numpy(y)))
            except (AttributeError, TypeError):
                pass
        self._default_module_sizes = sizes

    def _stored_targets(self, y):
        """What the dataset keeps: class indices, or labels when they are not."""
        codec = self.__dict__.get("_target_codec")
        if codec is None:
            if y.dtype.kind in "iu":
                known = self.classes_inferred_
                bad = (y < 0) | (y >= len(known))
                if np.any(bad):
                    raise ValueError(
                        f"y contains labels not in classes_ {known.tolist()}: "
                        f"{np.unique(y[bad]).tolist()}."
                    )
                return y.astype(np.int64, copy=False)
            return _TargetCodec(self.classes_inferred_).indices(y).astype(np.int64)
        codec.indices(y)  # raises on labels it does not know
        return y


def _init_param_names(cls):
    """Keyword parameters of ``cls.__init__``, and of the ``__init__`` it
    forwards ``*args`` to: a mixin such as skorch's ``AccelerateMixin``
    (``__init__(self, *args, accelerator, ..., **kwargs)``) adds its own
    parameters to those of the class it is mixed into."""
    names = set()
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        params = inspect.signature(klass.__init__).parameters.values()
        names |= {
            param.name
            for param in params
            if param.name != "self"
            and param.kind not in (param.VAR_POSITIONAL, param.VAR_KEYWORD)
        }
        if not any(param.kind is param.VAR_POSITIONAL for param in params):
            return names
    return names


def _data_parallel_processes(net):
    """Number of processes of skorch's ``AccelerateMixin``; 1 without it."""
    accelerator = net.__dict__.get("accelerator")
    return getattr(accelerator, "num_processes", 1)


def _is_torch_input(X):
    if sp.issparse(X):  # a DOK matrix is a dict
        return False
    if isinstance(X, (torch.Tensor, dict)):
        return True
    return (
        isinstance(X, (list, tuple)) and len(X) > 0 and isinstance(X[0], torch.Tensor)
    )


def _tensors_in(X):
    if isinstance(X, torch.Tensor):
        return [X]
    values = X.values() if isinstance(X, dict) else X
    return [value for value in values if isinstance(value, torch.Tensor)]


def _first_array(X):
    if isinstance(X, dict):
        return next(iter(X.values()))
    if isinstance(X, (list, tuple)):
        return X[0]
    return X


def _flat_n_features(X):
    X = _first_array(X)
    shape = X.shape if (sp.issparse(X) or hasattr(X, "shape")) else np.shape(X)
    return int(np.prod(shape[1:])) if len(shape) > 1 else 1


def _check_targets(y):
    """Class labels as a 1-D numpy array, with scikit-learn's checks."""
    y = check_array(
        y, ensure_2d=False, dtype=None, ensure_all_finite=True, input_name="y"
    )
    y = column_or_1d(y, warn=True)
    check_classification_targets(y)
    if len(y) == 0:
        raise ValueError("y is empty.")
    return y
