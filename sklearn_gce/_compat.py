"""The one place where private scikit-learn, skorch and torch names are used.

Libraries move or change private names between releases (scikit-learn moved
``_validate_data`` in 1.6; skorch added the ``_routing_method`` argument in
1.4): keeping every such use here means one file to check when they do.

Each use, and the versions it was checked against (the classifier's tests and
scikit-learn's estimator checks pass with each skorch version on scikit-learn
1.8.0, and with skorch 1.4.0 on scikit-learn 1.9.1; torch 2.13.0):

scikit-learn 1.8.0, 1.9.1
    ``sklearn.base._fit_context``; ``sklearn.metrics._scorer._BaseScorer``;
    ``sklearn.utils._safe_indexing``; ``sklearn.utils._param_validation``
    (``HasMethods``, ``Interval``, ``Options``, ``StrOptions``,
    ``validate_parameter_constraints``, ``validate_params``);
    ``sklearn.utils.validation._check_method_params``, ``_check_sample_weight``,
    ``_num_samples``.
skorch 1.2.0, 1.3.1, 1.4.0
    ``NeuralNet._criteria`` and ``NeuralNet._modules`` (the names of a net's
    criteria and modules, listed among ``NeuralNet``'s attributes; skorch's
    own ``predict_nonlinearity="auto"`` reads the first), in
    :func:`criterion_names` and :func:`module_names`;
    the ``_routing_method`` argument of ``NeuralNet.partial_fit`` (1.4 only),
    in :func:`partial_fit_kwargs`.
torch 2.13.0
    ``_orig_mod``, the module inside a ``torch.compile``'d one, in
    :func:`uncompiled`.
joblib 1.6.0
    ``joblib.parallel.get_active_backend`` and ``LokyBackend`` (not in
    joblib's ``__all__``), in :func:`joblib_backend_is_loky`.
"""

import inspect

from sklearn.base import _fit_context
from sklearn.metrics._scorer import _BaseScorer
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    Options,
    StrOptions,
    validate_parameter_constraints,
    validate_params,
)
from sklearn.utils.validation import (
    _check_method_params,
    _check_sample_weight,
    _num_samples,
)

__all__ = [
    "HasMethods",
    "Interval",
    "Options",
    "StrOptions",
    "_BaseScorer",
    "_check_method_params",
    "_check_sample_weight",
    "_fit_context",
    "_num_samples",
    "_safe_indexing",
    "criterion_names",
    "joblib_backend_is_loky",
    "module_names",
    "partial_fit_kwargs",
    "uncompiled",
    "validate_parameter_constraints",
    "validate_params",
]


def partial_fit_kwargs(method):
    """Arguments that make ``NeuralNet.partial_fit`` route parameters as ``method``.

    skorch >= 1.4 routes metadata, and ``NeuralNet.fit`` tells ``partial_fit``
    which public method the parameters were requested for; earlier versions
    take no such argument. (skorch is imported here, not at the top, so that
    the torch-free parts of the package can import this module.)
    """
    from skorch import NeuralNet

    if "_routing_method" in inspect.signature(NeuralNet.fit_loop).parameters:
        return {"_routing_method": method}
    return {}


def criterion_names(net):
    """The names of a skorch net's criteria (``["criterion"]`` by default)."""
    return list(net._criteria)


def joblib_backend_is_loky():
    """Whether joblib would run parallel calls on its default ``loky`` backend
    (no other backend chosen with ``joblib.parallel_config``)."""
    from joblib.parallel import LokyBackend, get_active_backend

    backend, _ = get_active_backend()
    return isinstance(backend, LokyBackend)


def module_names(net):
    """The names of a skorch net's modules and criteria, as skorch switches
    them between training and evaluation mode."""
    return [*net._modules, *net._criteria]


def uncompiled(module):
    """The module itself, also when it was compiled with ``torch.compile``."""
    return getattr(module, "_orig_mod", module)
