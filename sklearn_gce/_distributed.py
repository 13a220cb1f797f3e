"""The communication of a loss over a batch split across data-parallel processes.

Under data parallelism (``DistributedDataParallel``, accelerate, torchrun)
each process holds a shard of the global batch. GCE's batch marginal is a sum
over the whole batch: ``losses.py`` computes it from the shards' statistics,
gathered by :func:`all_gather`; this module holds the process-group options
and the collectives, and no loss.
"""

import torch
import torch.distributed as dist
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


def all_gather(tensor, group):
    """Every process's ``tensor``, stacked in rank order: one all-gather.

    This process's row is ``tensor`` itself, with its gradient; the other
    rows are constants. So a function of the result that every process
    computes alike (the global loss) has, on each process, its gradient with
    respect to that process's own ``tensor``: together, the processes hold
    the whole gradient, without communicating in the backward pass.
    """
    rows = [torch.empty_like(tensor) for _ in range(dist.get_world_size(group))]
    dist.all_gather(rows, tensor.detach().contiguous(), group=group)
    rows[dist.get_rank(group)] = tensor
    return torch.stack(rows)


def scale_gradient(loss, group):
    """``loss``, unchanged, with its gradient multiplied by the group's size.

    Each process's gradient of the global loss (:func:`all_gather`) is then
    that size times its part, and averaging the processes' gradients, as
    ``DistributedDataParallel`` does, gives the whole gradient.
    """
    return loss + (dist.get_world_size(group) - 1) * (loss - loss.detach())


def sum_gradients(tensor, group):
    """``tensor``, whose gradient is summed over the processes of ``group``.

    For values (this process's share of a global quantity) on which the
    other processes' outputs depend too: one all-reduce of the size of
    ``tensor`` in the backward pass.
    """
    return _SumGradients.apply(tensor, group)


class _SumGradients(torch.autograd.Function):
    # torch.distributed.nn.functional.all_reduce does this too, but torch
    # 2.13 deprecates it (FutureWarning) for a private module's function

    @staticmethod
    def forward(ctx, tensor, group):
        ctx.group = group
        return tensor.clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        grad = grad.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(grad, group=ctx.group)
        return grad, None
