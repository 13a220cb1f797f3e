"""GCEClassifier: skorch's NeuralNetClassifier trained with Generative Cross-Entropy.

The class extends skorch through its documented hooks, as skorch's own
``NeuralNetClassifier`` extends ``NeuralNet``; what skorch does not offer
lives in small modules: input checks (``_validation``), class labels
(``_labels``), sample weights (``_weights``), batching (``batching``) and the
few private names of other libraries (``_compat``).
"""

import contextlib
import inspect
import math
import os
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.special
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_consistent_length
from skorch import NeuralNetClassifier
from skorch.callbacks import EarlyStopping
from skorch.dataset import Dataset, ValidSplit, unpack_data
from skorch.utils import data_from_dataset, is_dataset, to_numpy, to_tensor
from torch.utils.data import DataLoader

from ._compat import (
    Interval,
    Options,
    StrOptions,
    _num_samples,
    criterion_names,
    partial_fit_kwargs,
    uncompiled,
    validate_parameter_constraints,
)
from ._files import replaced_on_success
from ._labels import (
    as_targets,
    check_classes,
    check_targets,
    class_index,
    distinct_labels,
)
from ._validation import as_network_input, check_input, first_array, sample_shape
from ._weights import (
    WeightedDataset,
    WeightedTarget,
    accepts_sample_weight,
    check_weightable,
    sample_weights,
    weighted_loss,
)
from .batching import BatchIterator, cat_rows, first_rows, fixed_size_chunks
from .losses import GCELoss
from .modules import MLPModule

__all__ = ["GCEClassifier"]

# sizes of the data that a module class gets when its __init__ requires them
_DATA_SIZES = ("n_features", "input_shape", "n_classes")
# a training batch with a loss this large whose predicted probabilities are
# all exactly 0 or 1 has diverged (a sane model's loss is O(log n_classes))
_DIVERGED_LOSS = 1e3
# how far the rows of a module's "probabilities" may sum from 1
_PROBABILITY_TOLERANCE = 1e-3


def _outside_vars(name):
    """A property for state that skorch sets in ``__init__``.

    scikit-learn requires ``__init__`` to set nothing but parameters; skorch
    sets ``history_``, ``initialized_`` and ``virtual_params_`` there. The
    value is kept under ``_<name>``, which ends with an underscore, so that
    skorch's ``get_params`` leaves it out too.
    """
    key = "_" + name

    def getter(self):
        try:
            return self.__dict__[key]
        except KeyError:
            raise AttributeError(name) from None

    def setter(self, value):
        self.__dict__[key] = value

    return property(getter, setter)


def _softmax_float64(logits):
    return torch.softmax(logits.double(), dim=-1)


def _float64(probabilities):
    return probabilities.double()


def _identity(output):
    return output


class GCEClassifier(NeuralNetClassifier):
    """Neural-network classifier trained with Generative Cross-Entropy.

    A skorch ``NeuralNetClassifier`` whose criterion is
    :class:`~sklearn_gce.GCELoss` (cross-entropy plus ``reg_weight`` times a
    class-level confidence regulariser, arXiv 2604.06689), with the
    behaviour of a scikit-learn classifier: labels of any type, input
    validation, sample and class weights, early stopping, ``random_state``,
    ``classes_``, ``n_features_in_`` and ``feature_names_in_``. Everything
    skorch offers keeps working: any torch module, criterion and optimizer;
    prefixed parameters (``module__``, ``criterion__``, ``optimizer__``,
    ``iterator_train__``, ``callbacks__``); callbacks and history; tensors,
    dicts and torch datasets as input; ``save_params`` / ``load_params``;
    ``warm_start`` and ``partial_fit``.

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=None
        The network. ``None`` is :class:`~sklearn_gce.MLPModule` (set its
        layers with ``module__hidden_sizes=(...)`` and ``module__dropout``).
        A module class whose ``__init__`` requires (has no default for)
        ``n_features`` (the size of one flattened sample), ``input_shape``
        (the shape of one sample, e.g. ``(1, 8, 8)``) or ``n_classes`` gets
        them from the training data, unless ``module__<name>`` is set.
    reg_weight : float in [0, 1], default=1.0
        Weight of GCE's regulariser: 0 is plain cross-entropy, 1 the paper's
        loss. Used when ``criterion`` is :class:`~sklearn_gce.GCELoss`. Above
        1 the loss is unbounded below, so it is refused.
    criterion : torch criterion class or instance, default=GCELoss
        Any skorch criterion, e.g. ``torch.nn.CrossEntropyLoss``.
    optimizer : torch optimizer class, default=torch.optim.Adam
    lr : float, default=1e-3
    max_epochs : int, default=60
    batch_size : int, default=64
        Samples per batch (-1: all). The batch marginal of GCE is estimated
        over each batch, so the loss depends on it.
    early_stopping : bool, default=False
        Hold out a stratified ``validation_fraction`` of the training data
        (or use ``train_split``'s validation data, if set), stop when the
        validation loss has not improved by at least ``tol`` for
        ``n_iter_no_change`` epochs, and restore the weights of the best
        epoch (skorch's ``EarlyStopping(load_best=True)``).
    validation_fraction : float in (0, 1), default=0.1
    n_iter_no_change : int, default=10
    tol : float, default=1e-4
        An absolute threshold: GCE's loss can be negative.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes in the loss, as in scikit-learn's classifiers;
        multiplied with ``sample_weight``.
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
        How ``predict_proba`` turns the module's outputs into probabilities.
        "auto" applies a softmax (in float64), except for an ``NLLLoss``
        criterion or several criteria, where (as in skorch) the module must
        output probabilities, which is checked. None returns the outputs as
        they are.
    warm_start : bool, default=False
    verbose : int, default=0
        skorch's per-epoch log is printed when > 0.
    device : str or torch.device, default="cpu"
    compile, use_caching, torch_load_kwargs
        As in skorch.
    classes : array-like or None, default=None
        All class labels, in the order of the module's outputs, if ``y`` may
        not show them all.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, dropout and the early-stopping
        split of a fit (the global torch random state is restored afterwards).
        None uses torch's and numpy's global random states.
    **kwargs
        skorch's prefixed parameters.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
        Set for array-like and 2-D tensor input.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Set when X has string column names.
    module_, criterion_, optimizer_, history_, callbacks_
        skorch's fitted components.

    See Also
    --------
    sklearn_gce.GCELoss : The loss.
    sklearn_gce.ATSCalibrator : Post-hoc calibration of the probabilities.

    Notes
    -----
    The differences from skorch's ``NeuralNetClassifier`` are listed in the
    README ("Differences from skorch"): mainly, ``predict`` returns labels,
    array-likes are checked like scikit-learn inputs, and probabilities do
    not depend on the batch a sample is predicted in.

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

    history_ = _outside_vars("history_")
    initialized_ = _outside_vars("initialized_")
    virtual_params_ = _outside_vars("virtual_params_")

    _parameter_constraints = {
        "reg_weight": [Interval(Real, 0, 1, closed="both")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "max_epochs": [Interval(Integral, 0, None, closed="left")],
        "batch_size": [
            Interval(Integral, 1, None, closed="left"),
            Options(Integral, {-1}),
        ],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "class_weight": [None, dict, StrOptions({"balanced"})],
        "train_split": [None, callable, Options(bool, {False})],
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
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        class_weight=None,
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
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.class_weight = class_weight
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.allow_nan = False
        return tags

    def get_params(self, deep=True, **kwargs):
        params = super().get_params(deep=deep, **kwargs)
        # skorch lists every attribute not ending with "_", private ones too
        return {key: value for key, value in params.items() if key[0] != "_"}

    def set_params(self, **params):
        if "callbacks" in params and not self.initialized_:
            # skorch would initialize the callbacks now; they are checked at fit
            self.callbacks = params.pop("callbacks")
        super().set_params(**params)
        criterion = uncompiled(self.__dict__.get("criterion_"))
        if "reg_weight" in params and isinstance(criterion, GCELoss):
            criterion.reg_weight = params["reg_weight"]
        return self

    # --- fitting ---

    def fit(self, X, y=None, sample_weight=None, **fit_params):
        """Initialize (unless ``warm_start``) and train the network.

        Parameters
        ----------
        X : array-like, sparse matrix, torch tensor, dict or torch Dataset
            Array-likes of shape (n_samples, n_features, ...) are checked as
            in scikit-learn; skorch's other input types pass through. A
            Dataset yields ``(X_i, y_i)`` with ``y_i`` a label of
            ``classes_`` (or, as in skorch, a class index).
        y : array-like of shape (n_samples,) or None
            Class labels; None only when ``X`` is a Dataset.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights, passed to the criterion (see
            :class:`~sklearn_gce.GCELoss`; other criteria are weighted per
            sample with ``reduction="none"``).
        **fit_params
            Passed to the module's ``forward`` and to ``train_split``.

        Returns
        -------
        self : GCEClassifier
        """
        initialize = not (self.warm_start and self.initialized_)
        return self._fit(
            X, y, sample_weight, fit_params, method="fit", initialize=initialize
        )

    def partial_fit(self, X, y=None, classes=None, sample_weight=None, **fit_params):
        """Train for ``max_epochs`` more epochs without re-initializing.

        Parameters
        ----------
        X, y, sample_weight
            As in :meth:`fit`.
        classes : array-like of shape (n_classes,), default=None
            All labels, at the first call, if this ``y`` lacks some of them;
            later calls must give the same classes (or None).
        **fit_params
            As in :meth:`fit`.

        Returns
        -------
        self : GCEClassifier
        """
        return self._fit(
            X,
            y,
            sample_weight,
            fit_params,
            method="partial_fit",
            initialize=not self.initialized_,
            classes=classes,
        )

    def _fit(
        self, X, y, sample_weight, fit_params, *, method, initialize, classes=None
    ):
        """Check the data, initialize if asked, and run skorch's training."""
        self._check_params()
        if initialize:
            self._forget_data()
        first = not self._knows_data()
        self.check_data(X, y)
        if classes is not None:
            self._set_classes(classes, first)
        y = as_targets(y)
        weight = self._sample_weight(X, y, sample_weight, method)
        with self._seeded():
            if initialize:
                self.initialize()
            try:
                self._class_index_ = class_index(self.classes_, y)
            except AttributeError:  # unknown classes: targets are indices
                self._class_index_ = None
            if weight is not None:
                check_weightable(self.criterion_)
                X = WeightedDataset(self.get_dataset(X, y), weight)
            self._divergence_reported_ = False
            try:
                super().partial_fit(X, y, **partial_fit_kwargs(method), **fit_params)
            finally:
                del self._divergence_reported_
        return self

    def _check_params(self):
        if isinstance(self.reg_weight, Real) and self.reg_weight > 1:
            raise ValueError(
                f"reg_weight={self.reg_weight} is above 1: the regulariser then "
                "outweighs the cross-entropy, the loss is unbounded below, and "
                "training drives the predictions toward degenerate ones instead "
                "of the true probabilities. Use a reg_weight in [0, 1] (1 is the "
                "paper's loss)."
            )
        validate_parameter_constraints(
            self._parameter_constraints,
            {name: getattr(self, name) for name in self._parameter_constraints},
            caller_name=type(self).__name__,
        )
        device = torch.device(self.device) if self.device is not None else None
        if device is not None and device.type == "cuda":
            if not torch.cuda.is_available():
                raise ValueError(
                    f"device={self.device!r} was requested but CUDA is not "
                    "available; use device='cpu'."
                )

    def _knows_data(self):
        return "_data_sizes_" in self.__dict__

    def _forget_data(self):
        for name in (
            "classes_inferred_",
            "n_features_in_",
            "feature_names_in_",
            "_data_sizes_",
            "_class_index_",
        ):
            self.__dict__.pop(name, None)

    def check_data(self, X, y=None):
        """Check the training data as scikit-learn does, before any training.

        The first fit (or partial_fit) records what the data says about the
        network: ``classes_`` (the labels of ``y``, or the targets of a
        Dataset), ``n_features_in_``, ``feature_names_in_`` and the sizes a
        module class may require. Later calls (skorch's fit loop calls it
        again) check ``y`` only.
        """
        first = not self._knows_data()
        if y is not None:
            y = check_targets(y)
        if is_dataset(X):
            if first:
                super().check_data(X, y)
                self._data_sizes_ = sample_shape(X)
            return
        if y is None and self.iterator_train in (DataLoader, BatchIterator):
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target "
                "y is None (only a Dataset as X can carry the targets)."
            )
        if first:
            X = check_input(self, X, reset=True)
            if y is not None:
                check_consistent_length(first_array(X), y)
                self.classes_inferred_ = distinct_labels(y)
            self._data_sizes_ = sample_shape(X)

    def _set_classes(self, classes, first):
        """The classes given to partial_fit: recorded at the first call."""
        if not first:
            check_classes(classes, fitted=distinct_labels(self.classes_))
            return
        classes = check_classes(classes)
        if self.classes is not None and len(self.classes):
            check_classes(self.classes, fitted=classes)
        self.classes_inferred_ = classes

    def _sample_weight(self, X, y, sample_weight, method):
        if self.class_weight == "balanced" and method == "partial_fit":
            raise ValueError(
                "class_weight='balanced' is not supported by partial_fit, which "
                "sees one part of the data at a time: compute the weights on all "
                "the data (sklearn.utils.class_weight.compute_class_weight) and "
                "pass them as a dict."
            )
        if sample_weight is None and self.class_weight is None:
            return None
        if y is None and is_dataset(X) and self.class_weight is not None:
            with contextlib.suppress(AttributeError):
                y = to_numpy(data_from_dataset(X)[1])
        n_samples = len(X) if is_dataset(X) else _num_samples(first_array(X))
        return sample_weights(y, n_samples, sample_weight, self.class_weight)

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

    def get_dataset(self, X, y=None):
        """The dataset of ``X`` and ``y``, checked, in the network's float dtype.

        Array-likes are checked as in scikit-learn (when predicting, against
        the number of features and the names seen in fit); floating inputs
        (any numeric input, for the default MLP) are cast to the dtype of the
        module's parameters. Datasets pass unchanged.
        """
        if is_dataset(X):
            return X
        X = check_input(self, X, reset=False)
        dtype = _float_dtype(self.__dict__.get("module_"))
        X = as_network_input(X, dtype, cast_integers=self.module is None)
        return super().get_dataset(X, as_targets(y))

    def get_split_datasets(self, X, y=None, **fit_params):
        """Training and validation data; with ``early_stopping`` and no
        ``train_split``, a stratified hold-out of ``validation_fraction``."""
        if not (self.early_stopping and not self.train_split):
            return super().get_split_datasets(X, y, **fit_params)
        split = ValidSplit(
            self.validation_fraction,
            stratified=y is not None,
            random_state=self.random_state,
        )
        return split(self.get_dataset(X, y), y, **fit_params)

    def get_default_callbacks(self):
        """skorch's classifier callbacks, and ``EarlyStopping`` if asked for."""
        callbacks = list(super().get_default_callbacks())
        if self.early_stopping:
            stopping = EarlyStopping(
                monitor="valid_loss",
                patience=self.n_iter_no_change,
                threshold=self.tol,
                threshold_mode="abs",
                load_best=True,
            )
            callbacks.append(("early_stopping", stopping))
        return callbacks

    def initialize_module(self):
        """Build the module; a module class gets the data's sizes it requires."""
        kwargs = self.get_params_for("module")
        module = MLPModule if self.module is None else self.module
        if inspect.isclass(module):
            kwargs = {**self._required_sizes(module, kwargs), **kwargs}
        self.module_ = self.initialized_instance(module, kwargs)
        for name, param in self.module_.named_parameters():
            if param.numel() == 0:
                raise ValueError(
                    f"The module has a layer of width 0 (parameter {name!r} has "
                    f"shape {tuple(param.shape)}): its output cannot depend on "
                    "the input. Give every layer at least one unit."
                )
        return self

    def _required_sizes(self, module, kwargs):
        """Data sizes that ``module.__init__`` requires and ``kwargs`` lack."""
        parameters = inspect.signature(module).parameters
        wanted = [
            name
            for name in _DATA_SIZES
            if name in parameters
            and parameters[name].default is inspect.Parameter.empty
            and name not in kwargs
        ]
        shape = self.__dict__.get("_data_sizes_")
        sizes = {}
        if shape is not None:
            sizes = {"input_shape": shape, "n_features": int(np.prod(shape))}
        with contextlib.suppress(AttributeError):
            sizes["n_classes"] = len(self.classes_)
        missing = [name for name in wanted if name not in sizes]
        if missing:
            raise TypeError(
                f"{module.__name__} requires {' and '.join(missing)}, which "
                f"{type(self).__name__} takes from the training data: call fit, or "
                f"pass {' and '.join('module__' + name for name in missing)}."
            )
        return {name: sizes[name] for name in wanted}

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
        """Batches of ``dataset``; BatchIterator shuffles training batches."""
        prefix = "iterator_train" if training else "iterator_valid"
        iterator = self.iterator_train if training else self.iterator_valid
        if iterator is not BatchIterator:
            return super().get_iterator(dataset, training=training)
        kwargs = self.get_params_for(prefix)
        kwargs.setdefault("batch_size", self.batch_size)
        if kwargs["batch_size"] == -1:
            kwargs["batch_size"] = len(dataset)
        if training:
            kwargs.setdefault("shuffle", True)
        if _data_parallel_processes(self) > 1:
            # accelerate shards, places and gathers DataLoaders, and passes any
            # other iterator through: training batches are sharded here, exactly;
            # evaluation is left to accelerate, which gathers predictions
            if not training:
                kwargs.setdefault("generator", torch.Generator())  # not torch's
                return DataLoader(dataset, **kwargs)
            kwargs["distributed"] = True
            if self.accelerator.device_placement:
                kwargs.setdefault("device", self.accelerator.device)
        return iterator(dataset, **kwargs)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """The criterion's loss on a batch.

        The batch's labels become class indices (positions in ``classes_``);
        the module's output must have one column per class. When the targets
        are a :class:`~sklearn_gce._weights.WeightedTarget`, the sample
        weights go to the criterion's ``sample_weight`` argument, or weight
        its per-sample losses (``reduction="none"``).
        """
        weight = None
        if isinstance(y_true, WeightedTarget):
            y_true, weight = y_true
        index = self.__dict__.get("_class_index_")
        if index is not None:
            self._check_batch(y_pred, y_true, training, len(index.classes))
            y_true = index(y_true)
        if weight is None:
            return super().get_loss(y_pred, y_true, X=X, training=training)
        weight = to_tensor(weight, device=self.device).to(
            torch.promote_types(y_pred.dtype, torch.float32)
        )
        if accepts_sample_weight(self.criterion_):
            y_true = to_tensor(y_true, device=self.device)
            return self.criterion_(y_pred, y_true, sample_weight=weight)
        return weighted_loss(
            self.criterion_,
            lambda: super(GCEClassifier, self).get_loss(
                y_pred, y_true, X=X, training=training
            ),
            weight,
        )

    def _check_batch(self, y_pred, y_true, training, n_classes):
        if getattr(y_true, "ndim", 1) != 1:
            raise ValueError(
                f"{type(self).__name__} needs 1-D class labels as targets; got a "
                f"batch of shape {tuple(y_true.shape)}. Multi-dimensional targets "
                "need a get_loss of your own."
            )
        if isinstance(y_pred, torch.Tensor) and y_pred.ndim == 2:
            if y_pred.shape[1] != n_classes:
                raise ValueError(
                    f"The module returns {y_pred.shape[1]} outputs per sample but "
                    f"there are {n_classes} classes {self.classes_.tolist()}: give "
                    "the module one output per class (or pass classes=[...] "
                    "listing every label)."
                )
        criterion = uncompiled(self.__dict__.get("criterion_"))
        if (
            training
            and len(y_true) == 1
            and isinstance(criterion, GCELoss)
            and criterion.reg_weight > 0
            and _data_parallel_processes(self) == 1  # the global batch is larger
        ):
            raise ValueError(
                "Got a training batch of one sample, which carries no Generative "
                "Cross-Entropy gradient. Use the default iterator_train "
                "(BatchIterator merges such a batch), or drop_last=True."
            )

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        """Warn (once per fit) when training diverges: a loss that is not
        finite, or a huge loss with every probability exactly 0 or 1.

        skorch trains on regardless, and so does this classifier; a network
        whose outputs are not finite then fails in ``predict_proba``.
        """
        super().on_batch_end(net, batch=batch, training=training, **kwargs)
        if self.__dict__.get("_divergence_reported_", True):
            return
        key = "train_loss" if training else "valid_loss"
        loss = self.history[-1]["batches"][-1].get(key)
        if loss is None:
            return
        what = None
        if not math.isfinite(loss):
            what = f"The {key.replace('_', ' ')} became {loss}"
        elif training and loss >= _DIVERGED_LOSS and self._saturated(kwargs["y_pred"]):
            what = (
                f"The train loss reached {loss:.3g} and every predicted probability "
                "of a batch is exactly 0 or 1"
            )
        if what is not None:
            self._divergence_reported_ = True
            warnings.warn(
                f"{what} in epoch {len(self.history)}: training diverged. Lower "
                "the learning rate (lr) or scale the inputs (with an NLLLoss "
                "criterion, the module must return probabilities).",
                ConvergenceWarning,
                stacklevel=2,
            )

    def _saturated(self, y_pred):
        if not isinstance(y_pred, torch.Tensor) or y_pred.ndim != 2:
            return False
        to_proba, _ = self._auto_nonlinearity()
        proba = to_proba(y_pred.detach())
        return bool(((proba == 0) | (proba == 1)).all())

    def save_params(
        self,
        f_params=None,
        f_optimizer=None,
        f_criterion=None,
        f_history=None,
        use_safetensors=False,
        **kwargs,
    ):
        """skorch's ``save_params``, but each file is written under a temporary
        name and renamed over the previous one only once every file is
        complete: an interrupted save leaves the previous files intact."""
        files = dict(
            f_params=f_params,
            f_optimizer=f_optimizer,
            f_criterion=f_criterion,
            f_history=f_history,
            **kwargs,
        )
        paths = {k: v for k, v in files.items() if isinstance(v, (str, os.PathLike))}
        with replaced_on_success(paths) as temporary:
            files.update(temporary)
            super().save_params(use_safetensors=use_safetensors, **files)

    # --- prediction ---

    def evaluation_step(self, batch, training=False):
        """The module's output on a batch, computed at a fixed batch shape.

        Outside training mode the batch runs in chunks of exactly the
        inference batch size, the last one padded with copies of its last
        row; the padding is dropped from the output (see
        :meth:`predict_proba`). Outputs that do not have one row per sample
        are computed on the batch as it is.
        """
        size = None if training else self._inference_batch_size()
        if size is None:
            return super().evaluation_step(batch, training=training)
        Xi, yi = unpack_data(batch)
        chunks = fixed_size_chunks(Xi, size)
        if chunks is None:
            return super().evaluation_step(batch, training=training)
        outputs = []
        for chunk, n_rows in chunks:
            output = super().evaluation_step((chunk, yi), training=training)
            output = first_rows(output, n_rows, size)
            if output is None:
                return super().evaluation_step(batch, training=training)
            outputs.append(output)
        return cat_rows(outputs)

    def _inference_batch_size(self):
        size = self.get_params_for("iterator_valid").get("batch_size", self.batch_size)
        return size if isinstance(size, Integral) and size > 0 else None

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``.

        Every inference batch runs at the same shape (a short batch is padded
        to ``batch_size`` rows), so a sample's probabilities do not depend on
        the other samples predicted with it: matrix kernels round differently
        for different batch shapes (by about 1e-7 in float32), but give a row
        the same result at the same shape. (With ``batch_size=-1`` each call
        is one batch of all its samples, as in skorch, which holds only for
        calls of the same size.) The softmax is taken in float64, so that
        rows sum to 1 to double precision.

        Parameters
        ----------
        X : array-like, sparse matrix, torch tensor, dict or torch Dataset

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        self.check_is_fitted()
        nonlinearity, are_probabilities = self._output_to_proba()
        probas = []
        for output in self.forward_iter(X, training=False):
            output = output[0] if isinstance(output, tuple) else output
            probas.append(to_numpy(nonlinearity(output)))
        proba = np.concatenate(probas, 0)
        self._check_proba(proba)
        if are_probabilities and not _are_probabilities(proba):
            warnings.warn(
                "With an NLLLoss criterion (or several criteria) the module "
                "should return probabilities, as in skorch, but its outputs are "
                "not (negative values, or rows that do not sum to 1): "
                "predict_proba applies a softmax to them. Return probabilities, "
                "use a criterion on logits (GCELoss, CrossEntropyLoss), or set "
                "predict_nonlinearity.",
                UserWarning,
                stacklevel=2,
            )
            proba = scipy.special.softmax(proba, axis=-1)
        return proba

    def _output_to_proba(self):
        """The map from module outputs to probabilities, and whether the
        outputs must already be probabilities."""
        nonlinearity = self.predict_nonlinearity
        if nonlinearity is None:
            return _identity, False
        if isinstance(nonlinearity, str) and nonlinearity == "auto":
            return self._auto_nonlinearity()
        if not callable(nonlinearity):
            raise TypeError("predict_nonlinearity has to be a callable, 'auto' or None")
        return nonlinearity, False

    def _auto_nonlinearity(self):
        """Softmax, except where skorch's convention is that the module outputs
        probabilities: an NLLLoss criterion, or several criteria."""
        names = criterion_names(self)
        if len(names) == 1:
            criterion = uncompiled(getattr(self, names[0] + "_", None))
            if not isinstance(criterion, torch.nn.NLLLoss):
                return _softmax_float64, False
        return _float64, True

    def _check_proba(self, proba):
        if not np.all(np.isfinite(proba)):
            raise FloatingPointError(
                "The network produced non-finite outputs; its weights may have "
                "diverged during training."
            )
        with contextlib.suppress(AttributeError):
            n_classes = len(self.classes_)
            if proba.ndim != 2 or proba.shape[1] != n_classes:
                raise ValueError(
                    f"The module's outputs have shape {proba.shape[1:]} per sample, "
                    f"but there are {n_classes} classes: give the module one "
                    "output per class."
                )

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


def _are_probabilities(proba):
    """Whether every row is a probability distribution (to float32 rounding)."""
    return bool(
        np.all(proba >= 0)
        and np.all(np.abs(proba.sum(axis=-1) - 1) <= _PROBABILITY_TOLERANCE)
    )


def _float_dtype(module):
    """The dtype of a module's floating parameters (None without any)."""
    if not isinstance(module, torch.nn.Module):
        return None
    return next((p.dtype for p in module.parameters() if p.is_floating_point()), None)


def _data_parallel_processes(net):
    """Number of processes of skorch's ``AccelerateMixin``; 1 without it."""
    accelerator = net.__dict__.get("accelerator")
    return getattr(accelerator, "num_processes", 1)
