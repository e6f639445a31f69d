"""Data-parallel runs: one ``cnbench run`` spread over several processes (GPUs, or CPU processes).

Start it with a launcher that sets ``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR`` and
``MASTER_PORT``: ``accelerate launch --multi_gpu --num_processes N -m cnbench run ...`` or
``torchrun --nproc_per_node N -m cnbench run ...``. ``setup`` then joins the process group: NCCL
with one GPU per process (``cuda:LOCAL_RANK``) where CUDA is available, else gloo on the CPU.
Without those variables, or with ``WORLD_SIZE=1``, every function here is the identity and a run
is exactly the single-process one.

The processes together compute what one process computes with the same ``--batch-size``:

- training (``shard``): every process draws the same global batch order (the same seeded
  generator) and takes every ``world_size``-th sequence of each global batch, so the global
  batch is ``--batch-size`` whatever the number of processes. Its mean loss is weighted so that
  DDP's average of the processes' gradients is the gradient of the global batch's mean loss;
- evaluation (``split``, ``gather``): each process scores every ``world_size``-th sequence, and
  the predictions of all processes are assembled by index on every process, so each sequence is
  scored exactly once and every process reaches the same metrics and decisions (best epoch,
  early stop, abandon);
- only the main process (rank 0) writes checkpoints and the result file, and prints: the other
  processes' stdout goes to ``os.devnull`` (their stderr stays, so a failing process is heard).
  A checkpoint holds every process's random state, and each continues with its own.

- data and features: only the first process of each machine (``LOCAL_RANK`` 0) reads the train
  split, and it finds or builds the feature cache entries while the others wait (``barrier``);
  the others read dev and test only, take train's identity from rank 0, and every process maps
  the same files (``cnbench.cache``), so a machine holds one copy of the train set, not one per
  process (``cnbench.train._load_data``);
- every process starts from the same weights (same seed, and DDP broadcasts rank 0's), then
  ``seed_process`` gives each process other than rank 0 its own random stream, so the processes
  draw independent dropout masks, as one process does across the rows of the global batch.

What differs from one process is the order of floating-point sums (gradients are summed across
processes, sub-batches are padded to their own longest sequence) and, with dropout, the masks
drawn. Resuming (``--resume``) needs the results folder on a file system every process sees; with
the same number of processes it continues exactly where the interrupted run stopped. With another
number, every process continues from rank 0's random state.

``setup`` raises ``CnbenchError`` when a process's ``LOCAL_RANK`` has no GPU to use.
"""

from __future__ import annotations

import atexit
import os
import sys

import torch
import torch.distributed as dist
from torch import nn

from cnbench.errors import CnbenchError

# Far apart, so that process k's stream never is the stream of another seed's process 0 in a sweep
# over consecutive seeds.
PROCESS_SEED_STRIDE = 1_000_003


def setup() -> torch.device:
    """Join the process group when launched as several processes (once per process, so a
    ``--seeds`` loop may call it per run); return the device this process computes on."""
    if int(os.environ.get("WORLD_SIZE", "1")) == 1:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device("cpu")
    if torch.cuda.is_available():
        local_rank = int(os.environ["LOCAL_RANK"])
        if local_rank >= torch.cuda.device_count():
            raise CnbenchError(
                f"process with LOCAL_RANK {local_rank} has no GPU: {torch.cuda.device_count()} "
                "visible; launch at most one process per GPU"
            )
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(
            "nccl" if device.type == "cuda" else "gloo", device_id=device if device.type == "cuda" else None
        )
        atexit.register(dist.destroy_process_group)
        if not is_main():
            sys.stdout = open(os.devnull, "w", encoding="utf-8")
    return device


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def is_main() -> bool:
    """True in the process that writes files and prints (rank 0), and in a single-process run."""
    return rank() == 0


def is_local_main() -> bool:
    """True in the first process of each machine (``LOCAL_RANK`` 0), and in a single-process run."""
    return not dist.is_initialized() or int(os.environ.get("LOCAL_RANK", "0")) == 0


def barrier() -> None:
    """Wait until every process gets here (nothing to wait for in a single-process run)."""
    if world_size() > 1:
        dist.barrier()


def wrap(model: nn.Module) -> nn.Module:
    """``model`` in ``DistributedDataParallel`` when there are several processes, else itself."""
    if world_size() == 1:
        return model
    device = next(model.parameters()).device
    # find_unused_parameters: tagging and BiLSTM heads leave the pooler without a gradient (with
    # a linear classification head DDP warns once that it found none). Not static_graph: its
    # first-step hooks look for tensors in the output, and a HeadOutput dataclass hides them,
    # so gradients would silently never be averaged.
    ddp = nn.parallel.DistributedDataParallel(
        model, device_ids=[device] if device.type == "cuda" else None, find_unused_parameters=True
    )
    # No buffer sync in forward: the buffers (position ids) never change, and it would be a
    # collective in evaluation, where processes run different numbers of batches. (Set as an
    # attribute: recent torch deprecates the constructor argument, older torch lacks the new one.)
    ddp.broadcast_buffers = False
    return ddp


def seed_process(seed: int) -> None:
    """Give this process its own torch random stream for training (dropout); rank 0 keeps the
    stream of a single-process run with the same seed. Call it after the weights are initialised."""
    if rank() > 0:
        torch.manual_seed(seed + PROCESS_SEED_STRIDE * rank())


def shard(batch: list[int], terms: list[int]) -> tuple[list[int], float]:
    """This process's sequences of a global training batch, and the weight of their mean loss.

    ``terms[i]`` is how many terms sequence ``i`` adds to a head's mean loss: 1 per example for
    classification, its scored characters for tagging. The weight is ``world_size`` times this
    process's share of the batch's terms, because DDP averages the processes' gradients: the
    average of the weighted losses is then the global batch's mean loss. A process left without
    a sequence (a batch smaller than the world) runs the batch's first one with weight 0: every
    process must take part in every gradient all-reduce.
    """
    size = world_size()
    if size == 1:
        return batch, 1.0
    own = batch[rank() :: size]
    if not own:
        return batch[:1], 0.0
    return own, size * sum(terms[i] for i in own) / sum(terms[i] for i in batch)


def average(value: torch.Tensor) -> torch.Tensor:
    """The mean of ``value`` over the processes, as a new tensor (``value`` itself when single)."""
    if world_size() == 1:
        return value
    total = value.detach().clone()
    dist.all_reduce(total)
    return total / world_size()


def split(count: int) -> list[int]:
    """The indices of ``range(count)`` this process evaluates: every ``world_size``-th one."""
    return list(range(rank(), count, world_size()))


def gather(rows: dict[int, object], count: int) -> list:
    """The ``{index: prediction}`` of every process, as one list in index order, on every process.

    Raises ``RuntimeError`` unless each index of ``range(count)`` was predicted exactly once.
    """
    parts = all_objects(rows)
    merged = {index: row for part in parts for index, row in part.items()}
    predicted = sum(len(part) for part in parts)
    if predicted != count or sorted(merged) != list(range(count)):
        raise RuntimeError(f"{predicted} predictions of {len(merged)} distinct sequences for {count} sequences")
    return [merged[index] for index in range(count)]


def all_objects(value) -> list:
    """``[value of rank 0, value of rank 1, ...]`` on every process (``[value]`` when single)."""
    if world_size() == 1:
        return [value]
    parts = [None] * world_size()
    dist.all_gather_object(parts, value)
    return parts
