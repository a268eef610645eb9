"""One run across several processes (and machines) with PyTorch's DistributedDataParallel.

Launch with torchrun; nothing else changes::

    torchrun --standalone --nproc_per_node=4 -m saddlepoint train mnist-dcgan64 device=cuda
    torchrun --nnodes=2 --node_rank=0 --nproc_per_node=8 --rdzv_backend=c10d \\
             --rdzv_endpoint=HOST:29500 -m saddlepoint train cifar10-sngan device=cuda

Semantics (the same config means the same training, whatever the process count):

* ``batch_size`` is the **global** batch.  Every process draws the same global batch of data indices
  and noise from the run's seeded generator and keeps its own contiguous slice, so the data order, the
  run's RNG state and its checkpoints do not depend on the number of processes.  ``batch_size`` must
  divide evenly among the processes.
* Gradients are averaged across processes (DDP), so a step equals the single-process step on the
  global batch and the learning rates mean what they mean on one process: no rescaling.
* Terms that read the batch as a whole — GMMN's MMD (``mmd``) and IIC's code consistency
  (``info_consistency``) — see the global batch: each process gathers the others' slices with
  :func:`gather`, whose gradient reaches every process's own slice, so they too equal the one-process step.
* Batch norm computes its batch statistics **per process**, over the local slice (the
  DCGAN paper's players then see smaller batches; use a larger ``batch_size`` to compensate).  Running
  statistics are broadcast from rank 0 at each forward pass, so every process — and the checkpoint —
  holds rank 0's.  Critics without batch norm (MLP, ResNet, spectral norm) match the single-process run.
* Only rank 0 writes the run directory: config, metrics, TensorBoard, samples, checkpoints and the
  final evaluation.  ``--resume`` works the same (every process reads the checkpoint; on several
  machines the run directory must be on a shared filesystem).
* Backends: NCCL for CUDA devices (process i uses ``cuda:LOCAL_RANK``), gloo on the CPU.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any, NoReturn

import torch
import torch.distributed as dist
from torch import Tensor, nn

__all__ = ["Dist", "exit_worker", "gather", "launched_world", "local_part", "setup", "wrap"]


@dataclass(frozen=True)
class Dist:
    """This process's place in the run: ``rank`` of ``world`` processes (one process: 0 of 1)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0: the process that writes the run directory."""
        return self.rank == 0

    def shard(self, x: Tensor) -> Tensor:
        """This process's contiguous slice of a global batch (dim 0)."""
        if self.world == 1:
            return x
        n = x.shape[0] // self.world
        return x[self.rank * n:(self.rank + 1) * n]

    def any(self, flag: bool) -> bool:
        """True on every process if ``flag`` is true on any (so all stop together)."""
        return self.any_each(flag)[0]

    def any_each(self, *flags: bool) -> tuple[bool, ...]:
        """Each flag true on every process if it is true on any: several decisions in one collective."""
        if self.world == 1:
            return tuple(bool(f) for f in flags)
        t = torch.tensor([float(f) for f in flags], device=_collective_device())
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return tuple(bool(v) for v in t.tolist())

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every process."""
        if self.world == 1:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]


def _group() -> Dist:
    """This process's place in the process group torchrun made (one process when there is none)."""
    if not (dist.is_available() and dist.is_initialized()):
        return Dist()
    return Dist(dist.get_rank(), dist.get_world_size())


class _Gather(torch.autograd.Function):
    """All processes' equal slices concatenated in rank order.  Every process goes on to compute the same loss
    of the global batch, so the gradient of its own slice is the sum of all processes' gradients for that
    slice; DDP's average then gives the gradient of the one-process loss."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        grad = grad.contiguous()
        dist.all_reduce(grad)
        return _group().shard(grad)


def gather(x: Tensor) -> Tensor:
    """The global batch (dim 0) from this process's slice ``x`` and the others' (``x`` itself on one process),
    differentiable: for terms that read the batch as a whole (MMD, IIC's joint distribution), so that they see
    what they see on one process.  Every process must call it, in the same order."""
    return x if _group().world == 1 else _Gather.apply(x)


def local_part(x: Tensor) -> Tensor:
    """This process's slice of a global batch (``x`` itself on one process): the inverse of :func:`gather`."""
    return _group().shard(x)


def _collective_device() -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def launched_world() -> int:
    """The number of processes torchrun launched this one among (``WORLD_SIZE``; 1 without torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def setup(device: str) -> tuple[Dist, str]:
    """Join the process group torchrun describes in the environment (``WORLD_SIZE`` > 1), once; return
    this process's :class:`Dist` and its device name (``cuda`` becomes ``cuda:LOCAL_RANK``)."""
    world = launched_world()
    if world <= 1:
        return Dist(), device
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if cuda:
        device = f"cuda:{local}"
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    return Dist(rank, world, local), device


def wrap(module: nn.Module, d: Dist, device: torch.device) -> nn.Module:
    """``module`` inside DistributedDataParallel when there are several processes; itself otherwise."""
    if d.world == 1 or not any(p.requires_grad for p in module.parameters()):
        return module
    from torch.nn.parallel import DistributedDataParallel as DDP

    # Buffers (batch-norm running statistics) are synced from rank 0 at each forward: DDP's default, left
    # implicit because the keyword that names it changed (broadcast_buffers → forward_sync_buffers).
    return DDP(module, device_ids=[device.index] if device.type == "cuda" else None)


def exit_worker(code: int) -> NoReturn:
    """End a torchrun worker once its command is done: flush the terminal, then leave without the interpreter's
    teardown.  At teardown gloo's worker threads may still be letting go of their last collective, whose
    thread-local state holds a Python object; releasing it then needs a GIL that is gone, and the process
    aborts (SIGABRT, ``terminate called without an active exception``) at random, failing a finished run.
    ``destroy_process_group`` does not stop it while DDP has touched the group (torch 2.14).  Every file the
    run writes is closed before this point."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
