"""What is compared: losses and post-hoc methods, named as on the command line.

Every loss the comparison knows is one :data:`LOSSES` entry below: its name,
its parameter, its description and the :class:`~sklearn_gce.GCEClassifier`
parameters that train with it. ``parse_losses``, the command's help and the
engine read it, so a new loss is one ``LOSSES.add(...)`` call.
"""

from dataclasses import dataclass, field

from sklearn_gce._registry import Registry

__all__ = [
    "DEFAULT_LOSSES",
    "DEFAULT_METHODS",
    "LOSSES",
    "MIXUP_ALPHA",
    "LossSpec",
    "MethodSpec",
    "SpecError",
    "TrainingConfig",
    "parse_losses",
    "resolve_device",
    "parse_methods",
]

DEFAULT_LOSSES = "ce,gce,ls,focal,flsd53,dualfocal"
DEFAULT_METHODS = "none,temperature,ats"
MIXUP_ALPHA = 0.2  # Zhang et al. (2018) on ImageNet; Mukhoti et al. (2020)
_ATS_BINS = 15


@dataclass(frozen=True)
class TrainingConfig:
    """How every network of a comparison is trained.

    Parameters
    ----------
    epochs : int, default=20
    batch_size : int, default=64
    hidden : tuple of int, default=(256,)
        Hidden layer widths of the default MLP.
    lr : float, default=3e-3
        Adam's learning rate (torch's fused Adam on a CPU or a CUDA device).
    device : str, default="cpu"
        A torch device; see :func:`resolve_device` for ``"auto"``.
    model : str, default="mlp"
        A name of :data:`~sklearn_gce.compare.MODELS`.
    """

    epochs: int = 20
    batch_size: int = 64
    hidden: tuple = (256,)
    lr: float = 3e-3
    device: str = "cpu"
    model: str = "mlp"


def resolve_device(device):
    """``"auto"`` becomes ``"cuda"`` when available, else ``"cpu"``.

    Raises
    ------
    ValueError
        For ``"cuda"`` without an available CUDA device.
    """
    if device == "cpu":
        return device
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(
            "--device cuda was asked for, but torch finds no CUDA device "
            f"(torch {torch.__version__}); use --device cpu or auto"
        )
    return device


class SpecError(ValueError):
    """An unknown or malformed name or setting, with a one-line reason."""


LOSSES = Registry("loss", error=SpecError)


def _at_least_zero(value):
    return None if value >= 0 else ">= 0"


def _proper_gce(value):
    if 0 <= value <= 1:
        return None
    return (
        "in [0, 1] (above 1 GCE subtracts cross-entropy: the loss is unbounded "
        "below and training collapses)"
    )


def _below_one(value):
    return None if 0 <= value < 1 else "in [0, 1)"


def _check_gce(reg_weight, config):
    if reg_weight > 0 and config.batch_size < 2:
        raise SpecError(
            "GCE needs --batch-size 2 or more: it estimates the class marginal "
            "over each batch, and a batch of one sample carries no gradient"
        )


def _gce(reg_weight, config):
    from sklearn_gce.losses import GCELoss

    return {"criterion": GCELoss, "reg_weight": reg_weight}


def _ce(_, config):
    import torch

    return {"criterion": torch.nn.CrossEntropyLoss}


def _ls(smoothing, config):
    import torch

    return {
        "criterion": torch.nn.CrossEntropyLoss,
        "criterion__label_smoothing": smoothing,
    }


def _focal(gamma, config):
    from sklearn_gce.losses import FocalLoss

    return {"criterion": FocalLoss, "criterion__gamma": gamma}


def _flsd53(_, config):
    from sklearn_gce.losses import FLSD53Loss

    return {"criterion": FLSD53Loss}


def _dualfocal(gamma, config):
    from sklearn_gce.losses import DualFocalLoss

    return {"criterion": DualFocalLoss, "criterion__gamma": gamma}


def _mbls(margin, config):
    from sklearn_gce.losses import MbLSLoss

    return {
        "criterion": MbLSLoss,
        "criterion__margin": margin,
        "predict_nonlinearity": _softmax,  # "auto" knows only some criteria
    }


def _softmax(logits):
    """Probabilities from a module's logits, in float64."""
    import torch

    return torch.softmax(logits.double(), dim=-1)


LOSSES.add("ce", _ce, "cross-entropy")
LOSSES.add(
    "gce",
    _gce,
    "Generative Cross-Entropy",
    param="lambda",
    default=1.0,
    check=_proper_gce,
    check_settings=_check_gce,
)
LOSSES.add(
    "ls",
    _ls,
    "cross-entropy with label smoothing",
    param="smoothing",
    default=0.05,
    check=_below_one,
)
LOSSES.add(
    "focal", _focal, "focal loss", param="gamma", default=3.0, check=_at_least_zero
)
LOSSES.add("flsd53", _flsd53, "FLSD-53 (focal, gamma 5 if p_t < 0.2 else 3)")
LOSSES.add(
    "dualfocal",
    _dualfocal,
    "dual focal loss",
    param="gamma",
    default=5.0,
    check=_at_least_zero,
)
LOSSES.add(
    "mbls",
    _mbls,
    "margin-based label smoothing (MbLS, penalty weight 0.1)",
    param="margin",
    default=10.0,
    check=_at_least_zero,
)


@dataclass(frozen=True)
class LossSpec:
    """One training loss of a comparison, optionally with mixup.

    Parameters
    ----------
    family : str
        A name of :data:`LOSSES` (``ce``, ``gce``, ``ls``, ...).
    param : float or None
        Its parameter (GCE's λ, label smoothing, γ); None for a loss without.
    mixup : float or None, default=None
        Train with mixup of this α (see
        :class:`~sklearn_gce.compare.MixupClassifier`); None: without.

    Attributes
    ----------
    key : str
        Canonical name, as on the command line: ``gce``, ``gce:0.5``,
        ``ce+mixup``, ``ce+mixup:0.4``; parameters only when not the default.
    """

    family: str
    param: float | None = None
    mixup: float | None = None
    key: str = field(init=False, compare=False, repr=False)

    def __post_init__(self):
        # the canonical name is made here, where LOSSES knows the family, and
        # travels with the spec to worker processes
        default = LOSSES[self.family].default
        key = self.family
        if self.param is not None and self.param != default:
            key += f":{self.param:g}"
        if self.mixup is not None:
            key += "+mixup" if self.mixup == MIXUP_ALPHA else f"+mixup:{self.mixup:g}"
        object.__setattr__(self, "key", key)

    @property
    def is_gce(self):
        return self.family == "gce"

    @property
    def description(self):
        entry = LOSSES[self.family]
        text = entry.description
        if entry.param is not None:
            text += f" ({entry.param} = {self.param:g})"
        if self.mixup is not None:
            text += f", trained with mixup (alpha = {self.mixup:g})"
        return text

    def check(self, config):
        """Raise :class:`SpecError` when the loss cannot train with ``config``
        (as :meth:`estimator_params` would), without importing torch."""
        check_settings = LOSSES[self.family].check_settings
        if check_settings is not None:
            check_settings(self.param, config)

    def estimator_params(self, config):
        """Parameters of :class:`~sklearn_gce.GCEClassifier` for this loss.

        Raises
        ------
        SpecError
            When the loss cannot train with ``config`` (e.g. GCE with
            batches of one sample).
        """
        self.check(config)
        return LOSSES[self.family].build(self.param, config)


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


def _mixup_alpha(item, text):
    """α of a ``+mixup[:alpha]`` suffix."""
    name, colon, value = text.partition(":")
    if name != "mixup":
        raise SpecError(f"{item!r}: after '+' only mixup[:alpha] is known")
    if not colon:
        return MIXUP_ALPHA
    try:
        alpha = float(value)
    except ValueError:
        raise SpecError(f"{item!r}: {value!r} is not a number") from None
    if not 0 < alpha < float("inf"):
        raise SpecError(f"{item!r}: mixup's alpha must be a positive number")
    return alpha


def parse_losses(text):
    """Losses from a comma-separated list such as ``"ce,gce,gce:0.5,ce+mixup"``.

    Each item is a name of :data:`LOSSES` with an optional ``:parameter``
    (``ce``; ``gce[:lambda]``, default 1; ``ls[:smoothing]``, default 0.05;
    ``focal[:gamma]``, default 3; ``flsd53``; ``dualfocal[:gamma]``, default
    5; ``mbls[:margin]``, default 10), and optionally ``+mixup[:alpha]``
    (default 0.2) to train it with mixup.

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
    >>> [loss.key for loss in parse_losses("ce, gce:1, gce:0.5, ce+mixup:0.4")]
    ['ce', 'gce', 'gce:0.5', 'ce+mixup:0.4']
    """
    losses = []
    for item in _split(text, "losses"):
        loss, plus, option = item.partition("+")
        entry, value = LOSSES.parse(loss)
        mixup = _mixup_alpha(item, option) if plus else None
        losses.append(LossSpec(entry.name, value, mixup))
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
                n_bins = _n_bins(item, param)
            methods.append(MethodSpec("ats", n_bins))
        else:
            raise SpecError(
                f"unknown post-hoc method {name!r}; choose from none, temperature, "
                "ats (or ats:N_BINS)"
            )
    _no_duplicates([method.key for method in methods], "post-hoc method")
    return methods


def _n_bins(item, text):
    try:
        n_bins = int(text)
    except ValueError:
        n_bins = 0
    if n_bins < 1:
        raise SpecError(f"{item!r}: n_bins must be an integer >= 1")
    return n_bins


def _no_duplicates(keys, what):
    seen = set()
    for key in keys:
        if key in seen:
            raise SpecError(f"{what} {key!r} is listed twice")
        seen.add(key)
