"""GCEClassifier: skorch's NeuralNetClassifier trained with Generative Cross-Entropy.

The class extends skorch through its documented hooks, as skorch's own
``NeuralNetClassifier`` extends ``NeuralNet``; what skorch does not offer
lives in small modules: input checks (``_validation``), class labels
(``_labels``), sample weights (``_weights``), batching (``batching``) and the
few private names of other libraries (``_compat``).
"""

import contextlib
import inspect
import os
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_consistent_length
from skorch import NeuralNetClassifier
from skorch.callbacks import EarlyStopping
from skorch.dataset import Dataset, ValidSplit, unpack_data
from skorch.utils import is_dataset, to_numpy, to_tensor
from torch.utils.data import DataLoader

from ._compat import (
    Interval,
    Options,
    StrOptions,
    _num_samples,
    criterion_names,
    module_names,
    partial_fit_kwargs,
    uncompiled,
    validate_parameter_constraints,
)
from ._files import replaced_on_success
from ._labels import (
    as_targets,
    check_targets,
    class_index,
    distinct_labels,
    partial_fit_classes,
)
from ._outputs import (
    as_probabilities,
    check_n_outputs,
    check_proba,
    divergence,
    to_proba,
)
from ._sizing import check_layers, required_sizes
from ._threads import num_threads, threads_for
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

# inference batches have a multiple of this many rows (see predict_proba)
_INFERENCE_ROWS = 64


def _outside_vars(name):
    """A property for state that skorch sets in ``__init__``.

    scikit-learn requires ``__init__`` to set nothing but parameters; skorch
    sets ``history_``, ``initialized_`` and ``virtual_params_`` there. The
    value is kept under ``_<name>`` without the trailing underscore, so that
    neither ``get_params`` nor scikit-learn's ``check_is_fitted`` takes it
    for a parameter or a fitted attribute.
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
    torch_threads : "auto", int or None, default="auto"
        torch's intra-op threads during ``fit``, ``partial_fit``,
        ``predict_proba`` and ``predict``; torch's setting is restored when
        the call returns or raises. "auto" runs a small network on the CPU
        (parameters times batch rows below 10 million, e.g. the default MLP)
        on one thread, which is faster than several and does not stall on a
        busy machine, and keeps torch's setting for larger networks and on a
        GPU; an int sets that many threads; None leaves torch's setting alone
        (use it when calling from several Python threads at once: the
        setting is global to the process).
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
        "torch_threads": [
            None,
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
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
        torch_threads="auto",
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
        self.torch_threads = torch_threads

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
        first = "_sample_shape_" not in self.__dict__
        self.check_data(X, y)
        if classes is not None:
            classes = partial_fit_classes(
                classes, None if first else self.classes_, self.classes
            )
            if first:
                self.classes_inferred_ = classes
        y = as_targets(y)
        weight = sample_weights(
            X, y, sample_weight, self.class_weight, incremental=method != "fit"
        )
        with self._seeded():
            if initialize:
                self.initialize()
            classes = self._known_classes()
            self._class_index_ = None if classes is None else class_index(classes, y)
            if weight is not None:
                check_weightable(self.criterion_)
                X = WeightedDataset(self.get_dataset(X, y), weight)
            self._divergence_reported_ = False
            try:
                with self._threads(X, training=True):
                    super().partial_fit(
                        X, y, **partial_fit_kwargs(method), **fit_params
                    )
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

    def _forget_data(self):
        for name in (
            "classes_inferred_",
            "n_features_in_",
            "feature_names_in_",
            "_sample_shape_",
            "_class_index_",
        ):
            self.__dict__.pop(name, None)

    def check_data(self, X, y=None):
        """Check the training data as scikit-learn does, before any training.

        The first fit (or partial_fit) records what the data says about the
        network: ``classes_`` (the labels of ``y``, or the targets of a
        Dataset), ``n_features_in_``, ``feature_names_in_`` and the shape of a
        sample. Later calls (skorch's fit loop calls it again) check ``y`` only.
        """
        first = "_sample_shape_" not in self.__dict__
        if y is not None:
            y = check_targets(y)
        if is_dataset(X):
            if first:
                super().check_data(X, y)
                self._sample_shape_ = sample_shape(X)
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
            self._sample_shape_ = sample_shape(X)

    def _threads(self, X, *, training):
        """Set torch's threads for a fit (``training``) or a prediction on X."""
        prefix = "iterator_train" if training else "iterator_valid"
        rows = self.get_params_for(prefix).get("batch_size", self.batch_size)
        n_samples = None
        with contextlib.suppress(TypeError):
            n_samples = len(X) if is_dataset(X) else _num_samples(first_array(X))
        if not isinstance(rows, Integral) or rows < 1:
            rows = n_samples
        elif n_samples is not None:
            rows = min(rows, n_samples)
        return num_threads(threads_for(self.torch_threads, self.module_, rows))

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
            shape = self.__dict__.get("_sample_shape_")
            classes = self._known_classes()
            kwargs = {**required_sizes(module, kwargs, shape, classes), **kwargs}
        self.module_ = self.initialized_instance(module, kwargs)
        check_layers(self.module_)
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

        The batch's labels become class indices (positions in ``classes_``),
        and the module must have one output per class. Sample weights (the
        targets are then a ``WeightedTarget``) go to the criterion's
        ``sample_weight`` argument, or weight its per-sample losses
        (``reduction="none"``).
        """
        weight = None
        if isinstance(y_true, WeightedTarget):
            y_true, weight = y_true
        index = self.__dict__.get("_class_index_")
        if index is not None:
            if getattr(y_true, "ndim", 1) != 1:
                raise ValueError(
                    f"{type(self).__name__} needs 1-D class labels as targets; got "
                    f"a batch of shape {tuple(y_true.shape)}: multi-dimensional "
                    "targets need a get_loss of your own."
                )
            if isinstance(y_pred, torch.Tensor) and y_pred.ndim == 2:
                check_n_outputs(y_pred.shape[1], index.classes)
            y_true = index(y_true)
        criterion = uncompiled(self.__dict__.get("criterion_"))
        if training and len(y_true) == 1 and isinstance(criterion, GCELoss):
            if criterion.reg_weight > 0 and _data_parallel_processes(self) == 1:
                raise ValueError(
                    "Got a training batch of one sample, which carries no "
                    "Generative Cross-Entropy gradient. Use the default "
                    "iterator_train (BatchIterator merges such a batch), or "
                    "drop_last=True."
                )
        if weight is None:
            return super().get_loss(y_pred, y_true, X=X, training=training)
        weight = to_tensor(weight, device=self.device)
        weight = weight.to(torch.promote_types(y_pred.dtype, torch.float32))
        if accepts_sample_weight(self.criterion_):
            y_true = to_tensor(y_true, device=self.device)
            return self.criterion_(y_pred, y_true, sample_weight=weight)
        return weighted_loss(
            self.criterion_,
            lambda: super(GCEClassifier, self).get_loss(y_pred, y_true, X, training),
            weight,
        )

    def train_step_single(self, batch, **fit_params):
        """skorch's training step: forward pass, loss and backward pass.

        As in skorch, every module and criterion, with all their submodules,
        is in training mode during the step; ``Module.train`` is called only
        when one of them is not (reading the flags costs a fraction of setting
        them, which is several percent of a small network's step).
        """
        modules = [getattr(self, name + "_") for name in module_names(self)]
        modules = [m for m in modules if isinstance(m, torch.nn.Module)]
        if not all(sub.training for module in modules for sub in module.modules()):
            for module in modules:
                module.train(True)
        Xi, yi = unpack_data(batch)
        y_pred = self.infer(Xi, **fit_params)
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        """Warn (once per fit) when training diverges: a loss that is not
        finite, or a huge one with every probability exactly 0 or 1. skorch
        trains on regardless, and so does this classifier; ``predict_proba``
        then refuses outputs that are not finite."""
        super().on_batch_end(net, batch=batch, training=training, **kwargs)
        if self.__dict__.get("_divergence_reported_", True):
            return
        key = "train_loss" if training else "valid_loss"
        loss = self.history[-1]["batches"][-1].get(key)
        if loss is None:
            return
        what = divergence(loss, kwargs.get("y_pred"), self._criterion_modules)
        if what is not None:
            self._divergence_reported_ = True
            warnings.warn(
                f"{what} in epoch {len(self.history)} ({key}): training diverged. "
                "Lower the learning rate (lr) or scale the inputs (with an "
                "NLLLoss criterion, the module must return probabilities).",
                ConvergenceWarning,
                stacklevel=2,
            )

    def _criterion_modules(self):
        return [uncompiled(getattr(self, name + "_")) for name in criterion_names(self)]

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
        inference batch size (``batch_size`` rounded up to a multiple of 64),
        the last one padded with copies of its last row; the padding is
        dropped from the output (see :meth:`predict_proba`). Outputs that do
        not have one row per sample are computed on the batch as it is.
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
        """``batch_size`` (of ``iterator_valid``) rounded up to a multiple of 64,
        or None for -1: with several threads, matrix kernels may round a row
        differently at another position in a batch of an odd size."""
        size = self.get_params_for("iterator_valid").get("batch_size", self.batch_size)
        if not isinstance(size, Integral) or size < 1:
            return None
        return -(-size // _INFERENCE_ROWS) * _INFERENCE_ROWS

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``.

        Every inference batch runs at the same shape (``batch_size`` rounded
        up to a multiple of 64 rows; a short batch is padded), so a sample's
        probabilities do not depend on the other samples predicted with it:
        matrix kernels round differently for different batch shapes (by about
        1e-7 in float32), but give a row the same result at the same shape.
        (With ``batch_size=-1`` each call is one batch of all its samples, as
        in skorch, which holds only for calls of the same size.) The softmax is
        taken in float64, so that rows sum to 1 to double precision.

        Parameters
        ----------
        X : array-like, sparse matrix, torch tensor, dict or torch Dataset

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        self.check_is_fitted()
        nonlinearity, probabilities = to_proba(
            self.predict_nonlinearity, self._criterion_modules()
        )
        probas = []
        with self._threads(X, training=False):
            for output in self.forward_iter(X, training=False):
                output = output[0] if isinstance(output, tuple) else output
                probas.append(to_numpy(nonlinearity(output)))
        proba = np.concatenate(probas, 0)
        check_proba(proba, self._known_classes())
        return as_probabilities(proba) if probabilities else proba

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
        classes = self._known_classes()
        return indices if classes is None else np.asarray(classes)[indices]

    def _known_classes(self):
        """``classes_``, or None when there are none (skorch's targets are then
        class indices)."""
        try:
            return self.classes_
        except AttributeError:
            return None


def _float_dtype(module):
    """The dtype of a module's floating parameters (None without any)."""
    if not isinstance(module, torch.nn.Module):
        return None
    return next((p.dtype for p in module.parameters() if p.is_floating_point()), None)


def _data_parallel_processes(net):
    """Number of processes of skorch's ``AccelerateMixin``; 1 without it."""
    accelerator = net.__dict__.get("accelerator")
    return getattr(accelerator, "num_processes", 1)
