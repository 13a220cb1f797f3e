"""Generative Cross-Entropy and the baseline losses, as pure torch.

Every loss here is a function of ``(logits, target)`` with ``sample_weight``
and ``reduction`` arguments (the same semantics for all: "mean" is
``sum_i w_i l_i / sum_i w_i``), plus a ``torch.nn.Module`` criterion that wraps
it and takes ``sample_weight`` in ``forward``, so that the classifier, the
benchmarks and the command line share one implementation.

Not to be confused with *Generalized* Cross Entropy (Zhang & Sabuncu, 2018),
a noise-robust loss that is also abbreviated GCE.
"""

import math
import numbers
import warnings

import torch
import torch.nn.functional as F

from . import _distributed

__all__ = [
    "DualFocalLoss",
    "FLSD53Loss",
    "FocalLoss",
    "GCELoss",
    "MbLSLoss",
    "dual_focal_loss",
    "flsd53_loss",
    "focal_loss",
    "generative_cross_entropy",
    "margin_label_smoothing_loss",
]

_REDUCTIONS = ("mean", "sum", "none")
# nll_loss skips the targets equal to its ignore_index (-100 by default): GCE
# must not, so no int64 target is ignored and a bad one raises
_NO_IGNORE = -(2**63)

# From this many logits on (and on the CPU), GCE is computed from probabilities:
# one exponential per logit instead of four, at the cost of more operations,
# which dominate below. Measured in benchmarks/bench_loss.py: at (1024, 1000),
# 1 thread, 1.2x cross-entropy against 3.2x in log space; at (128, 10), 2.9x
# against 1.5x (CPU time, shared 2-core machine).
_PROB_SPACE_MIN_NUMEL = 65_536


def generative_cross_entropy(
    logits,
    target,
    *,
    reg_weight=1.0,
    sample_weight=None,
    reduction="mean",
    distributed=False,
    process_group=None,
):
    r"""Generative Cross-Entropy: cross-entropy plus a class-level regulariser.

    For a mini-batch of :math:`B` samples with logits :math:`z_i` and labels
    :math:`y_i`, with :math:`p_\theta(k \mid x) = \mathrm{softmax}(z)_k`:

    .. math::

        \hat p(k) = \frac{1}{B} \sum_{j=1}^{B} p_\theta(k \mid x_j), \qquad
        \ell_i = -\log p_\theta(y_i \mid x_i) + \lambda \log \hat p(y_i)

    and the loss is the mean (or sum) of :math:`\ell_i`. With
    :math:`\lambda = 1` this is the negative class-conditional log-likelihood
    :math:`-\log[p_\theta(y_i \mid x_i) / \hat p(y_i)]` of arXiv 2604.06689,
    which can be negative; :math:`\lambda = 0` is plain cross-entropy.

    With sample weights :math:`w_i \ge 0`, the batch marginal is the weighted
    mean of the predictions and each term counts :math:`w_i` times:

    .. math::

        \hat p_w(k) = \frac{\sum_j w_j \, p_\theta(k \mid x_j)}{\sum_j w_j},
        \qquad
        \ell_i = -\log p_\theta(y_i \mid x_i) + \lambda \log \hat p_w(y_i)

    and the loss is :math:`\sum_i w_i \ell_i / \sum_i w_i` ("mean"),
    :math:`\sum_i w_i \ell_i` ("sum") or :math:`w_i \ell_i` ("none").
    Integer weights give the loss of the batch in which sample :math:`i` is
    repeated :math:`w_i` times; all weights equal give the unweighted loss; a
    sample of weight 0 enters nothing, as if it were not in the batch (its
    logits get a gradient of exactly 0).

    For :math:`\lambda > 1` the loss is unbounded below (it decreases
    without limit as the target probabilities go to 0), so training with it
    collapses; :class:`GCELoss` warns about it.

    The batch marginal :math:`\hat p` is estimated from the batch itself, so
    the loss depends on the batch size, and a batch of one sample at
    :math:`\lambda = 1` gives a loss of exactly 0 and no gradient.

    Parameters
    ----------
    logits : torch.Tensor of shape (n_samples, n_classes)
        Unnormalised scores. Half-precision logits are computed in float32.
    target : torch.Tensor of shape (n_samples,)
        Class indices in ``[0, n_classes)``.
    reg_weight : float, default=1.0
        The weight :math:`\lambda \ge 0` of the regulariser.
    sample_weight : torch.Tensor of shape (n_samples,) or None, default=None
        Finite weights :math:`w_i \ge 0`, not all zero; None means all 1.
        They are constants: no gradient flows to them.
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample terms :math:`\ell_i` are aggregated.
    distributed : {"auto", True, False}, default=False
        Compute the loss of the global batch formed by the shards of all
        processes of ``process_group`` (data parallelism). "auto" does so
        when ``torch.distributed`` is initialised with more than one process;
        True requires it. See Notes.
    process_group : torch.distributed.ProcessGroup or None, default=None
        The processes sharing a batch; None means all of them.

    Returns
    -------
    loss : torch.Tensor
        A scalar, or a tensor of shape (n_samples,) for ``reduction="none"``,
        in float32 or wider.

    Notes
    -----
    Computed in :math:`O(BK)` time and memory, never with a :math:`B \times B`
    matrix, and in log space, so that it stays finite for logits of any
    magnitude: :math:`\ell_i = (1 - \lambda)(-\log p_\theta(y_i \mid x_i))
    + \lambda(-\log[p_\theta(y_i \mid x_i) / \hat p_w(y_i)])`, the second
    term from a softmax of the log probabilities over the batch. Large
    batches on the CPU compute it from probabilities instead (one exponential
    per logit instead of four), unless a probability could underflow. Both
    are differentiated by autograd, to any order (the distributed loss: to
    the first).

    Distributed: with :math:`M` processes each holding a shard of a global
    batch (total weight :math:`W = \sum_i w_i`, :math:`B` without weights),
    :math:`\hat p_w` is computed over the global batch, in log space, from
    one all-gather of :math:`2K + 2` numbers per process and step (the
    shard's log column sums, label counts, cross-entropy sum and weight).
    For "mean" and "sum" every process gets the value of the global loss,
    and :math:`M` times the gradient of the global loss with respect to its
    own shard's logits:
    averaging gradients over processes, as ``DistributedDataParallel`` does,
    then gives exactly the gradient of the global loss, also for shards of
    unequal sizes; nothing is exchanged in the backward pass. For "none" it
    returns its shard's terms :math:`w_i \ell_i` (with the global
    :math:`\hat p_w`; their backward pass all-reduces :math:`K` numbers):
    scale their sum by :math:`M / W` for the same effect as "mean". Every
    process must call the loss at every step; a process's weights may all
    be 0, not every process's.

    Examples
    --------
    >>> import torch
    >>> from sklearn_gce import generative_cross_entropy
    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    >>> target = torch.tensor([0, 1, 0])
    >>> generative_cross_entropy(logits, target, reg_weight=0.0)
    tensor(0.3157)
    >>> generative_cross_entropy(logits, target)
    tensor(-0.3775)
    >>> weights = torch.tensor([2.0, 1.0, 0.0])  # as if [0, 0, 1], no third
    >>> generative_cross_entropy(logits, target, sample_weight=weights)
    tensor(-0.5130)
    """
    reg_weight = _check_reg_weight(reg_weight)
    _check_reduction(reduction)
    distributed = _distributed.check_distributed(distributed)
    group = _distributed.active_group(distributed, process_group)
    return _generative_cross_entropy(
        logits, target, sample_weight, reg_weight, reduction, group
    )


def _generative_cross_entropy(
    logits, target, sample_weight, reg_weight, reduction, group=None
):
    """generative_cross_entropy with reg_weight and reduction already checked.

    ``group`` is the process group of a distributed computation, or None.
    """
    logits, target = _check_logits_and_target(logits, target)
    weight, all_positive = _check_sample_weight(
        sample_weight, logits, allow_all_zero=group is not None
    )
    if weight is None and group is None:
        try:
            return _gce(logits, target, None, reg_weight, reduction)
        except (IndexError, RuntimeError) as error:
            # the range is checked only on failure: it costs a sync per batch
            _check_target_range(target, logits.shape[1], error)
            raise
    # the weights' check synchronised already; and a distributed loss must
    # fail here, not inside the collective that the other processes enter
    _check_target_range(target, logits.shape[1])
    if all_positive:
        return _gce(logits, target, weight, reg_weight, reduction, group)
    # samples of weight 0 enter nothing (and no 0 * inf can arise)
    keep = weight > 0
    loss = _gce(logits[keep], target[keep], weight[keep], reg_weight, reduction, group)
    if reduction == "none":
        return loss.new_zeros(keep.shape).masked_scatter(keep, loss)
    return loss


def _gce(logits, target, weight, reg_weight, reduction, group=None):
    r"""GCE as :math:`(1 - \lambda)\,\mathrm{CE} + \lambda\,\mathrm{NLR}`.

    CE reduces :math:`-\log p_\theta(y_i \mid x_i)` and NLR
    :math:`-\log[p_\theta(y_i \mid x_i) / \hat p_w(y_i)]` (with the weights,
    positive, or None). Both come from log probabilities, with
    :math:`\hat p_w` over this batch or over the batches of every process of
    ``group``, or from probabilities on the CPU for large batches.
    """
    need_ce = reg_weight != 1.0
    if group is not None:
        ce, log_ratio = _global_terms(logits, target, weight, reduction, group)
    elif reg_weight == 0.0 and weight is None:  # bit-identical to cross-entropy
        return F.cross_entropy(
            logits, target, reduction=reduction, ignore_index=_NO_IGNORE
        )
    elif logits.device.type == "cpu" and logits.numel() >= _PROB_SPACE_MIN_NUMEL:
        terms = _prob_space_terms(logits, target, weight)
        if terms is None:  # a probability could underflow: stay in log space
            terms = _log_space_terms(logits, target, weight, reduction, need_ce)
        else:
            terms = (_reduce(term, reduction, weight) for term in terms)
        ce, log_ratio = terms
    else:
        ce, log_ratio = _log_space_terms(logits, target, weight, reduction, need_ce)
    loss = torch.lerp(ce, log_ratio, reg_weight) if need_ce else log_ratio
    if group is not None and reduction != "none":
        loss = _distributed.scale_gradient(loss, group)
    return loss


def _log_space_terms(logits, target, weight, reduction, need_ce=True):
    """Reduced (CE or None, NLR) from log probabilities; exact for any logits.

    ``log_softmax(log_probs + log w, dim=0)[i, k]`` is
    ``log[w_i p(k|x_i) / sum_j w_j p(k|x_j)]``: each class normalised over the
    batch, in one fused operation; add ``log(w_i / sum_j w_j)`` to get
    ``log[p(k|x_i) / p_w(k)]``.
    """
    log_probs = F.log_softmax(logits, dim=1)
    if weight is None:
        log_shares = F.log_softmax(log_probs, dim=0)
        batch_size = logits.shape[0]
        offset = math.log(batch_size) * (batch_size if reduction == "sum" else 1)
        log_ratio = _nll(log_shares, target, reduction) - offset
    else:
        log_weight = weight.log()
        log_shares = F.log_softmax(log_probs + log_weight.unsqueeze(1), dim=0)
        log_ratio = _nll(log_shares, target, "none") + (log_weight - weight.sum().log())
        log_ratio = _reduce(log_ratio, reduction, weight)
    ce = _nll(log_probs, target, reduction, weight) if need_ce else None
    return ce, log_ratio


def _prob_space_terms(logits, target, weight):
    """Per-sample (CE, NLR) from probabilities, or None if not accurate.

    One exponential per logit, where the log-space form takes four (two
    log-softmaxes and their backward passes). Accurate when every target
    probability and its class's marginal are normal numbers with 24 bits to
    spare; otherwise None.
    """
    probs = torch.softmax(logits, dim=1)
    if weight is None:
        marginal = probs.mean(dim=0)
    else:
        marginal = torch.mv(probs.t(), weight / weight.sum())
    target_probs = probs.gather(1, target.unsqueeze(1)).squeeze(1)
    target_marginal = marginal.gather(0, target)
    smallest = torch.minimum(target_probs, target_marginal).min()
    if smallest < torch.finfo(probs.dtype).tiny * 2.0**24:
        return None
    ce = -torch.log(target_probs)
    return ce, ce + torch.log(target_marginal)


def _global_terms(logits, target, weight, reduction, group):
    """Reduced (CE, NLR) with p_w over the batches of every process.

    Each process sends the statistics of its shard, 2K + 2 numbers: the log
    column sums ``c_k = log sum_j w_j p(k|x_j)``, the (weighted) label counts
    ``n_k``, the cross-entropy sum and the total weight ``W``. Over the
    global batch, ``sum_i w_i NLR_i = CE + sum_k n_k (c_k - log W)``: every
    process gets its value, and its gradient through its own statistics
    (see ``_distributed.all_gather``).
    """
    n_classes = logits.shape[1]
    log_probs = F.log_softmax(logits, dim=1)
    counts = torch.bincount(target, weights=weight, minlength=n_classes)
    total = log_probs.new_tensor(len(target)) if weight is None else weight.sum()
    log_joint = log_probs if weight is None else log_probs + weight.log()[:, None]
    shard = torch.cat(
        [
            torch.logsumexp(log_joint, dim=0),  # log sum_j w_j p(k|x_j)
            counts.to(log_probs.dtype),
            _nll(log_probs, target, "sum", weight).reshape(1),
            total.reshape(1),
        ]
    )
    shards = _distributed.all_gather(shard, group)
    log_col_sums = torch.logsumexp(shards[:, :n_classes], dim=0)
    counts = shards[:, n_classes : 2 * n_classes].sum(dim=0)
    ce = shards[:, -2].sum()
    total = shards[:, -1].sum()
    if weight is not None and total == 0:
        raise ValueError("sample_weight must not be all zero on every process.")
    log_marginal = log_col_sums - total.log()
    if reduction == "none":
        # every process's terms depend on this shard through p_w: the
        # gradients with respect to it are summed over the processes
        log_marginal = _distributed.sum_gradients(log_marginal, group)
        ce = _nll(log_probs, target, "none", weight)
        log_ratio = ce + _reduce(log_marginal.gather(0, target), "none", weight)
        return ce, log_ratio
    log_ratio = ce + torch.dot(counts, log_marginal)
    if reduction == "mean":
        return ce / total, log_ratio / total
    return ce, log_ratio


def _nll(log_probs, target, reduction, weight=None):
    """``-log_probs[i, target[i]]``, reduced as the losses are."""
    if weight is None:
        return F.nll_loss(
            log_probs, target, reduction=reduction, ignore_index=_NO_IGNORE
        )
    nll = F.nll_loss(log_probs, target, reduction="none", ignore_index=_NO_IGNORE)
    return _reduce(nll, reduction, weight)


def focal_loss(logits, target, *, gamma=3.0, sample_weight=None, reduction="mean"):
    r"""Focal loss, :math:`-(1 - p_t)^\gamma \log p_t` (Lin et al., 2017).

    Parameters
    ----------
    logits : torch.Tensor of shape (n_samples, n_classes)
    target : torch.Tensor of shape (n_samples,)
    gamma : float or torch.Tensor of shape (n_samples,), default=3.0
        Focusing parameter; 0 gives cross-entropy.
    sample_weight : torch.Tensor of shape (n_samples,) or None, default=None
        Finite weights :math:`w_i \ge 0`, not all zero: "mean" is
        :math:`\sum_i w_i \ell_i / \sum_i w_i`, "sum" :math:`\sum_i w_i
        \ell_i`, "none" :math:`w_i \ell_i`, as for every loss here.
    reduction : {"mean", "sum", "none"}, default="mean"

    Returns
    -------
    loss : torch.Tensor
    """
    _check_reduction(reduction)
    logits, target = _check_logits_and_target(logits, target)
    weight, _ = _check_sample_weight(sample_weight, logits)
    _check_target_range(target, logits.shape[1])
    log_pt = F.log_softmax(logits, dim=1).gather(1, target.unsqueeze(1)).squeeze(1)
    # -expm1(log p) is 1 - p without cancellation when p is close to 1
    loss = -torch.pow(-torch.expm1(log_pt), gamma) * log_pt
    return _reduce(loss, reduction, weight)


def flsd53_loss(logits, target, *, sample_weight=None, reduction="mean"):
    r"""FLSD-53 (Mukhoti et al., 2020): focal loss with a sample-dependent gamma.

    :math:`\gamma = 5` where :math:`p_t < 0.2`, else :math:`\gamma = 3`; the
    choice of gamma carries no gradient.

    Parameters
    ----------
    logits : torch.Tensor of shape (n_samples, n_classes)
    target : torch.Tensor of shape (n_samples,)
    sample_weight : torch.Tensor of shape (n_samples,) or None, default=None
        See :func:`focal_loss`.
    reduction : {"mean", "sum", "none"}, default="mean"

    Returns
    -------
    loss : torch.Tensor
    """
    _check_reduction(reduction)
    logits, target = _check_logits_and_target(logits, target)
    _check_target_range(target, logits.shape[1])
    with torch.no_grad():
        log_pt = F.log_softmax(logits, dim=1).gather(1, target.unsqueeze(1))
        gamma = torch.where(log_pt.squeeze(1) < math.log(0.2), 5.0, 3.0)
    return focal_loss(
        logits,
        target,
        gamma=gamma.to(logits.dtype),
        sample_weight=sample_weight,
        reduction=reduction,
    )


def dual_focal_loss(logits, target, *, gamma=5.0, sample_weight=None, reduction="mean"):
    r"""Dual focal loss (Tao et al., 2023), :math:`-(1 - p_t + p_j)^\gamma \log p_t`.

    :math:`p_j` is the largest predicted probability strictly below
    :math:`p_t` (0 when there is none), as in the authors' implementation.

    Parameters
    ----------
    logits : torch.Tensor of shape (n_samples, n_classes)
    target : torch.Tensor of shape (n_samples,)
    gamma : float, default=5.0
    sample_weight : torch.Tensor of shape (n_samples,) or None, default=None
        See :func:`focal_loss`.
    reduction : {"mean", "sum", "none"}, default="mean"

    Returns
    -------
    loss : torch.Tensor
    """
    _check_reduction(reduction)
    logits, target = _check_logits_and_target(logits, target)
    weight, _ = _check_sample_weight(sample_weight, logits)
    _check_target_range(target, logits.shape[1])
    log_probs = F.log_softmax(logits, dim=1)
    probs = log_probs.exp()
    log_pt = log_probs.gather(1, target.unsqueeze(1))
    pt = log_pt.exp()
    below = torch.where(probs < pt, probs, torch.zeros_like(probs))
    pj = below.amax(dim=1, keepdim=True)
    loss = -torch.pow(1.0 - pt + pj, gamma) * log_pt
    return _reduce(loss.squeeze(1), reduction, weight)


def margin_label_smoothing_loss(
    logits, target, *, margin=10.0, reg_weight=0.1, sample_weight=None, reduction="mean"
):
    r"""Margin-based label smoothing (MbLS; Liu et al., 2022).

    Cross-entropy plus a hinge penalty on the logit distances
    :math:`d_{ik} = \max_j z_{ij} - z_{ik}` that exceed a margin :math:`m`:

    .. math::

        \ell_i = -\log p_\theta(y_i \mid x_i)
            + \frac{\lambda}{K} \sum_{k=1}^{K} \max(0, d_{ik} - m)

    The paper writes the penalty as a sum over the :math:`K` classes; the
    authors' code (``LogitMarginL1`` in github.com/by-liu/MbLS), with which
    the defaults :math:`m = 10`, :math:`\lambda = 0.1` were tuned, averages
    it over the classes, as here.

    Parameters
    ----------
    logits : torch.Tensor of shape (n_samples, n_classes)
    target : torch.Tensor of shape (n_samples,)
    margin : float, default=10.0
        The margin :math:`m \ge 0` on logit distances.
    reg_weight : float, default=0.1
        The weight :math:`\lambda \ge 0` of the penalty; 0 gives
        cross-entropy.
    sample_weight : torch.Tensor of shape (n_samples,) or None, default=None
        See :func:`focal_loss`.
    reduction : {"mean", "sum", "none"}, default="mean"

    Returns
    -------
    loss : torch.Tensor

    References
    ----------
    B. Liu, I. Ben Ayed, A. Galdran, J. Dolz, "The Devil is in the Margin:
    Margin-based Label Smoothing for Network Calibration", CVPR 2022.

    Examples
    --------
    >>> import torch
    >>> from sklearn_gce.losses import margin_label_smoothing_loss
    >>> logits = torch.tensor([[12.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    >>> margin_label_smoothing_loss(logits, torch.tensor([0, 1]), reduction="none")
    tensor([0.1000, 0.5514])
    """
    margin = _check_nonnegative("margin", margin)
    reg_weight = _check_reg_weight(reg_weight)
    _check_reduction(reduction)
    logits, target = _check_logits_and_target(logits, target)
    weight, _ = _check_sample_weight(sample_weight, logits)
    _check_target_range(target, logits.shape[1])
    distances = logits.amax(dim=1, keepdim=True) - logits
    penalty = F.relu(distances - margin).mean(dim=1)
    ce = F.cross_entropy(logits, target, reduction="none", ignore_index=_NO_IGNORE)
    return _reduce(ce + reg_weight * penalty, reduction, weight)


class _LossModule(torch.nn.Module):
    """Criterion wrapping one of the functions above."""

    _function = None

    def __init__(self, reduction="mean"):
        super().__init__()
        _check_reduction(reduction)
        self.reduction = reduction

    def _kwargs(self):
        return {}

    def forward(self, logits, target, sample_weight=None):
        return type(self)._function(
            logits,
            target,
            sample_weight=sample_weight,
            reduction=self.reduction,
            **self._kwargs(),
        )

    def extra_repr(self):
        items = {**self._kwargs(), "reduction": self.reduction}
        return ", ".join(f"{key}={value!r}" for key, value in items.items())


class GCELoss(_LossModule):
    """Generative Cross-Entropy criterion; see :func:`generative_cross_entropy`.

    Parameters
    ----------
    reg_weight : float, default=1.0
        Weight of the class-level confidence regulariser (0 gives plain
        cross-entropy, 1 the paper's loss).
    reduction : {"mean", "sum", "none"}, default="mean"
    distributed : {"auto", True, False}, default="auto"
        Under data parallelism (``torch.distributed`` initialised with more
        than one process, as by torchrun or accelerate), compute the loss of
        the global batch from each process's shard, so that
        ``DistributedDataParallel`` ends with the gradients of one process
        on the concatenated batch. Set False when the processes train
        separate models.
    process_group : torch.distributed.ProcessGroup or None, default=None
        The processes sharing a batch; None means all of them.

    Examples
    --------
    >>> import torch
    >>> from sklearn_gce import GCELoss
    >>> criterion = GCELoss(reg_weight=0.5)
    >>> criterion
    GCELoss(reg_weight=0.5, reduction='mean')
    >>> loss = criterion(torch.randn(8, 3), torch.randint(0, 3, (8,)))
    """

    _function = staticmethod(generative_cross_entropy)

    def __init__(
        self,
        reg_weight=1.0,
        reduction="mean",
        *,
        distributed="auto",
        process_group=None,
    ):
        super().__init__(reduction)
        self.reg_weight = reg_weight
        self.distributed = _distributed.check_distributed(distributed)
        self.process_group = process_group

    @property
    def reg_weight(self):
        return self._reg_weight

    @reg_weight.setter
    def reg_weight(self, value):
        self._reg_weight = _check_reg_weight(value)
        if self._reg_weight > 1.0:
            warnings.warn(
                f"reg_weight={self._reg_weight} > 1 makes Generative Cross-Entropy "
                "unbounded below (driving the target probabilities to 0 lowers it "
                "without limit): expect training to collapse. The paper's loss is "
                "reg_weight=1.",
                UserWarning,
                stacklevel=4,  # past nn.Module.__setattr__ and __init__
            )

    def _kwargs(self):
        return {"reg_weight": self.reg_weight}

    def forward(self, logits, target, sample_weight=None):
        # parameters were checked when set: skip checking them on every batch
        group = _distributed.active_group(self.distributed, self.process_group)
        return _generative_cross_entropy(
            logits, target, sample_weight, self._reg_weight, self.reduction, group
        )

    def extra_repr(self):
        text = super().extra_repr()
        if self.distributed != "auto":
            text += f", distributed={self.distributed!r}"
        return text


class _FocusingLoss(_LossModule):
    """A criterion with a focusing parameter ``gamma``."""

    def __init__(self, gamma, reduction="mean"):
        super().__init__(reduction)
        self.gamma = _check_nonnegative("gamma", gamma)

    def _kwargs(self):
        return {"gamma": self.gamma}


class FocalLoss(_FocusingLoss):
    """Focal loss criterion; see :func:`focal_loss`.

    Parameters
    ----------
    gamma : float, default=3.0
    reduction : {"mean", "sum", "none"}, default="mean"
    """

    _function = staticmethod(focal_loss)

    def __init__(self, gamma=3.0, reduction="mean"):
        super().__init__(gamma, reduction)


class FLSD53Loss(_LossModule):
    """FLSD-53 criterion (sample-dependent focal loss); see :func:`flsd53_loss`.

    Parameters
    ----------
    reduction : {"mean", "sum", "none"}, default="mean"
    """

    _function = staticmethod(flsd53_loss)


class DualFocalLoss(_FocusingLoss):
    """Dual focal loss criterion; see :func:`dual_focal_loss`.

    Parameters
    ----------
    gamma : float, default=5.0
    reduction : {"mean", "sum", "none"}, default="mean"
    """

    _function = staticmethod(dual_focal_loss)

    def __init__(self, gamma=5.0, reduction="mean"):
        super().__init__(gamma, reduction)


class MbLSLoss(_LossModule):
    """Margin-based label smoothing criterion; see
    :func:`margin_label_smoothing_loss`.

    Parameters
    ----------
    margin : float, default=10.0
    reg_weight : float, default=0.1
    reduction : {"mean", "sum", "none"}, default="mean"

    Examples
    --------
    >>> from sklearn_gce.losses import MbLSLoss
    >>> MbLSLoss(margin=5.0)
    MbLSLoss(margin=5.0, reg_weight=0.1, reduction='mean')
    """

    _function = staticmethod(margin_label_smoothing_loss)

    def __init__(self, margin=10.0, reg_weight=0.1, reduction="mean"):
        super().__init__(reduction)
        self.margin = _check_nonnegative("margin", margin)
        self.reg_weight = _check_reg_weight(reg_weight)

    def _kwargs(self):
        return {"margin": self.margin, "reg_weight": self.reg_weight}


def _reduce(loss, reduction, weight=None):
    """Mean, sum or per-sample terms, each sample counted ``weight`` times."""
    if weight is not None:
        weighted = loss * weight
        if reduction == "mean":
            return weighted.sum() / weight.sum()
        return weighted.sum() if reduction == "sum" else weighted
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _check_nonnegative(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}.")
    value = float(value)
    if not (math.isfinite(value) and value >= 0.0):
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}.")
    return value


def _check_reg_weight(reg_weight):
    return _check_nonnegative("reg_weight", reg_weight)


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}.")


def _check_logits_and_target(logits, target):
    """Shapes and dtypes; float16/bfloat16 logits are upcast to float32."""
    if not isinstance(logits, torch.Tensor) or not isinstance(target, torch.Tensor):
        raise TypeError("logits and target must be torch tensors.")
    if logits.ndim != 2:
        raise ValueError(
            f"logits must have shape (n_samples, n_classes), got {tuple(logits.shape)}."
        )
    if target.ndim != 1 or target.shape[0] != logits.shape[0]:
        raise ValueError(
            f"target must have shape ({logits.shape[0]},) to match logits, "
            f"got {tuple(target.shape)}."
        )
    if logits.shape[0] == 0 or logits.shape[1] == 0:
        raise ValueError(f"logits must not be empty, got {tuple(logits.shape)}.")
    if not logits.is_floating_point():
        raise TypeError(f"logits must be floating point, got {logits.dtype}.")
    if target.dtype != torch.int64:
        if target.is_floating_point() or target.dtype == torch.bool:
            raise TypeError(f"target must hold class indices, got {target.dtype}.")
        target = target.long()
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()
    return logits, target


def _check_sample_weight(sample_weight, logits, allow_all_zero=False):
    """Weights as a detached tensor of the logits' dtype and device, or None,
    and whether all are positive.

    ValueError unless they are finite, >= 0 and (unless ``allow_all_zero``)
    not all 0; one sync.
    """
    if sample_weight is None:
        return None, True
    if not isinstance(sample_weight, torch.Tensor):
        raise TypeError(
            f"sample_weight must be a torch tensor or None, got {type(sample_weight)}."
        )
    if sample_weight.dtype == torch.bool or sample_weight.is_complex():
        raise TypeError(
            f"sample_weight must be real numbers, got {sample_weight.dtype}."
        )
    if sample_weight.shape != logits.shape[:1]:
        raise ValueError(
            f"sample_weight must have shape ({logits.shape[0]},) to match logits, "
            f"got {tuple(sample_weight.shape)}."
        )
    weight = sample_weight.detach().to(device=logits.device, dtype=logits.dtype)
    low, high, total = torch.stack([*torch.aminmax(weight), weight.sum()]).tolist()
    if not (low >= 0 and high < math.inf):  # low is NaN if a weight is
        valid = torch.isfinite(weight) & (weight >= 0)
        bad = sample_weight[(~valid).to(sample_weight.device)][0].item()
        raise ValueError(
            f"sample_weight must be finite and >= 0 (in {logits.dtype}), got {bad}."
        )
    if high == 0 and not allow_all_zero:
        raise ValueError("sample_weight must not be all zero.")
    if total == math.inf:
        raise ValueError(
            f"sample_weight sums to more than {logits.dtype} can hold: scale it "
            "down (the mean does not depend on the weights' scale)."
        )
    return weight, low > 0


def _check_target_range(target, n_classes, error=None):
    """ValueError (from ``error``) if a target is not a class index."""
    low, high = (int(bound) for bound in torch.aminmax(target))
    if low < 0 or high >= n_classes:
        raise ValueError(
            f"target must hold class indices in [0, {n_classes}), "
            f"got values in [{low}, {high}]."
        ) from error
