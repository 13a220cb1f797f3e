"""What is compared: losses and post-hoc methods, named as on the command line."""

from dataclasses import dataclass

__all__ = [
    "DEFAULT_LOSSES",
    "DEFAULT_METHODS",
    "LossSpec",
    "MethodSpec",
    "SpecError",
    "parse_losses",
    "parse_methods",
]

DEFAULT_LOSSES = "ce,gce,ls,focal,flsd53,dualfocal"
DEFAULT_METHODS = "none,temperature,ats"

# family -> (default parameter or None, parameter name, description)
_LOSS_FAMILIES = {
    "ce": (None, None, "cross-entropy"),
    "gce": (1.0, "reg_weight", "Generative Cross-Entropy, lambda = reg_weight"),
    "ls": (0.05, "label_smoothing", "cross-entropy with label smoothing"),
    "focal": (3.0, "gamma", "focal loss"),
    "flsd53": (None, None, "FLSD-53 (focal, gamma 5 if p_t < 0.2 else 3)"),
    "dualfocal": (5.0, "gamma", "dual focal loss"),
}
_ATS_BINS = 15


class SpecError(ValueError):
    """An unknown or malformed loss or method name, with a one-line reason."""


@dataclass(frozen=True)
class LossSpec:
    """One training loss of a comparison.

    Parameters
    ----------
    family : str
        One of ``ce``, ``gce``, ``ls``, ``focal``, ``flsd53``, ``dualfocal``.
    param : float or None
        GCE's λ, label smoothing, or γ; None for ``ce`` and ``flsd53``.
    """

    family: str
    param: float | None = None

    @property
    def key(self):
        """Canonical name: the family, with ``:param`` when not the default."""
        default = _LOSS_FAMILIES[self.family][0]
        if self.param is None or self.param == default:
            return self.family
        return f"{self.family}:{self.param:g}"

    @property
    def is_gce(self):
        return self.family == "gce"

    @property
    def description(self):
        _, name, text = _LOSS_FAMILIES[self.family]
        return text if name is None else f"{text} ({name}={self.param:g})"

    def estimator_params(self):
        """Parameters of :class:`~sklearn_gce.GCEClassifier` for this loss."""
        import torch

        from sklearn_gce.losses import DualFocalLoss, FLSD53Loss, FocalLoss, GCELoss

        if self.family == "gce":
            return {"criterion": GCELoss, "reg_weight": self.param}
        if self.family == "ce":
            return {"criterion": torch.nn.CrossEntropyLoss}
        if self.family == "ls":
            return {
                "criterion": torch.nn.CrossEntropyLoss,
                "criterion__label_smoothing": self.param,
            }
        if self.family == "focal":
            return {"criterion": FocalLoss, "criterion__gamma": self.param}
        if self.family == "flsd53":
            return {"criterion": FLSD53Loss}
        return {"criterion": DualFocalLoss, "criterion__gamma": self.param}


@dataclass(frozen=True)
class MethodSpec:
    """One post-hoc calibration method: ``none``, ``temperature`` or ``ats``.

    ``temperature`` is scikit-learn's
    ``CalibratedClassifierCV(method="temperature")``; ``ats`` is
    :class:`~sklearn_gce.ATSCalibrator` with ``n_bins`` bins.
    """

    name: str
    n_bins: int | None = None

    @property
    def key(self):
        if self.name == "ats" and self.n_bins != _ATS_BINS:
            return f"ats:{self.n_bins}"
        return self.name


def _split(text, what):
    items = [item.strip().lower() for item in str(text).split(",")]
    items = [item for item in items if item]
    if not items:
        raise SpecError(f"no {what} given")
    return items


def _number(text, item):
    try:
        value = float(text)
    except ValueError:
        raise SpecError(f"{item!r}: {text!r} is not a number") from None
    if not (value == value and abs(value) != float("inf")):
        raise SpecError(f"{item!r}: the parameter must be finite")
    return value


def parse_losses(text):
    """Losses from a comma-separated list such as ``"ce,gce,gce:0.5,focal:2"``.

    Names: ``ce``; ``gce[:lambda]`` (default 1); ``ls[:smoothing]`` (default
    0.05); ``focal[:gamma]`` (default 3); ``flsd53``; ``dualfocal[:gamma]``
    (default 5).

    Parameters
    ----------
    text : str

    Returns
    -------
    losses : list of LossSpec
        In the order given.

    Raises
    ------
    SpecError
        For an unknown name, a bad parameter or a loss listed twice.

    Examples
    --------
    >>> from sklearn_gce.compare import parse_losses
    >>> [loss.key for loss in parse_losses("ce, gce:1, gce:0.5, focal")]
    ['ce', 'gce', 'gce:0.5', 'focal']
    """
    losses = []
    for item in _split(text, "losses"):
        family, _, param = item.partition(":")
        if family not in _LOSS_FAMILIES:
            known = ", ".join(_LOSS_FAMILIES)
            raise SpecError(
                f"unknown loss {family!r}; choose from {known} (e.g. gce:0.5)"
            )
        default, name, _ = _LOSS_FAMILIES[family]
        if name is None:
            if param:
                raise SpecError(f"loss {family!r} takes no parameter (got {item!r})")
            value = None
        else:
            value = _number(param, item) if param else default
            if value < 0 or (family == "ls" and value >= 1):
                bound = "in [0, 1)" if family == "ls" else ">= 0"
                raise SpecError(f"{item!r}: {name} must be {bound}")
        losses.append(LossSpec(family, value))
    _no_duplicates([loss.key for loss in losses], "loss")
    return losses


def parse_methods(text):
    """Post-hoc methods from a comma-separated list such as ``"none,ats:20"``.

    Names: ``none``; ``temperature`` (or ``ts``); ``ats[:n_bins]`` (default
    15 bins).

    Parameters
    ----------
    text : str

    Returns
    -------
    methods : list of MethodSpec

    Raises
    ------
    SpecError

    Examples
    --------
    >>> from sklearn_gce.compare import parse_methods
    >>> [method.key for method in parse_methods("none,ts,ats,ats:5")]
    ['none', 'temperature', 'ats', 'ats:5']
    """
    methods = []
    for item in _split(text, "post-hoc methods"):
        name, _, param = item.partition(":")
        name = {"ts": "temperature"}.get(name, name)
        if name in ("none", "temperature"):
            if param:
                raise SpecError(f"method {name!r} takes no parameter (got {item!r})")
            methods.append(MethodSpec(name))
        elif name == "ats":
            n_bins = _ATS_BINS
            if param:
                if not param.isdigit() or int(param) < 1:
                    raise SpecError(f"{item!r}: n_bins must be an integer >= 1")
                n_bins = int(param)
            methods.append(MethodSpec("ats", n_bins))
        else:
            raise SpecError(
                f"unknown post-hoc method {name!r}; choose from none, temperature, "
                "ats (or ats:N_BINS)"
            )
    _no_duplicates([method.key for method in methods], "post-hoc method")
    return methods


def _no_duplicates(keys, what):
    seen = set()
    for key in keys:
        if key in seen:
            raise SpecError(f"{what} {key!r} is listed twice")
        seen.add(key)
