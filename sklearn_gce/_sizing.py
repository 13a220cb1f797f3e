"""Networks sized from the data: the sizes a module class requires.

A module class whose ``__init__`` has no default for ``n_features`` (the size
of one flattened sample), ``input_shape`` (the shape of one sample) or
``n_classes`` gets them from the training data, unless the user set them
(``module__<name>``). skorch would raise a TypeError there, so this changes
nothing that worked in skorch.
"""

import inspect

import numpy as np

__all__ = ["DATA_SIZES", "check_layers", "required_sizes"]

DATA_SIZES = ("n_features", "input_shape", "n_classes")


def required_sizes(module, given, sample_shape=None, classes=None):
    """The data sizes ``module.__init__`` requires and ``given`` lacks.

    Parameters
    ----------
    module : class
    given : dict
        The keyword arguments set by the user.
    sample_shape : tuple or None
        The shape of one training sample, if known.
    classes : array-like or None
        The classes, if known.

    Returns
    -------
    sizes : dict

    Raises
    ------
    TypeError
        If a required size is not known (before fit), as the constructor
        would, with what to do about it.

    Examples
    --------
    >>> from sklearn_gce import MLPModule
    >>> required_sizes(MLPModule, {}, (1, 8, 8), ["a", "b"])
    {'n_features': 64, 'n_classes': 2}
    """
    parameters = inspect.signature(module).parameters
    wanted = [
        name
        for name in DATA_SIZES
        if name in parameters
        and parameters[name].default is inspect.Parameter.empty
        and name not in given
    ]
    sizes = {}
    if sample_shape is not None:
        sizes["input_shape"] = tuple(sample_shape)
        sizes["n_features"] = int(np.prod(sample_shape))
    if classes is not None:
        sizes["n_classes"] = len(classes)
    missing = [name for name in wanted if name not in sizes]
    if missing:
        raise TypeError(
            f"{module.__name__} requires {' and '.join(missing)}, which fit takes "
            "from the training data when it has one shape per sample (an array, "
            "a tensor or a dataset of them, not a dict); otherwise pass "
            f"{' and '.join('module__' + name for name in missing)}."
        )
    return {name: sizes[name] for name in wanted}


def check_layers(module):
    """ValueError for a layer of width 0 (a parameter without elements)."""
    for name, param in module.named_parameters():
        if param.numel() == 0:
            raise ValueError(
                f"The module has a layer of width 0 (parameter {name!r} has shape "
                f"{tuple(param.shape)}): its output cannot depend on the input. "
                "Give every layer at least one unit."
            )
