"""Small torch.distributed helpers; every one is a no-op in a single process.

Gradients are all-reduced by hand rather than through DistributedDataParallel because DDP's
reducer does not support the double backward that the R1 penalty needs.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn


def world() -> tuple[int, int]:
    """(rank, world_size) of this process."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def broadcast_module(module: nn.Module) -> None:
    if world()[1] == 1:
        return
    for tensor in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(tensor.data, src=0)


def average_gradients(module: nn.Module) -> None:
    """Mean of each gradient over all processes, in one flat all-reduce."""
    _, size = world()
    if size == 1:
        return
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    flat = torch.cat([p.grad.reshape(-1) for p in params])
    dist.all_reduce(flat)
    flat /= size
    offset = 0
    for p in params:
        n = p.numel()
        p.grad.copy_(flat[offset:offset + n].view(p.shape))
        offset += n


def average_buffers(module: nn.Module) -> None:
    _, size = world()
    if size == 1:
        return
    for b in module.buffers():
        if b.is_floating_point():
            dist.all_reduce(b.data)
            b.data /= size


def sum_floats(*values: float, device: torch.device) -> tuple[float, ...]:
    if world()[1] == 1:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return tuple(float(v) for v in t.tolist())


def any_true(flag: bool, *, device: torch.device) -> bool:
    if world()[1] == 1:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def gather_objects(obj: object) -> list[object]:
    """Every rank's `obj`, in rank order (collective: all ranks must call it)."""
    if world()[1] == 1:
        return [obj]
    out: list[object] = [None] * world()[1]
    dist.all_gather_object(out, obj)
    return out


def barrier() -> None:
    if world()[1] > 1:
        dist.barrier()
