"""Named things the comparison knows (losses, models, datasets), one place each.

A :class:`Registry` maps a name to an :class:`Entry`: how to build it, its one
optional parameter, and a description. The command's parsing, its help text
and the engine read the registries, so adding a loss, a model or a dataset
is one :meth:`Registry.add` call beside the code that builds it.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Entry", "Registry"]


@dataclass(frozen=True)
class Entry:
    """One registered name.

    Parameters
    ----------
    name : str
    build : callable
        What the registry's user calls to build it; its arguments depend on
        the kind (e.g. a loss's parameter value).
    description : str
        One line, for help texts and reports.
    param : str or None, default=None
        Name of the entry's numeric parameter, given as ``name:value``.
    default : float or None, default=None
        The parameter's default value.
    check : callable or None, default=None
        ``check(value)`` returns a reason (str) when the value is not allowed,
        else None.
    check_settings : callable or None, default=None
        ``check_settings(value, settings)`` raises the registry's error when
        the entry cannot be built with these settings (e.g. a loss with the
        training configuration); it must not need what ``build`` imports.
    """

    name: str
    build: Callable
    description: str
    param: str | None = None
    default: float | None = None
    check: Callable | None = None
    check_settings: Callable | None = None

    @property
    def usage(self):
        """``name`` or ``name[:param]``, as in help texts."""
        return self.name if self.param is None else f"{self.name}[:{self.param}]"

    def help(self):
        """The usage, the description and the default, on one line."""
        text = f"{self.usage}: {self.description}"
        if self.param is not None:
            text += f" ({self.param} {self.default:g} by default)"
        return text


class Registry:
    """Names of one kind, in the order they were added.

    Parameters
    ----------
    kind : str
        What the names are, for messages (e.g. ``"loss"``).
    error : type of Exception, default=ValueError
        Raised, with a one-line reason, for unknown names and bad parameters.

    Examples
    --------
    >>> from sklearn_gce._registry import Registry
    >>> shapes = Registry("shape")
    >>> _ = shapes.add("square", lambda side: side**2, "a square", param="side",
    ...                default=1.0)
    >>> entry, value = shapes.parse("square:3")
    >>> entry.build(value)
    9.0
    >>> shapes.names()
    ['square']
    """

    def __init__(self, kind, *, error=ValueError):
        self.kind = kind
        self.error = error
        self._entries = {}

    def add(
        self,
        name,
        build,
        description,
        *,
        param=None,
        default=None,
        check=None,
        check_settings=None,
    ):
        """Register ``name``; returns its :class:`Entry`."""
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        entry = Entry(name, build, description, param, default, check, check_settings)
        self._entries[name] = entry
        return entry

    def names(self):
        """Registered names, in order."""
        return list(self._entries)

    def __contains__(self, name):
        return name in self._entries

    def __iter__(self):
        return iter(self._entries.values())

    def __getitem__(self, name):
        try:
            return self._entries[name]
        except KeyError:
            raise self.error(
                f"unknown {self.kind} {name!r}; choose from {', '.join(self._entries)}"
            ) from None

    def parse(self, item):
        """The entry and parameter value of ``"name"`` or ``"name:value"``.

        Returns
        -------
        entry : Entry
        value : float or None
            The parameter (its default when not given); None for an entry
            without a parameter.
        """
        name, colon, text = item.partition(":")
        entry = self[name]
        if entry.param is None:
            if colon:
                raise self.error(f"{self.kind} {name!r} takes no parameter ({item!r})")
            return entry, None
        if not colon:
            return entry, entry.default
        try:
            value = float(text)
        except ValueError:
            raise self.error(f"{item!r}: {text!r} is not a number") from None
        if not math.isfinite(value):
            raise self.error(f"{item!r}: {entry.param} must be finite")
        reason = entry.check(value) if entry.check is not None else None
        if reason:
            raise self.error(f"{item!r}: {entry.param} must be {reason}")
        return entry, value

    def help(self):
        """One line per entry (see :meth:`Entry.help`)."""
        return [entry.help() for entry in self]
