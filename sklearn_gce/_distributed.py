r"""Generative Cross-Entropy of a batch split across data-parallel processes.

Under data parallelism (``DistributedDataParallel``, accelerate, torchrun)
each process holds a shard of the global batch. GCE's batch marginal
:math:`\hat p` is a sum over the whole batch, so the shards exchange a
summary of ``2 * n_classes + 2`` numbers per step (log column sums, label
counts, cross-entropy sum, batch size) in one all-gather; for the mean and
sum, nothing is exchanged in the backward pass. The math is in
:func:`generative_cross_entropy`; ``losses.py`` only dispatches to it.
"""

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

_DISTRIBUTED_OPTIONS = ("auto", True, False)


def check_distributed(distributed):
    """Validate the ``distributed`` option: "auto", True or False."""
    if not (distributed is True or distributed is False or distributed == "auto"):
        raise ValueError(
            f"distributed must be one of {_DISTRIBUTED_OPTIONS}, got {distributed!r}."
        )
    return distributed


def active_group(distributed, process_group=None):
    """The process group to combine batches over, or None to stay local.

    Parameters
    ----------
    distributed : {"auto", True, False}
        "auto": combine when ``torch.distributed`` is initialised and the
        group has more than one process. True: the same, but an error when
        it is not initialised. False: never.
    process_group : ProcessGroup or None
        None means the default (world) group.

    Returns
    -------
    group : ProcessGroup or None
    """
    if distributed is False:
        return None
    if not (dist.is_available() and dist.is_initialized()):
        if distributed is True:
            raise RuntimeError(
                "distributed=True needs an initialised torch.distributed process "
                "group (torch.distributed.init_process_group, torchrun or "
                "accelerate launch)."
            )
        return None
    group = dist.group.WORLD if process_group is None else process_group
    return group if dist.get_world_size(group) > 1 else None


def generative_cross_entropy(logits, target, reg_weight, reduction, group):
    r"""GCE of the global batch, computed from this process's shard.

    The global batch is the concatenation of every process's
    ``(logits, target)``, of total size :math:`B` over :math:`W` processes,
    and :math:`S_k = \sum_j P_{jk}` its column sums, of which this shard
    holds :math:`S^{(r)}_k`.

    - ``"mean"`` and ``"sum"``: the value is the global loss (the same on
      every process, what one process would get on the concatenated batch).
      The gradient is that of :math:`c` times
      :math:`\sum_{i \in r} -\log P_{i y_i} + \lambda \sum_k n_k S^{(r)}_k / S_k`
      with :math:`S_k` and the global label counts :math:`n_k` held
      constant, :math:`c = W / B` (mean) or :math:`W` (sum): summed over
      processes, these are :math:`W` times the gradient of the global loss,
      so averaging over processes (as ``DistributedDataParallel`` does)
      gives it exactly, also for shards of unequal sizes. No communication
      in the backward pass.
    - ``"none"``: this shard's per-sample terms, with the global
      :math:`\hat p`; the backward pass all-reduces their gradient with
      respect to :math:`\log S`, as any process's terms depend on every shard.

    Arguments are checked by the caller; ``group`` has more than one process.
    """
    world_size = dist.get_world_size(group)
    n_classes = logits.shape[1]
    log_probs = F.log_softmax(logits, dim=1)
    target_log_probs = log_probs.gather(1, target.unsqueeze(1)).squeeze(1)
    local_log_sums = torch.logsumexp(log_probs, dim=0)
    summary = torch.cat(
        [
            local_log_sums.detach(),
            torch.bincount(target, minlength=n_classes).to(log_probs.dtype),
            -target_log_probs.detach().sum().reshape(1),
            log_probs.new_tensor([logits.shape[0]]),
        ]
    )
    shards = [torch.empty_like(summary) for _ in range(world_size)]
    dist.all_gather(shards, summary, group=group)
    shards = torch.stack(shards)
    log_col_sums = torch.logsumexp(shards[:, :n_classes], dim=0)
    log_batch_size = shards[:, -1].sum().log()

    if reduction == "none":
        log_col_sums = _GlobalLogColumnSums.apply(local_log_sums, log_col_sums, group)
        log_marginal = log_col_sums - log_batch_size
        return reg_weight * log_marginal.gather(0, target) - target_log_probs

    counts = shards[:, n_classes : 2 * n_classes].sum(0)
    log_marginal = log_col_sums - log_batch_size
    regulariser = torch.where(counts > 0, counts * log_marginal, 0.0).sum()
    value = shards[:, -2].sum() + reg_weight * regulariser
    scale = float(world_size)
    if reduction == "mean":
        value = value / log_batch_size.exp()
        scale = scale / log_batch_size.exp()
    share = torch.exp(local_log_sums - log_col_sums)  # S^(r)_k / S_k, in [0, 1]
    surrogate = scale * (reg_weight * (counts * share).sum() - target_log_probs.sum())
    return surrogate + (value - surrogate).detach()


class _GlobalLogColumnSums(torch.autograd.Function):
    """``log S_k``, the all-gathered log column sums, as a function of this
    process's ``log S^(r)_k``.

    Backward: the upstream gradients of all processes are summed (each
    process's terms depend on every shard), then scaled by this shard's
    share ``S^(r)_k / S_k`` of each column sum.
    """

    @staticmethod
    def forward(ctx, local, total, group):
        ctx.save_for_backward(local, total)
        ctx.group = group
        return total.clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_total):
        local, total = ctx.saved_tensors
        grad_total = grad_total.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(grad_total, group=ctx.group)
        return grad_total * torch.exp(local - total), None, None
