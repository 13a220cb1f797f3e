"""Names of a package imported on first use (PEP 562)."""

import importlib

__all__ = ["lazy_attributes"]


def lazy_attributes(package, names, public):
    """``__getattr__`` and ``__dir__`` for a package whose names load lazily.

    Parameters
    ----------
    package : dict
        The package's ``globals()``; a name is cached there once imported.
    names : dict
        Public name -> the module that defines it.
    public : list of str
        The package's ``__all__``.
    """

    def __getattr__(name):
        if name in names:
            value = getattr(importlib.import_module(names[name]), name)
            package[name] = value
            return value
        raise AttributeError(
            f"module {package['__name__']!r} has no attribute {name!r}"
        )

    def __dir__():
        return public

    return __getattr__, __dir__
