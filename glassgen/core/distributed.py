"""Data-parallel training across processes: ``torchrun --nproc-per-node K -m glassgen fit RECIPE``.

Every process (rank) holds the whole model and the whole data; a step's global batch is a fixed set of
examples, each drawn from a generator keyed by (seed, step, global index) (:func:`generator`), split into
contiguous parts, one per rank (:func:`shard`). Each rank weighs its part's mean loss by its share of the
batch, so the sum over ranks of the gradients (:func:`all_reduce_gradients`) is the gradient of the
batch mean: 1 and K processes train on the same examples with the same gradients, up to the order of
float additions, and a run resumes under any number of processes.

Gradients are summed explicitly rather than through ``DistributedDataParallel``: the flow trainer never
calls its model's ``forward`` (it embeds once and integrates a closure), which DDP's reducer relies on,
and an uneven split (B samples on K ranks, B not a multiple of K) needs a weighted mean, not DDP's plain one.

Without torchrun (no ``WORLD_SIZE`` > 1 in the environment) everything here is a no-op: rank 0 of 1.
The process group is torch's own state; nothing is kept here.
"""
from __future__ import annotations

import os
import sys

import numpy as np
import torch
import torch.distributed as dist


def setup(device: str) -> str:
    """Join torchrun's process group (gloo on CPU, NCCL on CUDA) when launched with K > 1 processes.

    Returns this rank's device: ``cuda`` becomes ``cuda:LOCAL_RANK`` (one GPU per process); others are kept.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return device
    dev = torch.device(device)
    if dev.type == "cuda":
        if dev.index is None:
            dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(dev)
    dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return str(dev)


def teardown() -> None:
    if dist.is_initialized():
        # Leave together: a rank that tore gloo down while its peer was still writing the checkpoint was
        # seen to abort ("terminate called without an active exception", SIGABRT). Not while an exception
        # unwinds (teardown runs in a finally): the other ranks may never reach the barrier.
        if sys.exc_info()[0] is None:
            dist.barrier()
        dist.destroy_process_group()


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def is_main() -> bool:
    """Rank 0: the one process that writes checkpoints, logs and messages."""
    return rank() == 0


def shard(n: int) -> range:
    """Global indices of this rank's part of a batch of ``n`` examples (contiguous; sizes differ by <= 1)."""
    k, r = world_size(), rank()
    return range(r * n // k, (r + 1) * n // k)


def generator(seed: int, *key: int) -> torch.Generator:
    """A CPU generator keyed by ``(seed, *key)``, e.g. (seed, step) or (seed, step, global index).

    A pure function of the key, so an example is the same whichever rank draws it, and a resumed run
    draws what an uninterrupted one would have, with no generator state to save. Draws happen on the
    CPU and move to the device: the same examples on every device.
    """
    state = np.random.SeedSequence([int(seed), *map(int, key)]).generate_state(2, np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 31 ^ int(state[1]))


def all_reduce_gradients(params, loss: torch.Tensor) -> torch.Tensor:
    """Sum the gradients of ``params`` and the (detached) ``loss`` over ranks, in one collective.

    Each rank must have weighted its loss by its share of the batch, so the sums are the batch mean's.
    A parameter keeps ``grad = None`` only where no rank has a gradient (as one process would leave it),
    so an optimiser with weight decay treats it alike. Returns the summed loss; 1 process: unchanged.
    """
    if world_size() == 1:
        return loss
    params = [p for p in params if p.requires_grad]
    dev, dtype = params[0].device if params else loss.device, torch.float32  # NCCL reduces on the GPU
    for p in params:
        dtype = torch.promote_types(dtype, p.dtype)
    flat = torch.cat([p.grad.reshape(-1).to(dev, dtype) if p.grad is not None
                      else torch.zeros(p.numel(), device=dev, dtype=dtype) for p in params]
                     + [torch.tensor([float(p.grad is not None) for p in params], device=dev, dtype=dtype),
                        loss.detach().reshape(1).to(dev, dtype)])
    dist.all_reduce(flat)
    offset = 0
    for p, present in zip(params, flat[-1 - len(params):-1].tolist()):
        if present:
            p.grad = flat[offset:offset + p.numel()].view_as(p).to(p.dtype).clone()
        offset += p.numel()
    return flat[-1].to(loss.device, loss.dtype)


def agree(flag: bool) -> bool:
    """True on every rank when it is true on any (a stop decision all ranks must take together)."""
    if world_size() == 1:
        return bool(flag)
    t = torch.tensor([float(flag)], device="cuda" if dist.get_backend() == "nccl" else "cpu")
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()
